"""quantization.evaluate's thickness scores: per column and per image, against the annotation."""

import numpy as np
from test_measurement_identity import band_map

from edge.core.labels import BELOW, FASCIA, IGNORE
from quantization.evaluate import _frame_summary, _WorstImages, frame_thickness_error, thickness_errors


def band(top: int, thickness: int, shape=(60, 40)) -> np.ndarray:
    return band_map(top, thickness, shape)


def test_per_image_error_is_the_reported_thickness_against_the_annotated_one():
    truth, pred = band(20, 6), band(21, 8)
    assert frame_thickness_error(pred, truth) == 2.0
    assert frame_thickness_error(truth, truth) == 0.0
    np.testing.assert_array_equal(thickness_errors(pred, truth), np.full(40, 2.0))


def test_only_the_annotated_columns_count():
    truth, pred = band(20, 6), band(20, 6)
    truth[:, 30:] = IGNORE  # no band labelled there
    pred[:, 30:] = band(10, 30)[:, 30:]  # a wild prediction where nobody annotated
    assert frame_thickness_error(pred, truth) == 0.0
    pred[:, :30] = band(20, 9)[:, :30]
    assert frame_thickness_error(pred, truth) == 3.0


def test_nothing_to_measure():
    truth = band(20, 6)
    assert frame_thickness_error(np.full_like(truth, BELOW), truth) is None  # the prediction misses the band
    assert frame_thickness_error(truth, np.full_like(truth, IGNORE)) is None  # nothing annotated
    summary = _frame_summary([1.0, None, 3.0, 0.0])
    assert summary["images"] == 3 and summary["missed"] == 1 and summary["median"] == 1.0


def test_worst_images_keeps_the_lowest_cut_to_the_band():
    worst = _WorstImages("qat_int8", count=2)
    image = np.zeros((60, 40), np.uint8)
    for name, dice in (("a", 0.9), ("b", 0.5), ("c", float("nan")), ("d", 0.7), ("e", 0.95)):
        worst.offer(dice, name, "layout", image, band(20, 6), {"qat_int8": band(22, 6), "float32": band(0, 1)})
    shown = worst.shown()
    assert list(shown) == ["b", "d"]  # lowest first; an undefined Dice is never among them
    key, crop, labels, preds = shown["b"]
    assert key == "layout, Dice 0.50" and list(preds) == ["qat_int8"]
    # rows 20..27 hold fascia (annotation or prediction), padded by 10 rows: 10..37
    assert crop.shape == labels.shape == preds["qat_int8"].shape == (28, 40)
    assert (labels == FASCIA).sum() == 6 * 40
