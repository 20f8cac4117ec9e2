"""FRAME messages <-> numpy images: building them on the scanner side, checking and decoding them on the runtime.

Checks run before anything is allocated: declared sizes against the limits, raw data length against
stride x height, and a JPEG/PNG's own header size against the declared size (no decompression bombs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.core.frame import MIN_FRAME_SIDE, FrameRejected, check_pixels  # the pipeline's own limits, at the door
from edge.core.image_header import HeaderError, jpeg_size, png_size
from firmware_bridge.messages import Frame
from firmware_bridge.protocol import DEFAULT_MAX_HEIGHT, DEFAULT_MAX_WIDTH, MaskEncoding, PixelFormat


class FrameError(FrameRejected):
    """A FRAME that parses but cannot be used; the message says why (answered with ERROR BAD_FRAME)."""


@dataclass(frozen=True)
class FrameLimits:
    max_width: int = DEFAULT_MAX_WIDTH
    max_height: int = DEFAULT_MAX_HEIGHT
    min_width: int = MIN_FRAME_SIDE
    min_height: int = MIN_FRAME_SIDE


def frame_message(
    image: np.ndarray,
    frame_id: int,
    timestamp_us: int = 0,
    fmt: PixelFormat | None = None,
    mask: MaskEncoding = MaskEncoding.NONE,
    jpeg_quality: int = 90,
) -> Frame:
    """A FRAME for a grey (H, W) or BGR (H, W, 3) uint8 image; `fmt` None: raw GREY8 or BGR8 as the image is."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"frame must be uint8 grey (H, W) or BGR (H, W, 3), got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    raw = PixelFormat.GREY8 if image.ndim == 2 else PixelFormat.BGR8
    fmt = raw if fmt is None else PixelFormat(fmt)
    if fmt.channels:
        if fmt != raw:
            raise ValueError(f"a {image.shape} image is not {fmt.name}")
        return Frame(frame_id, timestamp_us, fmt, w, h, w * fmt.channels, np.ascontiguousarray(image).tobytes(), mask)
    import cv2

    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if fmt == PixelFormat.JPEG else []
    ok, data = cv2.imencode(".jpg" if fmt == PixelFormat.JPEG else ".png", image, params)
    if not ok:
        raise ValueError(f"{fmt.name} encoding failed")
    return Frame(frame_id, timestamp_us, fmt, w, h, 0, data.tobytes(), mask)


def check_frame(frame: Frame, limits: FrameLimits) -> None:
    """FrameError unless the frame can be decoded within the limits (cheap: reads headers only)."""
    w, h = frame.width, frame.height
    if w < limits.min_width or h < limits.min_height:
        raise FrameError(
            f"frame {w}x{h} is too small: at least {limits.min_width}x{limits.min_height} pixels "
            "(the B-mode area is found, segmented and measured in it)"
        )
    if w > limits.max_width or h > limits.max_height:
        raise FrameError(f"frame {w}x{h} is over the limit of {limits.max_width}x{limits.max_height}")
    check_pixels(w, h)
    channels = frame.format.channels
    if channels:
        if frame.stride < w * channels:
            raise FrameError(f"stride {frame.stride} is less than width x {channels} = {w * channels} bytes")
        if len(frame.data) != frame.stride * h:
            raise FrameError(f"{len(frame.data)} data bytes, stride x height = {frame.stride * h} expected")
        return
    try:
        size = png_size(frame.data) if frame.format == PixelFormat.PNG else jpeg_size(frame.data)
    except HeaderError as exc:
        raise FrameError(str(exc)) from None
    if size != (w, h):
        raise FrameError(f"{frame.format.name} image is {size[0]}x{size[1]}, the frame says {w}x{h}")


def frame_image(frame: Frame, limits: FrameLimits) -> np.ndarray:
    """The frame as a uint8 grey (H, W) or BGR (H, W, 3) array (raw formats: a view of the message bytes)."""
    check_frame(frame, limits)
    w, h, channels = frame.width, frame.height, frame.format.channels
    if channels:
        rows = np.frombuffer(frame.data, np.uint8).reshape(h, frame.stride)[:, : w * channels]
        return rows if channels == 1 else rows.reshape(h, w, channels)
    import cv2

    image = cv2.imdecode(np.frombuffer(frame.data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FrameError(f"{frame.format.name} data does not decode")
    if image.dtype != np.uint8 or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise FrameError(f"{frame.format.name} image is {image.dtype} with shape {image.shape}; 8-bit grey/BGR only")
    return image
