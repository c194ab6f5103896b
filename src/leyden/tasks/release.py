"""Give a stopped task's memory back to the operating system (issue 16, bounded memory).

A task's per-group state (windows, buckets, alert states: 100,000 series are hundreds of MB)
is freed by reference counting once the task's nodes go, but the process's RSS barely moves:
CPython returns its small-object arenas only when they are wholly empty, and glibc keeps the
freed heap for reuse.  After a task stops, :func:`release_memory` collects the cycles and asks
glibc to hand the free pages back (``malloc_trim(0)``); elsewhere (musl, macOS) only the
collection runs.  Kapacitor (Go) leaves this to its runtime's scavenger; a stop is rare, so
the pause (a full collection) is paid by the stop, never by the per-point path.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

__all__ = ["release_memory"]


def _find_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_memory() -> None:
    """Collect garbage, then return the free heap to the OS where the C library can."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
