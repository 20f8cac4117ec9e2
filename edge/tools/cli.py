"""`tlfseg`: one console script, one subcommand per job.

Subcommands are plug-ins: a module with ``register(subparsers)`` that adds its parser and sets
``handler``. edge's own live in `edge.tools.commands`; other packages (the training pipeline, the firmware
bridge) add theirs through the ``tlfseg.commands`` entry-point group, so edge never imports them.
Command modules import only argparse at module level; heavy imports happen inside handlers, where a
missing extra becomes a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import signal
import sys
import threading
from importlib.metadata import entry_points

from edge.tools.errors import CommandError

#: top-level module -> the extra that provides it
EXTRA_OF = {
    "numpy": "edge",
    "cv2": "edge",
    "ai_edge_litert": "edge",
    "tensorflow": "train",
    "tf_keras": "train",
    "tensorflow_model_optimization": "train",
    "matplotlib": "train",
    "serial": "bridge",
    "picamera2": "pi",
    "pydicom": "dicom",
    "highdicom": "dicom",
    "pynetdicom": "pacs",
    "pyigtl": "igtl",
    "requests": "label",
}


def _register_all(sub) -> None:
    import edge.tools.commands

    for info in sorted(pkgutil.iter_modules(edge.tools.commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"edge.tools.commands.{info.name}").register(sub)
    for ep in sorted(entry_points(group="tlfseg.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except ImportError:  # a plug-in package that is not installed in this environment
            continue


def build_parser() -> argparse.ArgumentParser:
    from edge import __version__

    parser = argparse.ArgumentParser(
        prog="tlfseg",
        description="Thoracolumbar fascia segmentation in ultrasound video, on small offline boards.",
    )
    parser.add_argument("--version", action="version", version=f"tlfseg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_all(sub)
    return parser


def missing_extra_message(exc: ModuleNotFoundError, command: str) -> str | None:
    top = (exc.name or "").split(".")[0]
    extra = EXTRA_OF.get(top)
    if extra is None:
        return None
    return f"tlfseg {command} needs the '{extra}' extra ({top} is not installed): pip install 'tlfseg[{extra}]'"


#: options whose value may start with a minus sign (argparse would take "-10,-10,100,100" for an option)
_SIGNED_VALUES = ("--roi",)


def _attach_signed_values(argv: list[str]) -> list[str]:
    """["--roi", "-10,-10,100,100"] -> ["--roi=-10,-10,100,100"], so the value reaches its own check."""
    out: list[str] = []
    for word in argv:
        if out and out[-1] in _SIGNED_VALUES and word.startswith("-") and word[1:2].isdigit():
            out[-1] = f"{out[-1]}={word}"
        else:
            out.append(word)
    return out


def _as_ctrl_c(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. SIGTERM is taken first thing, before anything is imported or built, and ends a command as
    Ctrl-C does (exit 130); a command may handle it its own way once it is running (`tlfseg run`'s loop, the bridge)."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _as_ctrl_c) if main_thread else None
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(_attach_signed_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        return int(args.handler(args) or 0)
    except ModuleNotFoundError as exc:
        message = missing_extra_message(exc, args.command)
        if message is None:
            raise
        print(message, file=sys.stderr)
        return 2
    except (CommandError, ValueError, OSError, RuntimeError) as exc:
        print(f"tlfseg {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
