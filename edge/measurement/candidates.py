"""Band candidates in the model's fascia probabilities: every run of rows above a level, per column. Two of them
competing make a frame ambiguous; an operator's depth range or hint picks between them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from edge.core.labels import ABOVE, BELOW, FASCIA


class Candidates(NamedTuple):
    """One entry per run of rows above the level, ordered by column, then top to bottom."""

    col: np.ndarray
    start: np.ndarray  #: first row
    stop: np.ndarray  #: one past the last row
    mass: np.ndarray  #: sum of the fascia probability over the run


def band_candidates(fascia: np.ndarray, level: float = 0.25) -> Candidates:
    """The runs of rows where a (model resolution) fascia probability map exceeds `level`, per column."""
    h, w = fascia.shape
    on = np.zeros((w, h + 2), np.int8)  # column by column (transposed), closed by an "off" row above and below
    on[:, 1:-1] = (fascia > level).T
    edges = np.diff(on, axis=1).ravel()  # +1 where a run starts, -1 one past where it ends; (w, h + 1) flattened
    col, start = np.divmod(np.flatnonzero(edges == 1), h + 1)  # by column, then top to bottom
    stop = np.flatnonzero(edges == -1) % (h + 1)
    flat = np.zeros(w * h + 1, np.float64)  # the columns one after another, and a 0 to end the last run at
    flat[:-1] = fascia.T.ravel()
    bounds = np.empty(2 * col.size, np.intp)
    bounds[0::2], bounds[1::2] = col * h + start, col * h + stop
    mass = np.add.reduceat(flat, bounds)[0::2] if col.size else np.zeros(0, np.float64)
    return Candidates(col, start, stop, mass)


def _make_fascia(column: np.ndarray, start: int, stop: int) -> None:
    """Make the candidate in rows start..stop of one column's (rows, 3) probabilities the fascia for the argmax,
    changing as little as it takes. Where the model already calls part of it fascia, that part stays the band as the
    model drew it; a candidate it did not call fascia becomes the band over its half-maximum rows. Rows above the
    band then read as tissue above, rows below as tissue below (another candidate there is no longer fascia)."""
    p = column[start:stop]
    wins = p[:, FASCIA] > np.maximum(p[:, ABOVE], p[:, BELOW])
    if not wins.any():
        wins = p[:, FASCIA] >= 0.5 * p[:, FASCIA].max()
    rows = np.flatnonzero(wins)
    top, bottom = start + int(rows[0]), start + int(rows[-1]) + 1
    band = column[top:bottom]
    lift = band[:, FASCIA] <= np.maximum(band[:, ABOVE], band[:, BELOW])  # one run, no gap
    band[lift, FASCIA] = np.maximum(band[lift, ABOVE], band[lift, BELOW]) + 1e-3
    for rows, keep, away in ((column[:top], ABOVE, BELOW), (column[bottom:], BELOW, ABOVE)):
        wrong = np.argmax(rows, axis=1) != keep
        rows[wrong, keep] = rows[wrong].max(axis=1) + 1e-3
        rows[wrong, FASCIA] = np.minimum(rows[wrong, FASCIA], rows[wrong, keep] - 2e-3)
        rows[wrong, away] = np.minimum(rows[wrong, away], rows[wrong, keep] - 2e-3)


def _strongest(c: Candidates, width: int) -> np.ndarray:
    strongest = np.zeros(width)
    np.maximum.at(strongest, c.col, c.mass)
    return strongest


def contested_columns(fascia: np.ndarray, level: float = 0.25, rival_share: float = 0.5) -> float | None:
    """Of the columns that hold a band candidate, the fraction holding a second one whose probability mass is at
    least `rival_share` of the strongest one's: two band-shaped structures competing to be the fascia. None where no
    column holds one."""
    c = band_candidates(fascia, level)
    if not c.col.size:
        return None
    strongest = _strongest(c, fascia.shape[1])
    rivals = np.bincount(c.col[c.mass >= rival_share * strongest[c.col]], minlength=fascia.shape[1])
    candidates = strongest > 0
    return float(np.count_nonzero(rivals[candidates] > 1) / np.count_nonzero(candidates))


@dataclass(frozen=True)
class DepthPrior:
    """What the operator knows of where the fascia lies, in ROI rows (native pixels): a range (a preset's expected
    depth, converted with the calibration) and/or a hint (one depth: a click in the live window, or a number).

    `choose` keeps, in each column, the band candidate inside the range (the strongest there) or, with a hint, the one
    nearest it, and makes it the fascia for the class map (the other candidates become tissue above or below it);
    columns with no candidate inside the range lose their fascia. The probabilities change only as far as the argmax
    needs: the model's own confidence is measured from its unchanged ones. The share of columns that kept a band
    tells how much of the frame agreed with the operator."""

    range_rows: tuple[float, float] | None = None
    hint_row: float | None = None

    def choose(self, probs: np.ndarray, roi_rows: int, level: float = 0.25) -> tuple[np.ndarray, float | None]:
        """(probabilities with the chosen band the fascia, the share of candidate columns that kept one)."""
        scale = probs.shape[0] / roi_rows  # ROI rows -> model rows
        c = band_candidates(probs[..., FASCIA], level)
        if not c.col.size:
            return probs, None
        centre = (c.start + c.stop - 1) / 2.0
        allowed = np.ones(c.col.size, bool)
        if self.range_rows is not None:
            lo, hi = (r * scale for r in self.range_rows)
            allowed = (centre >= lo) & (centre <= hi)
        hint = self.hint_row
        score = c.mass.copy() if hint is None else -np.abs(centre - hint * scale)  # the strongest, or nearest the hint
        score[~allowed] = -np.inf
        width = probs.shape[1]
        order = np.lexsort((score, c.col))  # by column, then score: each column's last entry is its best
        best = order[np.r_[c.col[order][1:] != c.col[order][:-1], True]]
        chosen = np.zeros(c.col.size, bool)
        chosen[best[np.isfinite(score[best])]] = True
        has = np.zeros(width, bool)
        has[c.col] = True
        kept = np.zeros(width, bool)
        kept[c.col[chosen]] = True
        out = probs.copy()
        out[:, has & ~kept, FASCIA] = 0.0  # no candidate inside the range: no fascia in this column
        for col, start, stop in zip(c.col[chosen], c.start[chosen], c.stop[chosen]):
            _make_fascia(out[:, col], start, stop)  # the chosen band the fascia, everything else beside it tissue
        return out, float(np.count_nonzero(kept) / np.count_nonzero(has))


@dataclass
class OperatorPrior:
    """The operator's knowledge in millimetres (or, for a click, in ROI pixels), turned into a `DepthPrior` for each
    frame with that frame's calibration: a preset's expected depth range of the fascia and a one-time hint."""

    range_mm: tuple[float, float] | None = None
    hint_mm: float | None = None
    hint_px: float | None = None  #: a hint given on the picture (ROI row): wins over `hint_mm`

    def __post_init__(self) -> None:
        if self.range_mm is not None:
            lo, hi = self.range_mm
            if not (np.isfinite(lo) and np.isfinite(hi) and 0 <= lo < hi):
                raise ValueError(f"the fascia's depth range must be 0 <= LO < HI mm, got {lo}-{hi}")
        if self.hint_mm is not None and not (np.isfinite(self.hint_mm) and self.hint_mm >= 0):
            raise ValueError(f"the depth hint must be a depth in mm >= 0, got {self.hint_mm}")

    @property
    def needs_scale(self) -> bool:
        return self.range_mm is not None or self.hint_mm is not None

    def require_scale(self, calibrated: bool) -> None:
        """ValueError where a depth in mm is given without a calibration to turn it into pixels."""
        if self.needs_scale and not calibrated:
            raise ValueError("a depth range or hint in mm needs a calibration (--mm-per-px, --depth-mm or a preset)")

    def for_frame(self, mm_per_px: float | None) -> DepthPrior | None:
        """This frame's prior in ROI rows; None when nothing is known."""
        self.require_scale(mm_per_px is not None)
        rows = None if self.range_mm is None else (self.range_mm[0] / mm_per_px, self.range_mm[1] / mm_per_px)
        hint = self.hint_px if self.hint_px is not None else None if self.hint_mm is None else self.hint_mm / mm_per_px
        return None if rows is None and hint is None else DepthPrior(rows, hint)
