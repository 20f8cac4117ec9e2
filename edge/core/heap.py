"""The heap across frames, one policy for the live loop and the bridge: freed memory is kept while frames keep coming,
and given back where keeping it is not worth it.

Kept: every frame allocates and frees the same few megabytes per megapixel (grey frame, upsampled maps, overlay). By
default glibc returns large freed blocks to the kernel, so the next frame page-faults them back in, zeroed; on this
project's VM that doubled the whole-frame time (23 ms -> 10.5 ms with `keep_freed_memory`). The cost is that the
process keeps its peak heap (tens of MB: about 40 MB for a stream of 1920x1080 grey frames, 70 MB for 2048x2048).

Given back (`give_back_freed_memory`): after a frame over `LARGE_FRAME_PIXELS`, so that a rare large frame does not
leave a long-running process (the bridge) at its peak, at the price of page faults on every frame of a stream that
large; and when a stream ends while the process goes on (a bridge session). The live loop, one stream of one size for
the life of its process, keeps its heap until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

# mallopt parameters (glibc malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
MMAP_THRESHOLD = 32 << 20  #: blocks up to this size come from the reusable heap (glibc's maximum on 64-bit)
TRIM_THRESHOLD = 512 << 20  #: free heap kept before giving memory back to the kernel
TOP_PAD = 64 << 20  #: extra heap grown at once
LARGE_FRAME_PIXELS = 1920 * 1080  #: frames up to full HD keep their freed memory for the next frame


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (it has mallopt and malloc_trim); None elsewhere."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and libc.mallopt and libc.malloc_trim else None
    except (OSError, AttributeError):
        return None


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's malloc for steady per-frame allocations; False where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD))
    return all(libc.mallopt(param, value) == 1 for param, value in settings)


def give_back_freed_memory() -> bool:
    """Return the free heap to the system now (glibc's malloc_trim); False where the C library is not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def give_back_after_frame(pixels: int) -> bool:
    """After a frame of `pixels` has been answered and dropped: its freed memory given back if it was over
    `LARGE_FRAME_PIXELS` (True), else kept for the next frame."""
    return pixels > LARGE_FRAME_PIXELS and give_back_freed_memory()
