"""Any 8-bit frame -> its grey pixels: the one conversion every stage uses."""

from __future__ import annotations

import cv2
import numpy as np

from edge.core.frame import FrameRejected


def to_grey(frame: np.ndarray, order: str = "bgr") -> np.ndarray:
    """Any 8-bit frame (grey, grey x1, BGR/RGB, BGRA/RGBA) -> contiguous 2-D uint8 grey.

    FrameRejected for anything else. ``order`` says how a colour frame's channels are ordered ("bgr" as OpenCV
    delivers, or "rgb").
    """
    if not isinstance(frame, np.ndarray) or frame.size == 0:
        raise FrameRejected("frame is empty or not an image array")
    if frame.dtype != np.uint8:
        raise FrameRejected(f"frame must be 8-bit (uint8), got {frame.dtype}")
    if frame.ndim == 2:
        return np.ascontiguousarray(frame)
    if frame.ndim != 3 or frame.shape[2] not in (1, 3, 4):
        raise FrameRejected(f"frame shape {frame.shape} is not grey, 3-channel or 4-channel")
    if frame.shape[2] == 1:
        return np.ascontiguousarray(frame[..., 0])
    if order not in ("bgr", "rgb"):
        raise ValueError(f"channel order must be 'bgr' or 'rgb', got {order!r}")
    code = {
        (3, "bgr"): cv2.COLOR_BGR2GRAY,
        (3, "rgb"): cv2.COLOR_RGB2GRAY,
        (4, "bgr"): cv2.COLOR_BGRA2GRAY,
        (4, "rgb"): cv2.COLOR_RGBA2GRAY,
    }[(frame.shape[2], order)]
    return cv2.cvtColor(frame, code)
