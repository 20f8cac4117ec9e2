"""The live frame loop: source -> Segmenter -> measure -> sinks, every stage timed, every frame counted."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from edge.labels import FASCIA
from edge.measure import Calibration, MeasureConfig, Measurement, measure
from edge.overlay import draw_overlay
from edge.postprocess import upsampled_class_map
from edge.preprocess import to_grey
from edge.roi import Box, detect_bmode_roi
from edge.segmenter import Segmentation, Segmenter
from edge.session import Session
from edge.sources import Frame, FrameReader


@dataclass
class FrameResult:
    frame: Frame
    segmentation: Segmentation
    measurement: Measurement
    timings_ms: dict[str, float]  #: queue, preprocess, inference, postprocess, [fuse], measure, total, e2e


class RoiTracker:
    """A fixed ROI, or one detected on the first frame and re-detected when the screen layout changes.

    The layout check is cheap: a 32x24 thumbnail (16 samples a cell) of the screen outside the ROI (the scanner's UI) is
    compared with the one taken at detection; a different frame size, a changed UI (more than 3% of the
    thumbnail cells outside the ROI change by more than 25 grey levels), or every
    `recheck_every` frames (a B-mode area that shrank inside the old ROI) triggers a new detection.
    """

    THUMB = (32, 24)

    def __init__(self, fixed: Box | None = None, order: str = "bgr", recheck_every: int = 50, tolerance: int = 4):
        self.fixed, self.order, self.recheck_every, self.tolerance = fixed, order, recheck_every, tolerance
        self.roi: Box | None = fixed
        self._shape: tuple[int, ...] | None = None
        self._thumb: np.ndarray | None = None
        self._outside: np.ndarray | None = None
        self._since = 0

    def _thumbnail(self, frame: np.ndarray) -> np.ndarray:
        """Mean grey of each thumbnail cell, from 4x4 samples a cell (reads ~0.5% of a 1080p frame; only the
        samples are converted to grey)."""
        tw, th = self.THUMB
        samples = to_grey(cv2.resize(frame, (tw * 4, th * 4), interpolation=cv2.INTER_NEAREST), self.order)
        return cv2.resize(samples, self.THUMB, interpolation=cv2.INTER_AREA).astype(np.int16)

    def _outside_cells(self, shape: tuple[int, ...], roi: Box) -> np.ndarray:
        tw, th = self.THUMB
        ys = (np.arange(th) + 0.5) * shape[0] / th
        xs = (np.arange(tw) + 0.5) * shape[1] / tw
        in_y = (ys >= roi.y - 2) & (ys < roi.y + roi.h + 2)
        in_x = (xs >= roi.x - 2) & (xs < roi.x + roi.w + 2)
        return ~(in_y[:, None] & in_x[None, :])

    def _layout_changed(self, frame: np.ndarray) -> bool:
        if frame.shape[:2] != self._shape or self._since >= self.recheck_every:
            return True
        if not self._outside.any():
            return False
        changed = int((np.abs(self._thumbnail(frame) - self._thumb)[self._outside] > 25).sum())
        return changed >= max(3, 0.03 * self._outside.sum())  # a clock or counter in the UI is not a layout

    def __call__(self, frame: np.ndarray) -> tuple[Box, bool]:
        """(ROI for this frame, whether it changed)."""
        if self.fixed is not None:
            self.fixed.check_fits(frame.shape)
            return self.fixed, False
        self._since += 1
        if self.roi is not None and not self._layout_changed(frame):
            return self.roi, False
        new = detect_bmode_roi(frame, self.order)
        old = self.roi
        shape = frame.shape[:2]
        changed = old is None or shape != self._shape or self._moved(old, new)
        if changed:
            self.roi = new
        self._shape, self._thumb, self._since = shape, self._thumbnail(frame), 0
        self._outside = self._outside_cells(shape, self.roi)
        return self.roi, changed and old is not None

    def _moved(self, a: Box, b: Box) -> bool:
        return max(abs(a.x - b.x), abs(a.y - b.y), abs(a.x + a.w - b.x - b.w), abs(a.y + a.h - b.y - b.h)) > (
            self.tolerance
        )


class ProbabilityFusion:
    """Exponential moving average of class probabilities across frames (steadier masks on video)."""

    def __init__(self, alpha: float) -> None:
        if not 0 < alpha <= 1:
            raise ValueError(f"fusion weight must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, probs: np.ndarray) -> np.ndarray:
        if self._state is None or self._state.shape != probs.shape:
            self._state = probs.astype(np.float32, copy=True)
        else:
            self._state = self.alpha * probs + (1 - self.alpha) * self._state
        return self._state


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


class Sink:
    """Where results go. `needs_picture`: it wants the overlay. Set `stop_requested` to end the run."""

    needs_picture = False
    stop_requested = False

    def write(self, result: FrameResult, picture: np.ndarray | None, session: Session) -> None: ...

    def event(self, event: dict) -> None: ...

    def close(self, session: Session) -> None: ...


def overlay_lines(m: Measurement, fps: float, e2e_ms: float) -> list[str]:
    if m.good:
        if m.thickness_mm is not None:
            head = f"TLF {m.thickness_mm:.2f} mm (IQR {m.spread_px['iqr'] * m.mm_per_px:.2f})"
        else:
            head = f"TLF {m.thickness_px:.1f} px (IQR {m.spread_px['iqr']:.1f})"
    else:
        head = "no measurement: " + ", ".join(m.flags)
    conf = f" | conf {m.confidence:.2f}" if m.confidence is not None else ""
    return [head, f"{fps:.1f} fps | latency {e2e_ms:.0f} ms | coverage {m.coverage:.0%}{conf}"]


def live_picture(image: np.ndarray, seg: Segmentation, m: Measurement, fps: float, e2e_ms: float) -> np.ndarray:
    """The live view, drawn into the captured frame (not used after): the fascia tinted and outlined, the readings."""
    return draw_overlay(image, seg.roi_labels, seg.roi, overlay_lines(m, fps, e2e_ms), tint=(FASCIA,), in_place=True)


class LiveLoop:
    """Runs frames from a `FrameReader` through the `Segmenter`, measures them and feeds the sinks."""

    def __init__(
        self,
        reader: FrameReader,
        segmenter: Segmenter,
        roi: Box | None = None,
        calibration: Calibration | None = None,
        fuse: float | None = None,
        sinks: Sequence[Sink] = (),
        max_frames: int | None = None,
        measure_config: MeasureConfig | None = None,
        stall_s: float = 2.0,
    ) -> None:
        self.reader, self.segmenter = reader, segmenter
        self.tracker = RoiTracker(roi, order=segmenter.preprocessor.order)
        self.calibration = calibration or Calibration()
        self.fusion = ProbabilityFusion(fuse) if fuse else None
        self.sinks = list(sinks)
        self.max_frames = max_frames
        self.measure_config = measure_config or MeasureConfig()
        self.stall_s = stall_s
        self.rate = RateMeter()
        self.session = Session(reader.capture.describe(), segmenter.engine.describe())
        self.session.unit = "mm" if (self.calibration.mm_per_px or self.calibration.depth_mm) else "px"
        self._stop = False
        self._stalled = False
        self._errors = 0  #: frames the loop could not process (bad size, ROI outside the frame)

    def stop(self) -> None:
        """Ask the loop to finish after the current frame (safe from a signal handler)."""
        self._stop = True

    def process(self, frame: Frame) -> FrameResult:
        """One frame through segmentation and measurement, each stage timed."""
        t_start = time.monotonic()
        t = time.perf_counter()
        roi, changed = self.tracker(frame.image)
        t_roi = (time.perf_counter() - t) * 1e3
        if changed:
            self.session.roi_changes += 1
            self._event("roi_changed", f"screen layout changed: ROI now {roi}")
            if self.fusion:
                self.fusion.reset()
        seg = self.segmenter(frame.image, roi)
        timings = {"queue": (t_start - frame.t_capture) * 1e3, "roi": t_roi, **seg.timings_ms}
        probs = seg.probs
        if self.fusion:
            t = time.perf_counter()
            probs = self.fusion(seg.probs)
            seg = replace(seg, probs=probs, roi_labels=upsampled_class_map(probs, (seg.roi.w, seg.roi.h)))
            timings["fuse"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        mm_per_px = self.calibration.mm_per_px_for(seg.roi)
        m = measure(seg.roi_labels, seg.roi, seg.grey, probs, mm_per_px, self.measure_config)
        timings["measure"] = (time.perf_counter() - t) * 1e3
        timings["total"] = sum(v for k, v in timings.items() if k != "queue")
        timings["e2e"] = (time.monotonic() - frame.t_capture) * 1e3
        return FrameResult(frame, seg, m, timings)

    def _event(self, kind: str, detail: str, t: float | None = None) -> None:
        when = time.monotonic() if t is None else t
        event = {"kind": kind, "t": round(when - self.session.started, 3), "detail": detail}
        self.session.events.append(event)
        for sink in self.sinks:
            sink.event(event)
        if kind in ("lost", "reopened", "gave_up", "stalled", "resumed") and self.fusion:
            self.fusion.reset()

    def _sync_counts(self) -> None:
        self.session.seen, dropped = self.reader.counts()
        if self._errors:
            dropped["error"] = self._errors
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
            s.ended = time.monotonic()
            for sink in self.sinks:
                sink.close(s)
        return s

    def _handle(self, frame: Frame) -> None:
        s = self.session
        try:
            result = self.process(frame)
        except (ValueError, cv2.error) as exc:
            self._errors += 1
            self._event("error", f"frame {frame.seq} not processed: {exc}")
            self._sync_counts()
            return
        m = result.measurement
        s.processed += 1
        self.rate.tick(time.monotonic())
        s.recent_fps = self.rate.fps
        self._sync_counts()
        value = m.thickness_mm if s.unit == "mm" else m.thickness_px
        s.series.append((frame.t_capture - s.started, value, m.good))
        s.flags.update(m.flags)
        t = time.perf_counter()
        picture = None
        if any(sink.needs_picture for sink in self.sinks):
            picture = live_picture(frame.image, result.segmentation, m, s.recent_fps, result.timings_ms["e2e"])
        for sink in self.sinks:
            sink.write(result, picture, s)
            if sink.stop_requested:
                self._stop = True
        s.latency.add({**result.timings_ms, "sinks": (time.perf_counter() - t) * 1e3})
