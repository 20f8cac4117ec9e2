"""edge.core.postprocess: model probabilities back into the native frame."""

import cv2
import numpy as np
import pytest

from edge.core.fascia import FasciaRows
from edge.core.labels import ABOVE, BELOW, FASCIA
from edge.core.postprocess import class_map, fascia_rows, to_native, upsampled_class_map
from edge.core.roi import Box


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


def smooth_band(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A model's (h, w, 3) probabilities of a slanted, curved band with soft edges."""
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    top = h * rng.uniform(0.2, 0.5) + rng.uniform(-0.6, 0.6) * cols + rng.uniform(-0.02, 0.02) * cols**2
    depth = (rows - top) / rng.uniform(0.5, 3.0)
    thickness = rng.uniform(1.0, 4.0)
    logits = np.stack([-depth, thickness - np.abs(depth - thickness / 2) * 2, depth - thickness], axis=-1)
    probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return (probs / probs.sum(axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("seed", range(12))
def test_fascia_rows_are_the_class_maps_fascia(seed):
    """The native fascia made without the class map is the class map's: pixel for pixel for a band as a model sees
    one; for noisy maps (fascia anywhere, every pixel interpolated, exact ties of int8-like levels) up to a pixel
    whose classes tie to float rounding. ROIs larger and smaller than the model's grid, one-row grids."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 100, size=2))
    kind = seed % 3
    probs = smooth_band(rng, max(h, 8), max(w, 2)) if kind == 0 else rng.random((h, w, 3)).astype(np.float32)
    if kind == 2:
        probs = (np.round(probs * 4) / 4).astype(np.float32)
    size = (int(rng.integers(1, 1100)), int(rng.integers(1, 1000)))
    fascia = fascia_rows(probs, size)
    assert fascia.mask.dtype == np.uint8 and fascia.width == size[0] and fascia.height == size[1]
    labels = upsampled_class_map(probs, size)
    differ = fascia.full() != np.where(labels == FASCIA, 255, 0)
    up = cv2.resize(probs, size, interpolation=cv2.INTER_LINEAR).reshape(size[1], size[0], 3)
    d10, d21 = up[..., 1] - up[..., 0], up[..., 2] - up[..., 1]
    tied = np.minimum(np.minimum(np.abs(d10), np.abs(d21)), np.abs(d10 + d21)) < 1e-5
    assert not (differ & ~tied).any() and differ.sum() <= 2
    if kind == 0:
        assert not differ.any()
        whole = FasciaRows.of_labels(labels)  # the band's rows, no more
        assert (fascia.top, fascia.mask.shape) == (whole.top, whole.mask.shape)


def test_fascia_rows_of_a_map_without_fascia_are_empty():
    probs = one_hot(np.array([[ABOVE] * 3, [BELOW] * 3]))
    fascia = fascia_rows(probs, (50, 40))
    assert fascia.mask.shape == (0, 50) and fascia.height == 40 and not fascia.full().any()
    assert not fascia.cells((2, 3)).any()


@pytest.mark.parametrize(("height", "width"), [(900, 1000), (512, 512), (513, 464), (384, 960), (100, 40), (7, 300)])
def test_cells_the_fascia_covers_are_those_inter_area_keeps(height, width):
    """The model cells the native fascia covers at least half of, from its rows alone: what shrinking the whole mask
    with INTER_AREA and keeping values over 127 gives, ties at exactly half included (a 512-row ROI on 192 rows puts
    a cell edge a third of the way into a row) and grids finer than the ROI."""
    rng = np.random.default_rng(height * width)
    labels = upsampled_class_map(smooth_band(rng, 192, 96), (width, height))
    fascia = FasciaRows.of_labels(labels)
    want = cv2.resize(np.where(labels == FASCIA, 255, 0).astype(np.uint8), (96, 192), interpolation=cv2.INTER_AREA)
    assert fascia.mask.size and (want > 127).any()
    np.testing.assert_array_equal(fascia.cells((192, 96)), want > 127)


def test_upsampled_class_map_rejects_other_shapes():
    for make in (upsampled_class_map, fascia_rows):
        with pytest.raises(ValueError, match="3\\) class probabilities"):
            make(np.zeros((4, 4, 2), np.float32), (8, 8))
