"""Fascia gliding per frame pair: how far the fascia slides over the tissue below it and under the tissue above it.

Three strips follow the band in the current frame's class map: the tissue just above the fascia, the fascia band
itself and the tissue just below it (`strips`). Their lateral and axial displacement since the previous frame
(`edge.measurement.motion`) gives per frame the relative lateral displacement fascia vs below and above vs fascia, and
the shear strain: relative displacement over the distance between the layers' centres, in % (Langevin et al. 2011,
BMC Musculoskelet Disord 12:203). A pair is flagged, and left out of the totals, when its motion cannot be trusted: no
previous frame (start, stream break), a changed ROI, a flagged segmentation in either frame (the band's identity in
doubt), too few band columns, low texture, a strip largely at full white (saturated: its speckle clipped away, the
estimate pulled towards zero) or a motion that does not explain the pixels (low correlation).

Movement cycles come from the motion itself (`CycleDetector`): the tissue below's lateral position against the tissue
above (the sum of both shears, so that a probe sliding over the skin moves nothing) turns back by more than
`cycle_px`; a cycle runs from its start (where tracking starts, or the end of the cycle before) out to a turning point
and back to the next one. Per cycle: the shear of each stroke, and their mean size in px, mm and strain %.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from edge.core.labels import FASCIA
from edge.measurement.measure import Measurement
from edge.measurement.motion import Motion, Strip, estimator

LAYERS = ("above", "fascia", "below")
PAIRS = (("fascia", "below"), ("above", "fascia"))  #: (upper layer, lower layer): the shear between them


@dataclass(frozen=True)
class GlideConfig:
    method: str = "phase"  #: "phase" (phase correlation on strips) or "dis" (dense optical flow); benchmarks/gliding.py
    strip_px: int = 10  #: rows of each tissue strip
    gap_px: int = 2  #: rows left between a tissue strip and the band (its edge blurs into both)
    min_columns: float = 0.3  #: share of ROI columns holding the band; below it: few_columns
    min_texture: float = 3.0  #: grey standard deviation a strip needs; below it: low_texture
    max_saturated: float = 0.2  #: share of a strip's pixels at full white; above it: saturated
    min_ncc: float = 0.5  #: correlation of a strip with the previous frame moved by its motion; below: low_correlation
    cycle_px: float = 3.0  #: the tissue below must turn back by this much (against the tissue above) to end a stroke


def strips(labels: np.ndarray, config: GlideConfig) -> dict[str, Strip] | None:
    """The three strips along the band of an ROI class map, or None where too few columns hold all three."""
    fascia = labels == FASCIA
    h, w = labels.shape
    has = fascia.any(axis=0)
    top = np.argmax(fascia, axis=0)
    bottom = h - np.argmax(fascia[::-1], axis=0)  # one past the last fascia row
    s, g = config.strip_px, config.gap_px
    ok = has & (top - g - s >= 0) & (bottom + g + s <= h)
    if ok.sum() < max(config.min_columns * w, 8):
        return None
    xs = np.flatnonzero(ok).astype(np.float32)
    top, bottom = top[ok].astype(np.float32), bottom[ok].astype(np.float32)
    # the band's interior, `gap_px` in from either edge: an edge whose shape changes would be tracked as motion
    inner = np.maximum(bottom - top - 2 * g, 2.0)
    band = max(int(np.median(inner)), 2)
    k = np.arange(s, dtype=np.float32)[:, None]
    kb = np.arange(band, dtype=np.float32)[:, None] * (inner - 1) / max(band - 1, 1)
    centre = (top + bottom - inner) / 2
    rows = {"above": top - g - s + k, "fascia": centre + kb, "below": bottom + g + k}
    return {
        name: Strip(np.broadcast_to(xs, y.shape).copy(), y, float(np.median(y.mean(axis=0))))
        for name, y in rows.items()
    }


def _zero() -> dict[str, float]:
    return {"fascia/below": 0.0, "above/fascia": 0.0}


@dataclass(frozen=True)
class GlideCycle:
    """One completed movement cycle: out to a turning point and back. `frames`: the tracker's frame indices."""

    index: int
    frames: tuple[int, int, int]  #: start, turning point, end
    movement_px: float  #: how far the tissue below went out against the tissue above (first stroke)
    strokes_px: tuple[dict[str, float], dict[str, float]]  #: signed shear per pair over each stroke
    shear_px: dict[str, float]  #: the strokes' mean size
    strain_pct: dict[str, float]  #: the strokes' mean strain size (relative displacement / distance, %)

    def to_dict(self, mm_per_px: float | None) -> dict:
        return {
            "index": self.index,
            "frames": list(self.frames),
            "movement_px": round(self.movement_px, 3),
            "strokes_px": [{k: round(v, 3) for k, v in s.items()} for s in self.strokes_px],
            "shear_px": {k: round(v, 3) for k, v in self.shear_px.items()},
            "shear_mm": {k: round(v * mm_per_px, 4) for k, v in self.shear_px.items()} if mm_per_px else None,
            "strain_pct": {k: round(v, 2) for k, v in self.strain_pct.items()},
        }


@dataclass(frozen=True)
class GlideTotals:
    """What the good pairs add up to since the tracker started (resets of the pair state do not clear it)."""

    pairs: int = 0  #: good frame pairs summed
    flagged: int = 0  #: pairs left out
    shear_px: dict[str, float] = field(default_factory=_zero)
    path_px: dict[str, float] = field(default_factory=_zero)
    strain_pct: dict[str, float] = field(default_factory=_zero)
    cycles: tuple[GlideCycle, ...] = ()  #: completed movement cycles

    @property
    def movement_px(self) -> float:
        """Where the tissue below is against the tissue above, from where tracking started."""
        return sum(self.shear_px.values())


@dataclass(frozen=True)
class _Mark:
    frame: int
    totals: GlideTotals


class CycleDetector:
    """Turning points of the movement (`GlideTotals.movement_px`) with hysteresis; completed `GlideCycle`s."""

    def __init__(self, hysteresis_px: float) -> None:
        self.hysteresis = hysteresis_px
        self._marks: list[_Mark] = []  # the cycle in progress: its start, then its turning point
        self._extreme: _Mark | None = None  # the furthest point of the stroke in progress
        self._direction = 0  # of the stroke in progress: +1, -1, 0 (not moved by the hysteresis yet)

    def update(self, frame: int, before: GlideTotals, after: GlideTotals) -> GlideCycle | None:
        """After a good pair (`before` -> `after` at `frame`): the cycle it completes, if any."""
        if not self._marks:
            self._marks.append(_Mark(frame - 1, before))
        now = _Mark(frame, after)
        x, h = after.movement_px, self.hysteresis
        if self._direction == 0:
            moved = x - self._marks[-1].totals.movement_px
            if abs(moved) >= h:
                self._direction, self._extreme = (1 if moved > 0 else -1), now
            return None
        if (x - self._extreme.totals.movement_px) * self._direction > 0:
            self._extreme = now
            return None
        if abs(x - self._extreme.totals.movement_px) < h:
            return None
        turn, self._extreme, self._direction = self._extreme, now, -self._direction
        self._marks.append(turn)
        if len(self._marks) < 3:
            return None
        start, mid, end = self._marks
        self._marks = [end]
        return _cycle(len(after.cycles), start, mid, end)


def _cycle(index: int, start: _Mark, mid: _Mark, end: _Mark) -> GlideCycle:
    def diff(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        return {k: b[k] - a[k] for k in a}

    s, m, e = start.totals, mid.totals, end.totals
    strokes = (diff(s.shear_px, m.shear_px), diff(m.shear_px, e.shear_px))
    strains = (diff(s.strain_pct, m.strain_pct), diff(m.strain_pct, e.strain_pct))
    return GlideCycle(
        index,
        (start.frame, mid.frame, end.frame),
        abs(m.movement_px - s.movement_px),
        strokes,
        {k: (abs(strokes[0][k]) + abs(strokes[1][k])) / 2 for k in strokes[0]},
        {k: (abs(strains[0][k]) + abs(strains[1][k])) / 2 for k in strains[0]},
    )


@dataclass(frozen=True)
class GlideStep:
    """One frame pair: each layer's motion, the relative displacements and strains, flags, and the totals so far."""

    motion: dict[str, Motion]  #: per layer (empty where the pair could not be measured)
    relative_px: dict[
        str, float
    ]  #: "fascia/below", "above/fascia": lateral displacement of the lower layer minus the upper
    distance_px: dict[str, float]  #: between the layers' centres
    strain_pct: dict[str, float]  #: relative displacement / distance, %
    mm_per_px: float | None
    flags: tuple[str, ...]
    totals: GlideTotals
    frame: int = 0  #: the tracker's frame index

    @property
    def cycle(self) -> int:
        """Index of the movement cycle in progress (the number completed)."""
        return len(self.totals.cycles)

    @property
    def good(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict:
        def r(v: float | None, nd: int = 3) -> float | None:
            return None if v is None else round(float(v), nd)

        mm = self.mm_per_px
        t = self.totals
        return {
            "good": self.good,
            "flags": list(self.flags),
            "layers": {
                k: {
                    "dx_px": r(m.dx),
                    "dy_px": r(m.dy),
                    "texture": r(m.texture, 2),
                    "ncc": r(m.ncc),
                    "saturated": r(m.saturated),
                }
                for k, m in self.motion.items()
            },
            "relative_px": {k: r(v) for k, v in self.relative_px.items()},
            "relative_mm": {k: r(v * mm, 4) for k, v in self.relative_px.items()} if mm else None,
            "distance_px": {k: r(v, 2) for k, v in self.distance_px.items()},
            "strain_pct": {k: r(v, 2) for k, v in self.strain_pct.items()},
            "cumulative": totals_dict(t, mm),
            "cycle": self.cycle,
        }


def totals_dict(t: GlideTotals, mm_per_px: float | None) -> dict:
    def mm(d: dict[str, float]) -> dict | None:
        return {k: round(v * mm_per_px, 4) for k, v in d.items()} if mm_per_px else None

    return {
        "pairs": t.pairs,
        "flagged": t.flagged,
        "shear_px": {k: round(v, 3) for k, v in t.shear_px.items()},
        "shear_mm": mm(t.shear_px),
        "path_px": {k: round(v, 3) for k, v in t.path_px.items()},
        "strain_pct": {k: round(v, 2) for k, v in t.strain_pct.items()},
        "movement_px": round(t.movement_px, 3),
        "cycles": [c.to_dict(mm_per_px) for c in t.cycles],
    }


class GlideTracker:
    """Frame by frame: `step(grey, labels, measurement)` -> `GlideStep` against the frame before."""

    def __init__(self, config: GlideConfig | None = None) -> None:
        self.config = config or GlideConfig()
        self.motion = estimator(self.config.method)
        self.totals = GlideTotals()
        self.cycles = CycleDetector(self.config.cycle_px)
        self._frame = -1
        self._prev: tuple[np.ndarray, tuple[str, ...]] | None = None

    def reset(self) -> None:
        """The stream broke or the ROI moved: the next frame has no previous one (the totals stay)."""
        self._prev = None

    def _flagged(self, flags: tuple[str, ...], mm_per_px: float | None, motion=None) -> GlideStep:
        self.totals = replace(self.totals, flagged=self.totals.flagged + 1)
        return GlideStep(motion or {}, {}, {}, {}, mm_per_px, flags, self.totals, self._frame)

    def step(self, grey: np.ndarray, labels: np.ndarray, m: Measurement, roi_changed: bool = False) -> GlideStep:
        self._frame += 1
        grey = grey.astype(np.float32)  # sampled without rounding (edge.measurement.motion.sample)
        prev, self._prev = self._prev, (grey, m.flags)
        mm = m.mm_per_px
        if prev is None or prev[0].shape != grey.shape:
            return self._flagged(("roi_changed",) if roi_changed or prev is not None else ("no_previous",), mm)
        flags = ["segmentation_flagged"] if (m.flags or prev[1]) else []
        found = strips(labels, self.config)
        if found is None:
            return self._flagged((*flags, "few_columns"), mm)
        rows = slice(int(min(s.ys.min() for s in found.values())), int(max(s.ys.max() for s in found.values())) + 1)
        self.motion.prepare(prev[0], grey, rows)
        motion = {name: self.motion(prev[0], grey, strip) for name, strip in found.items()}
        c = self.config
        if any(mo.texture < c.min_texture for mo in motion.values()):
            flags.append("low_texture")
        elif any(mo.saturated > c.max_saturated for mo in motion.values()):
            flags.append("saturated")
        elif any(mo.ncc < c.min_ncc for mo in motion.values()):
            flags.append("low_correlation")
        relative = {f"{a}/{b}": motion[b].dx - motion[a].dx for a, b in PAIRS}
        distance = {f"{a}/{b}": found[b].centre - found[a].centre for a, b in PAIRS}
        strain = {k: 100.0 * v / distance[k] for k, v in relative.items()}
        if flags:
            return self._flagged(tuple(flags), mm, motion)
        t = self.totals
        self.totals = GlideTotals(
            t.pairs + 1,
            t.flagged,
            {k: t.shear_px[k] + v for k, v in relative.items()},
            {k: t.path_px[k] + abs(v) for k, v in relative.items()},
            {k: t.strain_pct[k] + v for k, v in strain.items()},
            t.cycles,
        )
        done = self.cycles.update(self._frame, t, self.totals)
        if done is not None:
            self.totals = replace(self.totals, cycles=(*t.cycles, done))
        return GlideStep(motion, relative, distance, strain, mm, (), self.totals, self._frame)
