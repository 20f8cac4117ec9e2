"""edge.live.overlay: class tints blended inside the ROI, the fascia outline, the ROI box, input forms, bad shapes."""

import cv2
import numpy as np
import pytest

from edge.core.labels import ABOVE, BELOW, CLASS_COLOURS_BGR, FASCIA
from edge.core.roi import Box
from edge.live.overlay import draw_overlay, overlay_lines, panel_box, solid, text_panel


def blend(pixel, cls: int, weight: float) -> np.ndarray:
    mixed = np.asarray(pixel, float) * (1 - weight) + np.asarray(CLASS_COLOURS_BGR[cls]) * weight
    return np.clip(np.round(mixed), 0, 255)


@pytest.fixture
def scene():
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    labels = np.full((60, 80), ABOVE, np.uint8)
    labels[25:31] = FASCIA
    labels[31:] = BELOW
    return frame, labels, Box(10, 5, 60, 50)


def test_tints_outline_and_box(scene):
    frame, labels, roi = scene
    out = draw_overlay(frame, labels, roi, alpha=0.4)
    assert out.shape == frame.shape and out.dtype == np.uint8 and not np.shares_memory(out, frame)
    np.testing.assert_array_equal(out[12, 20], frame[12, 20])  # above: untouched
    np.testing.assert_allclose(out[40, 30], blend(frame[40, 30], BELOW, 0.4 * 0.35), atol=1)
    np.testing.assert_allclose(out[28, 30], blend(frame[28, 30], FASCIA, 0.4), atol=1)
    for row in (24, 25, 30, 31):  # the fascia's outline, either side of both edges
        np.testing.assert_array_equal(out[row, 30], CLASS_COLOURS_BGR[FASCIA])
    np.testing.assert_array_equal(out[40, 5], frame[40, 5])  # outside the ROI: no tint
    np.testing.assert_array_equal(out[40, 75], frame[40, 75])
    np.testing.assert_array_equal(out[roi.y, 40], (90, 220, 90))  # the ROI's box
    np.testing.assert_array_equal(out[roi.y + roi.h - 1, 40], (90, 220, 90))


def test_panel_box_is_where_the_text_goes():
    """`panel_box` says where the readings are drawn (the recording logs it for the clinic's key frames)."""
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, size=(200, 300, 3), dtype=np.uint8)
    roi = Box(0, 0, 300, 200)  # no room around the B-mode area: the panel goes inside it
    labels = np.full((roi.h, roi.w), ABOVE, np.uint8)
    labels[10:18] = FASCIA
    lines = ["TLF 1.20 mm", "30.0 fps | latency 40 ms"]
    written = draw_overlay(frame, labels, roi, lines)
    band = cv2.boundingRect(cv2.compare(labels, FASCIA, cv2.CMP_EQ))
    panel = panel_box(frame.shape, roi, lines, band)
    assert band == (0, 10, 300, 8) and panel_box(frame.shape, roi, [], (0, 10, 300, 8)) is None
    assert panel is not None and panel.y > 100  # away from the band near the top
    changed = np.argwhere((written != draw_overlay(frame, labels, roi)).any(axis=2))
    rows, columns = changed[:, 0], changed[:, 1]  # the ROI's edge (its last row, first column) is drawn after
    assert rows.min() == panel.y and rows.max() == panel.y + panel.h - 2
    assert columns.min() == panel.x + 1 and columns.max() == panel.x + panel.w - 1


def test_text_sits_outside_the_bmode_area_when_the_screen_has_room():
    """A screen capture with UI rows above the B-mode area: the readings go there and hide no tissue."""
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, size=(200, 300, 3), dtype=np.uint8)
    roi = Box(40, 60, 220, 130)
    labels = np.full((roi.h, roi.w), ABOVE, np.uint8)
    labels[10:18] = FASCIA  # the band near the top of the B-mode area, where text used to be drawn
    labels[18:] = BELOW
    plain = draw_overlay(frame, labels, roi)
    written = draw_overlay(frame, labels, roi, ["TLF 1.20 mm", "30.0 fps"])
    np.testing.assert_array_equal(written[roi.slices], plain[roi.slices])  # nothing drawn over the B-mode area
    panel = text_panel(frame.shape, roi, (120, 52), (0, 10, roi.w, 8))
    assert panel == Box(40, 8, 120, 52)  # right above the B-mode area
    bright = (written > 200).all(axis=2)[panel.y + 8 : panel.y + 22, panel.x + 8 : panel.x + 60]
    assert bright.sum() > 10  # white glyphs
    left = (slice(panel.y + 1, panel.y + 30), slice(panel.x + 1, panel.x + 8))  # left of the text, inside the panel
    np.testing.assert_allclose(written[left], np.round(plain[left] * 0.3), atol=1)  # darkened, not painted over


def test_text_inside_the_bmode_area_goes_to_the_end_away_from_the_band():
    screen, roi, size = (100, 100, 3), Box(0, 0, 100, 100), (60, 30)
    assert text_panel(screen, roi, size, (0, 10, 100, 8)).y == 70  # band near the top: text at the bottom
    assert text_panel(screen, roi, size, (0, 70, 100, 8)).y == 0  # band near the bottom: text at the top
    assert text_panel(screen, roi, size, (0, 0, 0, 0)).y == 0  # no band: the top
    assert text_panel((100, 200, 3), roi, size, (0, 10, 100, 8)) == Box(100, 0, 60, 30)  # room beside it


def test_text_lines_and_input_forms(scene):
    frame, labels, roi = scene
    plain = draw_overlay(frame, labels, roi)
    written = draw_overlay(frame, labels, roi, ["TLF 1.20 mm"])
    assert (written != plain).any(axis=2).sum() > 20
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    as_bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    np.testing.assert_array_equal(draw_overlay(grey, labels, roi), draw_overlay(as_bgr, labels, roi))
    np.testing.assert_array_equal(draw_overlay(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA), labels, roi), plain)
    whole = draw_overlay(frame, labels)  # no ROI: the whole frame is tinted, no box
    np.testing.assert_allclose(whole[40, 5], blend(frame[40, 5], BELOW, 0.45 * 0.35), atol=1)


def test_labels_must_match_the_frame(scene):
    frame, labels, roi = scene
    with pytest.raises(ValueError, match="match neither"):
        draw_overlay(frame, labels[:-1], roi)


def test_roi_labels_live_form_and_in_place(scene):
    """The live loop's call: the ROI's map alone, the fascia alone tinted, drawn into the frame itself."""
    frame, labels, roi = scene
    reference = draw_overlay(frame, labels, roi)
    np.testing.assert_array_equal(draw_overlay(frame, labels[roi.slices], roi), reference)
    live = frame.copy()
    out = draw_overlay(live, labels[roi.slices], roi, tint=(FASCIA,), in_place=True)
    assert out is live
    np.testing.assert_array_equal(out[28, 30], reference[28, 30])  # fascia: tinted as before
    np.testing.assert_array_equal(out[40, 30], frame[40, 30])  # below: left as it was


def test_solid():
    img = solid((3, 4, 3), (1, 2, 3))
    assert img.shape == (3, 4, 3) and img.dtype == np.uint8
    assert (img == np.array([1, 2, 3], np.uint8)).all()


def test_classes_that_are_absent_leave_the_picture_alone(scene):
    frame, _, roi = scene
    only_above = np.full(frame.shape[:2], ABOVE, np.uint8)
    np.testing.assert_array_equal(draw_overlay(frame, only_above), frame)
    out = draw_overlay(frame, only_above, roi)
    inside = (slice(roi.y + 1, roi.y + roi.h - 1), slice(roi.x + 1, roi.x + roi.w - 1))
    np.testing.assert_array_equal(out[inside], frame[inside])


def test_overlay_shows_the_cumulative_shear_where_gliding_is_on():
    from edge.live.phantom import Phantom
    from edge.measurement.gliding import GlideTracker
    from edge.measurement.measure import measure

    p = Phantom(glide=1.0, persistence=0.95)
    tracker, r = GlideTracker(), p.roi
    for i in range(3):
        f = p.frame(i)
        grey, labels = f.image[r.slices][..., 0].copy(), r.part(f.labels)
        m = measure(labels, r, grey, None, None)
        step = tracker.step(grey, labels, m)
    lines = overlay_lines(m, 25.0, 40.0, step)
    assert len(lines) == 3 and lines[2].startswith("shear TLF/below +") and "over 2 pairs" in lines[2]
    assert len(overlay_lines(m, 25.0, 40.0)) == 2


def test_the_live_picture_is_drawn_from_the_fascia_alone(bundled_engine, phantom):
    """`live_picture` tints and outlines the band from the frame's native fascia, without the class map: the same
    picture as the fascia tinted from the whole map, the readings and the ROI's box."""
    from edge.live.overlay import live_picture
    from edge.live.pipeline import FramePipeline

    image = phantom.frame(4).image
    result = FramePipeline(bundled_engine, phantom.roi)(image)
    live = live_picture(image.copy(), result, 30.0, 12.0)
    assert "roi_labels" not in result.__dict__
    lines = overlay_lines(result.measurement, 30.0, 12.0)
    whole = draw_overlay(image, result.roi_labels, result.roi, lines, tint=(FASCIA,))
    np.testing.assert_array_equal(live, whole)
    assert (live != image).any(axis=2).sum() > 1000
