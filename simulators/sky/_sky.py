"""Smooth fields of a frame: sky shape, cloud transparency, vignetting, nebula.

All smooth fields are evaluated on a coarse grid of nodes that spans the
frame corner to corner and are brought to full resolution by bilinear
interpolation (two small matrix products). The grid is in frame-relative
coordinates, so the sky shape, clouds and gradients do not depend on the
rendered size; only vignetting, fixed to the sensor, depends on the crop.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from ._conditions import Conditions
    from ._rigs import Rig

__all__ = [
    "TRUTH_NODES",
    "SkyGrid",
    "gradient_of",
    "nebula_grid",
    "sample_grid",
    "sky_grid",
    "upsample",
]

FloatArray = NDArray[np.float64]
TRUTH_NODES = 65


@dataclass(frozen=True)
class SkyGrid:
    """Smooth fields on ``n x n`` nodes spanning the frame.

    Attributes
    ----------
    shape
        Relative sky brightness before vignetting (1 + gradient + glow terms).
    trans
        Transparency screen (fraction of starlight that gets through).
    vig
        Vignetting (fraction of light the optics deliver).
    """

    shape: FloatArray
    trans: FloatArray
    vig: FloatArray

    @property
    def sky(self) -> FloatArray:
        """Final relative sky: shape times vignetting."""
        return self.shape * self.vig


def _coords(n: int, width: int, height: int) -> tuple[FloatArray, FloatArray]:
    # frame coordinates of the nodes in units of the long side, centred
    long = max(width, height)
    u = (np.linspace(0, 1, n) - 0.5) * width / long
    v = (np.linspace(0, 1, n) - 0.5) * height / long
    return u, v


def _projection(u: FloatArray, v: FloatArray, angle_deg: float) -> FloatArray:
    """Projection on a direction, rescaled to [-0.5, 0.5] over the frame."""
    a = np.deg2rad(angle_deg)
    p = np.cos(a) * u[None, :] + np.sin(a) * v[:, None]
    span = p.max() - p.min()
    return p / span if span > 0 else p * 0


def random_field(
    seed: int, n: int, width: int, height: int, scale: float, *, modes: int = 48, slope: float = 1.5
) -> FloatArray:
    """Smooth random field on the ``n x n`` grid of a frame, zero mean and unit rms.

    A sum of plane waves whose wavelengths spread around ``scale`` (in units of
    the frame's long side) with a power-law amplitude spectrum. Cached: the
    sampler and the renderer ask for the same screens many times.
    """
    aspect = round(width / max(width, height), 4), round(height / max(width, height), 4)
    return _random_field(seed, n, aspect, round(scale, 6), modes, slope)


@lru_cache(maxsize=128)
def _random_field(
    seed: int, n: int, aspect: tuple[float, float], scale: float, modes: int, slope: float
) -> FloatArray:
    u = (np.linspace(0, 1, n) - 0.5) * aspect[0]
    v = (np.linspace(0, 1, n) - 0.5) * aspect[1]
    rng = np.random.default_rng(seed)
    k = np.exp(rng.uniform(np.log(0.5 / scale), np.log(6.0 / scale), modes))
    ang = rng.uniform(0, 2 * np.pi, modes)
    phase = rng.uniform(0, 2 * np.pi, modes)
    amp = k ** (-slope) * rng.rayleigh(1.0, modes)
    # cos(a + b) expanded so the (n, n, modes) tensor becomes two small products.
    # einsum without BLAS: a fixed summation order, so worker processes render the
    # same bytes as the parent (BLAS may sum differently with other memory alignment).
    ax = 2 * np.pi * (k * np.cos(ang))[None, :] * u[:, None]
    ay = 2 * np.pi * (k * np.sin(ang))[None, :] * v[:, None] + phase
    f = np.einsum("im,jm->ij", np.cos(ay) * amp, np.cos(ax), optimize=False) - np.einsum(
        "im,jm->ij", np.sin(ay) * amp, np.sin(ax), optimize=False
    )
    f -= f.mean()
    rms = f.std()
    f = f / rms if rms > 0 else f
    f.flags.writeable = False
    return f


def transparency_screen(cond: Conditions, n: int, width: int, height: int) -> FloatArray:
    """Cloud transparency on the frame's ``n x n`` grid with mean ``cond.transparency``."""
    if cond.cloud_variation <= 0:
        return np.full((n, n), cond.transparency)
    f = random_field(cond.cloud_seed, n, width, height, cond.cloud_scale)
    screen = np.clip(cond.transparency * (1 + cond.cloud_variation * f), 0.0, 1.0)
    for _ in range(8):  # clipping moves the mean: pull it back
        screen = np.clip(screen + (cond.transparency - screen.mean()), 0.0, 1.0)
    return screen


def sky_grid(
    rig: Rig, cond: Conditions, *, width: int, height: int, x0: int, y0: int, n: int = TRUTH_NODES
) -> SkyGrid:
    """Sky shape, transparency and vignetting on ``n x n`` nodes of a frame.

    Parameters
    ----------
    rig, cond
        Hardware and conditions.
    width, height, x0, y0
        The rendered frame and its origin on the sensor, pixels.
    n
        Nodes per axis.
    """
    u, v = _coords(n, width, height)
    trans = transparency_screen(cond, n, width, height)
    shape = np.ones((n, n))
    if cond.gradient > 0:
        shape += cond.gradient * _projection(u, v, cond.gradient_angle_deg)
    if cond.moon_glow > 0:
        shape += cond.moon_glow * (_projection(u, v, cond.moon_angle_deg) + 0.5) ** 2
    if cond.cloud_glow > 0:
        shape += cond.cloud_glow * (1.0 - trans)
    # vignetting is fixed to the sensor: radius from the sensor centre
    xs = x0 + np.linspace(0, width, n)
    ys = y0 + np.linspace(0, height, n)
    r2 = ((xs[None, :] - rig.width / 2) ** 2 + (ys[:, None] - rig.height / 2) ** 2) / (
        (rig.width / 2) ** 2 + (rig.height / 2) ** 2
    )
    vig = 1.0 - cond.vignetting * r2
    return SkyGrid(shape=shape, trans=trans, vig=vig)


def gradient_of(sky: FloatArray) -> float:
    """``G``: peak-to-peak / median of a smooth sky grid."""
    return float((sky.max() - sky.min()) / np.median(sky))


def nebula_grid(cond: Conditions, *, width: int, height: int, n: int) -> FloatArray:
    """Nebula brightness on the grid, peak 1 (before ``cond.nebulosity``)."""
    f = random_field(cond.field_seed + 7, n, width, height, 0.35, modes=96, slope=1.2)
    g = random_field(cond.field_seed + 11, n, width, height, 0.08, modes=96, slope=0.8)
    # soft threshold of a large-scale field, modulated by finer structure:
    # patchy clouds with filamentary edges rather than a uniform haze
    neb = np.logaddexp(0.0, 2.5 * (f - 0.4)) * (1 + 0.35 * g).clip(0.2)
    return neb / neb.max()


def _interp_matrix(n_pix: int, n_nodes: int) -> NDArray[np.float32]:
    q = (np.arange(n_pix) + 0.5) / n_pix * (n_nodes - 1)
    i0 = np.clip(np.floor(q).astype(np.int64), 0, n_nodes - 2)
    f = q - i0
    m = np.zeros((n_pix, n_nodes), dtype=np.float32)
    rows = np.arange(n_pix)
    m[rows, i0] = 1 - f
    m[rows, i0 + 1] = f
    return m


def upsample(grid: FloatArray, height: int, width: int) -> NDArray[np.float32]:
    """Bilinear interpolation of a node grid to a ``height x width`` image."""
    my = _interp_matrix(height, grid.shape[0])
    mx = _interp_matrix(width, grid.shape[1])
    # einsum, not BLAS: the same bytes in every process (see _random_field).
    rows = np.einsum("ik,kl->il", my, grid.astype(np.float32), optimize=False)
    return np.einsum("il,jl->ij", rows, mx, optimize=False)


def sample_grid(
    grid: FloatArray, x: FloatArray, y: FloatArray, width: int, height: int
) -> FloatArray:
    """Bilinear value of a node grid at pixel positions (clamped to the frame)."""
    ny, nx = grid.shape
    qx = np.clip((x + 0.5) / width * (nx - 1), 0, nx - 1)
    qy = np.clip((y + 0.5) / height * (ny - 1), 0, ny - 1)
    ix = np.minimum(np.floor(qx).astype(np.int64), nx - 2)
    iy = np.minimum(np.floor(qy).astype(np.int64), ny - 2)
    fx = qx - ix
    fy = qy - iy
    return (
        grid[iy, ix] * (1 - fx) * (1 - fy)
        + grid[iy, ix + 1] * fx * (1 - fy)
        + grid[iy + 1, ix] * (1 - fx) * fy
        + grid[iy + 1, ix + 1] * fx * fy
    )
