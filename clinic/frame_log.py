"""A recording's frame log (`frames.jsonl`) read a line at a time into the few numbers a report or an export uses,
every frame record checked as it is read.

Memory is about 50 bytes a frame, whatever else a record holds (latencies, spreads, gliding): the records are not
kept, and a key frame's whole record is read again from its line (`FrameLog.record`).
"""

from __future__ import annotations

import json
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinic.checked import number, of_type
from edge.core.roi import Box
from edge.live.sinks.recording import LogLines
from edge.measurement.flags import refuses

#: a flag as the runtime names them; short enough that `F-<flag>` is an SR code value (16 characters)
FLAG = re.compile(r"[a-z][a-z0-9_]{0,13}")
#: the numbers kept a frame (NaN where a frame has none), each checked as `number` with these bounds
COLUMNS = {
    "thickness_px": {"minimum": 0.0},
    "thickness_mm": {"minimum": 0.0},
    "mm_per_px": {"positive": True},
    "confidence": {},
    "echo": {"minimum": 0.0},  #: the fascia's mean grey level, `echo.fascia` in the record
}


@dataclass
class Stats:
    """One quantity over a recording's good frames."""

    unit: str
    median: float | None
    p25: float | None
    p75: float | None
    used: int

    @property
    def iqr(self) -> float | None:
        return None if self.p25 is None else self.p75 - self.p25


def stats(values: np.ndarray, unit: str) -> Stats:
    if not values.size:
        return Stats(unit, None, None, None, 0)
    p25, p50, p75 = (float(x) for x in np.percentile(values, [25, 50, 75]))
    return Stats(unit, round(p50, 4), round(p25, 4), round(p75, 4), int(values.size))


def check_frame(record: dict, where: str) -> tuple[bool, list[str], dict[str, float | None]]:
    """(good, flags, the `COLUMNS` values) of a frame record; ValueError naming `where` and the key that is wrong."""
    if of_type(record, "seq", int, where, "a frame number") is None:
        raise ValueError(f"{where}: neither a frame (no seq) nor an event")
    number(record, "t_s", where)
    good = of_type(record, "good", bool, where, "true or false") or False
    flags = of_type(record, "flags", list, where, "a list of flags") or []
    for flag in flags:
        if not (isinstance(flag, str) and FLAG.fullmatch(flag)):
            raise ValueError(f"{where}: flags holds {json.dumps(flag)[:40]}, not a flag name")
    if (panel := of_type(record, "panel", str, where, "'x,y,w,h'")) is not None:
        try:
            Box.parse(panel)
        except ValueError:
            raise ValueError(f"{where}: panel is {panel[:40]!r}, not 'x,y,w,h' in pixels (w, h above 0)") from None
    echo = of_type(record, "echo", dict, where, "an object") or {}
    values = {k: number(record, k, where, **bounds) for k, bounds in COLUMNS.items() if k != "echo"}
    values["echo"] = number(echo, "fascia", f"{where}: echo", **COLUMNS["echo"])
    return good, flags, values


@dataclass
class FrameLog:
    """The frames of a log (or of several pooled, `FrameLog.pooled`): whether each is good, its `COLUMNS`, where its
    line starts, and how many frames each refusing flag was on."""

    path: Path | None
    good: np.ndarray
    columns: dict[str, np.ndarray]
    offsets: np.ndarray
    flag_counts: Counter

    @classmethod
    def read(cls, path: Path) -> FrameLog:
        """The frame records of `path` (events left out), each checked; ValueError naming the file and line."""
        good, offsets, flags = bytearray(), array("q"), Counter()
        columns = {k: array("d") for k in COLUMNS}
        for n, offset, record in LogLines(path):
            if "event" in record:
                continue
            ok, frame_flags, values = check_frame(record, f"{path}, line {n}")
            good.append(ok)
            offsets.append(offset)
            for k, v in values.items():
                columns[k].append(math.nan if v is None else v)
            flags.update(f for f in frame_flags if refuses((f,)))
        arrays = {k: np.frombuffer(v, dtype=np.float64) for k, v in columns.items()}
        return cls(path, np.frombuffer(good, dtype=bool), arrays, np.frombuffer(offsets, dtype=np.int64), flags)

    @classmethod
    def pooled(cls, logs: list[FrameLog]) -> FrameLog:
        """Several logs' frames as one, for their statistics (no record can be read back from it)."""
        return cls(
            None,
            np.concatenate([g.good for g in logs]),
            {k: np.concatenate([g.columns[k] for g in logs]) for k in COLUMNS},
            np.empty(0, np.int64),
            sum((g.flag_counts for g in logs), Counter()),
        )

    def __len__(self) -> int:
        return int(self.good.size)

    def record(self, index: int) -> dict:
        """The whole record of frame `index`, read again from its line."""
        with self.path.open("rb") as fh:
            fh.seek(int(self.offsets[index]))
            line = fh.readline()
        where = f"{self.path}, byte {int(self.offsets[index])}"
        try:
            record = json.loads(line)
            check_frame(record, where)
        except ValueError:
            raise ValueError(f"{where}: changed while it was read (a recording still being written?)") from None
        return record

    @property
    def flagged(self) -> int:
        return len(self) - int(self.good.sum())

    @property
    def mm_per_px(self) -> list[float]:
        """The calibrations used (one value unless the preset changed mid-session)."""
        values = self.columns["mm_per_px"]
        return sorted(float(v) for v in np.unique(values[np.isfinite(values)]))

    @property
    def unit(self) -> str:
        return "mm" if self.mm_per_px else "px"

    def _good(self, column: str) -> np.ndarray:
        values = self.columns[column][self.good]
        return values[np.isfinite(values)]

    def thickness(self) -> Stats:
        return stats(self._good(f"thickness_{self.unit}"), self.unit)

    def echogenicity(self) -> Stats:
        """Mean grey level (0-255) of the fascia pixels over good frames."""
        return stats(self._good("echo"), "grey")

    def key_frames(self, count: int = 3) -> list[int]:
        """Indices of the most confident good frames (the first of equals), in time order, one a part of the
        recording's good frames cut in `count`."""
        good = np.flatnonzero(self.good)
        if not good.size:
            return []
        confidence = np.nan_to_num(self.columns["confidence"], nan=0.0)
        return sorted(int(part[np.argmax(confidence[part])]) for part in np.array_split(good, min(count, good.size)))
