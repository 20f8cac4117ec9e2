"""Anatomy-constrained decoding: in every image column the order is fixed, above -> one band -> below.

Per column, the band's top t and bottom b (t <= b; t == b means no band in that column) maximise
    sum_{r<t} log p_above + sum_{t<=r<b} log p_fascia + sum_{r>=b} log p_below,
solved exactly in O(H) per column with cumulative sums and a running maximum, vectorised over columns.
A stray bright fibre cannot become a second band. The boundaries are then refined to sub-pixel
positions where the neighbouring class probabilities cross, and drawn into the native frame directly,
so the thickness is measured on boundaries, not on an upscaled mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.labels import ABOVE, BELOW, FASCIA
from edge.roi import Box

_EPS = 1e-4


@dataclass(frozen=True)
class Boundaries:
    """Per column of the model's output: band top and bottom in continuous row coordinates (0..H)."""

    top: np.ndarray  #: float32 (W,)
    bottom: np.ndarray  #: float32 (W,), >= top; equal where the column has no band
    height: int  #: H, the rows the coordinates refer to

    @property
    def present(self) -> np.ndarray:
        return self.bottom > self.top


def _crossing(d: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Sub-pixel position of the sign change of d (H, W) between rows index-1 and index, per column."""
    h, w = d.shape
    cols = np.arange(w)
    lo = np.clip(index - 1, 0, h - 1)
    hi = np.clip(index, 0, h - 1)
    d_lo, d_hi = d[lo, cols], d[hi, cols]
    denom = d_hi - d_lo
    frac = np.where(np.abs(denom) > 1e-6, -d_lo / np.where(denom == 0, 1, denom), 0.5)
    pos = index - 0.5 + np.clip(frac, 0.0, 1.0)
    return np.where((index <= 0) | (index >= h), index.astype(np.float32), pos).astype(np.float32)


def decode_columns(probs: np.ndarray) -> Boundaries:
    """Exact per-column decode of (H, W, 3) class probabilities into band boundaries."""
    h, w, _ = probs.shape
    logp = np.log(np.maximum(probs.astype(np.float32, copy=False), _EPS))
    zeros = np.zeros((1, w), np.float32)
    c_above, c_band, c_below = (np.concatenate([zeros, np.cumsum(logp[..., k], axis=0)]) for k in range(3))
    gain = c_above - c_band  # choosing top t contributes C_above[t] - C_band[t]
    best = np.maximum.accumulate(gain, axis=0)
    rows = np.arange(h + 1)[:, None]
    best_t = np.maximum.accumulate(np.where(gain >= best, rows, 0), axis=0)
    total = best + c_band - c_below  # + C_below[H], constant per column
    b = np.argmax(total, axis=0)
    t = best_t[b, np.arange(w)]
    top = _crossing(probs[..., FASCIA] - probs[..., ABOVE], t)
    bottom = _crossing(probs[..., BELOW] - probs[..., FASCIA], b)
    empty = b == t
    split = _crossing(probs[..., BELOW] - probs[..., ABOVE], t)
    top = np.where(empty, split, top)
    bottom = np.where(empty, split, np.maximum(bottom, top))
    return Boundaries(top, bottom, h)


def to_native_boundaries(bounds: Boundaries, roi: Box) -> tuple[np.ndarray, np.ndarray]:
    """Boundaries in native frame rows for each of the ROI's roi.w columns (linear between model columns)."""
    w = bounds.top.size
    scale = roi.h / bounds.height
    x_model = (np.arange(roi.w) + 0.5) * (w / roi.w) - 0.5
    grid = np.arange(w)
    top = roi.y + np.interp(x_model, grid, bounds.top) * scale
    bottom = roi.y + np.interp(x_model, grid, bounds.bottom) * scale
    return top.astype(np.float32), bottom.astype(np.float32)


def labels_from_boundaries(top: np.ndarray, bottom: np.ndarray, roi: Box, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Native class map: a pixel row is above/fascia/below by where its centre lies between the boundaries.

    Columns outside the ROI repeat the nearest ROI column (like `postprocess.to_native`).
    """
    h, w = frame_shape[:2]
    cols = np.clip(np.arange(w) - roi.x, 0, roi.w - 1)
    centres = np.arange(h, dtype=np.float32)[:, None] + 0.5
    labels = (centres >= top[cols][None, :]).astype(np.uint8)  # 0 above the band, 1 from its top down
    labels += centres >= bottom[cols][None, :]  # 2 from its bottom down
    return labels
