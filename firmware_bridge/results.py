"""A RESULT from one frame through the `FramePipeline`: its measurements, quality flags, latencies, the mask; and
its GLIDE where gliding is on."""

from __future__ import annotations

import math

from edge.live.pipeline import FrameResult
from edge.measurement.flags import FRAME_FLAGS, GLIDE_FLAGS
from edge.measurement.gliding import PAIRS, GlideStep
from edge.measurement.measure import Measurement
from firmware_bridge.mask import encode_mask
from firmware_bridge.messages import NAN, Config, Frame, Glide, Result, StageLatency
from firmware_bridge.protocol import GlideFlag, MaskEncoding, Quality

_PAIR_KEYS = tuple(f"{a}/{b}" for a, b in PAIRS)


def quality_flags(m: Measurement, config: Config) -> Quality:
    quality = Quality(0)
    for name in m.flags:
        flag = FRAME_FLAGS.get(name)
        quality |= Quality(1 << flag.bit) if flag else Quality.OTHER
        if flag and flag.refuses and flag.bit > 7:
            quality |= Quality.OTHER  # not a good measurement for version-1 firmware, which reads bits 0-7 only
    if not config.fixed_roi:
        quality |= Quality.ROI_DETECTED
    if m.mm_per_px is None:
        quality |= Quality.NO_SCALE
    return quality


def _f(value: float | None) -> float:
    return NAN if value is None else float(value)


def _us(ms: float) -> int:
    return max(0, min(0xFFFFFFFF, round(ms * 1e3))) if math.isfinite(ms) else 0


def assemble_result(
    frame: Frame, frame_result: FrameResult, config: Config, queue_ms: float, decode_ms: float
) -> Result:
    """The frame's RESULT (skip list and total latency are added when sent). The wire's stage latencies: the ROI's
    time counts as preprocessing, temporal fusion's as postprocessing; the mask's making and encoding, where the frame
    asks for one, counts in none of them."""
    m = frame_result.measurement
    sent = frame.mask != MaskEncoding.NONE  # the native label map is made only for a frame that asks for it
    mask = encode_mask(frame_result.labels, frame.mask) if sent else b""
    h, w = frame_result.labels.shape if sent else (0, 0)
    t = frame_result.timings_ms
    return Result(
        frame_id=frame.frame_id,
        timestamp_us=frame.timestamp_us,
        quality=int(quality_flags(m, config)),
        roi=(frame_result.roi.x, frame_result.roi.y, frame_result.roi.w, frame_result.roi.h),
        thickness_mm=_f(m.thickness_mm),
        thickness_px=_f(m.thickness_px),
        thickness_iqr_px=_f(m.spread_px.get("iqr")),
        coverage=m.coverage,
        confidence=_f(m.confidence),
        echo_fascia=_f(m.echo["fascia"]),
        echo_above=_f(m.echo["above"]),
        echo_below=_f(m.echo["below"]),
        latency=StageLatency(
            _us(queue_ms),
            _us(decode_ms),
            _us(t["roi"] + t["preprocess"]),
            _us(t["inference"]),
            _us(t.get("fuse", 0.0) + t["postprocess"]),
            _us(t["measure"]),
        ),  # fmt: skip
        mask_encoding=frame.mask,
        mask_width=w,
        mask_height=h,
        mask=mask,
    )


def glide_flags(step: GlideStep) -> GlideFlag:
    flags = GlideFlag(0)
    for name in step.flags:
        flags |= GlideFlag(1 << GLIDE_FLAGS[name].bit) if name in GLIDE_FLAGS else GlideFlag.OTHER
    return flags


def assemble_glide(frame_id: int, step: GlideStep) -> Glide:
    """The frame's GLIDE: its pair's figures (NaN where left out), the totals and the last completed cycle's."""

    def pair(values: dict[str, float], scale: float | None = 1.0) -> tuple[float, float]:
        if not values or not scale:
            return NAN, NAN
        a, b = (values[k] * scale for k in _PAIR_KEYS)
        return a, b

    t, mm = step.totals, step.mm_per_px
    last = t.cycles[-1] if t.cycles else None
    return Glide(
        frame_id=frame_id,
        flags=int(glide_flags(step)),
        pairs=t.pairs,
        flagged=t.flagged,
        cycles=len(t.cycles),
        relative_px=pair(step.relative_px),
        relative_mm=pair(step.relative_px, mm),
        strain_pct=pair(step.strain_pct),
        distance_px=pair(step.distance_px),
        shear_px=pair(t.shear_px),
        shear_mm=pair(t.shear_px, mm),
        shear_strain_pct=pair(t.strain_pct),
        cycle_shear_px=pair(last.shear_px if last else {}),
        cycle_shear_mm=pair(last.shear_px if last else {}, mm),
        cycle_strain_pct=pair(last.strain_pct if last else {}),
    )
