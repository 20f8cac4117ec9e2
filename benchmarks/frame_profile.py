"""Where a frame's time goes around the model: every stage of `FramePipeline` (and the live picture) profiled on its
own with cProfile, split by function.

A stage's time is its median over unprofiled frames; the profile (which slows small calls down) only says how that
time divides: each row is a function of this project with the time spent in its own lines, or one library call it
makes (an OpenCV or numpy function, with all it does), as a share of the stage.
"""

from __future__ import annotations

import cProfile
import pstats
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.core.latency import StageClock
from edge.live.overlay import live_picture
from edge.live.pipeline import FramePipeline, FrameResult

ROOT = Path(__file__).resolve().parents[1]
MODEL_STAGES = ("inference",)  #: the model's own time: not split
#: rows shown: of stages taking at least MIN_MS, those holding at least MIN_SHARE of their stage, MOST_ROWS at most
MIN_MS, MIN_SHARE, MOST_ROWS = 0.05, 0.03, 6


class ProfiledClock(StageClock):
    """A `StageClock` that also profiles each stage into that stage's `cProfile.Profile` in `profiles` (shared by the
    clocks of every frame)."""

    __slots__ = ("profiles", "_profile")

    def __init__(self, profiles: dict[str, cProfile.Profile]) -> None:
        super().__init__()
        self.profiles = profiles

    def __enter__(self) -> None:
        self._profile = self.profiles.setdefault(self._stage, cProfile.Profile())
        self._profile.enable()
        super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._profile.disable()


def live_frame(pipeline: FramePipeline, frame: np.ndarray) -> tuple[FrameResult, dict[str, float]]:
    """The live loop's per-frame work: the frame pipeline, then the live picture ("overlay"), each stage timed by the
    pipeline's clock; (the result, ms per stage and in all). The frame is copied first, untimed, as a capture delivers
    a fresh buffer: the picture is drawn into it."""
    frame = frame.copy()
    result = pipeline(frame)
    clock = pipeline.clock()
    with clock("overlay"):
        live_picture(frame, result, 30.0, result.timings_ms["total"])
    overlay = clock.stop()["overlay"]
    return result, {**result.timings_ms, "overlay": overlay, "total": result.timings_ms["total"] + overlay}


def _name(key: tuple[str, int, str]) -> str:
    """cProfile's key -> 'module.function' for this project's code, 'numpy.flatnonzero' for an installed package's,
    'cv2.resize', 'ndarray.astype', 'numpy.zeros' for compiled ones."""
    file, _, func = key
    if file != "~":
        parts = Path(file).parts
        package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else Path(file).stem
        return f"{package if not _ours(key) else Path(file).stem}.{func}"
    method = re.fullmatch(r"<method '(\w+)' of '(?:\w+\.)*(\w+)' objects>", func)
    if method:
        return f"{method.group(2)}.{method.group(1)}"
    builtin = re.fullmatch(r"<built-in method ([\w.]+)>", func)
    if builtin:
        return builtin.group(1)
    return f"cv2.{func.strip('<>')}" if re.fullmatch(r"<\w+>", func) else func


_CLOCKS = {Path(__file__).resolve(), ROOT / "edge" / "core" / "latency.py"}  #: the clocks' own calls: not counted


def _ours(key: tuple[str, int, str]) -> bool:
    return key[0] != "~" and Path(key[0]).resolve().is_relative_to(ROOT)


def split(profile: cProfile.Profile) -> dict[str, float]:
    """{row: seconds}: each project function's own lines ('f'), and each library call it makes ('f > call', with
    everything the call does); library calls made straight from the stage's own line in `FramePipeline.__call__`
    are '(stage) > call'."""
    rows: dict[str, float] = {}
    for key, (_, _, own, _, callers) in pstats.Stats(profile).stats.items():
        if key[0] != "~" and Path(key[0]).resolve() in _CLOCKS:
            continue
        if _ours(key):
            rows[_name(key)] = rows.get(_name(key), 0.0) + own
            continue
        if not callers:
            rows[f"(stage) > {_name(key)}"] = rows.get(f"(stage) > {_name(key)}", 0.0) + own
        for caller, (_, _, _, cumulative) in callers.items():
            if _ours(caller):
                row = f"{_name(caller)} > {_name(key)}"
                rows[row] = rows.get(row, 0.0) + cumulative
    return rows


@dataclass
class StageProfile:
    """One stage: its median ms (unprofiled) and its rows as (name, ms, share), largest first."""

    ms: float
    rows: list[tuple[str, float, float]] = field(default_factory=list)


def profile_frames(
    pipeline: FramePipeline, frames: list[np.ndarray], repeats: int, passes: int = 3
) -> dict[str, StageProfile]:
    """{stage: StageProfile} of the live loop's work (`live_frame`) on `frames`: `repeats` rounds over the frames
    timed, then `passes` rounds profiled."""
    times: dict[str, list[float]] = {}
    for _ in range(repeats):
        for frame in frames:
            for stage, ms in live_frame(pipeline, frame)[1].items():
                times.setdefault(stage, []).append(ms)
    profiles: dict[str, cProfile.Profile] = {}
    timed, pipeline.clock = pipeline.clock, _factory(profiles)
    try:
        for _ in range(passes):
            for frame in frames:
                live_frame(pipeline, frame)
    finally:
        pipeline.clock = timed
    out = {}
    for stage, samples in times.items():
        ms = float(np.median(samples))
        shown = stage in profiles and stage not in MODEL_STAGES and ms >= MIN_MS
        rows = split(profiles[stage]) if shown else {}
        total = sum(rows.values()) or 1.0
        ranked = sorted(((name, s / total) for name, s in rows.items()), key=lambda r: -r[1])
        shown = [(name, round(share * ms, 3), round(share, 3)) for name, share in ranked[:MOST_ROWS]]
        out[stage] = StageProfile(round(ms, 3), [r for r in shown if r[2] >= MIN_SHARE])
    return out


def _factory(profiles: dict[str, cProfile.Profile]) -> Callable[[], StageClock]:
    return lambda: ProfiledClock(profiles)


def table(scene: str, stages: dict[str, StageProfile]) -> list[str]:
    """Markdown lines: the scene, then per stage its median ms and its largest rows."""
    total = stages["total"].ms if "total" in stages else sum(s.ms for s in stages.values())
    around = total - sum(stages[s].ms for s in MODEL_STAGES if s in stages)
    lines = [
        f"**{scene}**: {total:.2f} ms a frame, {around:.2f} ms of it around the model",
        "",
        "| stage | stage ms | function (own lines) or > the library call it makes | ms | share of stage |",
        "|---|---:|---|---:|---:|",
    ]
    for stage, s in stages.items():
        if stage == "total":
            continue
        if not s.rows:
            lines.append(f"| {stage} | {s.ms:.2f} | | | |")
        for i, (name, ms, share) in enumerate(s.rows):
            head = f"| {stage} | {s.ms:.2f} " if i == 0 else "| | "
            lines.append(f"{head}| {name} | {ms:.3f} | {share:.0%} |")
    return lines
