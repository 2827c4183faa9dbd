"""Tiny seeded star fields with analytic PSFs, for tests that need no simulator."""

from __future__ import annotations

import numpy as np


def gaussian_field(
    *,
    shape: tuple[int, int] = (256, 256),
    n_stars: int = 60,
    sigma_x: float = 1.5,
    sigma_y: float = 1.5,
    angle_deg: float = 0.0,
    sky: float = 200.0,
    seed: int = 0,
    noise: bool = True,
    random_angles: bool = False,
) -> np.ndarray:
    """Elliptical Gaussian stars on a flat sky, Poisson-ish noise, float32."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.full(shape, sky, np.float64)
    xs = rng.uniform(20, w - 20, n_stars)
    ys = rng.uniform(20, h - 20, n_stars)
    fluxes = 10 ** rng.uniform(3.3, 4.3, n_stars)
    angles = rng.uniform(0, 180, n_stars) if random_angles else np.full(n_stars, angle_deg)
    for x0, y0, f, angle in zip(xs, ys, fluxes, angles, strict=True):
        c, s = np.cos(np.radians(angle)), np.sin(np.radians(angle))
        dx, dy = xx - x0, yy - y0
        u = c * dx + s * dy
        v = -s * dx + c * dy
        image += (
            f
            / (2 * np.pi * sigma_x * sigma_y)
            * np.exp(-0.5 * (u**2 / sigma_x**2 + v**2 / sigma_y**2))
        )
    if noise:
        image = rng.normal(image, np.sqrt(image))
    return image.astype(np.float32)
