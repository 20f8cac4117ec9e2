"""Displacement of thin tissue strips between two grey frames: dense DIS optical flow or phase correlation.

A strip is a set of sample points (`Strip.xs`, `Strip.ys`: (rows, columns) float32 maps into the ROI), one column of
points per image column, following the band's shape; it is sampled from both frames at the same points (the current
frame's geometry). Both estimators give the displacement (dx lateral, dy axial, px) of the strip's content from the
previous frame to the current one, and the normalised cross-correlation of the strip with the previous frame moved by
that displacement: how well the motion explains the pixels (low: no texture, decorrelated, wrong).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

METHODS = ("dis", "phase")


@dataclass(frozen=True)
class Strip:
    xs: np.ndarray  #: float32 (rows, columns) column of each sample point in the ROI
    ys: np.ndarray  #: float32 (rows, columns) row of each sample point in the ROI
    centre: float  #: median row of the strip's centre line


@dataclass(frozen=True)
class Motion:
    dx: float  #: lateral displacement, px (positive: to the right)
    dy: float  #: axial displacement, px (positive: deeper)
    texture: float  #: grey standard deviation in the strip (current frame)
    ncc: float  #: normalised cross-correlation of the strip with the previous frame moved by (dx, dy)
    saturated: float  #: share of the strip's pixels at full white (current frame): no speckle left to track there


def sample(grey: np.ndarray, strip: Strip, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """The strip's pixels (float32, bilinear), its points moved back by (dx, dy). Give `grey` as float32: from uint8
    the interpolated values are rounded to whole grey levels, noise that doubles the spread of a dark strip's motion."""
    return cv2.remap(grey, strip.xs - np.float32(dx), strip.ys - np.float32(dy), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).astype(np.float32, copy=False)  # fmt: skip


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _motion(prev: np.ndarray, cur: np.ndarray, strip: Strip, dx: float, dy: float) -> Motion:
    now = sample(cur, strip)
    return Motion(dx, dy, float(now.std()), ncc(sample(prev, strip, dx, dy), now), float((now >= 255).mean()))


class DisMotion:
    """Dense inverse search optical flow over the whole ROI at 1/`scale` resolution, the strip's flow its median."""

    def __init__(self, scale: int = 2, preset: int = cv2.DISOPTICAL_FLOW_PRESET_FAST) -> None:
        self.scale = scale
        self.flow = cv2.DISOpticalFlow_create(preset)
        self._flow: np.ndarray | None = None

    def prepare(self, prev: np.ndarray, cur: np.ndarray) -> None:
        """Flow from the current frame to the previous one (defined at the current frame's pixels)."""
        s = self.scale
        small = [
            cv2.resize(g.astype(np.uint8), (g.shape[1] // s, g.shape[0] // s), interpolation=cv2.INTER_AREA)
            for g in (cur, prev)
        ]
        self._flow = self.flow.calc(small[0], small[1], None)

    def __call__(self, prev: np.ndarray, cur: np.ndarray, strip: Strip) -> Motion:
        s = np.float32(self.scale)
        back = cv2.remap(self._flow, strip.xs / s, strip.ys / s, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        dx, dy = (-float(np.median(back[..., k])) * self.scale for k in (0, 1))
        return _motion(prev, cur, strip, dx, dy)


def _rows_normalised(a: np.ndarray) -> np.ndarray:
    """Each row divided by its mean: a brightness profile across the strip that does not move with the tissue (a
    band's laminae, depth gain) is taken out, and with it most of its pull towards zero displacement."""
    return a / (a.mean(axis=1, keepdims=True) + 1.0)


class PhaseMotion:
    """Phase correlation (`cv2.phaseCorrelate`, Hann window) of the strip sampled from both frames (rows normalised),
    repeated `passes` times with the previous frame moved by the estimate so far: each pass measures the residual,
    which the peak's sub-pixel centroid underestimates (it is pulled towards whole pixels, most at 1-2 px; on the
    phantom two passes leave a layer moving 2-3 px a frame 0.1 px short, three bring the shear there within 2 %)."""

    def __init__(self, passes: int = 3) -> None:
        self.passes = passes

    def prepare(self, prev: np.ndarray, cur: np.ndarray) -> None:
        pass

    def __call__(self, prev: np.ndarray, cur: np.ndarray, strip: Strip) -> Motion:
        b = _rows_normalised(sample(cur, strip))
        window = cv2.createHanningWindow((b.shape[1], b.shape[0]), cv2.CV_32F)
        dx = dy = 0.0
        for _ in range(self.passes):
            a = _rows_normalised(sample(prev, strip, dx, dy))
            (rx, ry), _ = cv2.phaseCorrelate(a, b.copy(), window)  # it windows its inputs in place
            dx, dy = dx + rx, dy + ry
        return _motion(prev, cur, strip, dx, dy)


def estimator(method: str) -> DisMotion | PhaseMotion:
    if method == "dis":
        return DisMotion()
    if method == "phase":
        return PhaseMotion()
    raise ValueError(f"motion method must be one of {METHODS}, got {method!r}")
