"""The region of interest: the B-mode image inside a scanner's screen capture."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.core.frame import FrameRejected
from edge.core.grey import to_grey

_WINDOW = 5  # local-variance window (px); the detected box is shrunk back by half of it
_MIN_SIDE = 32  # a detected B-mode area smaller than this (px) is not believed


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in frame pixels: top-left (x, y), width w, height h."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.w <= 0 or self.h <= 0 or self.x < 0 or self.y < 0:
            raise ValueError(f"invalid ROI {self}: x, y must be >= 0 and w, h > 0")

    @classmethod
    def parse(cls, text: str) -> Box:
        """Parse ``"x,y,w,h"`` (as given on the command line or in a preset)."""
        try:
            x, y, w, h = (int(v) for v in text.replace(" ", "").split(","))
        except ValueError:
            raise ValueError(f"ROI must be 'x,y,w,h' in pixels, got {text!r}") from None
        return cls(x, y, w, h)

    @classmethod
    def full(cls, shape: tuple[int, ...]) -> Box:
        return cls(0, 0, shape[1], shape[0])

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y, self.y + self.h), slice(self.x, self.x + self.w)

    def fits(self, shape: tuple[int, ...]) -> bool:
        return self.x + self.w <= shape[1] and self.y + self.h <= shape[0]

    def check_fits(self, shape: tuple[int, ...]) -> None:
        if not self.fits(shape):
            raise FrameRejected(f"ROI {self} lies outside the {shape[1]}x{shape[0]} frame")

    def part(self, image: np.ndarray) -> np.ndarray:
        """The ROI of a whole-frame `image`, or `image` itself where it is a map of the ROI alone (its size)."""
        if image.shape[:2] == (self.h, self.w):
            return image
        self.check_fits(image.shape)
        return image[self.slices]

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"


def _longest_run(flags: np.ndarray) -> tuple[int, int]:
    """Start and end (exclusive) of the longest run of True in a 1-D array; (0, 0) if none."""
    padded = np.concatenate(([False], flags, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    if edges.size == 0:
        return 0, 0
    starts, ends = edges[0::2], edges[1::2]
    i = int(np.argmax(ends - starts))
    return int(starts[i]), int(ends[i])


def _content_mask(grey: np.ndarray, colour: np.ndarray | None) -> np.ndarray:
    """Pixels that look like B-mode image: any local texture, or darker than a flat UI background."""
    f = grey.astype(np.float32)
    mean = cv2.blur(f, (_WINDOW, _WINDOW))
    var = cv2.blur(f * f, (_WINDOW, _WINDOW)) - mean * mean
    content = var > 0.25
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    values, counts = np.unique(border, return_counts=True)
    if counts.max() > 0.3 * border.size:  # a flat UI colour frames the image
        content |= f < float(values[counts.argmax()]) - 8
    if colour is not None:
        content &= ~colour
    return content


def detect_bmode_roi(frame: np.ndarray, order: str = "bgr") -> Box:
    """Find the B-mode area in a screen capture (UI chrome, scale bars, coloured icons around it).

    Texture (speckle) and image-dark pixels count as B-mode; flat UI colours, thin text and tick marks,
    and saturated icons do not. The box is the longest run of columns that are mostly B-mode, then the
    longest run of rows within them. A frame with no UI gives the whole frame.
    """

    grey = to_grey(frame, order)
    colour = None
    if frame.ndim == 3 and frame.shape[2] >= 3:
        hsv = cv2.cvtColor(np.ascontiguousarray(frame[..., :3]), cv2.COLOR_BGR2HSV)
        colour = hsv[..., 1] > 40
    content = _content_mask(grey, colour)
    x0, x1 = _longest_run(content.mean(axis=0) > 0.5)
    if x1 - x0 < _MIN_SIDE:
        return Box.full(frame.shape)
    y0, y1 = _longest_run(content[:, x0:x1].mean(axis=1) > 0.5)
    if y1 - y0 < _MIN_SIDE:
        return Box.full(frame.shape)
    h, w = grey.shape
    half = _WINDOW // 2  # undo the window's spill into the UI, except at the frame's edge
    x0, y0 = (x0 + half if x0 > 0 else 0), (y0 + half if y0 > 0 else 0)
    x1, y1 = (x1 - half if x1 < w else w), (y1 - half if y1 < h else h)
    return Box(x0, y0, x1 - x0, y1 - y0)
