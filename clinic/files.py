"""Files written whole or not at all, and never over another file: under a temporary name beside the target, flushed
to disk, then linked to their name only where that name is free."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: what a file system without hard links (FAT or exFAT on a USB stick) answers `link` with
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK}


def part(path: Path) -> Path:
    """Where `path` is written until it is whole: `.NAME.<pid>.part` beside it (two processes writing the same name
    never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}.part")


def _commit(tmp: Path, path: Path) -> None:
    """`tmp`, written, flushed to disk and given the name `path` too (a reader sees all of it or nothing).
    FileExistsError when `path` exists, even one made a moment ago by another process: nothing is written over."""
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    taken = FileExistsError(errno.EEXIST, "taken while it was written (nothing is written over)", str(path))
    try:
        os.link(tmp, path)  # fails where `path` exists, atomically
    except FileExistsError:
        raise taken from None
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if path.exists():  # without hard links: checked, then renamed (a narrow window, on such disks only)
            raise taken from None
        os.replace(tmp, path)


@contextmanager
def written(path: Path) -> Iterator[Path]:
    """The temporary file to write `path`'s content to; given its name when the block ends (FileExistsError where
    the name is taken), and removed in any case."""
    tmp = part(path)
    try:
        yield tmp
        _commit(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def refuse_existing(*paths: Path | None) -> None:
    """ValueError naming those of `paths` that exist: a user's file is never written over."""
    taken = [str(p) for p in paths if p is not None and p.exists()]
    if taken:
        raise ValueError(f"{', '.join(taken)} already exists: give a name that is not taken (nothing is written over)")
