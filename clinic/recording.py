"""A recording folder read back: its frame log, summary, statistics, key frames and their overlay pictures."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clinic import SIDES
from edge.live.sinks.recording import RecordingSink, read_log
from edge.measurement.flags import refuses

META = "clinic.json"  #: optional, in a recording folder: {"side": ..., "visit": ...}


def side_from_name(name: str) -> str | None:
    """'left' or 'right' when exactly one of them is a word of the folder name."""
    words = set(re.split(r"[^a-z]+", name.lower()))
    found = [s for s in SIDES if s in words]
    return found[0] if len(found) == 1 else None


def save_meta(folder: str | Path, **values: str) -> None:
    """Add `values` (side, visit) to the recording folder's `clinic.json`, keeping what it held."""
    path = Path(folder) / META
    meta = json.loads(path.read_text()) if path.is_file() else {}
    path.write_text(json.dumps({**meta, **values}, indent=1) + "\n")


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


def stats(values: list[float], unit: str) -> Stats:
    if not values:
        return Stats(unit, None, None, None, 0)
    p25, p50, p75 = (float(x) for x in np.percentile(np.asarray(values, float), [25, 50, 75]))
    return Stats(unit, round(p50, 4), round(p25, 4), round(p75, 4), len(values))


@dataclass
class Recording:
    """What `tlfseg run --record DIR` wrote, with the side it was taken on and the visit it belongs to.

    The side comes from `--side`, else `clinic.json` in the folder (`{"side": "left", "visit": "2026-12-03"}`),
    else the folder's name (a word `left` or `right`: `visit2-left`, `right_2026-12-03`); the visit from
    `clinic.json`, else the day the recording started.
    """

    folder: Path
    frames: list[dict]
    summary: dict
    side: str | None = None
    partial: bool = False
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, folder: str | Path, side: str | None = None) -> Recording:
        folder = Path(folder)
        log = folder / RecordingSink.LOG
        if not log.is_file():
            raise ValueError(f"{folder} is not a recording (no {RecordingSink.LOG})")
        frames, _, partial = read_log(log)
        summary_path = folder / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        meta_path = folder / META
        meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
        side = side or meta.get("side") or side_from_name(folder.name)
        if side is not None and side not in SIDES:
            raise ValueError(f"{folder}: side must be one of {SIDES}, not {side!r}")
        return cls(folder, frames, summary, side, partial, meta)

    @property
    def calibrated(self) -> bool:
        return any(f.get("mm_per_px") for f in self.frames)

    @property
    def unit(self) -> str:
        return "mm" if self.calibrated else "px"

    @property
    def mm_per_px(self) -> list[float]:
        """The calibrations used (one value unless the preset changed mid-session)."""
        return sorted({f["mm_per_px"] for f in self.frames if f.get("mm_per_px")})

    @property
    def good(self) -> list[dict]:
        return [f for f in self.frames if f.get("good")]

    def thickness(self) -> Stats:
        key = f"thickness_{self.unit}"
        return stats([f[key] for f in self.good if f.get(key) is not None], self.unit)

    def echogenicity(self) -> Stats:
        """Mean grey level (0-255) of the fascia pixels over good frames."""
        return stats([f["echo"]["fascia"] for f in self.good if f.get("echo", {}).get("fascia") is not None], "grey")

    def flag_counts(self) -> Counter:
        """Why frames were left out: refusing flag -> frames carrying it (`partial`, a good frame's, is not one)."""
        return Counter(flag for f in self.frames for flag in f.get("flags", []) if refuses((flag,)))

    @property
    def flagged(self) -> int:
        return sum(1 for f in self.frames if not f.get("good"))

    @property
    def started(self) -> str | None:
        return self.summary.get("started")

    @property
    def visit(self) -> str:
        """The visit's label: `clinic.json`'s "visit", else the day the recording started, else the folder name."""
        return str(self.meta.get("visit") or (self.started or "")[:10] or self.folder.name)

    def key_frames(self, count: int = 3) -> list[int]:
        """Indices (into `frames`) of the most confident good frames, in time order, spread over the recording."""
        good = [i for i, f in enumerate(self.frames) if f.get("good")]
        if not good:
            return []
        chunks = np.array_split(np.asarray(good), min(count, len(good)))
        best = [int(max(c, key=lambda i: (self.frames[i].get("confidence") or 0.0, -i))) for c in chunks]
        return sorted(best)

    def pictures(self, indices: list[int]) -> dict[int, np.ndarray]:
        """The overlay video's pictures (BGR) for frame indices: the k-th picture of the segments is frame k."""
        import cv2

        wanted, out, k = set(indices), {}, 0
        for segment in sorted(self.folder.glob("overlay_[0-9][0-9][0-9][0-9].mp4")):
            cap = cv2.VideoCapture(str(segment))
            try:
                while wanted - out.keys():
                    ok, img = cap.read()
                    if not ok:
                        break
                    if k in wanted:
                        out[k] = img
                    k += 1
            finally:
                cap.release()
        return out
