"""One interpreter factory for every caller: ai-edge-litert, else tflite-runtime, else tensorflow.lite."""

from __future__ import annotations

import ctypes
import importlib
from collections.abc import Callable
from typing import Any

#: Backends in order of preference: (name, module, attribute holding load_delegate).
_BACKENDS = (
    ("ai-edge-litert", "ai_edge_litert.interpreter"),
    ("tflite-runtime", "tflite_runtime.interpreter"),
    ("tensorflow.lite", "tensorflow.lite"),  # last resort on a workstation; never needed on a board
)

EDGETPU_LIBRARY = "libedgetpu.so.1"


class BackendMissing(RuntimeError):
    """No LiteRT interpreter package is installed."""


def load_backend() -> tuple[str, Any, Callable[..., Any]]:
    """Return (name, Interpreter class, load_delegate) of the first installed backend."""
    for name, module in _BACKENDS:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if name == "tensorflow.lite":
            return name, mod.Interpreter, mod.experimental.load_delegate
        return name, mod.Interpreter, mod.load_delegate
    raise BackendMissing(
        "no LiteRT interpreter found: install the edge extra (pip install 'tlfseg[edge]'), "
        "or tflite-runtime on boards without ai-edge-litert wheels"
    )


def make_interpreter(model_path: str, threads: int | None = 1, delegate: str | None = None):
    """Build an interpreter for `model_path`; ``delegate="edgetpu"`` loads the Coral Edge TPU delegate.

    Returns (interpreter, backend name). Raises RuntimeError naming what is missing for a delegate.
    """
    name, interpreter_cls, load_delegate = load_backend()
    delegates = []
    if delegate == "edgetpu":
        try:
            ctypes.CDLL(EDGETPU_LIBRARY)  # probe: a Delegate whose library fails to load prints a traceback on GC
            delegates.append(load_delegate(EDGETPU_LIBRARY))
        except (OSError, ValueError, RuntimeError) as exc:
            raise RuntimeError(
                f"Edge TPU delegate unavailable: {EDGETPU_LIBRARY} could not be loaded ({exc}); "
                "install the Edge TPU runtime (libedgetpu1-std) and plug in the Coral device"
            ) from None
    elif delegate is not None:
        raise ValueError(f"unknown delegate {delegate!r} (supported: 'edgetpu')")
    interpreter = interpreter_cls(model_path=model_path, num_threads=threads, experimental_delegates=delegates or None)
    return interpreter, name
