"""edge.core.heap: glibc keeps freed per-frame memory for reuse."""

import platform

from edge.core.heap import MMAP_THRESHOLD, keep_freed_memory


def test_glibc_accepts_the_settings():
    if platform.libc_ver()[0] != "glibc":
        assert keep_freed_memory() is False
        return
    assert keep_freed_memory() is True
    assert MMAP_THRESHOLD >= 6_220_800  # a 1920x1080 BGR frame comes from the reused heap
