"""Raw frames worth labelling, kept from a live session (`tlfseg run --save-frames DIR`): the frames the runtime
flagged, and a sample spread over the whole session, bounded in number (so in disk), each with the runtime's reason.

The frames go to `frames/NNNNNN.png` (the captured picture, not the overlay); `index.json` lists them with their
sequence number, time, why each was kept (`flagged` and the flags, or `sample`) and the measurement. Each pool keeps
at most its capacity: once full, every other frame (by time) is let go and the spacing between kept frames doubles,
so what remains is spread evenly over the session rather than 30 neighbours of one second. `read_index` reads the
index back (`tlfseg label export` carries each frame's reason into its labelling task).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.core import strict_json
from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sinks.recording import free_folder, write_atomic
from edge.live.sources import Frame


@dataclass
class SpreadSample:
    """At most `capacity` items spread over time: an item is taken when it comes at least `spacing` seconds after the
    last one taken; when full, every other item is let go (`offer` returns them) and the spacing doubles."""

    capacity: int
    spacing: float
    items: list[tuple[float, str]] = field(default_factory=list)  #: (time, name), oldest first

    def wants(self, t: float) -> bool:
        return not self.items or t - self.items[-1][0] >= self.spacing

    def add(self, t: float, name: str) -> list[str]:
        """Take `name` (call when `wants(t)`); the names let go to stay within the capacity."""
        self.items.append((t, name))
        if len(self.items) <= self.capacity:
            return []
        gone = [n for _, n in self.items[1::2]]
        self.items = self.items[0::2]
        self.spacing *= 2
        return gone


KEPT = ("flagged", "sample")  #: why a frame was kept, as `index.json` says it (the pools' names)


def read_index(path: Path) -> dict[Path, dict]:
    """An `index.json` written by `SaveFramesSink` -> its frames' records by the frame's resolved path; ValueError
    (why, in a few words) for a file that is not such an index, OSError for one that cannot be read."""
    try:
        doc = json.loads(Path(path).read_bytes())
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    frames = doc.get("frames") if isinstance(doc, dict) else None
    if not isinstance(frames, list):
        raise ValueError("not an index of saved frames (no list of 'frames')")
    records = {}
    for i, r in enumerate(frames, 1):
        flags = r.get("flags") if isinstance(r, dict) else None
        if not (
            isinstance(r, dict)
            and isinstance(r.get("file"), str)
            and r.get("kept") in KEPT
            and isinstance(flags, list)
            and all(isinstance(f, str) for f in flags)
        ):
            raise ValueError(f"not an index of saved frames (frame {i} lacks 'file', 'kept' or 'flags')")
        records[(Path(path).parent / r["file"]).resolve()] = r
    return records


class SaveFramesSink(Sink):
    """Keeps raw frames to label: up to `flagged` frames the runtime refused or measured in part (at least
    `min_gap_s` apart) and `sample` frames spread over the session (at least `sample_gap_s` apart at first)."""

    INDEX = "index.json"

    def __init__(
        self,
        folder: str | Path,
        flagged: int = 100,
        sample: int = 100,
        min_gap_s: float = 0.5,
        sample_gap_s: float = 2.0,
    ) -> None:
        if flagged < 0 or sample < 0 or flagged + sample < 1:
            raise ValueError(f"--save-frames keeps at least one frame, got {flagged} flagged and {sample} sampled")
        self.folder = free_folder(Path(folder))
        self.pools = {"flagged": SpreadSample(flagged, min_gap_s), "sample": SpreadSample(sample, sample_gap_s)}
        self.records: dict[str, dict] = {}

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        m = result.measurement
        why = "flagged" if m.flags else "sample"
        pool, t = self.pools[why], frame.t_capture - session.started
        if not pool.capacity or not pool.wants(t):
            return
        name = f"{frame.seq:06d}.png"
        images = self.folder / "frames"
        images.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(images / name), frame.image):
            raise OSError(f"cannot write {images / name}")
        self.records[name] = {
            "file": f"frames/{name}",
            "seq": frame.seq,
            "t_s": round(t, 3),
            "time": frame.wall_time,
            "kept": why,
            "flags": list(m.flags),
            "roi": str(result.roi),
            **{k: v for k, v in m.to_dict().items() if k in ("good", "thickness_px", "coverage", "confidence")},
        }
        for gone in pool.add(t, name):
            (images / gone).unlink(missing_ok=True)
            del self.records[gone]
        self._write_index(session)

    def _write_index(self, session: Session) -> None:
        frames = sorted(self.records.values(), key=lambda r: r["seq"])
        index = {"source": session.source, "model": session.model, "frames": frames}
        write_atomic(self.folder / self.INDEX, (strict_json.dumps(index, indent=1) + "\n").encode())

    def close(self, session: Session) -> None:
        if self.records:
            self._write_index(session)

    def describe(self) -> str:
        kept = [r["kept"] for r in self.records.values()]
        return f"{self.folder}: {kept.count('flagged')} flagged and {kept.count('sample')} sampled frames to label"
