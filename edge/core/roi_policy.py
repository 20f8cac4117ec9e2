"""Where each frame's ROI comes from, decided in one place: a fixed box, detection on every image (stills), or
detection tracked across the frames of a stream and redone when the screen layout changes."""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from edge.core.grey import to_grey
from edge.core.roi import Box, detect_bmode_roi


class RoiPolicy(Protocol):
    def __call__(self, frame: np.ndarray) -> tuple[Box, bool]:
        """(ROI for this frame, whether it moved since the last frame)."""
        ...


class FixedRoi:
    """The same box on every frame (a preset or `--roi`); a frame it does not fit is refused."""

    def __init__(self, box: Box) -> None:
        self.box = box

    def __call__(self, frame: np.ndarray) -> tuple[Box, bool]:
        self.box.check_fits(frame.shape)
        return self.box, False


class DetectedRoi:
    """The B-mode area detected on every image: stills from many scanners, each its own layout (what training does)."""

    def __init__(self, order: str = "bgr") -> None:
        self.order = order

    def __call__(self, frame: np.ndarray) -> tuple[Box, bool]:
        return detect_bmode_roi(frame, self.order), False


class TrackedRoi:
    """Detected on the first frame and redetected when the screen layout changes.

    The layout check is cheap: a 32x24 thumbnail (16 samples a cell) of the screen outside the ROI (the scanner's UI)
    is compared with the one taken at detection; a different frame size, a changed UI (more than 3% of the thumbnail
    cells outside the ROI change by more than 25 grey levels), or every `recheck_every` frames (a B-mode area that
    shrank inside the old ROI) triggers a new detection.
    """

    THUMB = (32, 24)

    def __init__(self, order: str = "bgr", recheck_every: int = 50, tolerance: int = 4) -> None:
        self.order, self.recheck_every, self.tolerance = order, recheck_every, tolerance
        self.roi: Box | None = None
        self._shape: tuple[int, ...] | None = None
        self._thumb: np.ndarray | None = None
        self._outside: np.ndarray | None = None
        self._since = 0

    def _thumbnail(self, frame: np.ndarray) -> np.ndarray:
        """Mean grey of each thumbnail cell, from 4x4 samples a cell (reads ~0.5% of a 1080p frame; only the
        samples are converted to grey)."""
        tw, th = self.THUMB
        samples = to_grey(cv2.resize(frame, (tw * 4, th * 4), interpolation=cv2.INTER_NEAREST), self.order)
        return cv2.resize(samples, self.THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)

    def _outside_cells(self, shape: tuple[int, ...], roi: Box) -> np.ndarray:
        tw, th = self.THUMB
        ys = (np.arange(th) + 0.5) * shape[0] / th
        xs = (np.arange(tw) + 0.5) * shape[1] / tw
        in_y = (ys >= roi.y - 2) & (ys < roi.y + roi.h + 2)
        in_x = (xs >= roi.x - 2) & (xs < roi.x + roi.w + 2)
        return ~(in_y[:, None] & in_x[None, :])

    def _layout_changed(self, frame: np.ndarray) -> bool:
        if frame.shape[:2] != self._shape or self._since >= self.recheck_every:
            return True
        if not self._outside.any():
            return False
        changed = int((np.abs(self._thumbnail(frame) - self._thumb)[self._outside] > 25).sum())
        return changed >= max(3, 0.03 * self._outside.sum())  # a clock or counter in the UI is not a layout

    def __call__(self, frame: np.ndarray) -> tuple[Box, bool]:
        self._since += 1
        if self.roi is not None and not self._layout_changed(frame):
            return self.roi, False
        new = detect_bmode_roi(frame, self.order)
        old = self.roi
        shape = frame.shape[:2]
        changed = old is None or shape != self._shape or self._moved(old, new)
        if changed:
            self.roi = new
        self._shape, self._thumb, self._since = shape, self._thumbnail(frame), 0
        self._outside = self._outside_cells(shape, self.roi)
        return self.roi, changed and old is not None

    def _moved(self, a: Box, b: Box) -> bool:
        return max(abs(a.x - b.x), abs(a.y - b.y), abs(a.x + a.w - b.x - b.w), abs(a.y + a.h - b.y - b.h)) > (
            self.tolerance
        )


def roi_policy(roi: Box | RoiPolicy | None, video: bool = True, order: str = "bgr") -> RoiPolicy:
    """A policy as given, a fixed box, or detection (tracked on `video`, on every image otherwise)."""
    if isinstance(roi, Box):
        return FixedRoi(roi)
    if roi is not None:
        return roi
    return TrackedRoi(order) if video else DetectedRoi(order)
