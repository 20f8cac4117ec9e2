"""edge.overlay: class tints blended inside the ROI, the fascia outline, the ROI box, input forms, bad shapes."""

import cv2
import numpy as np
import pytest

from edge.labels import ABOVE, BELOW, CLASS_COLOURS_BGR, FASCIA
from edge.overlay import draw_overlay, solid
from edge.roi import Box


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


def test_text_lines_and_input_forms(scene):
    frame, labels, roi = scene
    plain = draw_overlay(frame, labels, roi)
    written = draw_overlay(frame, labels, roi, ["TLF 1.20 mm"])
    assert (written != plain).any(axis=2)[roi.y : roi.y + 30, roi.x : roi.x + 60].sum() > 20
    bright = (written > 200).all(axis=2)[roi.y + 8 : roi.y + 22, roi.x + 8 : roi.x + 40]
    assert bright.sum() > 10  # white glyphs
    panel = (slice(roi.y + 1, roi.y + 30), slice(roi.x + 1, roi.x + 8))  # left of the text, inside the panel
    np.testing.assert_allclose(written[panel], np.round(plain[panel] * 0.3), atol=1)  # darkened, not painted over
    np.testing.assert_array_equal(written[roi.y + 31 :], plain[roi.y + 31 :])  # one line: nothing lower changes
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
