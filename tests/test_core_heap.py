"""edge.core.heap: glibc keeps freed per-frame memory for reuse, and gives it back after a frame over full HD."""

import platform

from edge.core.heap import (
    LARGE_FRAME_PIXELS,
    MMAP_THRESHOLD,
    give_back_after_frame,
    give_back_freed_memory,
    keep_freed_memory,
)


def test_glibc_accepts_the_settings():
    if platform.libc_ver()[0] != "glibc":
        assert keep_freed_memory() is False
        return
    assert keep_freed_memory() is True
    assert MMAP_THRESHOLD >= 6_220_800  # a 1920x1080 BGR frame comes from the reused heap


def test_memory_is_given_back_only_after_a_frame_over_full_hd():
    glibc = platform.libc_ver()[0] == "glibc"
    assert give_back_freed_memory() is glibc
    assert LARGE_FRAME_PIXELS == 1920 * 1080
    assert give_back_after_frame(1920 * 1080) is False
    assert give_back_after_frame(2048 * 2048) is glibc
