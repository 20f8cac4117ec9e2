"""Shared fixtures for the whole suite.

- ``real_data_dir``: the shared real data set (../shared/data/dl_track_apo from the project root,
  with ``images/`` and ``masks/``); tests that use it are skipped, with the reason, where it is absent.
- ``phantom``: the default synthetic phantom (`edge.live.phantom.Phantom()`); ``phantom.frame(i)`` gives a
  BGR screen capture with exact labels and ROI.
- ``bundled_engine``: one `edge.core.engine.Engine` on the bundled int8 model for the whole session
  (load it once; do not change its state).
- ``real_layouts``: the real images grouped by scanner layout, {(width, height): [paths]}.
- ``no_edgetpu_runtime``: skips a test (checking the error for a missing Edge TPU runtime) where
  libedgetpu loads.
- ``clinic_cli``, ``recordings`` (tests/clinic_support.py): `tlfseg` with the clinic commands, small recordings.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest
from clinic_support import clinic_cli, recordings  # noqa: F401  (fixtures, shared with every clinic test)

from edge.core.paths import DL_TRACK_APO

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REAL_DATA = DL_TRACK_APO  #: edge.core.paths: the one rule for where it lives


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "images").is_dir() or not (REAL_DATA / "masks").is_dir():
        pytest.skip(f"real data set not found at {REAL_DATA} (needs images/ and masks/)")
    return REAL_DATA


@pytest.fixture(scope="session")
def phantom():
    from edge.live.phantom import Phantom

    return Phantom()


@pytest.fixture(scope="session")
def bundled_engine():
    from edge.core.engine import Engine

    return Engine()


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's header, without decoding the image."""
    head = path.read_bytes()[:24]
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


@pytest.fixture(scope="session")
def real_layouts(real_data_dir) -> dict[tuple[int, int], list[Path]]:
    """The real images grouped by capture size (width, height), each list sorted by name."""
    layouts: dict[tuple[int, int], list[Path]] = {}
    for path in sorted((real_data_dir / "images").glob("*.png")):
        layouts.setdefault(png_size(path), []).append(path)
    return layouts


@pytest.fixture
def no_edgetpu_runtime() -> None:
    """Skip where the Edge TPU runtime is installed: the test checks the error for its absence."""
    from edge.core.interpreter import EDGETPU_LIBRARY

    try:
        ctypes.CDLL(EDGETPU_LIBRARY)
    except OSError:
        return
    pytest.skip(f"the Edge TPU runtime ({EDGETPU_LIBRARY}) is installed here")
