"""Tune glibc's allocator for a process that grades large frames again and again.

Grading a 26 MP frame allocates a few 50-100 MB arrays (decoded pixels, the grader's
float32 copy, sep's work buffers). With glibc's defaults each of them is a fresh
``mmap``: every page is faulted in and zeroed by the kernel, and unmapped again when
the array dies. Worker threads make it worse, because their arenas cannot hold
blocks that large at all, so the kernel's work lands on the agent's grading thread
and varies from frame to frame. Serving such blocks from one heap that is kept (not
trimmed) makes the second and later frames reuse pages already mapped
(``python -m bench.verdict_latency`` with and without ``--default-malloc``).

The cost is memory held: the process keeps its peak heap instead of returning it to
the system between frames (``python -m bench.verdict_latency`` prints the peak RSS).
"""

from __future__ import annotations

import ctypes
import logging
import platform
from typing import Final

__all__ = ["tune_malloc"]

log = logging.getLogger(__name__)

# <malloc.h>
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
_M_ARENA_MAX: Final = -8

_KEEP_BELOW: Final = 1 << 30  # blocks under 1 GiB come from the heap, not mmap
_TRIM_ABOVE: Final = (1 << 31) - 1  # mallopt takes an int: its largest value

_tuned = False


def tune_malloc() -> bool:
    """Serve large blocks from one untrimmed heap; True if glibc took the settings.

    Call once, early, in a process that grades many frames (``watch``, ``demo``,
    ``grade``). Elsewhere than glibc (musl, macOS) it does nothing and returns False.
    Calling it again is harmless.
    """
    global _tuned
    if _tuned:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # One arena: blocks freed by one grading thread are reused by the next frame's,
    # whichever thread grades it.
    ok = all(
        mallopt(option, value) == 1
        for option, value in (
            (_M_ARENA_MAX, 1),
            (_M_MMAP_THRESHOLD, _KEEP_BELOW),
            (_M_TRIM_THRESHOLD, _TRIM_ABOVE),
        )
    )
    if not ok:
        log.info("glibc refused an allocator setting; large frames are mmapped per use")
    _tuned = ok
    return ok
