"""What makes a frame segmentable, and the one error that says a frame (not the code) is at fault."""

from __future__ import annotations

import numpy as np

#: the smallest frame (rows and columns) worth segmenting; a smaller one is refused with its size
MIN_FRAME_SIDE = 8
#: the most pixels a frame may have (a 4096 x 4096 screen; 4K UHD is 3840 x 2160): a larger one is refused with its
#: size, before it is decoded where its size is known first (image files, OpenIGTLink, bridge FRAMEs)
MAX_FRAME_PIXELS = 4096 * 4096


class FrameRejected(ValueError):
    """This frame cannot be segmented (not an 8-bit image, too small, a fixed ROI outside it): the frame's fault,
    counted as a dropped frame by the live loop and answered BAD_FRAME by the bridge. Any other error is a bug."""


def check_pixels(width: int, height: int) -> None:
    """FrameRejected for a frame of more than `MAX_FRAME_PIXELS`."""
    if width * height > MAX_FRAME_PIXELS:
        raise FrameRejected(
            f"frame {width}x{height} is larger than any capture (at most {MAX_FRAME_PIXELS / 1e6:.1f} million pixels)"
        )


def check_frame_size(frame: np.ndarray) -> None:
    """FrameRejected for a frame smaller than `MIN_FRAME_SIDE` either way, or of more than `MAX_FRAME_PIXELS`."""
    if not isinstance(frame, np.ndarray) or frame.ndim < 2:
        return
    h, w = frame.shape[:2]
    if min(h, w) < MIN_FRAME_SIDE:
        side = MIN_FRAME_SIDE
        raise FrameRejected(f"frame {w}x{h} is too small to segment (at least {side}x{side} pixels)")
    check_pixels(w, h)
