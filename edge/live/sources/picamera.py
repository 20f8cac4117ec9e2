"""A Raspberry Pi camera-port source through picamera2 (libcamera), imported only when used."""

from __future__ import annotations

import numpy as np

from edge.live.sources.base import Capture, SourceError, SourceLost, SourceSettings

_PI_SETUP = (
    "picamera2 is not importable: on Raspberry Pi OS install it from the OS (sudo apt install python3-picamera2) "
    "and create the virtual environment with --system-site-packages (see docs/live-runtime.md)"
)


class PiCameraCapture(Capture):
    """Frames from `Picamera2` in "RGB888" format.

    libcamera names formats by their 32-bit word, so "RGB888" lies in memory as B, G, R: exactly
    OpenCV's BGR, used as is (converting it again would swap red and blue).
    """

    def __init__(self, settings: SourceSettings | None = None, camera_index: int = 0) -> None:
        self.settings = settings or SourceSettings()
        self.camera_index = camera_index
        self.name = f"picamera{camera_index}"
        self.fps = self.settings.fps or 30.0
        self._cam = None

    def open(self) -> None:
        try:
            from picamera2 import Picamera2
        except ImportError:
            raise SourceError(_PI_SETUP) from None
        size = (self.settings.width or 1280, self.settings.height or 720)
        try:
            cam = Picamera2(self.camera_index)
            config = cam.create_video_configuration(
                main={"size": size, "format": "RGB888"}, controls={"FrameRate": self.fps}, buffer_count=2
            )
            cam.configure(config)
            cam.start()
        except (RuntimeError, IndexError, OSError) as exc:
            raise SourceError(f"cannot start {self.name}: {exc}") from None
        self._cam = cam

    def read(self) -> np.ndarray:
        if self._cam is None:
            raise SourceLost(f"{self.name} is not open")
        try:
            return self._cam.capture_array("main")
        except (RuntimeError, OSError) as exc:
            raise SourceLost(f"{self.name}: {exc}") from None

    def close(self) -> None:
        if self._cam is not None:
            try:
                self._cam.stop()
                self._cam.close()
            finally:
                self._cam = None

    def describe(self) -> str:
        s = self.settings
        return f"{self.name} (picamera2 RGB888 as BGR, {s.width or 1280}x{s.height or 720} @ {self.fps:g} fps)"
