"""`Segmenter`: frame -> preprocess -> Engine -> postprocess, each stage timed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from edge.engine import Engine
from edge.heap import keep_freed_memory
from edge.postprocess import extend_to_frame, upsampled_class_map
from edge.preprocess import Preprocessor
from edge.roi import Box


@dataclass
class Segmentation:
    roi_labels: np.ndarray  #: uint8 (roi.h, roi.w) class map of the ROI at native resolution
    probs: np.ndarray  #: float32 (h, w, C) probabilities at the model's resolution
    roi: Box  #: where the model's input was cut from
    grey: np.ndarray  #: the ROI's grey pixels
    frame_shape: tuple[int, int]  #: the native frame's (height, width)
    timings_ms: dict[str, float] = field(default_factory=dict)  #: preprocess / inference / postprocess

    @cached_property
    def labels(self) -> np.ndarray:
        """uint8 (H, W) class map of the whole native frame (`postprocess.extend_to_frame`), made on first use:
        the live loop measures and draws from `roi_labels` alone."""
        return extend_to_frame(self.roi_labels, self.roi, self.frame_shape)


class Segmenter:
    """The per-frame pipeline shared by `tlfseg predict`, the live runtime, the bridge and benchmarks."""

    def __init__(
        self,
        model: str | Path | Engine | None = None,
        roi: Box | None = None,
        threads: int | None = 1,
        delegate: str | None = None,
        order: str = "bgr",
    ) -> None:
        keep_freed_memory()  # per-frame buffers are reused, not page-faulted back in every frame
        self.engine = model if isinstance(model, Engine) else Engine(model, threads=threads, delegate=delegate)
        self.preprocessor = Preprocessor(self.engine.input_size, roi=roi, order=order)

    def __call__(self, frame: np.ndarray, roi: Box | None = None) -> Segmentation:
        t0 = time.perf_counter()
        pre = self.preprocessor(frame, roi)
        t1 = time.perf_counter()
        probs = self.engine.infer(pre.tensor)
        t2 = time.perf_counter()
        labels = upsampled_class_map(probs, (pre.roi.w, pre.roi.h))
        t3 = time.perf_counter()
        timings = {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3}
        return Segmentation(labels, probs, pre.roi, pre.grey, pre.frame_shape, timings)
