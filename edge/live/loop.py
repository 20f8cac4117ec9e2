"""The live frame loop: scheduling, dropping and counting. Each frame goes through the `FramePipeline` once;
the loop times how long it waited and how long it took from capture to result, and feeds the sinks."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence

from edge.core.frame import FrameRejected
from edge.live.overlay import live_picture
from edge.live.pipeline import FramePipeline
from edge.live.session import Session, worth_an_event
from edge.live.sinks.base import Sink
from edge.live.sources import Frame, FrameReader


class RateMeter:
    """Frames per second over the last `window_s` seconds."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, t: float) -> None:
        self._times.append(t)
        while self._times and t - self._times[0] > self.window_s:
            self._times.popleft()

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        return (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-9)


#: source events after which nothing carried from frame to frame (fusion) still holds
_BREAKS = ("lost", "reopened", "gave_up", "stalled", "resumed")
#: this many frames in a row that cannot be processed end the run: the set-up is wrong (a fixed ROI the frames do not
#: fit, a source of the wrong kind), not one frame
MAX_ERRORS_IN_A_ROW = 10


class LiveLoop:
    """Runs frames from a `FrameReader` through a `FramePipeline` and feeds the sinks."""

    def __init__(
        self,
        reader: FrameReader,
        pipeline: FramePipeline,
        sinks: Sequence[Sink] = (),
        max_frames: int | None = None,
        stall_s: float = 2.0,
    ) -> None:
        self.reader, self.pipeline = reader, pipeline
        self.sinks = list(sinks)
        self.max_frames = max_frames
        self.stall_s = stall_s
        self.rate = RateMeter()
        self.session = Session(reader.capture.describe(), pipeline.engine.describe())
        calibration = pipeline.calibration
        self.given_scale = bool(calibration.mm_per_px or calibration.depth_mm)
        self.session.unit = "mm" if self.given_scale or reader.capture.scaled else "px"
        self._scale_checked = False  #: the given calibration was compared with the source's spacing (once)
        self._stop = False
        self._stalled = False
        self._errors = 0  #: frames the loop could not process (bad size, ROI outside the frame)
        self._errors_in_a_row = 0
        self._stopped = 0  #: frames in flight when the run ended

    def stop(self, interrupted: bool = False) -> None:
        """Ask the loop to finish after the current frame (safe from a signal handler); `interrupted`: the user
        ended the run (SIGTERM), as Ctrl-C does."""
        self._stop = True
        self.session.interrupted |= interrupted

    def _event(self, kind: str, detail: str, t: float | None = None) -> None:
        when = time.monotonic() if t is None else t
        event = {"kind": kind, "t": round(when - self.session.started, 3), "detail": detail}
        self.session.add_event(event)
        for sink in self.sinks:
            sink.event(event)
        if kind in _BREAKS:
            self.pipeline.reset()

    def _sync_counts(self) -> None:
        self.session.seen, dropped = self.reader.counts()
        if self._errors:
            dropped["error"] = self._errors
        if self._stopped:
            dropped["stopped"] += self._stopped
        self.session.dropped = dropped

    def _drain_events(self) -> None:
        for ev in self.reader.take_events():
            self._event(ev.kind, ev.detail, ev.t)

    def run(self) -> Session:
        """Process until `max_frames`, the end of the source, `stop()` or Ctrl-C; return the session."""
        s = self.session
        self.reader.start()
        last_frame = time.monotonic()
        try:
            while not self._stop and (self.max_frames is None or s.processed < self.max_frames):
                frame = self.reader.get(timeout=0.2)
                self._drain_events()
                now = time.monotonic()
                if frame is None:
                    if self.reader.finished:
                        break
                    if not self._stalled and now - last_frame > self.stall_s:
                        self._stalled = True
                        self._event("stalled", f"no frame from {self.reader.capture.name} for {self.stall_s:g} s")
                    continue
                if self._stalled:
                    self._stalled = False
                    self._event("resumed", f"frames again after {now - last_frame:.1f} s")
                last_frame = now
                self._handle(frame)
        except KeyboardInterrupt:
            s.interrupted = True
        finally:
            self.reader.stop()
            self._drain_events()
            self._sync_counts()
            in_flight = s.seen - s.processed - s.dropped_total
            if in_flight > 0:  # handed over but not processed when the run ended: dropped, with the reason
                self._stopped = in_flight
                self._sync_counts()
            s.ended = time.monotonic()
            for sink in self.sinks:
                sink.close(s)
        return s

    def _compare_scale(self, frame: Frame, used: float | None) -> None:
        """Once, on the first frame that says its pixel spacing: an event where the given calibration differs from it
        by more than 1 % (the measurement keeps the calibration given; the label map goes back on the frame's grid)."""
        source = frame.geometry.mm_per_px if frame.geometry else None
        if self._scale_checked or not self.given_scale or source is None or used is None:
            return
        self._scale_checked = True
        if abs(used / source - 1) > 0.01:
            self._event(
                "calibration",
                f"the calibration's {used:.4g} mm/px differs from the {source:.4g} mm/px of {frame.source}'s frames: "
                "thickness in mm uses the calibration given (leave it out to use the frames' own)",
            )

    def _handle(self, frame: Frame) -> None:
        s = self.session
        queue_ms = (time.monotonic() - frame.t_capture) * 1e3
        try:
            result = self.pipeline(frame.image, frame.geometry.mm_per_px if frame.geometry else None)
        except FrameRejected as exc:  # the frame's fault; anything else is a bug and ends the run
            self._errors += 1
            self._errors_in_a_row += 1
            n = self._errors_in_a_row
            if worth_an_event(self._errors):
                self._event("error", f"frame {frame.seq} not processed: {exc} ({self._errors} so far)")
            if n >= MAX_ERRORS_IN_A_ROW:
                s.failed = f"{n} frames in a row could not be processed: {exc}"
                self._event("gave_up", s.failed)
                self._stop = True
            self._sync_counts()
            return
        self._errors_in_a_row = 0
        timings = result.timings_ms
        timings["queue"], timings["e2e"] = queue_ms, (time.monotonic() - frame.t_capture) * 1e3
        if result.roi_changed:
            s.roi_changes += 1
            self._event("roi_changed", f"screen layout changed: ROI now {result.roi}")
        m = result.measurement
        self._compare_scale(frame, m.mm_per_px)
        s.processed += 1
        self.rate.tick(time.monotonic())
        s.recent_fps = self.rate.fps
        self._sync_counts()
        value = m.thickness_mm if s.unit == "mm" else m.thickness_px
        s.series.append((frame.t_capture - s.started, value, m.good))
        if m.good and value is not None:
            s.thickness.add(value)
        s.flags.update(m.flags)
        if result.gliding is not None:
            s.add_glide(result.gliding, frame.t_capture - s.started)
        t = time.perf_counter()
        picture = None
        if any(sink.needs_picture for sink in self.sinks):
            picture = live_picture(frame.image, result, s.recent_fps, timings["e2e"])
        for sink in self.sinks:
            sink.write(frame, result, picture, s)
            if sink.stop_requested:
                self._stop = True
        s.latency.add({**timings, "sinks": (time.perf_counter() - t) * 1e3})
