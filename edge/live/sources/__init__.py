"""Frame sources: V4L2/UVC capture, picamera2, OpenIGTLink, video files, image folders and the demo probe stream.

Every source is a `Capture` read by the same `FrameReader` thread, so files and the demo exercise the
code path a capture device takes.
"""

from __future__ import annotations

from pathlib import Path

from edge.live.sources.base import (
    BadFrame,
    Capture,
    EndOfSource,
    Frame,
    Geometry,
    SourceError,
    SourceLost,
    SourceSettings,
)
from edge.live.sources.folder import ImageFolderCapture
from edge.live.sources.opencv import OpenCVCapture, is_device
from edge.live.sources.picamera import PiCameraCapture
from edge.live.sources.reader import FrameReader, SourceEvent
from edge.live.sources.synthetic import SyntheticCapture

__all__ = [
    "BadFrame",
    "Capture",
    "EndOfSource",
    "Frame",
    "FrameReader",
    "Geometry",
    "ImageFolderCapture",
    "OpenCVCapture",
    "PiCameraCapture",
    "SourceError",
    "SourceEvent",
    "SourceLost",
    "SourceSettings",
    "SyntheticCapture",
    "open_capture",
]


def open_capture(spec: str, settings: SourceSettings | None = None) -> Capture:
    """`demo`, `picamera`, `igtl://HOST:PORT[/DEVICE]`, `/dev/videoN`, a device index, a video file or a folder."""
    settings = settings or SourceSettings()
    if spec == "demo":
        return SyntheticCapture(settings.fps)
    if spec.startswith("igtl://"):
        from edge.live.sources.igtl import IGTLCapture

        return IGTLCapture(spec)
    if spec == "picamera":
        return PiCameraCapture(settings)
    if is_device(spec):
        return OpenCVCapture(spec, settings)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderCapture(path, settings.fps)
    if path.is_file():
        return OpenCVCapture(path, settings)
    raise SourceError(f"source {spec!r} is not 'demo', 'picamera', a device, a video file or a folder of images")
