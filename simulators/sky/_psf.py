"""Point-spread functions and vectorised star stamps.

Every profile is tabulated once as intensity against ``rho = r / FWHM`` for a
PSF of FWHM 1 and unit flux; a PSF of FWHM ``F`` is ``table(r / F) / F**2``.
Elongation (optical aberration, short tracking paths) is applied by evaluating
the profile at a Mahalanobis radius ``sqrt(d^T A d)`` so a round profile
becomes an elliptical one with the same radial shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

__all__ = ["Profile", "StampBatch", "deposit_stamps", "profile", "r50_over_fwhm"]

FloatArray = NDArray[np.float64]

# rho grid: fine in the core, coarse in the wings, out to 60 FWHM.
_RHO = np.concatenate([np.linspace(0, 4, 801), np.geomspace(4.01, 60, 400)])
# Fast lookup table over rho^2 (nearest sample, 2000 per unit rho^2, to rho=20;
# the last entry is 0 so everything beyond reads 0).
_TABLE_STEPS = 2000
_TABLE_RHO2_MAX = 400


@dataclass(frozen=True)
class Profile:
    """A tabulated, circularly symmetric PSF of FWHM 1 and unit flux.

    Attributes
    ----------
    rho
        Radius in units of the FWHM.
    value
        Surface brightness (flux per FWHM^2) at ``rho``.
    """

    rho: FloatArray
    value: FloatArray
    table: NDArray[np.float32]

    def lookup(self, rho2: NDArray[np.floating]) -> NDArray[np.float32]:
        """Surface brightness at squared radius ``rho2`` by nearest lookup (fast path)."""
        idx = rho2 * _TABLE_STEPS
        np.minimum(idx, self.table.size - 1, out=idx)
        return self.table[idx.astype(np.int32)]

    def __call__(self, rho: NDArray[np.floating]) -> NDArray[np.floating]:
        """Surface brightness at ``rho`` (0 beyond the table)."""
        return np.interp(rho, self.rho, self.value, right=0.0)

    def radius_where(self, level: FloatArray) -> FloatArray:
        """Largest ``rho`` at which the profile is still above ``level`` (per-star)."""
        # value is decreasing: search the reversed table.
        rev = self.value[::-1]
        idx = np.searchsorted(rev, level, side="left")
        idx = np.clip(len(rev) - idx, 0, len(rev) - 1)
        return self.rho[idx]


def _moffat(beta: float) -> FloatArray:
    alpha = 1.0 / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    return (beta - 1.0) / (np.pi * alpha**2) * (1.0 + (_RHO / alpha) ** 2) ** (-beta)


def _kolmogorov() -> FloatArray:
    # Long-exposure atmospheric PSF: OTF exp(-(k/k0)^(5/3)); radial profile by a
    # Hankel transform, then rescaled to FWHM 1.
    from scipy.special import j0

    k = np.linspace(0.0, 14.0, 1400)
    otf = np.exp(-(k ** (5.0 / 3.0)))
    r = np.linspace(0.0, 6.0, 1201)
    dk = k[1] - k[0]
    prof = 2 * np.pi * (j0(2 * np.pi * np.outer(r, k)) * (otf * k)).sum(axis=1) * dk
    half = prof[0] / 2
    i = int(np.argmax(prof < half))
    r_half = r[i - 1] + (prof[i - 1] - half) / (prof[i - 1] - prof[i]) * (r[i] - r[i - 1])
    rho = r / (2 * r_half)
    val = prof * (2 * r_half) ** 2
    # Wings follow r^(-11/3); the numerical transform gets noisy out there.
    out = np.interp(_RHO, rho, val)
    tail = _RHO > 3.0
    ref = np.interp(3.0, rho, val)
    out[tail] = ref * (_RHO[tail] / 3.0) ** (-11.0 / 3.0)
    out = np.maximum(out, 0.0)
    return out / _flux(out)


def _flux(value: FloatArray) -> float:
    return float(np.trapezoid(2 * np.pi * _RHO * value, _RHO))


def profile(kind: str, beta: float = 3.0) -> Profile:
    """The tabulated profile ``kind`` (``"moffat"`` with ``beta``, or ``"kolmogorov"``).

    ``beta`` is used for Moffat profiles only, rounded to 0.01.
    """
    return _profile(kind, round(beta, 2) if kind == "moffat" else 0.0)


@lru_cache(maxsize=256)
def _profile(kind: str, beta: float) -> Profile:
    if kind == "moffat":
        value = _moffat(beta)
    elif kind == "kolmogorov":
        value = _kolmogorov()
    elif kind == "gaussian":
        value = np.exp(-4 * np.log(2) * _RHO**2)
        value = value / _flux(value)
    elif kind == "exponential":  # galaxy disks: half maximum at rho = 0.5
        value = np.exp(-2 * np.log(2) * _RHO)
        value = value / _flux(value)
    else:
        raise ValueError(f"unknown PSF kind {kind!r}")
    # Truncation at rho=60 loses <0.1% of the flux of the heaviest wings.
    rho2 = (np.arange(_TABLE_STEPS * _TABLE_RHO2_MAX) + 0.5) / _TABLE_STEPS
    table = np.interp(np.sqrt(rho2), _RHO, value, right=0.0).astype(np.float32)
    table[-1] = 0.0
    return Profile(rho=_RHO, value=value, table=table)


def r50_over_fwhm(kind: str, beta: float = 3.0, *, rmax: float = 60.0) -> float:
    """Half-light radius in units of the FWHM, of the profile truncated at ``rmax`` FWHM."""
    prof = profile(kind, beta)
    rho = np.linspace(0.0, rmax, 60001)
    f = 2 * np.pi * rho * prof(rho)
    cum = np.concatenate([[0.0], np.cumsum((f[1:] + f[:-1]) / 2 * np.diff(rho))])
    return float(np.interp(0.5 * cum[-1], cum, rho))


@dataclass(frozen=True)
class StampBatch:
    """Point sources to draw with one profile.

    Attributes
    ----------
    x, y
        Centres in canvas pixel coordinates (pixel centres are integers).
    flux
        Total flux of each source (any unit; the canvas gets the same unit).
    shape
        ``(n, 3)`` array ``(a11, a12, a22)`` of the inverse shape matrix in units
        of FWHM^-2 so that ``rho^2 = a11 dx^2 + 2 a12 dx dy + a22 dy^2``.
    norm
        ``sqrt(det A)`` per source: the area factor that keeps the flux.
    radius
        Stamp half-size per source in pixels.
    """

    x: FloatArray
    y: FloatArray
    flux: FloatArray
    shape: FloatArray
    norm: FloatArray
    radius: NDArray[np.int64]


_BUCKETS = np.array([2, 3, 4, 6, 8, 11, 16, 22, 32, 45, 64, 90, 128, 180, 256, 362, 512])


def deposit_stamps(
    canvas_shape: tuple[int, int],
    batch: StampBatch,
    prof: Profile,
    *,
    subsample: int = 1,
    weights: FloatArray | None = None,
    chunk: int = 3_000_000,
) -> tuple[FloatArray, FloatArray | None]:
    """Evaluate every source's stamp and add them up on a canvas.

    Parameters
    ----------
    canvas_shape
        ``(height, width)`` in pixels.
    batch
        The sources.
    prof
        Radial profile.
    subsample
        Sub-pixel samples per axis, averaging the profile over each pixel
        (needed when the FWHM is only a few pixels).
    weights
        Optional per-source weights: a second canvas of the same stamps
        times the weights is returned (stellar colours).
    chunk
        Upper bound on evaluated samples per vectorised step (memory).

    Returns
    -------
    canvas, weighted
        ``(height, width)`` float64 images, same unit as ``flux`` per pixel;
        ``weighted`` is ``None`` without ``weights``.
    """
    h, w = canvas_shape
    out = np.zeros(h * w, dtype=np.float64)
    out_w = np.zeros(h * w, dtype=np.float64) if weights is not None else None
    if batch.x.size == 0:
        return out.reshape(h, w), None if out_w is None else out_w.reshape(h, w)
    bucket = _BUCKETS[np.minimum(np.searchsorted(_BUCKETS, batch.radius), len(_BUCKETS) - 1)]
    s = subsample
    sub = (np.arange(s) + 0.5) / s - 0.5
    # bincount over the whole canvas costs a full-size pass: batch the flushes.
    pend_i: list[NDArray[np.int64]] = []
    pend_v: list[FloatArray] = []
    pend_w: list[FloatArray] = []
    pending = 0

    def flush() -> None:
        idx = np.concatenate(pend_i)
        val = np.concatenate(pend_v)
        out[:] += np.bincount(idx, val, h * w)
        if out_w is not None:
            out_w[:] += np.bincount(idx, val * np.concatenate(pend_w), h * w)

    for r in np.unique(bucket):
        idx = np.nonzero(bucket == r)[0]
        off = np.arange(-r, r + 1)
        n_pix = off.size**2
        per = max(1, chunk // (n_pix * s * s))
        oy, ox = np.meshgrid(off, off, indexing="ij")
        # sample offsets relative to the pixel centre, shape (P, S)
        sy = (oy.reshape(-1, 1) + np.repeat(sub, s)[None, :]).astype(np.float64)
        sx = (ox.reshape(-1, 1) + np.tile(sub, s)[None, :]).astype(np.float64)
        for start in range(0, idx.size, per):
            j = idx[start : start + per]
            cx = np.rint(batch.x[j])
            cy = np.rint(batch.y[j])
            fx = (cx - batch.x[j])[:, None, None]
            fy = (cy - batch.y[j])[:, None, None]
            dx = sx[None] + fx
            dy = sy[None] + fy
            a = batch.shape[j]
            rho2 = (
                a[:, 0, None, None] * dx * dx
                + 2 * a[:, 1, None, None] * dx * dy
                + a[:, 2, None, None] * dy * dy
            )
            val = prof.lookup(rho2).mean(axis=2, dtype=np.float64)
            val *= (batch.flux[j] * batch.norm[j])[:, None]
            px = cx[:, None].astype(np.int64) + ox.reshape(1, -1)
            py = cy[:, None].astype(np.int64) + oy.reshape(1, -1)
            ok = (px >= 0) & (px < w) & (py >= 0) & (py < h)
            pend_i.append((py * w + px)[ok])
            pend_v.append(val[ok])
            if weights is not None:
                pend_w.append(np.broadcast_to(weights[j][:, None], ok.shape)[ok])
            pending += pend_i[-1].size
            if pending > 4 * chunk:
                flush()
                pend_i, pend_v, pend_w, pending = [], [], [], 0
    if pend_i:
        flush()
    return out.reshape(h, w), None if out_w is None else out_w.reshape(h, w)
