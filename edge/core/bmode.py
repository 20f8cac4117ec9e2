"""Is a frame live B-mode ultrasound at all? Facts of every B-mode picture that screens of another kind break: it is
grey (colour Doppler, coloured menus and logos and a grabber's blue "no signal" screen are not); speckle leaves no
patch of it flat (menus, logos and blank screens are mostly flat patches) and no grey level standing alone (text,
logos and blank screens are mostly one background level with nothing near it); and a live one changes from frame to
frame (a frozen screen does not). Each is a reason for the `unfamiliar` flag beside the input statistics of
`edge.core.familiarity`; unlike those they hold for any model, so they are checked whether or not a model has an input
reference.

Measured on the shared data set (395 screen captures of 5 layouts, the hold-out layouts 512x512 and 660x556 among
them) and the phantom (`benchmarks/not_bmode.py`): colour in at most 0.02 % of the B-mode area; flat patches over at
most 27.5 % of the model's input and one grey level standing out by at most 0.31 (both in the 5-bit 660x556 layout,
whose grey comes in steps of 8; the other layouts: under 2.5 % and below 0). The limits leave a margin to those and
to the screens that are not B-mode (text: one level by 0.56 and more).
"""

from __future__ import annotations

import cv2
import numpy as np

#: a pixel is coloured when its channels differ by more than this (grey levels): B-mode is grey, R = G = B
CHROMA = 40
#: the B-mode area is not grey when more than this share of its pixels is coloured
MAX_COLOUR = 0.01
#: every SAMPLE-th row and column of the B-mode area is looked at for colour and grey levels
SAMPLE = 4
#: a pixel of the model's input lies in a flat patch when its 3 x 3 neighbourhood spans under this (grey, 0-1)
FLAT_SPAN = 1.5 / 255
#: the model's input is no B-mode when more than this share of it lies in flat patches
MAX_FLAT = 0.4
#: grey levels either side of the most common one that count as near it (speckle and coarse grey steps fill them)
NEAR = 16
#: the B-mode area is no B-mode when its most common grey level holds more than this share of it beyond all the
#: levels near it together (a drawn background does; speckle, even in grey steps of 8, spreads over its neighbours)
MAX_ONE_GREY = 0.45
#: a stream's frame is frozen once the model's input has not changed for this many frames in a row (a screen
#: captured faster than the scanner draws repeats each picture a few times, never this many)
FROZEN_FRAMES = 10
#: ... changed: its mean absolute difference to the frame before is at least this (grey, 0-1; live B-mode: several
#: grey levels, speckle and noise)
STILL = 0.25 / 255


def sample(picture: np.ndarray) -> np.ndarray:
    """Every `SAMPLE`-th row and column of a picture (its statistics, at a sixteenth of the work)."""
    h, w = picture.shape[:2]
    size = (max(1, w // SAMPLE), max(1, h // SAMPLE))
    return cv2.resize(picture, size, interpolation=cv2.INTER_NEAREST)


def colour_share(captured: np.ndarray) -> float:
    """The share of coloured pixels in a BGR (or RGB) picture, 0 for a grey one; on `sample`."""
    if captured.ndim != 3 or captured.shape[2] < 3:
        return 0.0
    b, g, r = cv2.split(sample(captured[..., :3]))
    span = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
    return cv2.countNonZero(cv2.compare(span, CHROMA, cv2.CMP_GT)) / span.size


def flat_share(x: np.ndarray) -> float:
    """The share of a model input (float32 grey in [0, 1]) lying in flat 3 x 3 patches."""
    kernel = np.ones((3, 3), np.uint8)
    span = cv2.dilate(x, kernel) - cv2.erode(x, kernel)
    return cv2.countNonZero(cv2.compare(span, FLAT_SPAN, cv2.CMP_LT)) / span.size


def one_grey_share(grey: np.ndarray) -> float:
    """How far the most common level of a uint8 grey picture stands out: its share, less the share of the `NEAR` levels
    either side of it together (below 0 for speckle); on `sample`."""
    few = sample(grey)
    hist = cv2.calcHist([few], [0], None, [256], [0, 256])[:, 0] / few.size
    level = int(hist.argmax())
    near = hist[max(0, level - NEAR) : level + NEAR + 1].sum() - hist[level]
    return float(hist[level] - near)


def not_bmode(captured: np.ndarray, grey: np.ndarray, x: np.ndarray) -> list[str]:
    """Why a frame is no B-mode ultrasound, from its B-mode area as captured (BGR, or grey), in grey, and the model's
    input from it: "colour", "flat", "one_grey"; empty for a B-mode picture."""
    reasons = []
    if colour_share(captured) > MAX_COLOUR:
        reasons.append("colour")
    if flat_share(x) > MAX_FLAT:
        reasons.append("flat")
    if one_grey_share(grey) > MAX_ONE_GREY:
        reasons.append("one_grey")
    return reasons


class FrozenCheck:
    """Counts a stream's frames whose model input equals the one before; frozen from the `FROZEN_FRAMES`-th on."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._still = 0

    def __call__(self, x: np.ndarray) -> bool:
        same = (
            self._last is not None
            and self._last.shape == x.shape
            and cv2.norm(x, self._last, cv2.NORM_L1) < (STILL * x.size)
        )
        self._still = self._still + 1 if same else 0
        self._last = x.copy()
        return self._still + 1 >= FROZEN_FRAMES

    def reset(self) -> None:
        self._last, self._still = None, 0
