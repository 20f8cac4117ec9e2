"""Overlays: class colours blended over the frame inside the ROI, the ROI box, and text lines."""

from __future__ import annotations

import cv2
import numpy as np

from edge.labels import BELOW, CLASS_COLOURS_BGR, FASCIA
from edge.roi import Box

_KERNEL = np.ones((3, 3), np.uint8)
_FONT, _SCALE, _LINE = cv2.FONT_HERSHEY_SIMPLEX, 0.55, 22  #: text lines: font, scale, pixels a line


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
    alpha: float = 0.45,
    tint: tuple[int, ...] = (BELOW, FASCIA),
    in_place: bool = False,
) -> np.ndarray:
    """A BGR picture: the `tint` classes tinted inside the ROI, the fascia's outline, text top-left.

    `labels` is the class map of the whole frame or of the ROI alone. The live loop tints the fascia alone
    (the tissue below covers half the B-mode area: tinting it costs more than the rest of the overlay) and
    draws `in_place` on a BGR frame it no longer needs.
    """
    if frame.ndim == 2:
        out = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        out = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    else:
        out = frame if in_place else frame.copy()
    box = roi or Box.full(out.shape)
    if labels.shape not in (out.shape[:2], (box.h, box.w)):
        raise ValueError(f"labels {labels.shape} match neither the frame {out.shape[:2]} nor the ROI {box}")
    box.check_fits(out.shape)
    view, lab = out[box.slices], box.part(labels)
    for cls, weight in ((BELOW, alpha * 0.35), (FASCIA, alpha)):
        if cls not in tint:
            continue
        mask = cv2.compare(lab, cls, cv2.CMP_EQ)
        x, y, w, h = cv2.boundingRect(mask)  # work only where the class is
        if w == 0:
            continue
        if cls == FASCIA:  # its outline reaches one pixel beyond the band
            x, y, x1, y1 = max(x - 1, 0), max(y - 1, 0), min(x + w + 1, lab.shape[1]), min(y + h + 1, lab.shape[0])
            w, h = x1 - x, y1 - y
        part = (slice(y, y + h), slice(x, x + w))
        colour = solid((h, w), CLASS_COLOURS_BGR[cls])
        cv2.copyTo(cv2.addWeighted(view[part], 1.0 - weight, colour, weight, 0.0), mask[part], view[part])
        if cls == FASCIA:
            cv2.copyTo(colour, cv2.morphologyEx(mask[part], cv2.MORPH_GRADIENT, _KERNEL), view[part])
    _write(out, box, lines)
    if roi is not None:
        cv2.rectangle(out, (roi.x, roi.y), (roi.x + roi.w - 1, roi.y + roi.h - 1), (90, 220, 90), 1)
    return out


def _write(out: np.ndarray, box: Box, lines: list[str] | tuple[str, ...]) -> None:
    """White text lines at the box's top-left on a darkened panel (legible on bright tissue; an outline drawn
    around each glyph costs 4x as much)."""
    if not lines:
        return
    width = max(cv2.getTextSize(text, _FONT, _SCALE, 1)[0][0] for text in lines)
    panel = out[box.y : box.y + 8 + _LINE * len(lines), box.x : box.x + 16 + width]
    panel[:] = cv2.convertScaleAbs(panel, alpha=0.3)
    for i, text in enumerate(lines):
        org = (box.x + 8, box.y + 20 + _LINE * i)
        cv2.putText(out, text, org, _FONT, _SCALE, (255, 255, 255), 1, cv2.LINE_AA)
