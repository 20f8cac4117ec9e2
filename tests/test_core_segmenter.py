"""edge.postprocess and edge.segmenter: back into the native frame, and the timed per-frame pipeline."""

import cv2
import numpy as np
import pytest

from edge.labels import ABOVE, BELOW, FASCIA
from edge.postprocess import class_map, to_native, upsampled_class_map
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


def argmax_native(probs: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """The reference: argmax over the bilinearly upsampled probabilities, nearest ROI row/column outside."""
    up = cv2.resize(probs.astype(np.float32), (roi.w, roi.h), interpolation=cv2.INTER_LINEAR)
    labels = np.argmax(up.reshape(roi.h, roi.w, -1), axis=-1).astype(np.uint8)
    h, w = frame_shape[:2]
    return np.pad(labels, ((roi.y, h - roi.y - roi.h), (roi.x, w - roi.x - roi.w)), mode="edge")


@pytest.mark.parametrize("seed", range(6))
def test_upsampled_class_map_is_argmax_up_to_near_ties(seed):
    """Equal to the argmax of the upsampled probabilities wherever the top two differ by more than float
    rounding; within it, one of the near-tied classes. Random maps are noisy: every pixel is interpolated."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 40, size=2)
    levels = int(rng.choice([3, 5, 256]))  # few levels: many exact ties, as int8 softmax outputs have
    probs = (rng.integers(0, levels, size=(h, w, 3)) / (levels - 1)).astype(np.float32)
    tie = rng.random((h, w)) < 0.2
    probs[tie] = probs[tie][:, :1]  # three-way ties too
    size = (int(rng.integers(1, 200)), int(rng.integers(1, 200)))
    out = upsampled_class_map(probs, size)
    assert out.dtype == np.uint8 and out.shape == size[::-1]
    up = cv2.resize(probs, size, interpolation=cv2.INTER_LINEAR).reshape(size[1], size[0], 3)
    best = up.max(axis=-1)
    chosen = np.take_along_axis(up, out[..., None].astype(np.intp), axis=-1)[..., 0]
    assert np.all(chosen >= best - 3 / 16384)  # never a clearly worse class
    clear = np.sort(up, axis=-1)[..., 1] < best - 3 / 16384
    assert clear.mean() > 0.5
    np.testing.assert_array_equal(out[clear], argmax_native(probs, Box(0, 0, *size), size[::-1])[clear])
    assert set(np.unique(out)) <= {ABOVE, FASCIA, BELOW}


@pytest.mark.parametrize("seed", range(6))
def test_upsampled_class_map_of_a_smooth_band_is_its_argmax(seed):
    """A slanted band, as a model sees the fascia: only rows where the class changes between model columns are
    interpolated, the rest filled from the nearest column; both must give the argmax, up- or downsampling."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(8, 120, size=2))
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    top = h * rng.uniform(0.2, 0.5) + rng.uniform(-0.6, 0.6) * cols
    depth = (rows - top) / rng.uniform(0.5, 3.0)  # soft edges over a few model pixels
    thickness = rng.uniform(1.0, 4.0)
    logits = np.stack([-depth, thickness - np.abs(depth - thickness / 2) * 2, depth - thickness], axis=-1)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    probs = (probs / probs.sum(axis=-1, keepdims=True)).astype(np.float32)
    size = (int(rng.integers(2, 1200)), int(rng.integers(2, 1000)))
    out = upsampled_class_map(probs, size)
    up = cv2.resize(probs, size, interpolation=cv2.INTER_LINEAR).reshape(size[1], size[0], 3)
    top2 = np.sort(up, axis=-1)
    clear = top2[..., 1] < top2[..., 2] - 1e-5
    assert clear.mean() > 0.99 and len(np.unique(out)) == 3
    np.testing.assert_array_equal(out[clear], np.argmax(up, axis=-1)[clear])


def test_upsampled_class_map_rejects_other_shapes():
    with pytest.raises(ValueError, match="3\\) class probabilities"):
        upsampled_class_map(np.zeros((4, 4, 2), np.float32), (8, 8))


def agreement_with_argmax(segmenter, image: np.ndarray) -> float:
    seg = segmenter(image)
    return float((seg.labels == argmax_native(seg.probs, seg.roi, seg.frame_shape)).mean())


def test_native_map_agrees_with_argmax_on_phantom_frames(segmenter, phantom):
    for i in (0, 5, 11):
        assert agreement_with_argmax(segmenter, phantom.frame(i).image) >= 0.9999


@pytest.mark.realdata
def test_native_map_agrees_with_argmax_on_real_captures(segmenter, real_layouts):
    from edge.imagefiles import read_image

    for paths in real_layouts.values():
        for path in paths[:2]:
            assert agreement_with_argmax(segmenter, read_image(path)) >= 0.9999, path.name


@pytest.fixture(scope="module")
def segmenter(bundled_engine):
    return Segmenter(bundled_engine)


def test_segmenter_on_a_phantom_frame(segmenter, phantom):
    frame = phantom.frame(3)
    seg = segmenter(frame.image)
    assert seg.labels.shape == frame.image.shape[:2] and seg.labels.dtype == np.uint8
    assert set(np.unique(seg.labels)) <= {ABOVE, FASCIA, BELOW}
    assert seg.roi == frame.roi  # detected automatically
    assert seg.probs.shape == segmenter.engine.output.shape[1:] and seg.probs.shape[2] == 3
    assert seg.grey.shape == (seg.roi.h, seg.roi.w) and seg.frame_shape == frame.image.shape[:2]
    assert set(seg.timings_ms) == {"preprocess", "inference", "postprocess"}
    assert all(v >= 0 for v in seg.timings_ms.values())
    r = seg.roi  # outside the ROI the nearest ROI row / column is repeated
    top_row, left_column = seg.labels[r.y, r.x : r.x + r.w], seg.labels[:, r.x]
    assert (seg.labels[: r.y, r.x : r.x + r.w] == top_row[None, :]).all()
    assert (seg.labels[:, : r.x] == left_column[:, None]).all()
    np.testing.assert_array_equal(seg.labels[r.slices], seg.roi_labels)  # the whole-frame map is made from it
    np.testing.assert_array_equal(seg.labels, to_native(seg.probs, r, frame.image.shape))


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
