"""The demo source: the synthetic probe stream of `edge.live.phantom` at a fixed frame rate."""

from __future__ import annotations

import numpy as np

from edge.live.phantom import Phantom
from edge.live.sources.base import Capture

DEMO_FPS = 25.0


class SyntheticCapture(Capture):
    """Phantom frames 0, 1, 2, ... paced at `fps` by the reader, endless; reopening continues the motion."""

    live = False
    finite = False

    def __init__(self, fps: float | None = None, phantom: Phantom | None = None) -> None:
        self.fps = fps or DEMO_FPS
        self.phantom = phantom or Phantom()
        self.name = "demo"
        self._next = 0

    def open(self) -> None:
        pass

    def read(self) -> np.ndarray:
        image = self.phantom.frame(self._next).image
        self._next += 1
        return image

    def close(self) -> None:
        pass

    def describe(self) -> str:
        h, w = self.phantom.screen
        return f"demo (synthetic probe stream, {w}x{h} @ {self.fps:g} fps)"
