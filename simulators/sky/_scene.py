"""The astronomical scene on the canvas: stars, galaxies, the target, spikes.

Everything is drawn as exact sub-pixel stamps of the static PSF (with the
rig's field-dependent aberration and the cloud/vignetting transmission at
each source) onto a canvas that the tracking path is convolved with later.
Positions and brightnesses come from ``field_seed`` alone, so the same
target shows the same stars in every exposure of a night.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._psf import Profile, StampBatch, deposit_stamps, profile
from ._sky import sample_grid

if TYPE_CHECKING:
    from ._conditions import Conditions
    from ._rigs import Rig

__all__ = ["SIGMA1", "Field", "Stage", "draw_scene", "psf_cov", "shape_matrices", "star_field"]

FloatArray = NDArray[np.float64]
SIGMA1 = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))  # sigma of a FWHM-1 Gaussian
FIELD_MARGIN = 256  # stars are drawn this far beyond the frame (trails reach in)
_MAX_FLUX_RATIO = 1e5  # brightest / faintest star (12.5 mag)
_MAX_DENSITY_AREA = 80.0  # px^2 per star at most
_COLOUR_SPREAD = 0.5  # rms of the stars' colour index (R up, B down)


@dataclass(frozen=True)
class Field:
    """Sources of a frame in frame pixel coordinates; fluxes in electrons at T = 1."""

    x: FloatArray
    y: FloatArray
    flux: FloatArray
    colour: FloatArray
    gal: tuple[FloatArray, ...]  # x, y, flux, size (FWHM px), b/a, position angle (rad)
    target: tuple[FloatArray, ...]  # same layout, 0 or 2 rows (disk, bulge)
    spike_angle: float


@dataclass(frozen=True)
class Stage:
    """Where and how sources land on the canvas.

    Attributes
    ----------
    rig, fwhm
        Hardware and static PSF FWHM (px).
    width, height, x0, y0
        The frame and its origin on the sensor.
    pad
        Canvas margin on each side (the path kernel's half size).
    offset
        Mean of the tracking path (px), added to every position.
    extra
        PSF covariance added (short paths) or removed (bilinear path spread),
        ``(c11, c12, c22)`` px^2.
    trans_vig
        Transparency x vignetting on the frame's node grid.
    sigma_e
        Sky noise per pixel (electrons).
    """

    rig: Rig
    fwhm: float
    width: int
    height: int
    x0: int
    y0: int
    pad: int
    offset: FloatArray
    extra: FloatArray
    trans_vig: FloatArray
    sigma_e: float

    @property
    def canvas_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the canvas."""
        return self.height + 2 * self.pad, self.width + 2 * self.pad

    def transmission(self, x: FloatArray, y: FloatArray) -> FloatArray:
        """Clouds x vignetting at frame positions."""
        return sample_grid(self.trans_vig, x, y, self.width, self.height)


def shape_matrices(cov: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Inverse shape matrices ``A`` (FWHM units), ``sqrt(det A)`` and ``lambda_min(A)``."""
    c11, c12, c22 = cov[:, 0], cov[:, 1], cov[:, 2]
    det = c11 * c22 - c12**2
    s2 = SIGMA1**2
    a = np.stack([c22, -c12, c11], axis=1) * (s2 / det)[:, None]
    norm = s2 / np.sqrt(det)
    half_tr = (a[:, 0] + a[:, 2]) / 2
    lam_min = half_tr - np.sqrt(((a[:, 0] - a[:, 2]) / 2) ** 2 + a[:, 1] ** 2)
    return a, norm, lam_min


def psf_cov(stage: Stage, x: FloatArray, y: FloatArray) -> FloatArray:
    """Per-source PSF covariance (px^2): radial aberration growing to the corners."""
    rig = stage.rig
    sx = x + stage.x0 - rig.width / 2
    sy = y + stage.y0 - rig.height / 2
    sig2 = (stage.fwhm * SIGMA1) ** 2
    r2 = (sx**2 + sy**2) / ((rig.width / 2) ** 2 + (rig.height / 2) ** 2)
    q2 = (1.0 + rig.aberration * r2) ** 2
    phi = np.arctan2(sy, sx)
    c, s = np.cos(phi), np.sin(phi)
    cov = np.stack(
        [sig2 * (q2 * c * c + s * s), sig2 * (q2 - 1) * c * s, sig2 * (q2 * s * s + c * c)], axis=1
    )
    return cov + stage.extra[None, :]


def _ellipse_cov(size: FloatArray, ba: FloatArray, pa: FloatArray) -> FloatArray:
    c, s = np.cos(pa), np.sin(pa)
    a2 = (size * SIGMA1) ** 2
    b2 = a2 * ba**2
    return np.stack([a2 * c * c + b2 * s * s, (a2 - b2) * c * s, a2 * s * s + b2 * c * c], axis=1)


def star_field(cond: Conditions, *, width: int, height: int, fwhm: float, f_min: float) -> Field:
    """Draw the frame's sources from ``cond.field_seed``.

    ``f_min`` is the faintest star's flux (electrons); fluxes follow
    ``N(>f) ~ f**-star_slope`` up to 12.5 magnitudes brighter.
    """
    rng = np.random.default_rng(cond.field_seed)
    w, h, m = width, height, FIELD_MARGIN
    # a small crop keeps a sky-like density: at most one star per 80 px^2
    n_frame = min(cond.n_stars, w * h / _MAX_DENSITY_AREA)
    n_all = round(n_frame * (w + 2 * m) * (h + 2 * m) / (w * h))
    x = rng.uniform(-m, w + m, n_all)
    y = rng.uniform(-m, h + m, n_all)
    u = rng.random(n_all)
    flux = f_min * np.minimum((1.0 - u) ** (-1.0 / cond.star_slope), _MAX_FLUX_RATIO)
    n = cond.n_galaxies
    gal = (
        rng.uniform(0, w, n),
        rng.uniform(0, h, n),
        f_min * np.exp(rng.uniform(np.log(5), np.log(300), n)),
        fwhm * rng.uniform(1.2, 4.0, n),
        rng.uniform(0.25, 1.0, n),
        rng.uniform(0, np.pi, n),
    )
    colour = rng.normal(0.0, _COLOUR_SPREAD, n_all)
    spike_angle = float(rng.uniform(0, np.pi / 2))
    tx, ty = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    if cond.target_size_px > 0:
        size = cond.target_size_px
        pa = np.deg2rad(cond.target_pa_deg)
        target = (
            np.array([tx, tx]),
            np.array([ty, ty]),
            np.array([1.0, 0.25]),  # relative; scaled to target_snr when drawn
            np.array([size, max(0.12 * size, 1.0)]),
            np.array([cond.target_ba, min(1.0, cond.target_ba * 1.5)]),
            np.array([pa, pa]),
        )
    else:
        empty = np.zeros(0)
        target = (empty, empty, empty, empty, empty, empty)
    return Field(x, y, flux, colour, gal, target, spike_angle)


def _stamps(
    stage: Stage,
    x: FloatArray,
    y: FloatArray,
    flux: FloatArray,
    cov: FloatArray,
    prof: Profile,
    *,
    max_radius: int = 180,
    min_radius: int = 2,
) -> tuple[StampBatch, NDArray[np.bool_]]:
    shape, norm, lam_min = shape_matrices(cov)
    level = 0.05 * stage.sigma_e / np.maximum(flux * norm, 1e-30)
    rho = prof.radius_where(level)
    radius = np.ceil(rho / np.sqrt(lam_min)).astype(np.int64) + 1
    radius = np.clip(radius, min_radius, max_radius)
    cx = x + stage.pad + stage.offset[0]
    cy = y + stage.pad + stage.offset[1]
    hc, wc = stage.canvas_shape
    keep = (cx + radius >= 0) & (cx - radius < wc) & (cy + radius >= 0) & (cy - radius < hc)
    keep &= flux > 0.02 * stage.sigma_e
    return StampBatch(cx[keep], cy[keep], flux[keep], shape[keep], norm[keep], radius[keep]), keep


def draw_scene(
    stage: Stage, cond: Conditions, field: Field, *, colour: bool
) -> tuple[FloatArray, FloatArray | None, FloatArray]:
    """Draw all sources on the canvas.

    Returns
    -------
    canvas, colour_canvas, star_flux
        Electrons per pixel; the same weighted by each source's colour index
        (``None`` for mono rigs); and each star's flux after transmission.
    """
    prof = profile(cond.psf_kind, cond.moffat_beta)
    fwhm = stage.fwhm
    flux_t = field.flux * stage.transmission(field.x, field.y)
    subsample = 3 if fwhm < 2.5 else 2 if fwhm < 5 else 1
    batch, keep = _stamps(
        stage,
        field.x,
        field.y,
        flux_t,
        psf_cov(stage, field.x, field.y),
        prof,
        min_radius=max(2, int(1.5 * fwhm)),
    )
    weights = field.colour[keep] if colour else None
    canvas, col = deposit_stamps(
        stage.canvas_shape, batch, prof, subsample=subsample, weights=weights
    )

    parts: list[tuple[FloatArray, FloatArray, FloatArray, FloatArray, str, int]] = []
    gx, gy, gflux, gsize, gba, gpa = field.gal
    if gx.size:
        cov = _ellipse_cov(gsize, gba, gpa) + psf_cov(stage, gx, gy)
        parts.append((gx, gy, gflux * stage.transmission(gx, gy), cov, "exponential", 128))
    tx, ty, trel, tsize, tba, tpa = field.target
    if tx.size:
        # disk central surface brightness = target_snr x sky noise; a compact bulge
        cov = _ellipse_cov(tsize, tba, tpa) + psf_cov(stage, tx, ty)
        _, norm, _ = shape_matrices(cov[:1])
        disk = cond.target_snr * stage.sigma_e / (norm[0] * profile("exponential").value[0])
        parts.append((tx, ty, trel * disk * stage.transmission(tx, ty), cov, "exponential", 512))
    for x, y, f, cov, kind, rmax in parts:
        b, _ = _stamps(stage, x, y, f, cov, profile(kind), max_radius=rmax, min_radius=3)
        canvas += deposit_stamps(stage.canvas_shape, b, profile(kind), subsample=1)[0]
    if stage.rig.spikes:
        canvas += _spikes(stage, field, flux_t)
    return canvas, col, flux_t


def _spikes(stage: Stage, field: Field, flux_t: FloatArray) -> FloatArray:
    """Diffraction spikes of a four-vane spider on the brightest stars."""
    rig = stage.rig
    peak = flux_t / (stage.fwhm**2 * 1.1)  # rough peak of a round PSF, electrons
    bright = np.nonzero(peak > 0.3 * rig.full_well_e)[0]
    bright = bright[np.argsort(flux_t[bright])[::-1][:25]]
    hc, wc = stage.canvas_shape
    if bright.size == 0:
        return np.zeros((hc, wc))
    x, y, f = field.x[bright], field.y[bright], flux_t[bright]
    # length grows with the square root of the excess over saturation
    length = stage.fwhm * np.clip(np.sqrt(peak[bright] / rig.full_well_e) * 4, 3, 60)
    width = np.full_like(length, 0.35 * stage.fwhm)
    xs, ys, fs, covs = [], [], [], []
    for angle in (field.spike_angle, field.spike_angle + np.pi / 2):
        cov = _ellipse_cov(length, width / length, np.full_like(length, angle))
        xs.append(x)
        ys.append(y)
        fs.append(0.01 * f)
        covs.append(cov)
    prof = profile("moffat", 1.3)
    b, _ = _stamps(
        stage,
        np.concatenate(xs),
        np.concatenate(ys),
        np.concatenate(fs),
        np.concatenate(covs),
        prof,
        max_radius=128,
    )
    return deposit_stamps(stage.canvas_shape, b, prof, subsample=1)[0]
