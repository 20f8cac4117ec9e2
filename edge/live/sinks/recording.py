"""A crash-safe recording: per-frame log, overlay video in segments, summary and thickness plot."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge.core import strict_json
from edge.live.pipeline import FrameResult
from edge.live.plot import plot_series
from edge.live.session import Session, worth_an_event
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


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


#: pictures held back before the first video segment opens, to measure the rate frames are really processed at
RATE_PROBE = 10
#: ... unless they take this many bytes first (large frames): then the rate is measured over fewer
PENDING_BYTES = 64 * 2**20
#: the widest and tallest picture MPEG-4 Part 2 (mp4v) encodes; a larger overlay is not recorded
MAX_VIDEO_SIDE = 8191


class RecordingError(OSError):
    """A picture the video cannot take (its size, the encoder): that frame's overlay is missing, the rest goes on."""


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
        self._pending: list[tuple[np.ndarray, float, int]] = []  #: (picture, capture time, frame seq)
        self._times: list[float] = []  #: capture times of the open segment's frames
        self._segment_frames = 0
        self._unwritable: set[tuple[int, int]] = set()  #: picture sizes the encoder would not open a video for
        self.missed = 0  #: processed frames whose overlay is not in the video

    def _open_log(self) -> None:
        if self._fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            _fsync_dir(self.folder)

    def _append(self, record: dict) -> None:
        self._open_log()
        os.write(self._fd, (strict_json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(self._fd)

    def _close_segment(self) -> None:
        if self._writer is None:
            return
        writer, part, self._writer, self._part = self._writer, self._part, None, None
        writer.release()
        self._rate = frame_rate(self._times, self._rate or self.nominal_fps)
        if part.exists():  # an encoder that failed after opening wrote nothing: no segment, and no crash
            final = part.with_name(part.name.replace(".part", ""))
            os.replace(part, final)
            self.segments.append(final)

    def _open_segment(self, size: tuple[int, int]) -> None:
        part = self.folder / f"overlay_{len(self.segments):04d}.part.mp4"
        writer = cv2.VideoWriter(str(part), cv2.VideoWriter_fourcc(*"mp4v"), self._rate, size)
        if not writer.isOpened():
            writer.release()
            self._unwritable.add(size)
            raise RecordingError(f"the MP4 encoder (mp4v) cannot open a {size[0]}x{size[1]} video")
        self._writer, self._part = writer, part
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

    def _flush_pending(self, session: Session) -> None:
        self._rate = frame_rate([t for _, t, _ in self._pending], self.nominal_fps)
        pending, self._pending = self._pending, []
        for picture, t, seq in pending:
            try:
                self._write_picture(picture, t)
            except RecordingError as exc:
                self._miss(seq, exc, session)

    def _add_picture(self, picture: np.ndarray, t: float, seq: int, session: Session) -> None:
        """Into the video, or held until the rate is known; RecordingError for a picture it cannot take."""
        h, w = picture.shape[:2]
        if max(w, h) > MAX_VIDEO_SIDE:
            raise RecordingError(f"{w}x{h} is beyond what MP4 (mp4v) encodes (sides up to {MAX_VIDEO_SIDE})")
        if (w, h) in self._unwritable:
            raise RecordingError(f"the MP4 encoder (mp4v) cannot open a {w}x{h} video")
        if self._rate is not None:
            self._write_picture(picture, t)
            return
        self._pending.append((picture, t, seq))
        if len(self._pending) >= RATE_PROBE or sum(p.nbytes for p, _, _ in self._pending) >= PENDING_BYTES:
            self._flush_pending(session)

    def _miss(self, seq: int, exc: RecordingError, session: Session) -> None:
        """A frame whose overlay cannot be recorded: its error (counted; reported as `worth_an_event` says)."""
        self.missed += 1
        if worth_an_event(self.missed):
            self._report(f"frame {seq}: overlay not recorded: {exc} ({self.missed} so far)", session)

    def _report(self, detail: str, session: Session) -> None:
        """An error event of the recording's own, in the session's events and the log."""
        event = {"kind": "error", "t": round(time.monotonic() - session.started, 3), "detail": detail}
        session.add_event(event)
        self.event(event)

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        f, m = frame, result.measurement
        self._open_log()
        missing = None
        if picture is not None:
            try:
                self._add_picture(picture, f.t_capture, f.seq, session)
            except RecordingError as exc:
                missing = str(exc)
                self._miss(f.seq, exc, session)
        self._append(
            {
                "seq": f.seq,
                **({"image": f.name} if f.name else {}),
                "time": round(f.wall_time, 4),
                **({"source_time": f.source_time} if f.source_time is not None else {}),
                "t_s": round(f.t_capture - session.started, 4),
                "roi": str(result.roi),
                **({"panel": str(result.panel)} if result.panel is not None else {}),
                "latency_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
                **m.to_dict(),
                **({"gliding": result.gliding.to_dict()} if result.gliding is not None else {}),
                **({"unfamiliar": list(result.unfamiliar)} if result.unfamiliar else {}),
                **({"overlay_not_recorded": missing} if missing else {}),
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
            self._flush_pending(session)
        self._close_segment()
        if self.missed:
            self._report(f"{self.missed} frames' overlays are not in the video (their measurements are in {self.LOG})",
                         session)  # fmt: skip
        os.close(self._fd)
        session.files = [p.name for p in [self.log_path, *self.segments]]
        times = [t for t, _, _ in session.series]
        values = [v for _, v, _ in session.series]
        good = [ok for _, _, ok in session.series]
        title = f"fascia thickness over time - {session.source}"
        plot = plot_series(times, values, good, title, f"thickness ({session.unit})")
        ok, png = cv2.imencode(".png", plot)
        if ok:
            write_atomic(self.folder / "thickness.png", png.tobytes())
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
                write_atomic(self.folder / "gliding.png", png.tobytes())
                session.files.append("gliding.png")
        session.files.append("summary.json")
        write_atomic(self.folder / "summary.json", strict_json.dumps(session.summary(), indent=2).encode())
        _fsync_dir(self.folder)


class LogLines:
    """A `frames.jsonl` read a line at a time: iterating gives (line number, byte offset, record) for each line, in
    memory one line at a time, and `partial` then says whether a partial last line was left out.

    Only the last line may be incomplete (a power cut while it was written); a line elsewhere that is not a JSON
    object, or longer than `MAX_LINE` (a frame's is about 1 KB), is a ValueError naming the file and the line.
    """

    MAX_LINE = 1 << 20

    def __init__(self, path: str | Path) -> None:
        self.path, self.partial = Path(path), False

    def __iter__(self) -> Iterator[tuple[int, int, dict]]:
        offset = 0
        with self.path.open("rb") as fh:
            for n, line in enumerate(iter(lambda: fh.readline(self.MAX_LINE + 1), b""), 1):
                if len(line) > self.MAX_LINE:
                    raise ValueError(f"{self.path}, line {n}: longer than {self.MAX_LINE} bytes (not a frame log)")
                if not line.endswith(b"\n"):
                    self.partial = True
                    return
                try:
                    record = json.loads(line)
                except ValueError as exc:  # not JSON, or not UTF-8
                    raise ValueError(f"{self.path}, line {n}: not valid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{self.path}, line {n}: holds {json.dumps(record)[:40]}, not a JSON object")
                yield n, offset, record
                offset += len(line)


def read_log(path: str | Path) -> tuple[list[dict], list[dict], bool]:
    """Parse a `frames.jsonl` (`LogLines`): (frame records, event records, whether a partial last line was skipped)."""
    lines, frames, events = LogLines(path), [], []
    for _, _, record in lines:
        (events if "event" in record else frames).append(record)
    return frames, events, lines.partial
