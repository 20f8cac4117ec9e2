"""The C reference's programs for tests and benchmarks, built by `firmware_bridge/c/Makefile` (which holds every
compiler flag): a program of a variant is ``BUILD/VARIANT/PROGRAM``, made by asking make for that path."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

C_DIR = Path(__file__).resolve().parents[1] / "c"
SANITIZED = {"native": "san", "m32": "m32-san"}  #: a variant's build with the sanitizers


class CUnavailable(RuntimeError):
    """The C reference cannot be built here for the asked target (no make or compiler, no 32-bit libraries)."""


@dataclass(frozen=True)
class CBuild:
    exe: Path
    target: str  #: "64-bit" or "32-bit"
    sanitizers: bool  #: built with AddressSanitizer and UndefinedBehaviorSanitizer


def make_program(build: Path, variant: str, program: str, **variables: str) -> Path:
    """`program` (test_vectors, decode_timing) of `variant` (native, m32, san, m32-san, fast) under `build`;
    `variables` override the Makefile's (SRC: another folder of tlfseg_proto.c/.h). CUnavailable with the first error
    line where it cannot be built."""
    if shutil.which("make") is None:
        raise CUnavailable("no make on this machine")
    exe = build.resolve() / variant / program
    settings = [f"{name}={value}" for name, value in {"BUILD": build.resolve(), **variables}.items()]
    done = subprocess.run(["make", "-s", "-C", str(C_DIR), *settings, str(exe)], capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("make: ***")]
        lines = lines or [f"make exited with {done.returncode}"]
        raise CUnavailable(next((line for line in lines if "error:" in line), lines[0]))
    return exe


def build_c(build: Path, target: str = "64-bit", sanitize: bool = True) -> CBuild:
    """The vector test program for `target`, with the sanitizers where `sanitize` and the toolchain has them.

    CUnavailable names the reason where the target cannot be built at all."""
    plain = "m32" if target == "32-bit" else "native"
    variants = ([SANITIZED[plain]] if sanitize else []) + [plain]
    for variant in variants:
        try:
            return CBuild(make_program(build, variant, "test_vectors"), target, variant.endswith("san"))
        except CUnavailable as exc:
            error = exc
    if target == "32-bit":
        raise CUnavailable(f"cannot build for 32-bit (install gcc-multilib): {error}")
    raise CUnavailable(f"the C reference does not build: {error}")
