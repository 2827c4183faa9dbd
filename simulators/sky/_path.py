"""The path a star image follows on the sensor during one exposure.

The path is sampled at equal time steps, so each sample carries the same
share of the star's light. Its components are linear in their amplitudes,
which lets :func:`~simulators.sky.conditions_for` scale a drawn path to an
exact trail length.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ._conditions import Conditions

__all__ = ["N_PATH", "path_kernel", "tracking_path", "trail_length"]

N_PATH = 512
FloatArray = NDArray[np.float64]


def _unit(angle_deg: float) -> FloatArray:
    a = np.deg2rad(angle_deg)
    return np.array([np.cos(a), np.sin(a)])


def tracking_path(cond: Conditions, n: int = N_PATH) -> FloatArray:
    """Positions of a star image during the exposure.

    Parameters
    ----------
    cond
        Exposure conditions (drift, periodic error, wind, zig-zag, jump).
    n
        Number of equally spaced time samples.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` array of ``(x, y)`` offsets in pixels.
    """
    t = (np.arange(n) + 0.5) / n * cond.exposure_s
    frac = t / cond.exposure_s
    pos = np.zeros((n, 2))
    pos += np.outer((frac - 0.5) * cond.drift_px, _unit(cond.drift_angle_deg))
    if cond.pe_amplitude_px > 0:
        pe = cond.pe_amplitude_px * np.sin(2 * np.pi * t / cond.pe_period_s + cond.pe_phase)
        pos += np.outer(pe, _unit(cond.ra_angle_deg))
    if cond.zigzag_amplitude_px > 0:
        phase = t / cond.zigzag_period_s + 0.25
        tri = 4 * np.abs(phase - np.floor(phase + 0.5)) - 1  # triangle wave in [-1, 1]
        pos += np.outer(cond.zigzag_amplitude_px * tri, _unit(cond.zigzag_angle_deg))
    if cond.jump_px > 0:
        after = (frac > cond.jump_time_frac).astype(float)
        pos += np.outer(after * cond.jump_px, _unit(cond.jump_angle_deg))
    if cond.wind_rms_px > 0:
        rng = np.random.default_rng(cond.path_seed)
        dt = cond.exposure_s / n
        rho = np.exp(-dt / max(cond.wind_timescale_s, 1e-3))
        white = rng.standard_normal((n, 2))
        # gusts: the shake comes and goes during the exposure
        envelope = 0.4 + np.abs(np.cumsum(rng.standard_normal(n))) / np.sqrt(n)
        ar = np.empty_like(white)
        ar[0] = white[0]
        scale = np.sqrt(1 - rho**2)
        for i in range(1, n):
            ar[i] = rho * ar[i - 1] + scale * white[i]
        ar *= envelope[:, None]
        # a mount rocks mostly about one axis: anisotropic shake
        ar[:, 1] *= cond.wind_ratio
        c, s = np.cos(np.deg2rad(cond.wind_angle_deg)), np.sin(np.deg2rad(cond.wind_angle_deg))
        ar = ar @ np.array([[c, s], [-s, c]])
        ar -= ar.mean(axis=0)
        rms = np.sqrt((ar**2).sum(axis=1).mean())
        if rms > 0:
            pos += ar * (cond.wind_rms_px / rms)
    return pos


def trail_length(path: FloatArray) -> float:
    """Largest distance between two samples of ``path`` (pixels)."""
    if path.shape[0] < 2:
        return 0.0
    # The diameter of a point set is attained between convex-hull vertices.
    pts = np.unique(np.round(path, 9), axis=0)
    if pts.shape[0] > 8:
        from scipy.spatial import ConvexHull, QhullError

        with contextlib.suppress(QhullError):  # all on a line: keep them all
            pts = pts[ConvexHull(pts).vertices]
    d = pts[:, None, :] - pts[None, :, :]
    return float(np.sqrt((d**2).sum(axis=2).max()))


def path_kernel(path: FloatArray) -> tuple[FloatArray, int]:
    """The path as a normalised convolution kernel.

    Samples are spread bilinearly on the pixel grid around the path's mean.

    Returns
    -------
    kernel, half
        Square kernel of side ``2*half+1`` whose centre pixel is the mean position.
    """
    rel = path - path.mean(axis=0)
    half = int(np.ceil(np.abs(rel).max())) + 1
    size = 2 * half + 1
    x = rel[:, 0] + half
    y = rel[:, 1] + half
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx = x - x0
    fy = y - y0
    kern = np.zeros(size * size)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            np.add.at(kern, (y0 + dy) * size + (x0 + dx), wx * wy)
    kern /= kern.sum()
    return kern.reshape(size, size), half
