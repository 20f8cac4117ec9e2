"""The label check: a mask that does not sit on its image is told apart from one that does, without a model."""

import numpy as np
import pytest

from edge.core.label_check import MIN_GAIN, drawn_bands, label_offset


def _image(rows: int = 200, band: slice = slice(60, 70)) -> np.ndarray:
    grey = np.random.default_rng(0).integers(20, 60, (rows, 120)).astype(np.uint8)  # speckle
    grey[band] = 200  # the fascia: bright rows
    return grey


def test_a_mask_on_its_band_is_where_it_was_drawn():
    mask = np.zeros((200, 120), bool)
    mask[60:70] = True
    offset = label_offset(_image(), mask)
    assert offset.shift_px == 0 and offset.gain == 0 and not offset.misregistered


@pytest.mark.parametrize("moved", [-20, -6, 12])
def test_a_mask_beside_its_band_is_misregistered_by_its_offset(moved):
    mask = np.zeros((200, 120), bool)
    mask[60 + moved : 70 + moved] = True
    offset = label_offset(_image(), mask)
    assert offset.shift_px == -moved and offset.gain > MIN_GAIN and offset.misregistered
    where = "above" if moved < 0 else "below"
    assert offset.describe().startswith(f"the labelled band lies {abs(moved)} rows {where} the bright rows")


def test_edges_a_pixel_off_and_a_faint_band_are_not_misregistered():
    mask = np.zeros((200, 120), bool)
    mask[61:71] = True  # one row low: an annotator's edge
    assert not label_offset(_image(), mask).misregistered
    faint = _image()
    faint[60:70] = 70  # barely brighter than the speckle around it
    mask[:] = False
    mask[60:70] = True
    assert not label_offset(faint, mask).misregistered


def test_a_faint_layer_drawn_near_a_brighter_one_is_kept():
    """Where it was drawn is a local maximum: a layer of its own (a fascia has several), not a shifted mask."""
    grey = _image()
    grey[60:70] = 110  # the drawn layer
    grey[78:88] = 220  # a brighter one 18 rows down
    mask = np.zeros((200, 120), bool)
    mask[60:70] = True
    offset = label_offset(grey, mask)
    assert offset.shift_px == 18 and offset.gain > MIN_GAIN and offset.peak and not offset.misregistered


def test_brighter_muscle_below_a_faint_band_is_no_better_fit():
    """A low-contrast capture: the mask traces a faint band (an edge a row off), and 65 rows lower the muscle is
    15 % brighter. Moving the band there lands it on texture, not on a line brighter than its surroundings."""
    rng = np.random.default_rng(1)
    grey = rng.integers(20, 60, (700, 120)).astype(np.uint8)
    grey[100:110] = 46  # the faint band: brighter than the speckle's mean of 40
    grey[160:] = rng.integers(33, 73, (540, 120))  # muscle: about 53, 15 % brighter than the band
    mask = np.zeros((700, 120), bool)
    mask[101:111] = True
    offset = label_offset(grey, mask)
    assert not offset.misregistered and abs(offset.shift_px) <= 2
    grey[165:175] = 120  # a real bright line there: the mask would have been drawn beside it
    assert label_offset(grey, mask).misregistered and label_offset(grey, mask).shift_px == 64


def test_a_one_pixel_band_at_the_top_row():
    mask = np.zeros((200, 120), bool)
    mask[0, 5] = True
    offset = label_offset(_image(), mask)
    assert np.isfinite(offset.gain) and 0 <= offset.shift_px <= 20


def test_no_band_and_a_size_mismatch():
    assert label_offset(_image(), np.zeros((200, 120), bool)) is None
    with pytest.raises(ValueError, match="the mask is"):
        label_offset(_image(), np.zeros((100, 120), bool))


def test_drawn_bands_of_a_band_mask_and_of_a_class_map():
    band_mask = np.zeros((10, 4), np.uint8)
    band_mask[2:3] = band_mask[6:8] = 255  # two bands: both are drawn
    assert drawn_bands(band_mask, True).sum() == 12
    classes = np.array([[0], [1], [1], [2], [255]], np.uint8)
    assert drawn_bands(classes, False).ravel().tolist() == [False, True, True, False, False]


def test_the_shared_set_loses_one_misregistered_series_and_its_repeated_images(real_data_dir):
    """The shared set's check: 16 masks of one 660x556 series lie 7-44 rows off their bands (13 of them label a
    pixel-identical copy of an image whose own mask sits on the band); every other mask is kept."""
    from quantization.data import check_labels, load_dl_track_apo

    samples, _ = load_dl_track_apo(real_data_dir)
    kept, problems = check_labels(samples)
    left_out = sorted(p.split(":")[0] for p in problems)
    assert len(samples) == 395 and len(kept) == 379 and len(left_out) == 16
    assert left_out[0] == "img_00533" and left_out[-1] == "img_00553"
    assert all(533 <= int(n[4:]) <= 553 for n in left_out)
    assert {"img_00299", "img_00319"} <= {s.name for s in kept}  # the copies whose masks sit on the band
    assert all("does not sit on this image" in p for p in problems)
