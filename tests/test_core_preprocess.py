"""edge.core.preprocess: grey conversion, ROI crop, resize and normalisation, label resizing."""

import cv2
import numpy as np
import pytest

from edge.core.grey import to_grey
from edge.core.labels import ABOVE, BELOW, IGNORE
from edge.core.preprocess import Preprocessor, normalize, prepare_input, prepare_labels, resize_labels
from edge.core.roi import Box

BLUE_BGR = np.array([[[255, 0, 0]]], np.uint8)  # pure blue in OpenCV order


def test_to_grey_passes_grey_through():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = to_grey(grey)
    np.testing.assert_array_equal(out, grey)
    np.testing.assert_array_equal(to_grey(grey[..., None]), grey)
    assert to_grey(grey[..., None]).flags.c_contiguous


def test_to_grey_channel_order():
    # grey = 0.299 R + 0.587 G + 0.114 B
    assert to_grey(BLUE_BGR)[0, 0] == 29
    assert to_grey(BLUE_BGR, order="rgb")[0, 0] == 76  # the same bytes read as RGB are pure red
    bgra = np.concatenate([BLUE_BGR, np.full((1, 1, 1), 7, np.uint8)], axis=2)
    assert to_grey(bgra)[0, 0] == 29
    assert to_grey(bgra, order="rgb")[0, 0] == 76


def test_to_grey_of_grey_bgr_is_lossless():
    grey = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    np.testing.assert_array_equal(to_grey(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)), grey)
    np.testing.assert_array_equal(to_grey(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGRA)), grey)


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (np.zeros((4, 4), np.float32), "8-bit"),
        (np.zeros((4, 4, 3), np.uint16), "8-bit"),
        (np.zeros((4, 4, 2), np.uint8), "not grey"),
        (np.zeros((1, 4, 4, 3), np.uint8), "not grey"),
        (np.zeros((0, 4), np.uint8), "empty"),
        ([[1, 2], [3, 4]], "not an image"),
    ],
)
def test_to_grey_rejects(frame, match):
    with pytest.raises(ValueError, match=match):
        to_grey(frame)


def test_to_grey_rejects_unknown_order():
    with pytest.raises(ValueError, match="channel order"):
        to_grey(np.zeros((2, 2, 3), np.uint8), order="yuv")


def test_normalize_range():
    out = normalize(np.array([[0, 255, 51]], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.2]], atol=1e-7)


def test_prepare_input_crops_the_roi():
    frame = np.full((100, 200), 255, np.uint8)  # white UI ...
    roi = Box(50, 10, 80, 60)
    frame[roi.slices] = np.random.default_rng(1).integers(0, 100, (60, 80), dtype=np.uint8)  # ... dark image
    x = prepare_input(frame, roi, (32, 48))
    assert x.shape == (32, 48) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 100 / 255 + 1e-6  # nothing of the UI leaks in
    with pytest.raises(ValueError, match="outside"):
        prepare_input(frame, Box(150, 0, 80, 60), (32, 48))


def test_prepare_input_upscales_small_rois():
    x = prepare_input(np.full((20, 20), 128, np.uint8), Box(0, 0, 10, 10), (64, 64))
    assert x.shape == (64, 64)
    np.testing.assert_allclose(x, 128 / 255, atol=1e-6)


def test_shrinking_averages_blocks_like_opencv_area_resampling():
    """Whole factors are exact block means; other factors stay within a grey level of cv2.INTER_AREA."""
    from edge.core.preprocess import resize_image

    speckle = np.random.default_rng(3).gamma(2.0, 40.0, (900, 1000)).clip(0, 255).astype(np.uint8)
    blocks = resize_image(speckle[:768, :960], (384, 192))
    means = speckle[:768, :960].reshape(384, 2, 192, 5).mean(axis=(1, 3))
    assert np.abs(blocks - means).max() <= 0.5 + 1e-9
    fast, area = resize_image(speckle, (384, 192)), cv2.resize(speckle, (192, 384), interpolation=cv2.INTER_AREA)
    assert fast.shape == (384, 192) and np.abs(fast.astype(int) - area).mean() < 1.0
    mixed = resize_image(speckle[:, :100], (384, 192))  # rows shrink, columns grow
    assert mixed.shape == (384, 192) and abs(float(mixed.mean()) - float(speckle[:, :100].mean())) < 2


@pytest.mark.parametrize("size", [(256, 256), (37, 411), (9, 5)])
def test_prepare_labels_never_invents_labels(size):
    rng = np.random.default_rng(2)
    labels = rng.choice(np.array([ABOVE, BELOW, IGNORE], np.uint8), size=(123, 97))
    out = prepare_labels(labels, Box(3, 4, 90, 110), size)
    assert out.shape == size and out.dtype == np.uint8
    assert set(np.unique(out)) <= {ABOVE, BELOW, IGNORE}  # no 1 between 0 and 2, no 127 next to 255


def test_resize_labels_is_nearest():
    labels = np.array([[0, 2], [2, 0]], np.uint8)
    np.testing.assert_array_equal(resize_labels(labels, (4, 4)), np.kron(labels, np.ones((2, 2), np.uint8)))


def test_preprocessor_crops_the_roi_it_is_given(phantom):
    frame = phantom.frame(0)
    r = frame.roi
    pre = Preprocessor((64, 64))(frame.image, r)
    assert pre.roi == r and pre.tensor.shape == (64, 64)
    # only the ROI is converted, to the very pixels a whole-frame conversion gives
    np.testing.assert_array_equal(pre.grey, to_grey(frame.image)[r.slices])
    assert pre.frame_shape == frame.image.shape[:2]
    np.testing.assert_array_equal(pre.tensor, prepare_input(to_grey(frame.image), r, (64, 64)))
    assert Preprocessor((64, 64))(frame.image, Box(5, 5, 50, 50)).grey.shape == (50, 50)
    with pytest.raises(ValueError, match="outside"):
        Preprocessor((64, 64))(frame.image, Box(600, 0, 100, 100))
