"""The overlay in a window."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TextIO

import cv2
import numpy as np

from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sources import Frame


def has_display() -> bool:
    """A graphical display to open a window on (X11 or Wayland on Linux; assumed elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class DisplaySink(Sink):
    """The overlay in an OpenCV window; q or Esc ends the run. Turns itself off if OpenCV has no GUI."""

    needs_picture = True

    def __init__(
        self, title: str = "tlfseg", out: TextIO = sys.stderr, on_click: Callable[[int, int], None] | None = None
    ) -> None:
        """`on_click(x, y)`: a left click on the picture, in frame pixels (the operator points at the fascia)."""
        self.title, self.out, self.on_click = title, out, on_click
        self.failed = False
        self._opened = False

    def mouse(self, event: int, x: int, y: int, flags: int = 0, param=None) -> None:
        """OpenCV's mouse callback: a left button press is a click."""
        if event == cv2.EVENT_LBUTTONDOWN and self.on_click is not None:
            self.on_click(x, y)

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        if self.failed or picture is None:
            return
        try:
            cv2.imshow(self.title, picture)
            if not self._opened:
                self._opened = True
                cv2.setMouseCallback(self.title, self.mouse)
            if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                self.stop_requested = True
        except cv2.error:
            self.failed = True
            print(
                "no window: this OpenCV has no GUI (opencv-python-headless); install opencv-python for a live "
                "window, or use --record",
                file=self.out,
            )

    def close(self, session: Session) -> None:
        if not self.failed:
            with contextlib.suppress(cv2.error):
                cv2.destroyWindow(self.title)
