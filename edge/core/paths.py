"""Where the shared real data set lives: one rule for the runtime, the training pipeline, benchmarks and tests."""

from __future__ import annotations

import os
from pathlib import Path

#: the project checkout this package runs from (edge/core/paths.py -> the root), when it is one
_CHECKOUT = Path(__file__).resolve().parents[2]


def shared_data(name: str = "dl_track_apo") -> Path:
    """``$TLFSEG_DATA/NAME`` where set, else ``../shared/data/NAME`` beside the project checkout; an installed
    package (no checkout around it) looks beside the working directory instead."""
    if os.environ.get("TLFSEG_DATA"):
        return Path(os.environ["TLFSEG_DATA"]) / name
    root = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() else Path.cwd()
    return root.parent / "shared" / "data" / name


#: the aponeurosis set every published number is measured on
DL_TRACK_APO = shared_data()
