"""A crash-safe recording: per-frame log, overlay video in segments, summary and thickness plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

from edge.live.pipeline import FrameResult
from edge.live.plot import plot_series
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sources import Frame


def free_folder(path: Path) -> Path:
    """`path` if it is new or empty, else the first free `path-2`, `path-3`, ... (never overwrite a recording)."""
    candidate, n = path, 1
    while candidate.exists() and (not candidate.is_dir() or any(candidate.iterdir())):
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


#: pictures held back before the first video segment opens, to measure the rate frames are really processed at
RATE_PROBE = 10


def frame_rate(times: list[float], fallback: float) -> float:
    """Frames per second over capture times (the rate the video should play at), clamped to 1..120.

    Rounded to 1/100 fps: the MPEG-4 encoder refuses a time base finer than 1/65535, which a measured rate
    such as 98.0866 fps would need (the recording then failed to open).
    """
    if len(times) < 2 or times[-1] <= times[0]:
        return fallback
    return round(min(max((len(times) - 1) / (times[-1] - times[0]), 1.0), 120.0), 2)


class RecordingSink(Sink):
    """A recording folder: `frames.jsonl`, `overlay_NNNN.mp4`, and at the end `summary.json`, `thickness.png` (and
    `gliding.png` where gliding is on).

    The log is append-only, one JSON line per processed frame (and per source event), each written in one
    `write` and `fsync`ed, so a power cut loses at most the frame being written. An MP4 is only readable
    once closed, so the video is cut into segments of `segment_s` seconds: the open one is named
    `overlay_NNNN.part.mp4` until it is complete; a crash loses at most that segment, never the log.
    The video plays at the rate frames were processed (measured over the first frames, then per segment),
    so that it runs in real time although frames were dropped.
    """

    needs_picture = True
    LOG = "frames.jsonl"

    def __init__(self, folder: str | Path, fps: float, segment_s: float = 10.0) -> None:
        self.folder = free_folder(Path(folder))
        self.nominal_fps = fps if fps > 0 else 25.0
        self.segment_s = segment_s
        self.log_path = self.folder / self.LOG
        self._fd: int | None = None  #: the log opens with the first record (no folder if the source never opens)
        self.segments: list[Path] = []
        self._writer: cv2.VideoWriter | None = None
        self._part: Path | None = None
        self._size: tuple[int, int] | None = None
        self._rate: float | None = None
        self._pending: list[tuple[np.ndarray, float]] = []
        self._times: list[float] = []  #: capture times of the open segment's frames
        self._segment_frames = 0

    def _open_log(self) -> None:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            _fsync_dir(self.folder)

    def _append(self, record: dict) -> None:
        self._open_log()
        os.write(self._fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(self._fd)

    def _close_segment(self) -> None:
        if self._writer is None:
            return
        self._writer.release()
        final = self._part.with_name(self._part.name.replace(".part", ""))
        os.replace(self._part, final)
        self.segments.append(final)
        self._rate = frame_rate(self._times, self._rate or self.nominal_fps)
        self._writer = self._part = None

    def _open_segment(self, size: tuple[int, int]) -> None:
        self._part = self.folder / f"overlay_{len(self.segments):04d}.part.mp4"
        self._writer = cv2.VideoWriter(str(self._part), cv2.VideoWriter_fourcc(*"mp4v"), self._rate, size)
        if not self._writer.isOpened():
            raise OSError(f"cannot write an MP4 video to {self._part} (OpenCV without an mp4v encoder?)")
        self._size, self._times = size, []
        self._segment_frames = max(1, round(self._rate * self.segment_s))

    def _write_picture(self, picture: np.ndarray, t: float) -> None:
        size = (picture.shape[1], picture.shape[0])
        if self._writer is not None and (size != self._size or len(self._times) >= self._segment_frames):
            self._close_segment()
        if self._writer is None:
            self._open_segment(size)
        self._writer.write(picture)
        self._times.append(t)

    def _flush_pending(self) -> None:
        self._rate = frame_rate([t for _, t in self._pending], self.nominal_fps)
        pending, self._pending = self._pending, []
        for picture, t in pending:
            self._write_picture(picture, t)

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        f, m = frame, result.measurement
        self._open_log()
        if picture is not None:
            if self._rate is None:
                self._pending.append((picture, f.t_capture))
                if len(self._pending) >= RATE_PROBE:
                    self._flush_pending()
            else:
                self._write_picture(picture, f.t_capture)
        self._append(
            {
                "seq": f.seq,
                **({"image": f.name} if f.name else {}),
                "time": round(f.wall_time, 4),
                "t_s": round(f.t_capture - session.started, 4),
                "roi": str(result.roi),
                "latency_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
                **m.to_dict(),
                **({"gliding": result.gliding.to_dict()} if result.gliding is not None else {}),
                **({"unfamiliar": list(result.unfamiliar)} if result.unfamiliar else {}),
                "seen": session.seen,
                "dropped": dict(session.dropped),
            }
        )

    def event(self, event: dict) -> None:
        self._append({"event": event["kind"], "t_s": event["t"], "detail": event["detail"]})

    def close(self, session: Session) -> None:
        if self._fd is None:
            return
        if self._pending:
            self._flush_pending()
        self._close_segment()
        os.close(self._fd)
        session.files = [p.name for p in [self.log_path, *self.segments]]
        times = [t for t, _, _ in session.series]
        values = [v for _, v, _ in session.series]
        good = [ok for _, _, ok in session.series]
        title = f"fascia thickness over time - {session.source}"
        plot = plot_series(times, values, good, title, f"thickness ({session.unit})")
        ok, png = cv2.imencode(".png", plot)
        if ok:
            _write_atomic(self.folder / "thickness.png", png.tobytes())
            session.files.append("thickness.png")
        if session.glide_series:  # cumulative shear over time, one panel per pair of layers
            unit = "mm" if session.gliding.mm_per_px else "px"
            plots = [
                plot_series(
                    *zip(*series.points, strict=True), f"cumulative shear {pair} - {session.source}", f"shear ({unit})"
                )  # fmt: skip
                for pair, series in session.glide_series.items()
            ]
            ok, png = cv2.imencode(".png", np.vstack(plots))
            if ok:
                _write_atomic(self.folder / "gliding.png", png.tobytes())
                session.files.append("gliding.png")
        session.files.append("summary.json")
        _write_atomic(self.folder / "summary.json", json.dumps(session.summary(), indent=2).encode())
        _fsync_dir(self.folder)


def read_log(path: str | Path) -> tuple[list[dict], list[dict], bool]:
    """Parse a `frames.jsonl`: (frame records, event records, whether a partial last line was skipped).

    Only the last line may be incomplete (a power cut while it was written); a bad line elsewhere is an error.
    """
    lines = Path(path).read_bytes().split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    frames, events = [], []
    for i, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: line {i} is not valid JSON ({exc})") from None
        (events if "event" in record else frames).append(record)
    return frames, events, bool(tail)
