"""Does a label sit on its image? A band drawn on the picture lies on bright rows (a fascia, an aponeurosis is
echogenic); a mask saved against another frame of the series, or shifted by an export, lies beside them. Scored
without any model: the labelled band pixels are moved up and down, and if the band would be clearly brighter
somewhere else than where it was drawn, the label is misregistered. Only a place where the moved band makes a ridge (a
thin line brighter than the rows just above and below it) counts: brighter texture, such as a muscle below a faint
fascia, is no better fit.

In the shared set this finds 16 of 395 masks (one series of the 660x556 layout, shifted 7 to 44 px), 13 of them
labelling a pixel-identical copy of an image whose other mask sits on the band; every other mask scores its best
within 2 px of where it was drawn, at most 2 % brighter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.core.grey import to_grey
from edge.core.labels import FASCIA

MAX_SHIFT = 0.1  #: the search reaches this share of the image's rows up and down
MIN_GAIN = 0.1  #: the band this much brighter (relative) at the best shift than where drawn: misregistered
MIN_SHIFT = 3  #: and that shift at least this many rows (the band's own edges move nothing further)
MIN_RIDGE = 0.05  #: and there a ridge: the band this much brighter than the rows a band thickness above and below it


@dataclass(frozen=True)
class LabelOffset:
    """Where the labelled band would be brightest, against where it was drawn."""

    shift_px: int  #: rows to move the band by to make it brightest (+ = down)
    gain: float  #: how much brighter it is there than where drawn, relative to where drawn (0 = where drawn)
    peak: bool  #: where drawn is itself a local maximum (brighter than 1-2 rows up and down): a layer, if a faint one

    @property
    def misregistered(self) -> bool:
        return abs(self.shift_px) >= MIN_SHIFT and self.gain >= MIN_GAIN and not self.peak

    def describe(self) -> str:
        return (
            f"the labelled band lies {abs(self.shift_px)} rows {'above' if self.shift_px > 0 else 'below'} the bright "
            f"rows it marks ({self.gain:.0%} brighter there): the mask does not sit on this image"
        )


def drawn_bands(mask: np.ndarray, band_mask: bool) -> np.ndarray:
    """Every band a mask draws: each non-zero pixel of a binary band mask (all its bands are moved together, so one
    cannot land on another), the fascia class of a class map."""
    return to_grey(mask) > 0 if band_mask else mask == FASCIA


def label_offset(grey: np.ndarray, band: np.ndarray) -> LabelOffset | None:
    """`band` (a boolean mask of the labelled band pixels, the image's size) against `grey`; None without a band."""
    if grey.shape != band.shape:
        raise ValueError(f"the mask is {band.shape[::-1]}, the image {grey.shape[::-1]}")
    rows, cols = np.nonzero(band)
    if not rows.size:
        return None
    h = grey.shape[0]
    reach = max(MIN_SHIFT, int(MAX_SHIFT * h))
    thick = max(2, int(np.median(np.bincount(cols)[np.unique(cols)])))  # the band's rows in a column
    means = {}
    for dy in range(-reach - thick, reach + thick + 1):
        moved = rows + dy
        inside = (moved >= 0) & (moved < h)
        if np.count_nonzero(inside) >= max(1, (rows.size + 1) // 2):  # at least half the band still in the picture
            means[dy] = float(grey[moved[inside], cols[inside]].mean())

    def ridge(dy: int) -> bool:
        sides = [means[dy + s] for s in (-thick, thick) if dy + s in means]
        return not sides or means[dy] >= (1 + MIN_RIDGE) * max(sides)

    shifts = [dy for dy in means if abs(dy) <= reach and (dy == 0 or ridge(dy))]
    best = max(shifts, key=lambda dy: (means[dy], -abs(dy)))
    near = [means[dy] for dy in (-2, -1, 1, 2) if dy in means]
    peak = bool(near) and means[0] >= max(near)
    return LabelOffset(best, (means[best] - means[0]) / max(means[0], 1.0), peak)
