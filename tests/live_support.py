"""Helpers for the live-runtime tests: small phantom streams on disk and scripted capture hardware."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np

from edge.core.roi import Box
from edge.live.phantom import Phantom
from edge.live.pipeline import FramePipeline
from edge.live.sources import Capture, SourceError, SourceLost

#: a small phantom screen (fast to generate): 320x240 with a 200x180 B-mode area
SMALL_ROI = Box(40, 30, 200, 180)


def small_phantom() -> Phantom:
    return Phantom(screen=(240, 320), roi=SMALL_ROI, thickness_px=8.0)


def write_video(path: Path, frames: int, fps: float = 25.0) -> list[np.ndarray]:
    """Phantom frames written with cv2.VideoWriter (codec by suffix: .mp4 mp4v, .avi MJPG); returns them."""
    phantom = small_phantom()
    images = [phantom.frame(i).image for i in range(frames)]
    fourcc = "mp4v" if path.suffix == ".mp4" else "MJPG"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (images[0].shape[1], images[0].shape[0]))
    assert writer.isOpened()
    for image in images:
        writer.write(image)
    writer.release()
    return images


def write_folder(folder: Path, count: int) -> list[Path]:
    """`count` PNGs named f000.png ... whose grey level encodes their index (10 * i)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i:03d}.png"
        cv2.imwrite(str(path), np.full((24, 32, 3), 10 * i, np.uint8))
        paths.append(path)
    return paths


def blank_png(width: int, height: int) -> bytes:
    """A valid grey PNG of any size, made a row at a time (a 20000 x 20000 one is about 400 KB, never held)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    squeeze, row, rows = zlib.compressobj(9), bytes(width + 1), []
    for _ in range(height):
        rows.append(squeeze.compress(row))
    rows.append(squeeze.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(rows)) + chunk(b"IEND", b"")


class SleepyPipeline(FramePipeline):
    """The real FramePipeline, made slower than the source by `delay_s` per frame (an engine that is busy)."""

    def __init__(self, engine, delay_s: float, **kwargs) -> None:
        super().__init__(engine, **kwargs)
        self.delay_s = delay_s

    def __call__(self, frame, mm_per_px=None):
        time.sleep(self.delay_s)
        return super().__call__(frame, mm_per_px)


class ScriptedDevice(Capture):
    """Stands in for capture hardware that is absent here: a device that unplugs and comes back.

    It delivers `frames_before_loss` frames, then fails reads (unplugged); the next `failed_opens`
    open() calls fail (still unplugged); then it delivers again.
    """

    live = True
    fps = 30.0
    name = "scripted-device"

    def __init__(self, frames_before_loss: int, failed_opens: int) -> None:
        self.frames_before_loss, self.failed_opens = frames_before_loss, failed_opens
        self.opens = 0
        self.delivered = 0
        self._open = False
        self._lost = False

    def open(self) -> None:
        self.opens += 1
        if self._lost and self.opens <= 1 + self.failed_opens:
            raise SourceError("no such device")
        self._open = True

    def read(self) -> np.ndarray:
        time.sleep(0.005)
        if not self._open:
            raise SourceLost("not open")
        if self.delivered == self.frames_before_loss and not self._lost:
            self._lost = True
            raise SourceLost("device unplugged")
        self.delivered += 1
        return np.full((24, 32, 3), self.delivered % 256, np.uint8)

    def close(self) -> None:
        self._open = False


def wait_for(predicate, timeout_s: float = 30.0, step_s: float = 0.02) -> bool:
    """Poll until `predicate()` is true (generous limit: a loaded machine is slow, not wrong)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step_s)
    return predicate()
