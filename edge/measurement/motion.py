"""Displacement of thin tissue strips between two grey frames: dense DIS optical flow or phase correlation.

A strip is a set of sample points (`Strip.xs`, `Strip.ys`: (rows, columns) float32 maps into the ROI), one column of
points per image column, following the band's shape; it is sampled from both frames at the same points (the current
frame's geometry). Both estimators give the displacement (dx lateral, dy axial, px) of the strip's content from the
previous frame to the current one, and the normalised cross-correlation of the strip with the previous frame moved by
that displacement: how well the motion explains the pixels (low: no texture, decorrelated, wrong).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

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


def sample(
    grey: np.ndarray, strip: Strip, dx: float = 0.0, dy: float = 0.0, interpolation: int = cv2.INTER_LINEAR
) -> np.ndarray:
    """The strip's pixels (float32, bilinear unless said), its points moved back by (dx, dy). Give `grey` as float32:
    from uint8 the interpolated values are rounded to whole grey levels, noise that doubles the spread of a dark
    strip's motion."""
    return cv2.remap(grey, strip.xs - np.float32(dx), strip.ys - np.float32(dy), interpolation,
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

    def prepare(self, prev: np.ndarray, cur: np.ndarray, rows: slice = slice(None)) -> None:
        """Flow from the current frame to the previous one (defined at the current frame's pixels, all rows)."""
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


class Smoothed(NamedTuple):
    """A frame pair as `refine` reads it: both blurred, in the rows its strips lie in and 8 more on either side."""

    prev: np.ndarray
    cur: np.ndarray
    top: int  #: the frames' row of the first row kept

    @classmethod
    def of(cls, prev: np.ndarray, cur: np.ndarray, blur_px: float, rows: slice = slice(None)) -> Smoothed:
        top, stop, _ = slice(max((rows.start or 0) - 8, 0), None if rows.stop is None else rows.stop + 8).indices(
            cur.shape[0]
        )
        p, c = (cv2.GaussianBlur(g[top:stop], (0, 0), blur_px) if blur_px else g[top:stop] for g in (prev, cur))
        return cls(p, c, top)


class PhaseMotion:
    """Phase correlation (`cv2.phaseCorrelate`, Hann window) of the strip sampled from both frames (rows normalised),
    `passes` times, each on the residual left by the ones before, then `refine`: the peak's sub-pixel centroid is
    pulled towards whole pixels, on real captures by 0.1-0.3 px a pair whatever the passes (benchmarks/real_video.py),
    which least squares on the strip's own pixels is not. The refinement reads both frames blurred by `blur_px`: a
    grabber's JPEG blocks, fixed to the screen, stand out of a dark strip's speckle and held its estimate back (0.25 px
    a pair on the phantom's tissue above, 0.06 after the blur)."""

    def __init__(self, passes: int = 1, steps: int = 6, blur_px: float = 0.8) -> None:
        self.passes, self.steps, self.blur_px = passes, steps, blur_px
        self._pair: tuple[np.ndarray, np.ndarray, Smoothed] | None = None  #: the frames last prepared

    def prepare(self, prev: np.ndarray, cur: np.ndarray, rows: slice = slice(None)) -> None:
        """Blurs the pair once for all its strips, which lie in `rows`."""
        self._pair = (prev, cur, Smoothed.of(prev, cur, self.blur_px, rows))

    def __call__(self, prev: np.ndarray, cur: np.ndarray, strip: Strip) -> Motion:
        if self._pair is None or self._pair[0] is not prev or self._pair[1] is not cur:
            self.prepare(prev, cur)
        b = _rows_normalised(sample(cur, strip))
        window = cv2.createHanningWindow((b.shape[1], b.shape[0]), cv2.CV_32F)
        dx = dy = 0.0
        for _ in range(self.passes):
            a = _rows_normalised(sample(prev, strip, dx, dy))
            (rx, ry), _ = cv2.phaseCorrelate(a, b.copy(), window)  # it windows its inputs in place
            dx, dy = dx + rx, dy + ry
        if self.steps:
            dx, dy = refine(self._pair[2], strip, dx, dy, self.steps)
        return _motion(prev, cur, strip, dx, dy)


def refine(
    pair: Smoothed, strip: Strip, dx: float, dy: float, steps: int = 6, tol: float = 1 / 64
) -> tuple[float, float]:
    """Gauss-Newton (inverse-compositional Lucas-Kanade) steps from (dx, dy) to the displacement whose moved previous
    strip matches the current one best, both less their mean; the current strip's gradient stands for the moved
    previous one's; each step at most 1 px, until one is under `tol` (`cv2.remap` places its samples to 1/32 px:
    smaller steps only drift).

    Robust (`tukey`): pixels that the displacement does not explain (a bright neighbouring band reaching into a dark
    strip, moving otherwise) lose their weight, as phase correlation's single peak ignores them; plain least squares
    followed them (the phantom's still tissue above read as moving with the band beside it). The strips are resampled
    with a windowed sinc (Lanczos, 8x8): bilinear resampling blurs the moved frame more at a quarter pixel than at a
    whole one, 0.02 px a pair off on real texture (bicubic about as much the other way)."""
    strip = Strip(strip.xs, strip.ys - np.float32(pair.top), strip.centre)

    def moved(image: np.ndarray, x: float, y: float) -> np.ndarray:
        return sample(image, strip, x, y, cv2.INTER_LANCZOS4)

    b = moved(pair.cur, 0.0, 0.0)
    b = b - b.mean()
    gx = moved(pair.cur, -0.5, 0.0) - moved(pair.cur, 0.5, 0.0)  # d/dx of the strip, as `a` changes with -dx
    gy = moved(pair.cur, 0.0, -0.5) - moved(pair.cur, 0.0, 0.5)
    gx, gy = gx - gx.mean(), gy - gy.mean()
    for _ in range(steps):
        a = moved(pair.prev, dx, dy)
        r = b - (a - a.mean())
        w = tukey(r)
        m = np.array([[(w * gx * gx).sum(), (w * gx * gy).sum()], [(w * gx * gy).sum(), (w * gy * gy).sum()]])
        if not np.trace(m) > 0:
            break
        step = np.linalg.solve(m + 1e-6 * np.trace(m) * np.eye(2), [-(w * gx * r).sum(), -(w * gy * r).sum()])
        ex, ey = np.clip(step, -1.0, 1.0)
        dx, dy = dx + float(ex), dy + float(ey)
        if abs(ex) < tol and abs(ey) < tol:
            break
    return dx, dy


def tukey(residual: np.ndarray, c: float = 4.685) -> np.ndarray:
    """Tukey's biweight of each residual (of mean zero), against their spread (1.4826 x their median size): 1 for a
    residual of none, 0 beyond `c` spreads."""
    spread = 1.4826 * float(np.median(np.abs(residual))) + 1e-6
    u = residual / (c * spread)
    return np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0).astype(np.float32)


def estimator(method: str) -> DisMotion | PhaseMotion:
    if method == "dis":
        return DisMotion()
    if method == "phase":
        return PhaseMotion()
    raise ValueError(f"motion method must be one of {METHODS}, got {method!r}")
