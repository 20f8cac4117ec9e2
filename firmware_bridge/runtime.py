"""What every bridge session shares: the engine and its input reference, the session limits and the counters."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, fields

from edge import __version__
from edge.core.engine import Engine
from edge.core.familiarity import reference_beside
from edge.core.labels import CLASS_NAMES
from edge.core.roi import Box
from edge.core.values import CALIBRATION_LIMITS, number
from edge.live.pipeline import FramePipeline
from edge.live.runtime import build_pipeline
from edge.measurement.candidates import OperatorPrior
from firmware_bridge.frames import FrameLimits
from firmware_bridge.messages import Config, Hello
from firmware_bridge.protocol import DEFAULT_MAX_PAYLOAD, MaskEncoding, PixelFormat, Role
from firmware_bridge.settings import calibration, live_settings

POLL_S = 0.1  #: how often readers look at stop flags and timeouts


@dataclass
class Counters:
    """Totals over all sessions; `add` is thread-safe."""

    sessions: int = 0
    refused: int = 0  #: connections turned away with ERROR BUSY
    frames_received: int = 0
    results_sent: int = 0
    frames_skipped: int = 0
    errors_sent: int = 0
    dropped_on_close: int = 0  #: frames in hand when their client vanished
    truncated_on_close: int = 0  #: clients that vanished mid-message
    too_slow: int = 0  #: clients closed for sending a message slower than the minimum byte rate
    evicted: int = 0  #: sessions without a recent FRAME closed to admit a new client
    errors_suppressed: int = 0  #: ERRORs about faults not sent (over the per-connection error rate)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


@dataclass(frozen=True)
class SessionLimits:
    max_payload: int = DEFAULT_MAX_PAYLOAD
    frame: FrameLimits = FrameLimits()
    idle_timeout: float = 60.0  #: a socket client without a complete message this long gets BYE(IDLE) (0: never)
    stall_timeout: float = 2.0  #: silence in the middle of a message after which it counts as TRUNCATED
    min_rate: float = 8192.0  #: bytes/s a socket client's message must arrive at, after stall_timeout (0: any)
    evict_after: float = 5.0  #: a session without a FRAME this long makes way for a new client when all slots are taken
    error_burst: int = 16  #: ERRORs about faults sent at once, then `error_rate` per second (FRAME answers: always)
    error_rate: float = 4.0


class BridgeRuntime:
    """What every session shares: one engine (used by one session at a time), its input reference (read once, at
    start: a file that cannot be read stops the start), the limits and the counters."""

    def __init__(self, engine: Engine, limits: SessionLimits = SessionLimits(), roi: Box | None = None) -> None:
        self.engine, self.limits, self.roi = engine, limits, roi
        self.reference = reference_beside(engine.model_path)  #: frames outside it are flagged unfamiliar
        self.lock = threading.Lock()
        self.counters = Counters()

    def hello(self) -> Hello:
        h, w = self.engine.input_size
        return Hello(
            role=Role.RUNTIME,
            max_width=self.limits.frame.max_width,
            max_height=self.limits.frame.max_height,
            max_payload=self.limits.max_payload,
            input_width=w,
            input_height=h,
            pixel_formats=tuple(PixelFormat),
            mask_encodings=tuple(MaskEncoding),
            software=f"tlfseg {__version__}",
            model=f"{self.engine.model_path.name} {self.engine.precision}",
            classes=CLASS_NAMES,
        )

    def default_config(self) -> Config:
        roi = (self.roi.x, self.roi.y, self.roi.w, self.roi.h) if self.roi else (0, 0, 0, 0)
        return Config(roi=roi)

    def check_config(self, config: Config) -> None:
        """ValueError naming the first value out of range."""
        x, y, w, h = config.roi
        lim = self.limits.frame
        if (w == 0) != (h == 0):
            raise ValueError(f"ROI {config.roi}: width and height must both be 0 (detect) or both positive")
        if w and (x + w > lim.max_width or y + h > lim.max_height):
            raise ValueError(f"ROI {config.roi} reaches beyond the largest frame {lim.max_width}x{lim.max_height}")
        for name, limits in CALIBRATION_LIMITS.items():
            value = getattr(config, name)
            if value != 0:
                number(value, f"{name} (0: not given)", **limits)
        calibration(config)  # both a pixel spacing and a depth: refused
        for name in ("min_coverage", "min_confidence"):
            value = getattr(config, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{name} = {value}: expected 0 (the default) to 1")

    @staticmethod
    def check_prior(config: Config, prior: OperatorPrior) -> None:
        """ValueError where the prior's depths in mm have no calibration in `config` to become pixels."""
        if prior.needs_scale and not (config.mm_per_px or config.depth_mm):
            raise ValueError("a depth range or hint in mm (HINT) needs a calibration: CONFIG mm_per_px or depth_mm")

    def pipeline(self, config: Config, gliding: bool = False, prior: OperatorPrior | None = None) -> FramePipeline:
        """A session's frame pipeline for `config` (`firmware_bridge.settings.live_settings`), built on the shared
        engine by the live runtime's builder, as `tlfseg run` builds its own."""
        return build_pipeline(live_settings(config, gliding, prior), self.engine, self.reference)
