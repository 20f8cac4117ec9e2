"""What every frame source shares: the `Frame`, the `Capture` interface and the ways a read can fail."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from edge.core.values import CALIBRATION_LIMITS


@dataclass(frozen=True)
class Geometry:
    """Where a picture lies in space, as its source said (an OpenIGTLink IMAGE's header)."""

    ijk_to_world: np.ndarray  #: 4x4: (column i, row j, slice k, 1) -> mm in `world` (origin, spacing, directions)
    world: str = "lps"  #: the world coordinate system: "lps" or "ras"
    timestamp: float | None = None  #: the source's time of the picture (seconds since 1970)

    @property
    def mm_per_px(self) -> float | None:
        """The picture's pixel spacing in mm where its pixels are square (columns and rows within 1 %) and the spacing
        is one a scanner can have (`CALIBRATION_LIMITS`); else None."""
        columns, rows = (math.hypot(*map(float, self.ijk_to_world[:3, axis])) for axis in (0, 1))
        if not (math.isfinite(columns) and math.isfinite(rows)) or abs(columns - rows) > 0.01 * rows:
            return None
        limits = CALIBRATION_LIMITS["mm_per_px"]
        return rows if limits["low"] <= rows <= limits["high"] else None


@dataclass(frozen=True)
class Frame:
    """One captured picture and when it arrived."""

    image: np.ndarray  #: BGR (or grey) uint8, as OpenCV delivers
    seq: int  #: 0, 1, 2, ... in arrival order; a gap in the processed sequence is a counted drop
    t_capture: float  #: time.monotonic() when the frame arrived (latency is measured from here)
    wall_time: float  #: time.time() at the same moment, for logs
    source: str  #: the source's name
    geometry: Geometry | None = None  #: where the picture lies, when the source says (OpenIGTLink)
    name: str | None = None  #: the picture's own name, when the source has one (a folder's file name)

    @property
    def source_time(self) -> float | None:
        """The source's own time of the picture (an OpenIGTLink IMAGE's timestamp), when it gives one."""
        return self.geometry.timestamp if self.geometry is not None else None


@dataclass(frozen=True)
class SourceSettings:
    """What to ask a capture device for; None leaves the device's own choice."""

    fourcc: str = "MJPG"  #: V4L2 pixel format: MJPG (compressed, full rate over USB 2), YUYV, UYVY (TC358743)
    width: int | None = None
    height: int | None = None
    fps: float | None = None  #: device rate to request; for files, folders and the demo: the playback rate

    def __post_init__(self) -> None:
        if len(self.fourcc) != 4:
            raise ValueError(f"pixel format must be a 4-character code such as MJPG or YUYV, got {self.fourcc!r}")
        for name in ("width", "height", "fps"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite positive number, got {value}")


class SourceError(RuntimeError):
    """A source cannot be opened or read (the message says which and why)."""


class EndOfSource(SourceError):
    """A finite source (file, folder) has no more frames."""


class SourceLost(SourceError):
    """The source stopped delivering (unplugged, vanished, driver error): reopen it."""


class BadFrame(SourceError):
    """One frame was consumed but cannot be used; it is counted as dropped with `reason`."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class Capture(ABC):
    """A frame source: `open()`, then `read()` blocks until the next picture, `close()` releases it.

    `read` returns an image or raises `EndOfSource`, `SourceLost` or `BadFrame`. A `live` capture
    delivers at its own pace (a device); the reader paces the others (files, folders, the demo) at `fps`.
    A `finite` one ends (files, folders). `open` may be called again after `close` to reconnect; finite
    captures resume after the last frame they delivered.
    """

    name: str = "capture"
    live: bool = True
    finite: bool = False
    fps: float = 0.0  #: nominal frame rate, 0 if unknown
    scaled: bool = False  #: its frames say their pixel spacing (`Geometry.mm_per_px`): a scale where none is given

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> np.ndarray: ...

    @abstractmethod
    def close(self) -> None: ...

    def describe(self) -> str:
        return self.name

    def geometry(self) -> Geometry | None:
        """Where the picture `read` returned last lies in space, when the source says; else None."""
        return None

    def picture_name(self) -> str | None:
        """The name of the picture `read` returned last, when the source has one (a folder: its file); else None."""
        return None
