"""Where a frame's time goes around the model: every stage of `FramePipeline` (and the live picture) timed in wall
time and in this thread's CPU time, and profiled on its own with cProfile, split by function.

CPU time (`time.thread_time`) is the frame's own work: LiteRT and OpenCV run on 1 thread, the caller's, so it leaves
out only the waits a loaded machine adds. A stage's time is its median over unprofiled frames; the profile (which
slows small calls down, timed in CPU time too) only says how that time divides: each row is a function of this
project, its own lines and the library calls it makes (OpenCV and numpy functions, with all they do), as a share of
the stage, named with the largest of those calls.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from edge.core.latency import StageClock
from edge.live.overlay import live_picture
from edge.live.pipeline import FramePipeline, FrameResult

ROOT = Path(__file__).resolve().parents[1]
MODEL_STAGES = ("inference",)  #: the model's own time: not split
#: rows shown: of stages taking at least MIN_MS, those holding at least MIN_SHARE of their stage, MOST_ROWS at most
MIN_MS, MIN_SHARE, MOST_ROWS = 0.05, 0.03, 6


class CpuClock(StageClock):
    """A `StageClock` that also times each stage in this thread's CPU time; a frame's CPU ms ("total" included) are
    appended to `log` when the clock stops."""

    __slots__ = ("log", "cpu_ms", "_cpu_start", "_cpu")

    def __init__(self, log: list[dict[str, float]]) -> None:
        self.log, self.cpu_ms = log, {}
        self._cpu_start = time.thread_time()
        super().__init__()

    def __enter__(self) -> None:
        self._cpu = time.thread_time()
        super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self.cpu_ms[self._stage] = self.cpu_ms.get(self._stage, 0.0) + (time.thread_time() - self._cpu) * 1e3

    def stop(self) -> dict[str, float]:
        self.cpu_ms["total"] = (time.thread_time() - self._cpu_start) * 1e3
        self.log.append(self.cpu_ms)
        return super().stop()


class ProfiledClock(CpuClock):
    """A `CpuClock` that also profiles each stage, in CPU time, into that stage's `cProfile.Profile` in `profiles`
    (shared by the clocks of every frame)."""

    __slots__ = ("profiles", "_profile")

    def __init__(self, log: list[dict[str, float]], profiles: dict[str, cProfile.Profile]) -> None:
        super().__init__(log)
        self.profiles = profiles

    def __enter__(self) -> None:
        self._profile = self.profiles.setdefault(self._stage, cProfile.Profile(time.thread_time))
        self._profile.enable()
        super().__enter__()

    def __exit__(self, *exc) -> None:
        super().__exit__(*exc)
        self._profile.disable()


def live_frame(
    pipeline: FramePipeline, frame: np.ndarray, clock: Callable[..., CpuClock] = CpuClock
) -> tuple[FrameResult, dict[str, float], dict[str, float]]:
    """The live loop's per-frame work: the frame pipeline, then the live picture ("overlay"), each stage timed by a
    `clock` (given the log its CPU times go to); (the result, wall ms per stage and in all, CPU ms likewise). The frame
    is copied first, untimed, as a capture delivers a fresh buffer: the picture is drawn into it."""
    log: list[dict[str, float]] = []
    kept, pipeline.clock = pipeline.clock, partial(clock, log)
    try:
        frame = frame.copy()
        result = pipeline(frame)
        picture = pipeline.clock()
        with picture("overlay"):
            live_picture(frame, result, 30.0, result.timings_ms["total"])
        overlay = picture.stop()["overlay"]
    finally:
        pipeline.clock = kept
    (cpu, picture_cpu), wall = log, result.timings_ms
    wall = {**wall, "overlay": overlay, "total": wall["total"] + overlay}
    return result, wall, {**cpu, "overlay": picture_cpu["overlay"], "total": cpu["total"] + picture_cpu["total"]}


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


def _code(key: tuple[str, int, str]) -> Path | None:
    """The file of a profiled function; None for a compiled one."""
    return None if key[0].startswith(("~", "<")) else Path(key[0]).resolve()


def _ours(key: tuple[str, int, str]) -> bool:
    """This project's code, the clocks' own aside."""
    path = _code(key)
    return path is not None and path.is_relative_to(ROOT) and path not in _CLOCKS


def split(profile: cProfile.Profile) -> dict[str, float]:
    """{row: seconds}: each project function with the time of its own lines and of the library calls it makes (an
    OpenCV or numpy call, with everything it does), named with the largest of those calls and its share of the row;
    library calls made straight from the stage's line in `FramePipeline.__call__` count as "(stage)"."""
    own: dict[str, float] = {}
    calls: dict[str, dict[str, float]] = {}
    for key, (_, _, seconds, _, callers) in pstats.Stats(profile).stats.items():
        if _code(key) in _CLOCKS:
            continue
        if _ours(key):
            own[_name(key)] = own.get(_name(key), 0.0) + seconds
            continue
        made_by = {_name(c): t for c, (_, _, _, t) in callers.items() if _ours(c)} if callers else {"(stage)": seconds}
        for caller, t in made_by.items():
            calls.setdefault(caller, {})[_name(key)] = calls.get(caller, {}).get(_name(key), 0.0) + t
    rows = {}
    for function in own.keys() | calls.keys():
        total = own.get(function, 0.0) + sum(calls.get(function, {}).values())
        largest = max(calls.get(function, {}).items(), key=lambda kv: kv[1], default=None)
        share = f" ({largest[0]} {largest[1] / total:.0%})" if largest and total > 0 else ""
        rows[function + share] = total
    return rows


@dataclass
class StageProfile:
    """One stage: its median ms (unprofiled) in wall time and in CPU time, and its rows as (name, CPU ms, share),
    largest first."""

    ms: float
    cpu_ms: float
    rows: list[tuple[str, float, float]] = field(default_factory=list)

    @classmethod
    def of(cls, kept: dict) -> StageProfile:
        """From its JSON form (`dataclasses.asdict`)."""
        return cls(kept["ms"], kept["cpu_ms"], [tuple(row) for row in kept["rows"]])


def profile_frames(
    pipeline: FramePipeline, frames: list[np.ndarray], repeats: int, passes: int = 3
) -> dict[str, StageProfile]:
    """{stage: StageProfile} of the live loop's work (`live_frame`) on `frames`: `repeats` rounds over the frames
    timed, then `passes` rounds profiled."""
    wall: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    for _ in range(repeats):
        for frame in frames:
            _, w, c = live_frame(pipeline, frame)
            for samples, times in ((wall, w), (cpu, c)):
                for stage, ms in times.items():
                    samples.setdefault(stage, []).append(ms)
    profiles: dict[str, cProfile.Profile] = {}
    for _ in range(passes):
        for frame in frames:
            live_frame(pipeline, frame, partial(ProfiledClock, profiles=profiles))
    out = {}
    for stage, samples in wall.items():
        ms, cpu_ms = float(np.median(samples)), float(np.median(cpu[stage]))
        shown = stage in profiles and stage not in MODEL_STAGES and cpu_ms >= MIN_MS
        rows = split(profiles[stage]) if shown else {}
        total = sum(rows.values()) or 1.0
        ranked = sorted(((name, s / total) for name, s in rows.items()), key=lambda r: -r[1])
        top = [(name, round(share * cpu_ms, 3), round(share, 3)) for name, share in ranked[:MOST_ROWS]]
        out[stage] = StageProfile(round(ms, 3), round(cpu_ms, 3), [r for r in top if r[2] >= MIN_SHARE])
    return out


def table(scene: str, stages: dict[str, StageProfile]) -> list[str]:
    """Markdown lines: the scene, then per stage its median ms (wall, CPU) and its largest rows."""
    total = stages["total"]
    model = [stages[s] for s in MODEL_STAGES if s in stages]
    around, around_cpu = total.ms - sum(s.ms for s in model), total.cpu_ms - sum(s.cpu_ms for s in model)
    lines = [
        f"**{scene}**: {total.ms:.2f} ms a frame ({total.cpu_ms:.2f} ms CPU), {around:.2f} ms of it around the model "
        f"({around_cpu:.2f} ms CPU)",
        "",
        "| stage | wall ms | CPU ms | function and the library calls it makes (largest) | CPU ms | share of stage |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for stage, s in stages.items():
        if stage == "total":
            continue
        head = f"| {stage} | {s.ms:.2f} | {s.cpu_ms:.2f} "
        if not s.rows:
            lines.append(f"{head}| | | |")
        for i, (name, ms, share) in enumerate(s.rows):
            lines.append(f"{head if i == 0 else '| | | '}| {name} | {ms:.3f} | {share:.0%} |")
    return lines
