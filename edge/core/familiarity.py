"""Is a frame like the images its model was trained on? A few statistics of the model's input, against their range
over the training images (`input_reference.json` beside the model): a frame outside it is `unfamiliar`.

The statistics see what a scanner's settings and screen change (gain, dynamic range, saturation, speckle size, where
the echo lies) and are blind to anatomy, so they flag a frame the model has no business reading (a blank or flat
screen, gain turned far up, heavy noise) and let an unseen scanner's ordinary frames through.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.core import strict_json
from edge.core.values import number

#: the file beside a model that holds its training images' statistics
REFERENCE_FILE = "input_reference.json"

#: statistic name -> what it measures on the model's input (grey in [0, 1])
STATISTICS = {
    "brightness": "mean grey",
    "contrast": "standard deviation of the grey",
    "dark": "share of near-black pixels (under 5 % grey)",
    "bright": "share of near-white pixels (over 90 % grey)",
    "texture": "mean step between neighbouring columns, per unit of contrast (speckle size, blur)",
    "echo_depth": "where the echo's centre lies, as a share of the image's depth",
}

ENDS = ("low", "high")  #: the bounds of each statistic's range in the file
#: how far beyond the training images' range a statistic may go, as a share of that range, and at least
WIDEN, FLOOR = 0.5, 0.01

#: the values each statistic can take at all (the range is cut to them: a bound beyond them would never fire)
POSSIBLE = (np.zeros(len(STATISTICS)), np.array([1.0, 0.5, 1.0, 1.0, np.inf, 1.0]))


def input_statistics(x: np.ndarray) -> np.ndarray:
    """`STATISTICS` of one model input: float32 (H, W) grey in [0, 1], as `edge.core.preprocess` makes it."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    mean, std = (float(v[0, 0]) for v in cv2.meanStdDev(x))
    n = x.size
    dark = cv2.countNonZero(cv2.compare(x, 0.05, cv2.CMP_LT)) / n
    bright = cv2.countNonZero(cv2.compare(x, 0.9, cv2.CMP_GT)) / n
    step = float(cv2.norm(x[:, 1:], x[:, :-1], cv2.NORM_L1)) / (x.shape[0] * (x.shape[1] - 1))
    texture = step / std if std > 1e-6 else 0.0
    rows = cv2.reduce(x, 1, cv2.REDUCE_AVG)[:, 0]
    total = float(rows.sum())
    depth = float(np.dot(rows, np.arange(len(rows))) / total / max(len(rows) - 1, 1)) if total > 0 else 0.0
    return np.array([mean, std, dark, bright, texture, depth], np.float64)


class InputReferenceError(ValueError):
    """An input reference file that cannot be read."""


@dataclass(frozen=True)
class InputReference:
    """The range each of `STATISTICS` may take: the training images' range, widened (see `from_statistics`)."""

    low: tuple[float, ...]
    high: tuple[float, ...]
    images: int  #: training images the range was taken from
    source: str = ""  #: what they were (a run, a split)

    @classmethod
    def from_statistics(
        cls, train: np.ndarray, val: np.ndarray | None = None, source: str = "", images: int | None = None
    ) -> InputReference:
        """The training inputs' (N, len(STATISTICS)) statistics' range, widened by `WIDEN` of itself (at least
        `FLOOR`) on each side, and further where a validation image (never trained on) lies beyond that, so no
        validation image is flagged; cut to the `POSSIBLE` values. `images`: how many training images the N rows
        come from (default N)."""
        train = np.asarray(train, np.float64).reshape(-1, len(STATISTICS))
        if not len(train):
            raise ValueError("an input reference needs at least one training image")
        lo, hi = train.min(axis=0), train.max(axis=0)
        margin = np.maximum(WIDEN * (hi - lo), FLOOR)
        lo, hi = lo - margin, hi + margin
        if val is not None and len(val):
            val = np.asarray(val, np.float64).reshape(-1, len(STATISTICS))
            lo, hi = np.minimum(lo, val.min(axis=0)), np.maximum(hi, val.max(axis=0))
        lo, hi = np.maximum(lo, POSSIBLE[0]), np.minimum(hi, POSSIBLE[1])
        return cls(tuple(map(float, lo)), tuple(map(float, hi)), images or len(train), source)

    def outside(self, stats: np.ndarray) -> list[str]:
        """The statistics of `stats` (from `input_statistics`) outside the range, by name."""
        return [
            name for name, v, lo, hi in zip(STATISTICS, stats, self.low, self.high, strict=True) if not lo <= v <= hi
        ]

    def to_dict(self) -> dict:
        return {
            "what": "the model's training images' input statistics: a frame outside this range is flagged unfamiliar",
            "images": self.images,
            "source": self.source,
            "statistics": {
                name: {"low": math.floor(lo * 1e6) / 1e6, "high": math.ceil(hi * 1e6) / 1e6, "meaning": meaning}
                for (name, meaning), lo, hi in zip(STATISTICS.items(), self.low, self.high, strict=True)
            },
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(strict_json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> InputReference:
        """InputReferenceError naming the file and what is wrong with it: every bound a finite number within what its
        statistic can be (an infinite one would turn the check off unseen), low <= high, a whole number of images."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            stats = data["statistics"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputReferenceError(f"{path}: not an input reference ({type(exc).__name__}: {exc})") from None
        try:
            bounds = [
                tuple(number(stats[name][end], f"{name} {end}", low=lo, high=hi, low_open=False) for end in ENDS)
                for name, lo, hi in zip(STATISTICS, *POSSIBLE, strict=True)
            ]
            images = number(data["images"], "images", low=1, low_open=False)
        except (KeyError, TypeError) as exc:
            raise InputReferenceError(f"{path}: not an input reference ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:
            raise InputReferenceError(f"{path}: {exc}") from None
        if not images.is_integer():
            raise InputReferenceError(f"{path}: images must be a whole number, got {data['images']!r}")
        if any(lo > hi for lo, hi in bounds):
            raise InputReferenceError(f"{path}: an input reference needs ranges with low <= high")
        low, high = zip(*bounds, strict=True)
        return cls(low, high, int(images), str(data.get("source", "")))


def reference_beside(model_path: str | Path) -> InputReference | None:
    """The input reference in the model's folder, None where there is none (then no frame is flagged unfamiliar)."""
    path = Path(model_path).with_name(REFERENCE_FILE)
    return InputReference.load(path) if path.is_file() else None


def describe_reference(reference: InputReference | None) -> str:
    """What a runtime checks frames against for `unfamiliar`, in a line."""
    bmode = "flagged unfamiliar when not live B-mode (colour, flat graphics or text, frozen)"
    if reference is None:
        return f"{bmode}; not checked for familiarity (no input reference: input_reference.json beside the model)"
    return f"{bmode} or outside the input statistics of {reference.source or f'{reference.images} images'}"
