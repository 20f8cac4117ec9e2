"""edge's own subcommands; each module defines ``register(subparsers)``.

The options several commands share (the model, its interpreter threads and delegate, the B-mode ROI)
are declared here, once, for every command that takes them (firmware_bridge's too).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.core.values import parse_threads

if TYPE_CHECKING:
    from edge.core.roi import Box


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def int_range(where: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{where} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{where} must be {low} to {high}, got {value}")
        return value

    parse.__name__ = where  # argparse names the type in its messages
    return parse


def threads_arg(text: str) -> int:
    """argparse type: `parse_threads`."""
    try:
        return parse_threads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_model_option(parser: argparse.ArgumentParser, what: str = "a .tflite model") -> None:
    """--model PATH (default: the bundled int8 model)."""
    help_text = f"{what} (default: the bundled int8 model)"
    parser.add_argument("--model", type=Path, default=None, metavar="PATH", help=help_text)


def add_model_options(parser: argparse.ArgumentParser, threads_default: str = "1") -> None:
    """--model PATH, --threads N|all and --delegate edgetpu: what `edge.live.pipeline.FramePipeline` takes."""
    add_model_option(parser)
    parser.add_argument(
        "--threads",
        type=threads_arg,
        default=threads_arg(threads_default),
        metavar="N|all",
        help=f"interpreter threads: a number, or 'all' for every core (default {threads_default})",
    )
    parser.add_argument(
        "--delegate",
        choices=["edgetpu"],
        default=None,
        help="run on a Coral Edge TPU (needs an Edge TPU-compiled model)",
    )


def add_roi_option(parser: argparse.ArgumentParser, default: str = "detected", parsed: bool = False) -> None:
    """--roi x,y,w,h|auto: where `parsed`, a `Box` or None (detect) from argparse (`roi_arg`), else the text, parsed
    by `parse_roi` in the handler (a bad ROI is a one-line error there)."""
    parser.add_argument(
        "--roi",
        type=roi_arg if parsed else None,
        default=None,
        metavar="x,y,w,h",
        help=f"B-mode area as x,y,w,h in frame pixels, or 'auto' (default: {default})",
    )


def parse_roi(text: str | None) -> Box | None:
    """The --roi value as a `edge.core.roi.Box`; None for no value or 'auto' (detect it)."""
    from edge.core.roi import Box

    return None if not text or text == "auto" else Box.parse(text)


def roi_arg(text: str) -> Box | None:
    """argparse type: `parse_roi`."""
    try:
        return parse_roi(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
