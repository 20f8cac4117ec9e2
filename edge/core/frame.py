"""What makes a frame segmentable, and the one error that says a frame (not the code) is at fault."""

from __future__ import annotations

import numpy as np

#: the smallest frame (rows and columns) worth segmenting; a smaller one is refused with its size
MIN_FRAME_SIDE = 8


class FrameRejected(ValueError):
    """This frame cannot be segmented (not an 8-bit image, too small, a fixed ROI outside it): the frame's fault,
    counted as a dropped frame by the live loop and answered BAD_FRAME by the bridge. Any other error is a bug."""


def check_frame_size(frame: np.ndarray) -> None:
    """FrameRejected for a frame smaller than `MIN_FRAME_SIDE` either way."""
    if isinstance(frame, np.ndarray) and frame.ndim >= 2 and min(frame.shape[:2]) < MIN_FRAME_SIDE:
        h, w = frame.shape[:2]
        side = MIN_FRAME_SIDE
        raise FrameRejected(f"frame {w}x{h} is too small to segment (at least {side}x{side} pixels)")
