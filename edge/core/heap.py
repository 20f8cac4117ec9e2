"""Keep freed memory in the process for the next frame instead of handing it back to the kernel.

Every frame allocates and frees the same few megabytes (grey frame, upsampled maps, overlay). By default
glibc returns large freed blocks to the kernel, so the next frame page-faults them back in, zeroed; on this
project's VM that doubled the whole-frame time (23 ms -> 10.5 ms with the setting below). The cost is that
the process keeps its peak heap (tens of MB).
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


@functools.cache
def keep_freed_memory() -> bool:
    """Tune glibc's malloc for steady per-frame allocations; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return False
    if mallopt is None:
        return False
    settings = ((_M_MMAP_THRESHOLD, MMAP_THRESHOLD), (_M_TRIM_THRESHOLD, TRIM_THRESHOLD), (_M_TOP_PAD, TOP_PAD))
    return all(mallopt(param, value) == 1 for param, value in settings)
