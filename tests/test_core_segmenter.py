"""edge.postprocess and edge.segmenter: back into the native frame, and the timed per-frame pipeline."""

import cv2
import numpy as np
import pytest

from edge.labels import ABOVE, BELOW, FASCIA
from edge.postprocess import class_map, to_native
from edge.roi import Box
from edge.segmenter import Segmenter


def one_hot(classes: np.ndarray) -> np.ndarray:
    return np.eye(3, dtype=np.float32)[classes]


def test_class_map():
    probs = np.array([[[0.2, 0.5, 0.3], [0.9, 0.05, 0.05], [0.1, 0.2, 0.7]]], np.float32)
    out = class_map(probs)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[FASCIA, ABOVE, BELOW]])


def test_to_native_places_the_roi_and_replicates_outside():
    # 4x4 model output: left half above, right half below; upsampled x2 into an 8x8 ROI at (2, 3)
    probs = one_hot(np.array([[ABOVE, ABOVE, BELOW, BELOW]] * 4))
    roi = Box(2, 3, 8, 8)
    out = to_native(probs, roi, (15, 13))
    assert out.shape == (15, 13) and out.dtype == np.uint8
    expected = np.empty((15, 13), np.uint8)
    expected[:, : 2 + 4] = ABOVE  # the ROI's left half and everything left of the ROI
    expected[:, 2 + 4 :] = BELOW  # the right half and everything right of it
    np.testing.assert_array_equal(out, expected)


def test_to_native_rows_outside_repeat_the_nearest_roi_row():
    probs = one_hot(np.array([[ABOVE] * 4, [FASCIA] * 4, [BELOW] * 4, [BELOW] * 4]))
    roi = Box(0, 5, 6, 8)
    out = to_native(probs, roi, (20, 6))
    assert (out[:5] == ABOVE).all()  # above the ROI stays above
    assert (out[13:] == BELOW).all()  # below the ROI stays below
    column = out[:, 0]
    assert list(np.unique(column)) == [ABOVE, FASCIA, BELOW]
    assert (np.diff(column.astype(int)) >= 0).all()  # above -> fascia -> below, top to bottom


def test_to_native_full_frame_and_misfit():
    probs = one_hot(np.zeros((4, 4), int))
    assert to_native(probs, Box(0, 0, 7, 5), (5, 7)).shape == (5, 7)
    with pytest.raises(ValueError, match="outside"):
        to_native(probs, Box(0, 0, 8, 5), (5, 7, 3))


@pytest.fixture(scope="module")
def segmenter(bundled_engine):
    return Segmenter(bundled_engine)


def test_segmenter_on_a_phantom_frame(segmenter, phantom):
    frame = phantom.frame(3)
    seg = segmenter(frame.image)
    assert seg.labels.shape == frame.image.shape[:2] and seg.labels.dtype == np.uint8
    assert set(np.unique(seg.labels)) <= {ABOVE, FASCIA, BELOW}
    assert seg.roi == frame.roi  # detected automatically
    assert seg.probs.shape == (256, 256, 3)
    assert seg.grey.shape == frame.image.shape[:2]
    assert set(seg.timings_ms) == {"preprocess", "inference", "postprocess"}
    assert all(v >= 0 for v in seg.timings_ms.values())
    r = seg.roi  # outside the ROI the nearest ROI row / column is repeated
    top_row, left_column = seg.labels[r.y, r.x : r.x + r.w], seg.labels[:, r.x]
    assert (seg.labels[: r.y, r.x : r.x + r.w] == top_row[None, :]).all()
    assert (seg.labels[:, : r.x] == left_column[:, None]).all()


def test_segmenter_same_result_for_grey_bgr_bgra(segmenter, phantom):
    image = phantom.frame(1).image
    bgr = segmenter(image).labels
    np.testing.assert_array_equal(segmenter(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)).labels, bgr)
    np.testing.assert_array_equal(segmenter(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA)).labels, bgr)


def test_segmenter_fixed_and_per_call_roi(bundled_engine, phantom):
    image = phantom.frame(0).image
    fixed = Segmenter(bundled_engine, roi=Box(100, 30, 420, 440))
    assert fixed(image).roi == Box(100, 30, 420, 440)
    assert fixed(image, roi=Box(0, 0, 64, 64)).roi == Box(0, 0, 64, 64)
    with pytest.raises(ValueError, match="outside the 640x480 frame"):
        Segmenter(bundled_engine, roi=Box(300, 0, 400, 100))(image)
