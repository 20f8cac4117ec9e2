"""Status lines on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

import numpy as np

from edge.live.pipeline import FrameResult
from edge.live.session import Session
from edge.live.sinks.base import Sink
from edge.live.sources import Frame


class StatusSink(Sink):
    """One status line every `interval_s` (fps, latency, thickness, drops) and every source event at once."""

    def __init__(self, interval_s: float = 2.0, out: TextIO | None = None) -> None:
        self.interval_s, self.out = interval_s, out or sys.stdout  #: stdout as it is now, not at import
        self._last = 0.0

    def write(self, frame: Frame, result: FrameResult, picture: np.ndarray | None, session: Session) -> None:
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return
        self._last = now
        m, t = result.measurement, result.timings_ms
        d = session.duration_s
        if m.good:
            thick = (
                f"TLF {m.thickness_mm:.2f} mm" if m.thickness_mm is not None else f"TLF {m.thickness_px:.1f} px"
            ) + f" cov {m.coverage:.0%}"
        else:
            thick = "flagged: " + ",".join(m.flags)
        drops = ",".join(f"{k} {v}" for k, v in sorted(session.dropped.items())) or "0"
        print(
            f"{d:7.1f} s | {session.processed:5d} frames | {session.recent_fps:5.1f} fps | "
            f"e2e {t['e2e']:5.0f} ms (inference {t['inference']:.0f}) | {thick} | dropped {drops}",
            file=self.out,
            flush=True,
        )

    def event(self, event: dict) -> None:
        print(f"{event['t']:7.1f} s | source {event['kind']}: {event['detail']}", file=self.out, flush=True)
