"""A recording folder read back and checked: its frame log (`clinic.frame_log`), the summary's start and model, the
side and visit, and the overlay pictures of its key frames.

What is wrong in a file the clinic reads is a ValueError naming the file (the frame log's line) and the key, before
anything is written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from clinic import SIDES
from clinic.checked import json_object, of_type
from clinic.frame_log import FrameLog
from edge.live.sinks.recording import RecordingSink

META = "clinic.json"  #: optional, in a recording folder: {"side": ..., "visit": ...}
SUMMARY = "summary.json"
STARTED = "%Y-%m-%dT%H:%M:%S%z"  #: summary.json's "started", as the runtime writes it
MAX_VISIT = 64  #: characters of a visit's label


def side_from_name(name: str) -> str | None:
    """'left' or 'right' when exactly one of them is a word of the folder name."""
    words = set(re.split(r"[^a-z]+", name.lower()))
    found = [s for s in SIDES if s in words]
    return found[0] if len(found) == 1 else None


def read_meta(folder: Path) -> dict:
    """The folder's `clinic.json`, checked ({} where there is none)."""
    path = folder / META
    if not path.is_file():
        return {}
    meta = json_object(path)
    side = of_type(meta, "side", str, str(path), f"one of {SIDES}")
    if side is not None and side not in SIDES:
        raise ValueError(f"{path}: side must be one of {SIDES}, not {side!r}")
    visit = of_type(meta, "visit", str, str(path), "a label")
    if visit is not None and not 0 < len(visit) <= MAX_VISIT:
        raise ValueError(f"{path}: visit must be a label of 1 to {MAX_VISIT} characters")
    return meta


def save_meta(folder: str | Path, **values: str) -> None:
    """Add `values` (side, visit) to the recording folder's `clinic.json`, keeping what it held."""
    path = Path(folder) / META
    path.write_text(json.dumps({**read_meta(Path(folder)), **values}, indent=1) + "\n")


def _summary(folder: Path) -> tuple[str | None, str | None]:
    """(started, model) from the folder's `summary.json`, checked (None where there is none: a session cut off)."""
    path = folder / SUMMARY
    if not path.is_file():
        return None, None
    summary = json_object(path)
    started = of_type(summary, "started", str, str(path), "a time")
    if started is not None:
        try:
            dt.datetime.strptime(started, STARTED)
        except ValueError:
            raise ValueError(f"{path}: started is {started[:40]!r}, not a time as 2026-12-03T10:42:00+0000") from None
    return started, of_type(summary, "model", str, str(path), "text")


@dataclass
class Recording:
    """What `tlfseg run --record DIR` wrote, with the side it was taken on and the visit it belongs to.

    The side comes from `--side`, else `clinic.json` in the folder (`{"side": "left", "visit": "2026-12-03"}`),
    else the folder's name (a word `left` or `right`: `visit2-left`, `right_2026-12-03`); the visit from
    `clinic.json`, else the day the recording started, else the folder's name.
    """

    folder: Path
    log: FrameLog
    side: str | None
    visit: str
    started: str | None = None  #: summary.json's, as the runtime wrote it (`STARTED`)
    model: str | None = None  #: the model the session ran, in words

    @classmethod
    def load(cls, folder: str | Path, side: str | None = None) -> Recording:
        folder = Path(folder)
        path = folder / RecordingSink.LOG
        if not path.is_file():
            raise ValueError(f"{folder} is not a recording (no {RecordingSink.LOG})")
        log = FrameLog.read(path)
        if not len(log):
            raise ValueError(f"{path}: no frame recorded")
        started, model = _summary(folder)
        meta = read_meta(folder)
        side = side or meta.get("side") or side_from_name(folder.name)
        if side is not None and side not in SIDES:
            raise ValueError(f"{folder}: side must be one of {SIDES}, not {side!r}")
        visit = meta.get("visit") or (started or "")[:10] or folder.name
        return cls(folder, log, side, visit, started, model)

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
