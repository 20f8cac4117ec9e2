"""The machine a number was measured on: CPU, the instruction-set features that set int8 speed, packages."""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

#: the instruction-set features that decide int8 and float speed (x86: FMA, AVX-512, VNNI; ARM: dot product, i8mm)
SPEED_FLAGS = {"avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "asimd", "asimddp", "i8mm", "sve"}


def machine_info() -> dict:
    """Where the numbers were taken: CPU model and the features that set its speed (`SPEED_FLAGS`), cores,
    Python, package versions, load at the start."""
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip().lower(), value.strip())
    except OSError:
        pass
    flags = (info.get("flags") or info.get("features") or "").split()
    cpu = info.get("model name") or info.get("hardware") or platform.processor() or platform.machine()
    board = info.get("model") if not info.get("model", "").isdigit() else None  # a Pi names its board here
    packages = {}
    for name in ("tlfseg", "ai-edge-litert", "tflite-runtime", "numpy", "opencv-python-headless", "opencv-python"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "cpu": cpu,
        "isa_flags": sorted(set(flags) & SPEED_FLAGS),
        "board": board,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": packages,
        "load_average_1min_at_start": round(load, 2) if load is not None else None,
    }
