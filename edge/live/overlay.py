"""Overlays: class colours blended over the frame inside the ROI, the ROI box, and text lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.core.fascia import FasciaRows
from edge.core.labels import BELOW, CLASS_COLOURS_BGR, FASCIA
from edge.core.roi import Box
from edge.measurement.gliding import GlideStep
from edge.measurement.measure import Measurement

if TYPE_CHECKING:
    from edge.live.pipeline import FrameResult

_KERNEL = np.ones((3, 3), np.uint8)
_FONT, _SCALE, _LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 22  #: text lines: font, scale, pixels a line
ALPHA = 0.45  #: the fascia tint's weight (the tissue below: a third of it)


def solid(shape: tuple[int, ...], colour: tuple[int, int, int]) -> np.ndarray:
    """A uint8 (h, w, 3) image of one colour; one row repeated, far cheaper than numpy's broadcast fill."""
    row = np.empty((1, shape[1], 3), np.uint8)
    row[:] = colour
    return cv2.repeat(row, shape[0], 1)


def draw_overlay(
    frame: np.ndarray,
    labels: np.ndarray,
    roi: Box | None = None,
    lines: list[str] | tuple[str, ...] = (),
    alpha: float = ALPHA,
    tint: tuple[int, ...] = (BELOW, FASCIA),
    in_place: bool = False,
) -> np.ndarray:
    """A BGR picture: the `tint` classes tinted inside the ROI, the fascia's outline, text lines (`text_panel`).

    `labels` is the class map of the whole frame or of the ROI alone. The tissue below covers half the B-mode area:
    tinting it costs more than the rest of the overlay (the live picture, `live_picture`, tints the fascia alone).
    `in_place`: drawn on a BGR frame that is no longer needed.
    """
    out = _canvas(frame, in_place)
    box = roi or Box.full(out.shape)
    if labels.shape not in (out.shape[:2], (box.h, box.w)):
        raise ValueError(f"labels {labels.shape} match neither the frame {out.shape[:2]} nor the ROI {box}")
    box.check_fits(out.shape)
    view, lab = out[box.slices], box.part(labels)
    if BELOW in tint:
        mask = cv2.compare(lab, BELOW, cv2.CMP_EQ)
        x, y, w, h = cv2.boundingRect(mask)  # work only where the class is
        part = (slice(y, y + h), slice(x, x + w))
        _blend(view[part], mask[part], CLASS_COLOURS_BGR[BELOW], alpha * 0.35)
    band = _band(view, FasciaRows.of_labels(lab), alpha if FASCIA in tint else None)
    _write(out, box, lines, band)
    if roi is not None:
        _box(out, roi)
    return out


def _canvas(frame: np.ndarray, in_place: bool) -> np.ndarray:
    """A BGR picture of `frame` to draw on: `frame` itself where `in_place` and it is BGR already."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame if in_place else frame.copy()


def _blend(part: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], weight: float) -> None:
    """`colour` blended into `part` with `weight` where `mask` is set."""
    if part.size:
        blended = cv2.addWeighted(part, 1.0 - weight, solid(part.shape, colour), weight, 0.0)
        cv2.copyTo(blended, mask, part)


def _band(view: np.ndarray, fascia: FasciaRows, weight: float | None) -> tuple[int, int, int, int]:
    """The fascia tinted with `weight` (None: not tinted) and outlined one pixel beyond it, in the ROI's picture
    `view`; its bounding box (x, y, w, h) in the ROI (w == 0: none)."""
    x, y, w, h = cv2.boundingRect(fascia.mask)
    y += fascia.top
    if w == 0 or weight is None:
        return x, y, w, h
    x0, y0, x1, y1 = max(x - 1, 0), max(y - 1, 0), min(x + w + 1, view.shape[1]), min(y + h + 1, view.shape[0])
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)  # its rows, and the outline's beyond them
    mask[y - y0 : y - y0 + h] = fascia.mask[y - fascia.top : y - fascia.top + h, x0:x1]
    part = view[y0:y1, x0:x1]
    _blend(part, mask, CLASS_COLOURS_BGR[FASCIA], weight)
    cv2.copyTo(solid(part.shape, CLASS_COLOURS_BGR[FASCIA]), cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, _KERNEL), part)
    return x, y, w, h


def _box(out: np.ndarray, roi: Box) -> None:
    cv2.rectangle(out, (roi.x, roi.y), (roi.x + roi.w - 1, roi.y + roi.h - 1), (90, 220, 90), 1)


def panel_box(
    frame_shape: tuple[int, ...], box: Box, lines: list[str] | tuple[str, ...], band: tuple[int, ...]
) -> Box | None:
    """Where `lines` go (`text_panel`, sized to them); None without lines."""
    if not lines:
        return None
    width = max(cv2.getTextSize(text, _FONT, _SCALE, 1)[0][0] for text in lines)
    return text_panel(frame_shape, box, (16 + width, 8 + _LINE * len(lines)), band)


def text_panel(frame_shape: tuple[int, ...], box: Box, size: tuple[int, int], band: tuple[int, ...]) -> Box:
    """Where a text panel of `size` (w, h) goes so that it hides no tissue the reading is about: above or below the
    B-mode area (`box`) where the screen has room, else beside it, else inside it at the end away from the band
    (`band`: its bounding box in the ROI, as `cv2.boundingRect` gives it)."""
    fh, fw = frame_shape[:2]
    w, h = min(size[0], fw), min(size[1], fh)
    x = min(box.x, fw - w)
    if box.y >= h:
        return Box(x, box.y - h, w, h)
    if fh - (box.y + box.h) >= h:
        return Box(x, box.y + box.h, w, h)
    if box.x >= w:
        return Box(box.x - w, box.y, w, h)
    if fw - (box.x + box.w) >= w:
        return Box(box.x + box.w, box.y, w, h)
    top = not band[2] or band[1] + band[3] / 2 > box.h / 2  # no band, or one in the lower half: the panel on top
    return Box(x, box.y if top else max(0, box.y + box.h - h), w, h)


def _write(out: np.ndarray, box: Box, lines: list[str] | tuple[str, ...], band: tuple[int, ...]) -> Box | None:
    """White text lines on a darkened panel (legible on bright tissue; an outline drawn around each glyph costs 4x
    as much), placed by `panel_box`; the panel (None without lines)."""
    panel = panel_box(out.shape, box, lines, band)
    if panel is None:
        return None
    view = out[panel.slices]
    view[:] = cv2.convertScaleAbs(view, alpha=0.3)
    for i, text in enumerate(lines):
        org = (panel.x + 8, panel.y + 20 + _LINE * i)
        cv2.putText(out, text, org, _FONT, _SCALE, (255, 255, 255), 1, cv2.LINE_AA)
    return panel


def overlay_lines(m: Measurement, fps: float, e2e_ms: float, gliding: GlideStep | None = None) -> list[str]:
    """The live view's readings: thickness (or why there is none), rate, latency, coverage, confidence, and the
    cumulative shear where gliding is on."""
    if m.good:
        if m.thickness_mm is not None:
            head = f"TLF {m.thickness_mm:.2f} mm (IQR {m.spread_px['iqr'] * m.mm_per_px:.2f})"
        else:
            head = f"TLF {m.thickness_px:.1f} px (IQR {m.spread_px['iqr']:.1f})"
        if "partial" in m.flags:
            head += " on one piece of band"
    else:
        head = "no measurement: " + ", ".join(m.flags)
    conf = f" | conf {m.confidence:.2f}" if m.confidence is not None else ""
    lines = [head, f"{fps:.1f} fps | latency {e2e_ms:.0f} ms | coverage {m.coverage:.0%}{conf}"]
    if gliding is not None:
        t = gliding.totals
        fb, strain = t.shear_px["fascia/below"], t.strain_pct["fascia/below"]
        shear = f"{fb * gliding.mm_per_px:+.2f} mm" if gliding.mm_per_px else f"{fb:+.1f} px"
        state = "" if gliding.good else " | pair left out: " + ", ".join(gliding.flags)
        lines.append(f"shear TLF/below {shear} ({strain:+.0f} %) over {t.pairs} pairs{state}")
    return lines


def live_picture(image: np.ndarray, result: FrameResult, fps: float, e2e_ms: float) -> np.ndarray:
    """The live view, drawn into the captured frame (not used after): the fascia tinted and outlined from the frame's
    native fascia alone (`FrameResult.fascia`; no class map is made), the readings (where their panel went kept in
    `result.panel`, for the recording's log), the ROI's box."""
    out, roi = _canvas(image, in_place=True), result.roi
    roi.check_fits(out.shape)
    band = _band(out[roi.slices], result.fascia, ALPHA)
    result.panel = _write(out, roi, overlay_lines(result.measurement, fps, e2e_ms, result.gliding), band)
    _box(out, roi)
    return out
