"""A RESULT from one segmented frame: latencies, measurements, quality flags and the optional mask."""

from __future__ import annotations

from edge.segmenter import Segmentation
from firmware_bridge.mask import encode_mask
from firmware_bridge.messages import Config, Frame, Result, StageLatency
from firmware_bridge.protocol import MaskEncoding, Quality


def _us(ms: float) -> int:
    return max(0, min(0xFFFFFFFF, round(ms * 1e3)))


def assemble_result(frame: Frame, seg: Segmentation, config: Config, queue_ms: float, decode_ms: float) -> Result:
    """The RESULT for `frame` (skipped ids and the total latency are filled in when it is sent).

    Measurements (thickness, echogenicity) are not computed here yet: the fields stay NaN and the
    NOT_MEASURED flag is set.
    """
    quality = Quality.NOT_MEASURED
    if not config.fixed_roi:
        quality |= Quality.ROI_DETECTED
    if config.mm_per_px_y <= 0:
        quality |= Quality.NO_SCALE
    measure_ms = 0.0
    mask = encode_mask(seg.labels, frame.mask)
    h, w = seg.labels.shape
    t = seg.timings_ms
    latency = StageLatency(
        _us(queue_ms), _us(decode_ms), _us(t["preprocess"]), _us(t["inference"]), _us(t["postprocess"]), _us(measure_ms)
    )
    return Result(
        frame_id=frame.frame_id,
        timestamp_us=frame.timestamp_us,
        quality=int(quality),
        roi=(seg.roi.x, seg.roi.y, seg.roi.w, seg.roi.h),
        latency=latency,
        mask_encoding=frame.mask,
        mask_width=w if frame.mask != MaskEncoding.NONE else 0,
        mask_height=h if frame.mask != MaskEncoding.NONE else 0,
        mask=mask,
    )
