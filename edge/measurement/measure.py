"""Fascia measurements from the native fascia (`FasciaRows`, or a native class map): thickness, echogenicity,
coverage, confidence, flags.

Thickness is taken per image column from the longest run of fascia pixels, then corrected to the
band's normal with its local slope (thickness_vertical * cos(atan(slope))), so a slanted band is not
over-measured. A frame whose fascia is missing, patchy, broken into several bands, uncertain, or contested by a second
band-shaped structure (`ambiguous`: which of them is the fascia is in doubt) is flagged and is not a good measurement.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import cv2
import numpy as np

from edge.core.fascia import FasciaRows
from edge.core.labels import ABOVE, BELOW, FASCIA
from edge.core.roi import Box
from edge.measurement.candidates import contested_columns
from edge.measurement.flags import FRAME_FLAGS, refuses, with_flag
from edge.measurement.lines import rival_line


@dataclass(frozen=True)
class Calibration:
    """mm per pixel, given directly or from the scanner's depth setting (depth over the B-mode rows)."""

    mm_per_px: float | None = None
    depth_mm: float | None = None

    def __post_init__(self) -> None:
        if self.mm_per_px is not None and self.depth_mm is not None:
            raise ValueError("give either mm per pixel or the depth setting, not both")
        for name in ("mm_per_px", "depth_mm"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite positive number, got {value}")

    def mm_per_px_for(self, roi: Box) -> float | None:
        if self.depth_mm is not None:
            return mm_per_px_from_depth(self.depth_mm, roi.h)
        return self.mm_per_px


def mm_per_px_from_depth(depth_mm: float, bmode_rows: int) -> float:
    """The scanner's depth setting spans the B-mode image's rows (the ROI height)."""
    if depth_mm <= 0 or bmode_rows <= 0:
        raise ValueError(f"depth ({depth_mm} mm) and B-mode rows ({bmode_rows}) must be positive")
    return depth_mm / bmode_rows


def mm_per_px_from_points(p1: tuple[float, float], p2: tuple[float, float], distance_mm: float) -> float:
    """Two points (x, y) on the on-screen depth scale that lie `distance_mm` apart."""
    px = math.hypot(p2[0] - p1[0], p2[1] - p1[1])
    if px == 0 or distance_mm <= 0:
        raise ValueError("the two scale points must differ and their distance in mm must be positive")
    return distance_mm / px


@dataclass(frozen=True)
class MeasureConfig:
    min_coverage: float = 0.5  #: fraction of ROI columns holding fascia; below it: low_coverage
    min_confidence: float = 0.6  #: mean max-probability of fascia pixels; below it: low_confidence
    slope_window: int = 15  #: columns either side used for the band's local slope
    max_fragmented: float = 0.15  #: fraction of fascia columns holding more than one fascia run; above it: fragmented
    candidate_level: float = 0.25  #: fascia probability that makes a pixel part of a band candidate
    rival_share: float = 0.5  #: a second candidate in a column holding this share of the strongest one's mass: a rival
    max_contested: float = 0.25  #: fraction of the band's columns with a rival band; above it: ambiguous
    max_step: float = 2.0  #: band thicknesses the band's centre may move from one column to the next
    min_piece: float = 0.1  #: a piece of band beyond such a step holding this share of its columns: discontinuous
    min_winner: float = 0.6  #: of structures at different depths, the one measured holds this share of the columns
    min_rival: float = 0.15  #: ... and every other holding this share or more ...
    prob_margin: float = 0.1  #: ... is this much less sure (mean peak fascia probability over its columns)
    max_split: float = 0.5  #: runs this many band thicknesses apart in a column or closer are one band (its layers)
    use_track: bool = True  #: on a stream, where the band has been breaks a tie in certainty between structures
    line_reach: float = 3.0  #: a second bright line within this many band thicknesses of the band ...
    max_line_rival: float | None = None  #: ... at least this prominent against the band: second_line (None: off)
    min_in_range: float = 0.5  #: with a depth range: share of band columns that kept a band; below: outside_range


@dataclass(frozen=True)
class Measurement:
    """One frame's measurements; thickness values are perpendicular to the band, in pixels and mm."""

    thickness_px: float | None  #: median over the columns with fascia
    spread_px: dict[str, float]  #: p10, p25, p75, p90, iqr
    vertical_px: float | None  #: median vertical run length (what a column-wise count gives)
    mm_per_px: float | None
    coverage: float  #: fraction of ROI columns where the fascia is found
    fragmented: float  #: fraction of those columns that hold more than one fascia run (the band broken up)
    contested: float | None  #: fraction of the model's band columns where a second band candidate rivals the first
    pieces: int  #: pieces of band (each at least `min_piece` of its columns) at depths that step from one to the next
    depth_px: float | None  #: the band's median centre row in the ROI (where it lies, for tracking across frames)
    confidence: float | None  #: mean max-probability of fascia pixels (None without probabilities)
    echo: dict[str, float | None]  #: mean grey inside the fascia, above it and below it
    flags: tuple[str, ...]  #: names from the flag registry (`edge.measurement.flags`)
    columns_px: np.ndarray = field(repr=False)  #: per ROI column perpendicular thickness, NaN where none

    def __post_init__(self) -> None:
        unknown = [f for f in self.flags if f not in FRAME_FLAGS]
        if unknown:
            raise KeyError(f"flags {unknown} are not in the flag registry (edge.measurement.flags)")

    @property
    def good(self) -> bool:
        return not refuses(self.flags)

    def flagged(self, name: str) -> Measurement:
        """This measurement with the registered flag `name` added."""
        return replace(self, flags=with_flag(self.flags, name))

    @property
    def thickness_mm(self) -> float | None:
        if self.thickness_px is None or self.mm_per_px is None:
            return None
        return self.thickness_px * self.mm_per_px

    def to_dict(self) -> dict:
        """JSON-ready values (rounded), without the per-column array."""

        def r(v: float | None, nd: int = 3) -> float | None:
            return None if v is None else round(float(v), nd)

        mm = self.mm_per_px
        return {
            "good": self.good,
            "flags": list(self.flags),
            "thickness_px": r(self.thickness_px),
            "thickness_mm": r(self.thickness_mm, 4),
            "iqr_px": r(self.spread_px.get("iqr")),
            "iqr_mm": r(self.spread_px["iqr"] * mm, 4) if mm and "iqr" in self.spread_px else None,
            "spread_px": {k: r(v) for k, v in self.spread_px.items()},
            "vertical_px": r(self.vertical_px),
            "mm_per_px": r(mm, 6),
            "coverage": r(self.coverage),
            "fragmented": r(self.fragmented),
            "contested": r(self.contested),
            "pieces": self.pieces,
            "depth_px": r(self.depth_px, 1),
            "confidence": r(self.confidence),
            "echo": {k: r(v, 1) for k, v in self.echo.items()},
        }


class Runs(NamedTuple):
    """Per column: the longest run of FASCIA pixels and how many runs there are."""

    top: np.ndarray  #: top row of the longest run (the topmost of equals; 0 where none)
    length: np.ndarray  #: its length (0 where none, or where it is shorter than `min_run`)
    count: np.ndarray  #: number of runs of any length


def fascia_runs(labels: np.ndarray, min_run: int = 1, bridge: int = 0) -> Runs:
    """`band_runs` of a native class map."""
    return band_runs(FasciaRows.of_labels(labels), min_run, bridge)


def band_runs(fascia: FasciaRows, min_run: int = 1, bridge: int = 0) -> Runs:
    """Per column: the longest run of fascia pixels and the number of runs (`Runs`); runs `bridge` rows apart or
    closer count as one (a band split by a thin dark line: the fascia's own layers).

    Works from where the mask changes (a few times a column) within the rows that hold fascia.
    """
    h, w = fascia.mask.shape
    top, length = np.zeros(w, np.intp), np.zeros(w, np.intp)
    if h == 0:
        return Runs(top, length, np.zeros(w, np.intp))
    on = np.zeros((w, h + 2), np.uint8)  # column by column (transposed); "off" above and below closes every run
    on[:, 1:-1] = fascia.mask.T
    cols, rows = np.divmod(np.flatnonzero(on[:, 1:] != on[:, :-1]), h + 1)  # a run's first row / one past its last
    rows += fascia.top  # column by column, top to bottom: start, stop, start, stop, ...
    start, stop, col = rows[0::2], rows[1::2], cols[0::2]
    if bridge > 0 and start.size > 1:
        join = (col[1:] == col[:-1]) & (start[1:] - stop[:-1] <= bridge)  # this run and the next are one
        start, stop, col = start[_first(~join)], stop[_last(~join)], col[_first(~join)]
    run = stop - start
    first = _first(col[1:] != col[:-1])  # each column's first run
    length[col[first]] = np.maximum.reduceat(run, np.flatnonzero(first))
    longest = run == length[col]
    col_of_longest = col[longest]
    topmost = _first(col_of_longest[1:] != col_of_longest[:-1])
    top[col_of_longest[topmost]] = start[longest][topmost]
    length[length < min_run] = 0
    return Runs(np.where(length > 0, top, 0), length, np.bincount(col, minlength=w))


def _first(starts_next: np.ndarray) -> np.ndarray:
    """bool: True, then `starts_next` (whether each element after the first starts something new)."""
    return np.concatenate(([True], starts_next))


def _last(ends: np.ndarray) -> np.ndarray:
    """bool: `ends` (whether each element but the last ends something), then True."""
    return np.concatenate((ends, [True]))


def local_slope(x: np.ndarray, y: np.ndarray, found: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope dy/dx of the found points within +-window columns of each column (0 if < 3)."""
    w = found.astype(np.float64)
    y0 = np.where(found, y, 0.0)
    sums = np.stack([w, x * w, y0, x * x * w, x * y0])  # each row summed over +-window columns (zeros beyond)
    size = (2 * window + 1, 1)
    n, sx, sy, sxx, sxy = cv2.boxFilter(sums, -1, size, normalize=False, borderType=cv2.BORDER_CONSTANT)
    den = n * sxx - sx * sx
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = np.where((n >= 3) & (den > 0), (n * sxy - sx * sy) / den, 0.0)
    return slope


def echogenicity(grey: np.ndarray, top: np.ndarray, length: np.ndarray) -> dict[str, float | None]:
    """Mean grey of the measured band (each column's fascia run `top`, `length`, as `fascia_runs` gives), of the
    rows above it and of those below it, over the columns where it is found (None for an empty region).

    Every region is a run of rows in each column: the column sums above the band's highest row and below its lowest
    one, and an integral image of the rows between, give each sum in a few lookups a column.
    """
    cols = np.flatnonzero(length)
    if not cols.size:
        return {"fascia": None, "above": None, "below": None}
    h, w = grey.shape
    start, stop = top[cols], top[cols] + length[cols]
    first, last = int(start.min()), int(stop.max())
    wide = (last - first) * w * 255 >= 2**31  # int32 sums would overflow (the rows of a whole 4K frame and more)
    integral = cv2.integral(grey[first:last], sdepth=cv2.CV_64F if wide else cv2.CV_32S)
    above, below = (_column_sums(grey[rows]).astype(np.float64) for rows in (slice(0, first), slice(last, h)))

    def down_to(rows: np.ndarray) -> np.ndarray:
        """Sum of each found column from row 0 down to (not including) `rows`."""
        return above[cols] + (integral[rows - first, cols + 1] - integral[rows - first, cols])

    at_start, at_stop, at_end = down_to(start), down_to(stop), down_to(np.full(cols.size, last)) + below[cols]
    regions = {
        "fascia": (at_stop - at_start, stop - start),
        "above": (at_start, start),
        "below": (at_end - at_stop, h - stop),
    }
    return {name: float(s.sum() / n.sum()) if n.sum() else None for name, (s, n) in regions.items()}


def _column_sums(grey: np.ndarray) -> np.ndarray:
    """int32 sum of each column of uint8 rows (none: zeros; int32 holds a column of 2^23 rows)."""
    if not grey.shape[0]:
        return np.zeros(grey.shape[1], np.int32)
    return cv2.reduce(grey, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S)[0]


def piece_ids(columns: np.ndarray, centre: np.ndarray, thickness: float, max_step: float = 2.0) -> np.ndarray:
    """Which piece of band each column of a band found in `columns` (left to right) with centre row `centre` belongs
    to (0, 1, ...): a new piece starts where the centre moves by more than `max_step` thicknesses (and 4 px) from the
    last column where the band was found, plus one pixel for each column of gap between them (a slope carries on
    under a shadow)."""
    if centre.size < 2:
        return np.zeros(centre.size, np.intp)
    gap = np.diff(columns) - 1
    cut = np.abs(np.diff(centre)) > max(max_step * thickness, 4.0) + gap
    return np.concatenate(([0], np.cumsum(cut)))


def band_pieces(
    columns: np.ndarray, centre: np.ndarray, thickness: float, max_step: float = 2.0, min_piece: float = 0.1
) -> tuple[int, float]:
    """(pieces, share of the columns in the largest) of a band (`piece_ids`); only pieces holding `min_piece` of the
    columns count. A fascia is continuous: two pieces at different depths are two structures, and so is a band made of
    many small pieces."""
    return piece_count(piece_ids(columns, centre, thickness, max_step), min_piece)


def piece_count(ids: np.ndarray, min_piece: float = 0.1) -> tuple[int, float]:
    """`band_pieces` of the band's columns' piece ids (`piece_ids`)."""
    if ids.size < 2:
        return int(ids.size), 1.0
    sizes = np.bincount(ids)
    return max(1, int(np.count_nonzero(sizes >= min_piece * ids.size))), float(sizes.max() / ids.size)


def winning_structure(
    ids: np.ndarray,
    centre: np.ndarray,
    strength: np.ndarray,
    tolerance: float,
    config: MeasureConfig,
    thickness: float = 0.0,
    track: Callable[[float, float], bool] | None = None,
) -> np.ndarray | None:
    """Which columns (a mask over the band's columns) hold the structure the evidence names as the band, where the
    band's pieces (`ids`, `piece_ids`) lie at different depths; None when no structure wins.

    Pieces whose median centre rows lie within `tolerance` of each other are one structure (the band on both sides
    of an intruding piece). The structure with the most columns wins if it holds `min_winner` of them and every other
    structure either holds under `min_rival` or is `prob_margin` less sure (`strength`: the model's peak fascia
    probability per column; without probabilities all equal, so only a small rival loses): a faint line beside a
    clear band, not two structures the model is equally sure of. On a stream (`track`: whether a band at a depth,
    `thickness` thick, lies where the band has been) the track breaks a tie in certainty: the structure with the most
    columns also wins when it holds most of them, no other is `prob_margin` surer, and it alone lies at the track."""
    pieces = np.unique(ids)
    depth = np.array([np.median(centre[ids == k]) for k in pieces])
    order = np.argsort(depth)
    group = np.zeros(pieces.size, np.intp)
    group[order] = np.r_[0, np.cumsum(np.diff(depth[order]) > tolerance)]  # pieces at one depth: one structure
    structure = group[np.searchsorted(pieces, ids)]
    share = np.bincount(structure) / ids.size
    sure = np.bincount(structure, weights=strength) / np.bincount(structure)
    best = int(np.argmax(share))
    others = np.arange(share.size) != best
    beaten = (share[others] < config.min_rival) | (sure[others] <= sure[best] - config.prob_margin)
    if share[best] >= config.min_winner and beaten.all():
        return structure == best
    if track is not None and share[best] > 0.5 and np.all(sure[others] < sure[best] + config.prob_margin):
        at_track = [track(float(np.median(centre[structure == k])), thickness) for k in range(share.size)]
        if at_track[best] and sum(at_track) == 1:
            return structure == best
    return None


def column_strength(fascia: np.ndarray, columns: np.ndarray, width: int) -> np.ndarray:
    """Per native column in `columns` (of `width`): the highest fascia probability in the model's column over it."""
    peak = fascia.max(axis=0)
    return peak[np.minimum(columns * fascia.shape[1] // width, fascia.shape[1] - 1)]


_SPREAD, _MEDIAN = np.array([10.0, 25.0, 50.0, 75.0, 90.0]), np.array([50.0])


def percentiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """`np.percentile(values, q)` (its default linear interpolation) from one sort: on the thousand
    values of a frame numpy's general path costs 5x more than the arithmetic."""
    v = np.sort(values, axis=None)
    pos = q * ((v.size - 1) / 100.0)
    lo = pos.astype(np.intp)
    hi = np.minimum(lo + 1, v.size - 1)
    return v[lo] + (pos - lo) * (v[hi] - v[lo])


def measure(
    labels: np.ndarray | FasciaRows,
    roi: Box,
    grey: np.ndarray | None = None,
    probs: np.ndarray | None = None,
    mm_per_px: float | None = None,
    config: MeasureConfig | None = None,
    settled: bool = False,
    track: Callable[[float, float], bool] | None = None,
) -> Measurement:
    """Measure the fascia inside the ROI: from the ROI's native fascia (`FasciaRows`, the band's rows of the class map,
    as `FramePipeline` makes it) or from a native class map of the whole frame (`FrameResult.labels`) or of the ROI
    alone (`FrameResult.roi_labels`).

    `grey` (the frame's or the ROI's grey pixels) gives echogenicity; `probs` (the model's own class probabilities)
    gives confidence, over the cells the class map calls fascia, and rival band candidates (`ambiguous`), unless
    `settled`: an operator's depth range or hint has chosen among them. `track`: on a stream, whether a band at a
    depth (ROI row), this many pixels thick, lies where the band has been (`BandTracker.at_track`), evidence for which
    of the band's pieces is the band.
    """
    fascia = labels if isinstance(labels, FasciaRows) else FasciaRows.of_labels(roi.part(labels))
    grey = None if grey is None else roi.part(grey)
    config = config or MeasureConfig()
    top, vertical, count = band_runs(fascia)
    if np.any(count > 1):  # runs a thin dark line apart are one band: the fascia's own layers
        split = int(config.max_split * percentiles(vertical[vertical > 0], _MEDIAN)[0])
        top, vertical, count = band_runs(fascia, bridge=split) if split else (top, vertical, count)
    found = vertical > 0
    centre = top + (vertical - 1) / 2.0
    columns = np.flatnonzero(found)
    vertical_median = float(percentiles(vertical[found], _MEDIAN)[0]) if found.any() else None
    ids = piece_ids(columns, centre[found], vertical_median or 0.0, config.max_step)
    pieces, largest = piece_count(ids, config.min_piece)
    broken = pieces > 1 or largest < 1 - config.min_piece
    partial = False
    if broken:  # pieces at different depths: measure the structure the evidence names, if one wins
        strength = column_strength(probs[..., FASCIA], columns, fascia.width) if probs is not None else None
        tolerance = max(config.max_step * (vertical_median or 0.0), 4.0)
        kept = winning_structure(ids, centre[found], np.ones(ids.size) if strength is None else strength, tolerance,
                                 config, vertical_median, track if config.use_track else None)  # fmt: skip
        if kept is not None:
            found[columns[~kept]] = False
            columns, partial, broken = columns[kept], not kept.all(), False
            vertical = np.where(found, vertical, 0)
            vertical_median = float(percentiles(vertical[found], _MEDIAN)[0])
    coverage = np.count_nonzero(found) / found.size
    fragmented = float(np.count_nonzero(count[found] > 1) / np.count_nonzero(found)) if found.any() else 0.0
    x = np.arange(fascia.width, dtype=np.float64)
    slope = local_slope(x, centre, found, config.slope_window)
    perpendicular = np.where(found, vertical / np.sqrt(1.0 + slope * slope), np.nan)

    spread: dict[str, float] = {}
    thickness = None
    if found.any():
        p10, p25, p50, p75, p90 = percentiles(perpendicular[found], _SPREAD)
        thickness = float(p50)
        spread = {"p10": float(p10), "p25": float(p25), "p75": float(p75), "p90": float(p90), "iqr": float(p75 - p25)}

    echo: dict[str, float | None] = {"fascia": None, "above": None, "below": None}
    if grey is not None and found.any():
        echo = echogenicity(grey, top, vertical)

    confidence = contested = None
    if probs is not None:
        p = probs[..., FASCIA]
        wins = fascia.cells(p.shape)  # the model's cells the class map calls fascia (its argmax, or an operator's band)
        if partial:  # the measured piece's cells only
            wins &= cv2.resize(found[None].astype(np.uint8), (p.shape[1], 1), interpolation=cv2.INTER_AREA) > 0
        if not wins.any():  # a band thinner than a model cell
            wins = (p > probs[..., ABOVE]) & (p >= probs[..., BELOW])
        confidence = float(p[wins].mean()) if wins.any() else 0.0
        contested = None if settled else contested_columns(p, config.candidate_level, config.rival_share)
    depth = float(percentiles(centre[found], _MEDIAN)[0]) if found.any() else None
    line = None
    if config.max_line_rival is not None and grey is not None and found.any() and not settled:
        line = rival_line(grey, centre, found, vertical_median, config.line_reach)

    flags = []
    if not found.any():
        flags.append("no_fascia")
    elif coverage < config.min_coverage:
        flags.append("low_coverage")
    if fragmented > config.max_fragmented:
        flags.append("fragmented")
    if confidence is not None and confidence < config.min_confidence:
        flags.append("low_confidence")
    if contested is not None and found.any() and contested > config.max_contested:
        flags.append("ambiguous")
    if broken:
        flags.append("discontinuous")
    if line is not None and line >= config.max_line_rival:
        flags.append("second_line")
    if partial:
        flags.append("partial")
    return Measurement(
        thickness,
        spread,
        vertical_median,
        mm_per_px,
        coverage,
        fragmented,
        contested,
        pieces,
        depth,
        confidence,
        echo,
        tuple(flags),
        perpendicular,
    )
