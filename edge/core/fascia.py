"""The native fascia of an ROI in the rows that hold any: what measuring and drawing the band need of the native
class map, a few rows of it instead of the whole."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.core.labels import FASCIA


@dataclass(frozen=True)
class FasciaRows:
    """The fascia pixels of an ROI's native class map: `mask` holds ROI rows `top` .. `top` + its rows; no other row
    holds fascia."""

    top: int  #: the ROI row of the mask's first row
    mask: np.ndarray  #: uint8 (rows, ROI width), 255 where fascia
    height: int  #: the ROI's rows

    @classmethod
    def of_labels(cls, labels: np.ndarray) -> FasciaRows:
        """The fascia of a native class map (the ROI's)."""
        mask = cv2.compare(labels, FASCIA, cv2.CMP_EQ)
        _, y, _, h = cv2.boundingRect(mask)
        return cls(y, mask[y : y + h], labels.shape[0])

    @classmethod
    def from_rows(cls, mask: np.ndarray, rows: np.ndarray, height: int) -> FasciaRows:
        """From the mask rows (uint8, 255 where fascia) of the ROI rows `rows` (ascending), the others without
        fascia."""
        held = np.flatnonzero(cv2.reduce(mask, 1, cv2.REDUCE_MAX)) if mask.size else np.zeros(0, np.intp)
        if not held.size:
            return cls(0, np.zeros((0, mask.shape[1]), np.uint8), height)
        first, last = rows[held[0]], rows[held[-1]]
        out = np.zeros((last - first + 1, mask.shape[1]), np.uint8)
        out[rows[held[0] : held[-1] + 1] - first] = mask[held[0] : held[-1] + 1]
        return cls(int(first), out, height)

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    @property
    def bottom(self) -> int:
        """One past the last ROI row of the mask."""
        return self.top + self.mask.shape[0]

    def full(self) -> np.ndarray:
        """The whole ROI's (height, width) mask."""
        out = np.zeros((self.height, self.width), np.uint8)
        out[self.top : self.bottom] = self.mask
        return out

    def cells(self, grid: tuple[int, int]) -> np.ndarray:
        """bool (rows, columns) of a coarser `grid` (the model's output): the cells the fascia covers at least half of,
        area-weighted, which is what shrinking the whole mask to the grid with cv2.INTER_AREA and keeping values over
        127 gives (equal up to the rounding of floats). Only the mask's rows are resized; a grid finer than the ROI
        either way takes the whole mask."""
        gh, gw = grid
        if self.height < gh or self.width < gw:  # OpenCV's INTER_AREA interpolates when enlarging
            return cv2.resize(self.full(), (gw, gh), interpolation=cv2.INTER_AREA) > 127
        out = np.zeros(grid, bool)
        if not self.mask.shape[0]:
            return out
        across = cv2.resize(self.mask.astype(np.float32), (gw, self.mask.shape[0]), interpolation=cv2.INTER_AREA)
        scale = self.height / gh  # ROI rows a cell
        first, last = int(self.top // scale), min(int(np.ceil(self.bottom / scale)), gh)
        edges = np.arange(first, last + 1) * scale
        rows = np.arange(self.top, self.bottom, dtype=np.float64)
        down = np.clip(np.minimum(rows + 1, edges[1:, None]) - np.maximum(rows, edges[:-1, None]), 0.0, None) / scale
        out[first:last] = down @ across >= 127.5 - 1e-3  # exactly half rounds to 128 (half to even), as OpenCV's does
        return out
