"""`FramePipeline`: the per-frame step, written once.

frame -> ROI (`edge.core.roi_policy`) -> preprocess -> LiteRT `Engine` -> temporal fusion of the probabilities
(optional) -> the native fascia (`edge.core.fascia.FasciaRows`: the class map's band, a few native rows) -> `measure`
(on a stream: the band's depth tracked, `jump` flagged; a frame unlike the model's training images, or no live B-mode
at all, flagged `unfamiliar`), each stage timed once, into one `FrameResult`. The whole native class map is made only
when asked for (`FrameResult.roi_labels`, `labels`: a label map sent, recorded or written out; gliding's layers).
The live loop, the firmware bridge's sessions, `tlfseg predict`, `tlfseg evaluate` and the benchmarks all run their
frames through it; what stays with them is scheduling, counting and where results go.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from edge.core.bmode import FrozenCheck, not_bmode
from edge.core.engine import Engine
from edge.core.familiarity import InputReference, describe_reference, input_statistics, reference_beside
from edge.core.fascia import FasciaRows
from edge.core.frame import check_frame_size
from edge.core.heap import keep_freed_memory
from edge.core.latency import StageClock
from edge.core.postprocess import extend_to_frame, fascia_rows, upsampled_class_map
from edge.core.preprocess import Preprocessed, Preprocessor
from edge.core.roi import Box
from edge.core.roi_policy import RoiPolicy, roi_policy
from edge.live.fusion import ProbabilityFusion
from edge.measurement.candidates import OperatorPrior
from edge.measurement.gliding import GlideConfig, GlideStep, GlideTracker
from edge.measurement.measure import Calibration, MeasureConfig, Measurement, measure
from edge.measurement.tracking import BandTracker


@dataclass
class FrameResult:
    """One frame, segmented and measured."""

    fascia: FasciaRows  #: the ROI's native fascia, in the rows that hold any: what is measured and drawn live
    probs: np.ndarray  #: float32 (h, w, C) probabilities at the model's resolution (fused, where fusion is on)
    roi: Box  #: where the model's input was cut from
    grey: np.ndarray  #: the ROI's grey pixels
    frame_shape: tuple[int, int]  #: the native frame's (height, width)
    measurement: Measurement
    timings_ms: dict[str, float] = field(default_factory=dict)  #: roi, preprocess, inference, [fuse], ..., total
    roi_changed: bool = False  #: the ROI policy moved the ROI on this frame (a new screen layout)
    gliding: GlideStep | None = None  #: shear against the frame before, where gliding is on
    #: why the frame is `unfamiliar`: input statistics outside the model's training range, and "colour", "flat",
    #: "one_grey", "frozen" for a picture that is no live B-mode (`edge.core.bmode`)
    unfamiliar: tuple[str, ...] = ()
    panel: Box | None = None  #: where the live picture's text panel was drawn (set by `overlay.live_picture`)
    #: what the class map is made of where an operator's depth prior chose the band (else `probs`)
    class_probs: np.ndarray | None = field(default=None, repr=False)

    @cached_property
    def roi_labels(self) -> np.ndarray:
        """uint8 (roi.h, roi.w) class map of the ROI at native resolution, made on first use (measuring and the live
        picture take `fascia`)."""
        probs = self.probs if self.class_probs is None else self.class_probs
        return upsampled_class_map(probs, (self.roi.w, self.roi.h))

    @cached_property
    def labels(self) -> np.ndarray:
        """uint8 (H, W) class map of the whole native frame, made on first use."""
        return extend_to_frame(self.roi_labels, self.roi, self.frame_shape)

    @property
    def flags(self) -> tuple[str, ...]:
        return self.measurement.flags


class FramePipeline:
    """frame -> `FrameResult`. `roi`: a fixed box, a `RoiPolicy`, or None to detect the B-mode area (tracked across
    frames for `video`, detected on every image otherwise)."""

    def __init__(
        self,
        model: str | Path | Engine | None = None,
        roi: Box | RoiPolicy | None = None,
        *,
        video: bool = True,
        threads: int | None = 1,
        delegate: str | None = None,
        order: str = "bgr",
        fuse: float | None = None,
        calibration: Calibration | None = None,
        measure_config: MeasureConfig | None = None,
        prior: OperatorPrior | None = None,
        gliding: GlideConfig | bool = False,
        reference: InputReference | str | None = "beside",
    ) -> None:
        """`reference`: the training images' input statistics (`edge.core.familiarity`) frames are checked against
        (`unfamiliar`); "beside": the `input_reference.json` beside the model, where there is one; None: none."""
        keep_freed_memory()  # per-frame buffers are reused, not page-faulted back in every frame
        named = model is None or isinstance(model, (str, Path))  # else an Engine, or anything with input_size and infer
        self.engine = Engine(model, threads=threads, delegate=delegate) if named else model
        if reference == "beside":
            path = getattr(self.engine, "model_path", None)
            reference = reference_beside(path) if path is not None else None
        self.reference = reference
        self.order = order
        self.roi = roi_policy(roi, video, order)
        self.preprocessor = Preprocessor(self.engine.input_size, order)
        self.fusion = ProbabilityFusion(fuse) if fuse else None
        self.calibration = calibration or Calibration()
        self.measure_config = measure_config or MeasureConfig()
        self.band = BandTracker() if video else None  #: on a stream, the band's depth followed (the `jump` flag)
        self.frozen = FrozenCheck() if video else None  #: on a stream, a picture that stopped changing (`unfamiliar`)
        self.prior = prior or OperatorPrior()  #: where the operator says the fascia is (range, hint)
        self.prior.require_scale(bool(self.calibration.mm_per_px or self.calibration.depth_mm))
        if gliding and not video:
            raise ValueError("gliding is measured between the frames of a stream (video=True)")
        #: shear between the layers frame by frame (`edge.measurement.gliding`), where on
        self.glide = GlideTracker(gliding if isinstance(gliding, GlideConfig) else None) if gliding else None
        self._roi: Box | None = None
        self.clock: Callable[[], StageClock] = StageClock  #: times each frame's stages (benchmarks profile with theirs)

    def describe_reference(self) -> str:
        """What frames are checked against for `unfamiliar`."""
        return describe_reference(self.reference)

    def hint_at(self, frame_row: float) -> None:
        """The operator points at the fascia (a click on the picture, in frame rows): keep the band nearest it."""
        if self._roi is not None:
            self.prior.hint_px = min(max(frame_row - self._roi.y, 0.0), self._roi.h - 1.0)
            if self.band:
                self.band.reset()

    def reset(self) -> None:
        """The stream broke (source lost, stalled, reopened) or the ROI moved: what was carried from frame to frame
        is forgotten."""
        if self.fusion:
            self.fusion.reset()
        if self.band:
            self.band.reset()
        if self.glide:
            self.glide.reset()
        if self.frozen:
            self.frozen.reset()

    def __call__(self, frame: np.ndarray, mm_per_px: float | None = None) -> FrameResult:
        """`FrameRejected` (with the reason) for a frame that cannot be segmented: not an 8-bit image, too small, a
        fixed ROI outside it. `mm_per_px`: the frame's own pixel spacing (an OpenIGTLink IMAGE's), the scale where
        the calibration gives none."""
        clock = self.clock()
        with clock("roi"):
            roi, changed = self._locate(frame)
        with clock("preprocess"):
            pre = self.preprocessor(frame, roi)
        with clock("inference"):
            probs = self.engine.infer(pre.tensor)
        if self.fusion:
            with clock("fuse"):
                probs = self.fusion(probs)
        with clock("postprocess"):
            fascia, chosen, mm_per_px, prior, kept = self._fascia(probs, roi, mm_per_px)
        with clock("measure"):
            settled, track = prior is not None, self.band.at_track() if self.band else None  # where the band has been
            m = measure(fascia, roi, pre.grey, probs, mm_per_px, self.measure_config, settled=settled, track=track)
            m, unfamiliar = self._doubts(m, kept, pre, frame[roi.slices])
        result = FrameResult(
            fascia, probs, roi, pre.grey, pre.frame_shape, m, {}, changed, None, unfamiliar, class_probs=chosen
        )
        if self.glide:
            with clock("gliding"):
                result.gliding = self.glide.step(pre.grey, result.roi_labels, m, changed)
        result.timings_ms = clock.stop()
        return result

    def _locate(self, frame: np.ndarray) -> tuple[Box, bool]:
        """The frame's ROI, and whether it moved (then what was carried across frames is forgotten)."""
        check_frame_size(frame)
        roi, changed = self.roi(frame)
        self._roi = roi
        if changed:  # another screen layout: a hint clicked on the old one no longer points at the same depth
            self.reset()
            self.prior.hint_px = None
        return roi, changed

    def _fascia(self, probs: np.ndarray, roi: Box, frame_mm_per_px: float | None):
        """The ROI's native fascia and the probabilities the class map is made of: the model's, or those with the
        band candidate the operator's prior keeps (then `kept`: the share of band columns that kept one); the scale:
        the calibration's, else the frame's own."""
        mm_per_px = self.calibration.mm_per_px_for(roi) or frame_mm_per_px
        prior, kept, chosen = self.prior.for_frame(mm_per_px), None, probs
        if prior is not None:  # the operator's choice decides the class map; the model's own probabilities stay
            chosen, kept = prior.choose(probs, roi.h, self.measure_config.candidate_level)
        return fascia_rows(chosen, (roi.w, roi.h)), chosen, mm_per_px, prior, kept

    def _doubts(self, m: Measurement, kept: float | None, pre: Preprocessed, captured: np.ndarray):
        """`m` with what the frame's context adds: outside the operator's range, unlike the training images or no
        B-mode at all (`captured`: the ROI as it came, in colour where it came so), off the stream's track."""
        if kept is not None and kept < self.measure_config.min_in_range:
            m = m.flagged("outside_range")
        unfamiliar = tuple(self.reference.outside(input_statistics(pre.tensor))) if self.reference else ()
        unfamiliar += tuple(not_bmode(captured, pre.grey, pre.tensor))
        if self.frozen and self.frozen(pre.tensor):
            unfamiliar += ("frozen",)
        if unfamiliar:
            m = m.flagged("unfamiliar")
        if self.band:
            m = self.band(m)
        return m, unfamiliar
