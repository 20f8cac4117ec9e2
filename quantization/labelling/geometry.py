"""Polygons <-> band masks in image coordinates: x, y in pixels, pixel (row i, column j) covering [j, j+1) x [i, i+1),
so a boundary drawn at y = 10 runs along the top edge of row 10 (Label Studio's and CVAT's convention).

A pixel is inside a polygon when its centre is (even-odd rule; a centre on a left or top edge is inside, on a right or
bottom edge outside): two polygons that share an edge share no pixel, and a band drawn from y = 10 to y = 20 is the
ten rows 10..19.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import cv2
import numpy as np

from edge.core.labels import FASCIA, band_mask_to_classes

#: a piece of the model's band narrower than this many columns is a speck, not offered as a band to correct
MIN_COLUMNS = 4
#: coordinates are rounded to this many decimals, so a boundary at 30 px read back from a percentage is 30 again
DECIMALS = 6


def rasterize(polygons: Iterable[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """The union of `polygons` ((N, 2) arrays of x, y) as a boolean mask of `shape` (rows, columns)."""
    mask = np.zeros(shape, bool)
    for polygon in polygons:
        mask |= _inside(np.round(np.asarray(polygon, float), DECIMALS), *shape)
    return mask


def _inside(polygon: np.ndarray, h: int, w: int) -> np.ndarray:
    """Even-odd: each edge toggles, on every row whose centre it crosses, the pixels from the crossing to the right."""
    toggles = np.zeros((h, w + 1), np.int32)
    for (x0, y0), (x1, y1) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if y0 == y1:
            continue
        lo, hi = min(y0, y1), max(y0, y1)
        rows = np.arange(max(math.ceil(lo - 0.5), 0), min(math.ceil(hi - 0.5), h))
        x = x0 + (rows + 0.5 - y0) * (x1 - x0) / (y1 - y0)
        np.add.at(toggles, (rows, np.clip(np.ceil(x - 0.5), 0, w).astype(int)), 1)
    return (np.cumsum(toggles, axis=1)[:, :w] % 2).astype(bool)


def stacked_columns(band: np.ndarray) -> np.ndarray:
    """The columns in which a band mask has more than one vertical run (two bands one above the other)."""
    starts = band & ~np.vstack([np.zeros((1, band.shape[1]), bool), band[:-1]])
    return np.flatnonzero(starts.sum(axis=0) > 1)


def band_outlines(labels: np.ndarray, tolerance: float = 1.0) -> list[np.ndarray]:
    """The fascia of a class map as polygons, one per connected piece at least `MIN_COLUMNS` wide: the piece's upper
    boundary left to right, then its lower boundary right to left, each simplified to within `tolerance` px
    (0: every column; `rasterize` then draws back exactly the piece's first run in each column)."""
    count, pieces = cv2.connectedComponents((labels == FASCIA).astype(np.uint8), connectivity=8)
    outlines = []
    for k in range(1, count):
        cols = np.flatnonzero((pieces == k).any(axis=0))  # contiguous: a connected piece skips no column
        if cols.size < MIN_COLUMNS:
            continue
        run = band_mask_to_classes((pieces[:, cols[0] : cols[-1] + 1] == k).astype(np.uint8)) == FASCIA
        top = np.argmax(run, axis=0)
        bottom = top + run.sum(axis=0)
        x = cols + 0.5
        left, right = float(cols[0]), float(cols[-1] + 1)
        upper = [(left, top[0]), *zip(x, top), (right, top[-1])]
        lower = [(right, bottom[-1]), *zip(x[::-1], bottom[::-1]), (left, bottom[0])]
        outlines.append(np.vstack([_simplify(upper, tolerance), _simplify(lower, tolerance)]))
    return outlines


def _simplify(points: list[tuple[float, float]], tolerance: float) -> np.ndarray:
    """An open polyline with its end points kept and every dropped point within `tolerance` px of the result."""
    curve = np.asarray(points, np.float32).reshape(-1, 1, 2)
    return cv2.approxPolyDP(curve, tolerance, closed=False).reshape(-1, 2).astype(float)
