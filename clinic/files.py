"""Files written whole or not at all: under a temporary name beside the target, flushed to disk, then renamed."""

from __future__ import annotations

import os
from pathlib import Path


def part(path: Path) -> Path:
    """Where `path` is written until it is whole: `.NAME.part` beside it."""
    return path.with_name(f".{path.name}.part")


def commit(tmp: Path, path: Path) -> None:
    """`tmp`, written, flushed to disk and renamed to `path` (a reader sees all of it or nothing)."""
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def refuse_existing(*paths: Path | None) -> None:
    """ValueError naming those of `paths` that exist: a user's file is never written over."""
    taken = [str(p) for p in paths if p is not None and p.exists()]
    if taken:
        raise ValueError(f"{', '.join(taken)} already exists: give a name that is not taken (nothing is written over)")
