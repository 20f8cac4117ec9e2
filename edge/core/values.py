"""One check for every number a user gives, on the command line or in a preset: finite, of the right type, in range.
A value that fails is refused in one line naming the value and where it came from."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable

#: capture settings, on the command line (--fps, --width, --height) and in a preset's "source" alike
SOURCE_LIMITS = {
    "fps": {"low": 0.1, "low_open": False, "high": 1000.0},
    "width": {"low": 1, "low_open": False, "high": 16384},
    "height": {"low": 1, "low_open": False, "high": 16384},
}

#: what a scanner's calibration can be: pixel spacings from high-frequency (1 um) to deep abdominal imaging (5 mm a
#: pixel), depth settings from 1 mm to 50 cm; on the command line, in presets and in the bridge's CONFIG alike
CALIBRATION_LIMITS = {
    "mm_per_px": {"low": 0.001, "low_open": False, "high": 5.0},
    "depth_mm": {"low": 1.0, "low_open": False, "high": 500.0},
}


def number(
    value, where: str, *, low: float = 0.0, high: float = math.inf, low_open: bool = True, high_open: bool = False
) -> float:
    """`value` as a finite float from `low` to `high`, by default in (low, high] (`low_open` and `high_open` say
    whether each end is left out); ValueError naming `where`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{where} must be a number, got {value!r}")
    try:
        x = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{where} must be a number, got {value!r}") from None
    inside = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
    if not math.isfinite(x) or not inside:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(f"{where} must be a finite number in {interval}, got {value!r}")
    return x


def arg(where: str, **limits) -> Callable[[str], float]:
    """An argparse type: `number` of the option's text."""

    def parse(text: str) -> float:
        try:
            return number(text, where, **limits)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = where  # argparse names the type in its messages
    return parse


def parse_threads(text: str) -> int:
    """A thread count >= 1, or 'all' for every core; ValueError otherwise."""
    text = text.strip()
    if text == "all":
        return os.cpu_count() or 1
    try:
        n = int(text)
    except ValueError:
        raise ValueError(f"threads must be a number or 'all', got {text!r}") from None
    cores = os.cpu_count() or 1
    if not 1 <= n <= cores:
        raise ValueError(f"threads must be 1 to {cores} (the cores of this machine) or 'all', got {n}")
    return n
