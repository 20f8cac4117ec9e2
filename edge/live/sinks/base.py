"""`Sink`: where live results go (as picamera2's pluggable outputs: the loop hands every processed frame to each)."""

from __future__ import annotations

import numpy as np

from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sources import Frame


class Sink:
    """`needs_picture`: it wants the overlay. Set `stop_requested` to end the run."""

    needs_picture = False
    stop_requested = False

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None: ...

    def event(self, event: dict) -> None: ...

    def close(self, session: Session) -> None: ...
