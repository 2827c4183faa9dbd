"""``tune_malloc``: glibc takes the settings; elsewhere it is a harmless no-op."""

from __future__ import annotations

import platform

import numpy as np

from astroiqa_indi import tune_malloc


def test_tune_malloc_is_taken_by_glibc_and_idempotent() -> None:
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert tune_malloc() is glibc
    assert tune_malloc() is glibc
    # Large blocks still allocate, fill and free normally afterwards.
    for _ in range(3):
        block = np.ones((4176, 6248), np.float32)
        assert float(block.sum(dtype=np.float64)) == block.size
        del block
