"""edge.core.roi: the Box type and B-mode area detection on the phantom and on real scanner captures."""

import cv2
import numpy as np
import pytest

from edge.core.roi import Box, detect_bmode_roi
from edge.live.phantom import DEFAULT_ROI, Phantom


def test_box_parse_and_format():
    box = Box.parse(" 10, 20,30 ,40")
    assert box == Box(10, 20, 30, 40)
    assert str(box) == "10,20,30,40"
    assert Box.parse(str(box)) == box


@pytest.mark.parametrize("text", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "1.5,2,3,4", ""])
def test_box_parse_rejects_malformed(text):
    with pytest.raises(ValueError, match="x,y,w,h"):
        Box.parse(text)


@pytest.mark.parametrize("args", [(-1, 0, 5, 5), (0, -1, 5, 5), (0, 0, 0, 5), (0, 0, 5, -2)])
def test_box_rejects_invalid(args):
    with pytest.raises(ValueError, match="invalid ROI"):
        Box(*args)


def test_box_full_slices_and_fit():
    frame = np.arange(6 * 8).reshape(6, 8)
    assert Box.full(frame.shape) == Box(0, 0, 8, 6)
    box = Box(2, 1, 3, 4)
    np.testing.assert_array_equal(frame[box.slices], frame[1:5, 2:5])
    assert box.fits(frame.shape)
    assert Box(6, 0, 2, 6).fits(frame.shape)
    assert not Box(6, 0, 3, 6).fits(frame.shape)
    with pytest.raises(ValueError, match="outside the 8x6 frame"):
        Box(0, 3, 8, 4).check_fits(frame.shape)


@pytest.mark.parametrize("index", [0, 7, 80])
def test_detect_phantom_exact(phantom, index):
    assert detect_bmode_roi(phantom.frame(index).image) == DEFAULT_ROI


def test_detect_phantom_other_layout():
    roi = Box(37, 61, 300, 250)
    ph = Phantom(screen=(400, 420), roi=roi, seed=3)
    image = ph.frame(2).image
    assert detect_bmode_roi(image) == roi
    assert detect_bmode_roi(image[..., ::-1].copy(), order="rgb") == roi
    assert detect_bmode_roi(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) == roi


def test_detect_without_ui_is_full_frame():
    speckle = np.random.default_rng(0).integers(0, 255, (200, 300), dtype=np.uint8)
    assert detect_bmode_roi(speckle) == Box(0, 0, 300, 200)


def test_detect_flat_frame_is_full_frame():
    assert detect_bmode_roi(np.full((120, 160, 3), 40, np.uint8)) == Box(0, 0, 160, 120)


#: The three scanner layouts of the real set, (width, height), and whether UI surrounds the image.
LAYOUTS = {(660, 556): True, (512, 512): False, (1234, 688): True}


@pytest.mark.realdata
@pytest.mark.parametrize("layout", list(LAYOUTS), ids=lambda s: f"{s[0]}x{s[1]}")
def test_detect_real_captures(real_data_dir, real_layouts, layout):
    paths = real_layouts.get(layout)
    if not paths:
        pytest.skip(f"no {layout[0]}x{layout[1]} images in {real_data_dir}")
    picks = paths[:: max(1, len(paths) // 4)][:4]  # spread over the layout's images
    for path in picks:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        band = cv2.imread(str(real_data_dir / "masks" / path.name), cv2.IMREAD_GRAYSCALE) > 0
        box = detect_bmode_roi(image)
        assert box.fits(image.shape), f"{path.name}: {box} outside the frame"
        covered = band[box.slices].sum() / band.sum()
        assert covered >= 0.99, f"{path.name}: ROI {box} covers {covered:.3f} of the labelled band"
        if LAYOUTS[layout]:
            assert box.w < 0.8 * image.shape[1], f"{path.name}: ROI {box} includes the UI"
