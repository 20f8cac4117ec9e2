"""A live session, built in one place.

`LiveSettings` says what a session is: the preset's fields (ROI, calibration, capture settings, the fascia's depth
range) and everything else a run is asked for (model, threads, delegate, fusion, gliding, the depth hint, outputs,
every frame or the newest, how many). The command line parses into it, a preset loads into it, the firmware bridge's
CONFIG maps onto it and the benchmarks make one. `build(settings)` returns the running parts (`LiveRuntime`):
source -> reader -> `FramePipeline` -> sinks, driven by the `LiveLoop`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from edge.core.engine import Engine
from edge.core.familiarity import InputReference
from edge.core.roi import Box
from edge.live.loop import LiveLoop
from edge.live.pipeline import FramePipeline
from edge.live.presets import Preset
from edge.live.session import Session
from edge.live.sinks import DisplaySink, RecordingSink, SaveFramesSink, Sink, StatusSink, has_display
from edge.live.sources import Capture, FrameReader, SourceSettings, open_capture
from edge.measurement.candidates import OperatorPrior
from edge.measurement.measure import Calibration, MeasureConfig


@dataclass(frozen=True)
class LiveSettings:
    """What a live session is. ValueError on construction for values that cannot go together."""

    source: str = "demo"  #: demo | /dev/videoN | N | picamera | igtl://HOST:PORT[/DEVICE] | FILE | DIR
    model: Path | None = None  #: a .tflite model (None: the bundled int8 model)
    threads: int | None = 1  #: interpreter threads
    delegate: str | None = None  #: "edgetpu" for a Coral Edge TPU
    roi: Box | None = None  #: the B-mode area (None: detected, re-detected when the screen layout changes)
    calibration: Calibration = field(default_factory=Calibration)
    capture: SourceSettings = field(default_factory=SourceSettings)  #: capture device settings (fourcc, size, fps)
    fascia_depth_mm: tuple[float, float] | None = None  #: the fascia's expected depth range (needs a calibration)
    hint_depth_mm: float | None = None  #: the fascia's depth: the band candidate nearest it is kept
    measure: MeasureConfig = field(default_factory=MeasureConfig)  #: the measurement's thresholds
    fuse: float | None = None  #: temporal fusion weight of the new frame (None: off)
    gliding: bool = False  #: measure fascia gliding between frames
    video: bool = True  #: the frames form a stream (False, `--stills`: each image judged on its own, every one)
    every_frame: bool = False  #: files and folders: every frame processed (else real time, the newest wins)
    frames: int | None = None  #: stop after this many processed frames (None: until the source ends)
    record: Path | None = None  #: record overlay video, per-frame log, plot and summary here
    segment_s: float = 10.0  #: length of each recorded video segment
    save_frames: Path | None = None  #: keep raw frames worth labelling here (flagged ones, and a spread sample)
    save_frames_max: int = 200  #: at most this many, half flagged, half sampled
    igtl_out: str | None = None  #: HOST:PORT to serve results over OpenIGTLink
    allow_remote: bool = False  #: let `igtl_out` listen on an address other than loopback
    display: bool = False  #: a live window, where a display exists
    status_every: float = 0.0  #: seconds between status lines (0: none)
    preset: str = ""  #: the preset the settings came from (named in the start lines)

    def __post_init__(self) -> None:
        if self.frames is not None and self.frames < 1:
            raise ValueError("--frames must be at least 1")
        if not self.video and (self.gliding or self.fuse):
            option = "--gliding is measured between" if self.gliding else "--fuse averages"
            raise ValueError(f"{option} the frames of a stream; --stills judges each image on its own")
        self.prior()  # an impossible depth range or hint is refused now

    @classmethod
    def from_preset(cls, preset: Preset, **settings) -> LiveSettings:
        """A preset's ROI, calibration, capture settings and depth range, then `settings` over them."""
        given = {"roi": preset.roi, "calibration": preset.calibration, "capture": preset.source}
        if preset.fascia_depth_mm is not None:
            given["fascia_depth_mm"] = preset.fascia_depth_mm
        return cls(**given, preset=preset.name, **settings)

    def override(self, **values) -> LiveSettings:
        """These settings with the `values` that are given (not None), as command-line options override a preset:
        capture fields (fourcc, width, height, fps) are merged into `capture`."""
        values = {k: v for k, v in values.items() if v is not None}
        capture = {k: values.pop(k) for k in ("fourcc", "width", "height", "fps") if k in values}
        return replace(self, capture=replace(self.capture, **capture), **values)

    def prior(self) -> OperatorPrior:
        """Where the operator says the fascia is (range, hint)."""
        prior = OperatorPrior(range_mm=self.fascia_depth_mm, hint_mm=self.hint_depth_mm)
        prior.require_scale(bool(self.calibration.mm_per_px or self.calibration.depth_mm))
        return prior


def build_pipeline(
    settings: LiveSettings, engine: Engine | None = None, reference: InputReference | str | None = "beside"
) -> FramePipeline:
    """The session's `FramePipeline`: on `engine` where one is shared (the bridge's sessions), else the settings'
    model; frames checked against `reference` (`FramePipeline`'s)."""
    return FramePipeline(
        engine or settings.model,
        settings.roi,
        video=settings.video,
        threads=settings.threads,
        delegate=settings.delegate,
        fuse=settings.fuse,
        calibration=settings.calibration,
        measure_config=settings.measure,
        prior=settings.prior(),
        gliding=settings.gliding,
        reference=reference,
    )


@dataclass
class LiveRuntime:
    """The running parts of a live session."""

    settings: LiveSettings
    capture: Capture
    pipeline: FramePipeline
    sinks: list[Sink]
    recorder: RecordingSink | None
    saver: SaveFramesSink | None
    loop: LiveLoop
    notes: list[str]  #: what the user should know before it starts (no display found)

    def describe(self) -> list[str]:
        """The start lines: model, what frames are checked against, source, ROI, calibration, prior, recording."""
        s, cal = self.settings, self.settings.calibration
        preset = f" (preset {s.preset})" if s.preset else ""
        cal_text = (
            f"{cal.mm_per_px:g} mm/px"
            if cal.mm_per_px
            else f"depth {cal.depth_mm:g} mm over the ROI rows"
            if cal.depth_mm
            else "each frame's own pixel spacing (its IMAGE's matrix)"
            if self.capture.scaled
            else "none (thickness in pixels; give --mm-per-px, --depth-mm or a preset)"
        )
        judged = "a stream (the band tracked)" if s.video else "stills (each image on its own)"
        lines = [
            f"model:  {self.pipeline.engine.describe()}",
            f"frames: {self.pipeline.describe_reference()}",
            f"source: {self.capture.describe()}{preset}, as {judged}",
            f"ROI:    {s.roi or ('auto-detected' if s.video else 'detected on every image')}; calibration: {cal_text}; "
            f"fusion: {s.fuse or 'off'}",
        ]
        if s.fascia_depth_mm or s.hint_depth_mm is not None:
            lo_hi = s.fascia_depth_mm
            wanted = f"inside {lo_hi[0]:g}-{lo_hi[1]:g} mm" if lo_hi else ""
            near = f"nearest {s.hint_depth_mm:g} mm" if s.hint_depth_mm is not None else ""
            lines.append(f"fascia: the band candidate {' and '.join(t for t in (wanted, near) if t)}")
        if self.recorder:
            lines.append(f"recording to {self.recorder.folder}")
        if self.saver:
            lines.append(
                f"frames to label: {self.saver.folder} (flagged frames and a sample, at most {s.save_frames_max})"
            )
        return lines

    def run(self) -> Session:
        return self.loop.run()


def build(
    settings: LiveSettings,
    *,
    capture: Capture | None = None,
    engine: Engine | None = None,
    sinks: list[Sink] | tuple[Sink, ...] = (),
) -> LiveRuntime:
    """The session `settings` describe: its source (or `capture`, a source already made), pipeline (on `engine` where
    given), the sinks it asks for and `sinks` after them, the reader and the loop. ValueError for settings the source
    cannot follow (every frame, or stills, from a live device). Stills are read every one."""
    capture = capture or open_capture(settings.source, settings.capture)
    if capture.live and (settings.every_frame or not settings.video):
        option = "--every-frame" if settings.video else "--stills"
        raise ValueError(f"{option} is for files and folders; a live device cannot wait for inference")
    pipeline = build_pipeline(settings, engine)
    parts: list[Sink] = []
    notes: list[str] = []
    if settings.status_every > 0:
        parts.append(StatusSink(settings.status_every))
    if settings.display:
        if has_display():
            parts.append(DisplaySink(on_click=lambda x, y: pipeline.hint_at(y)))
        else:
            notes.append("no display found: running headless (--record DIR keeps the overlay video)")
    if settings.igtl_out:  # before the recorder: what it counts at the end is in the summary
        from edge.live.sinks.igtl import IGTLSink

        parts.append(IGTLSink(settings.igtl_out, allow_remote=settings.allow_remote))
    recorder = None
    if settings.record:
        recorder = RecordingSink(settings.record, capture.fps or settings.capture.fps or 25.0, settings.segment_s)
        parts.append(recorder)
    saver = None
    if settings.save_frames:
        half = settings.save_frames_max // 2
        saver = SaveFramesSink(settings.save_frames, settings.save_frames_max - half, half)
        parts.append(saver)
    parts.extend(sinks)
    reader = FrameReader(capture, keep="all" if settings.every_frame or not settings.video else "latest")
    loop = LiveLoop(reader, pipeline, parts, settings.frames)
    return LiveRuntime(settings, capture, pipeline, parts, recorder, saver, loop, notes)
