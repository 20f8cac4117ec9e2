"""quantization.evaluate's thickness scores: per column and per image, against the annotation."""

import numpy as np

from edge.labels import ABOVE, BELOW, FASCIA, IGNORE
from quantization.evaluate import _frame_summary, frame_thickness_error, thickness_errors

FLAT = np.full((60, 40), 100, np.uint8)  #: a grey image without edges: nothing to snap to


def band(top: int, thickness: int, shape=(60, 40)) -> np.ndarray:
    labels = np.full(shape, ABOVE, np.uint8)
    labels[top : top + thickness] = FASCIA
    labels[top + thickness :] = BELOW
    return labels


def test_per_image_error_is_the_reported_thickness_against_the_annotated_one():
    truth, pred = band(20, 6), band(21, 8)
    assert frame_thickness_error(pred, truth, FLAT) == 2.0
    assert frame_thickness_error(truth, truth, FLAT) == 0.0
    np.testing.assert_array_equal(thickness_errors(pred, truth), np.full(40, 2.0))


def test_only_the_annotated_columns_count():
    truth, pred = band(20, 6), band(20, 6)
    truth[:, 30:] = IGNORE  # no band labelled there
    pred[:, 30:] = band(10, 30)[:, 30:]  # a wild prediction where nobody annotated
    assert frame_thickness_error(pred, truth, FLAT) == 0.0
    pred[:, :30] = band(20, 9)[:, :30]
    assert frame_thickness_error(pred, truth, FLAT) == 3.0


def test_the_reported_thickness_snaps_to_the_image_the_annotation_does_not():
    truth, pred = band(19, 8), band(18, 11)  # the prediction one row early and two late
    grey = np.full((60, 40), 60, np.uint8)
    grey[20:26] = 200  # the image's band, its edge rows (19, 26: annotated) half as bright
    grey[[19, 26]] = 130
    assert frame_thickness_error(pred, truth, FLAT) == 3.0
    assert frame_thickness_error(pred, truth, grey) == 0.0


def test_nothing_to_measure():
    truth = band(20, 6)
    assert frame_thickness_error(np.full_like(truth, BELOW), truth, FLAT) is None  # the prediction misses the band
    assert frame_thickness_error(truth, np.full_like(truth, IGNORE), FLAT) is None  # nothing annotated
    summary = _frame_summary([1.0, None, 3.0, 0.0])
    assert summary["images"] == 3 and summary["missed"] == 1 and summary["median"] == 1.0
