"""Process tuning for a relay that runs for months on two cores: glibc's arenas, OpenCV's
thread pool, and handing freed memory back to the system."""

from __future__ import annotations

import contextlib
import ctypes

# How often the relay hands freed memory back to the system (see release_free_memory).
TRIM_INTERVAL_S = 600.0


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Fewer glibc arenas: every decoder, encoder and privacy thread would otherwise get its
    own, and freed memory stays spread over them (RSS creeping up in the soak). Call before
    threads start; the same as MALLOC_ARENA_MAX=2."""
    m_arena_max = -8
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(m_arena_max, arenas)


def limit_opencv_threads() -> None:
    """OpenCV's own thread pool: off. Every feed already has threads of its own, and on two
    cores OpenCV's workers made resizes up to 2x slower by competing with them."""
    import cv2

    cv2.setNumThreads(1)


def release_free_memory() -> None:
    """Give memory that glibc keeps after peers come and go back to the system."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
