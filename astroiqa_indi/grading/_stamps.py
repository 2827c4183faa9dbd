"""Star stamps resampled to a fixed grid, scaled to the frame's star size."""

from __future__ import annotations

import numpy as np

__all__ = ["STAMP_SIZE", "cut_stamps", "stamp_side"]

STAMP_SIZE = 32
# A stamp spans this many half-flux radii, so the same network serves 1"/px and 4"/px.
_SIDE_PER_R50 = 7.0


def stamp_side(r50_median: float) -> float:
    """Side of the square cut around each star, in pixels of the frame."""
    return float(np.clip(_SIDE_PER_R50 * r50_median, 8.0, 160.0))


def cut_stamps(
    sub: np.ndarray, x: np.ndarray, y: np.ndarray, side: float, *, size: int = STAMP_SIZE
) -> np.ndarray:
    """Bilinearly resample ``size`` x ``size`` stamps centred on each star.

    Parameters
    ----------
    sub
        Background-subtracted frame.
    x, y
        Star centres (pixels, 0-based, sep convention).
    side
        Stamp side in frame pixels.

    Returns
    -------
    ndarray, shape (n, size, size), float32
        Each stamp clipped to its 1st-99.5th percentiles and scaled to [0, 1].
    """
    n = x.size
    if n == 0:
        return np.zeros((0, size, size), np.float32)
    grid = ((np.arange(size) + 0.5) / size - 0.5) * side
    cols = x[:, None] + grid[None, :]
    rows = y[:, None] + grid[None, :]
    h, w = sub.shape
    c0 = np.clip(np.floor(cols).astype(np.intp), 0, w - 2)
    r0 = np.clip(np.floor(rows).astype(np.intp), 0, h - 2)
    fc = np.clip(cols - c0, 0.0, 1.0).astype(np.float32)
    fr = np.clip(rows - r0, 0.0, 1.0).astype(np.float32)
    r0e, c0e = r0[:, :, None], c0[:, None, :]
    top = sub[r0e, c0e] * (1 - fc[:, None, :]) + sub[r0e, c0e + 1] * fc[:, None, :]
    bot = sub[r0e + 1, c0e] * (1 - fc[:, None, :]) + sub[r0e + 1, c0e + 1] * fc[:, None, :]
    stamps = top * (1 - fr[:, :, None]) + bot * fr[:, :, None]
    flat = stamps.reshape(n, -1)
    lo = np.percentile(flat, 1.0, axis=1)[:, None]
    hi = np.percentile(flat, 99.5, axis=1)[:, None]
    scaled = np.clip((flat - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0)
    return scaled.reshape(n, size, size).astype(np.float32)
