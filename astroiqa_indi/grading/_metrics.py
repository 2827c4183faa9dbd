"""Interpretable frame metrics: the classical cuts' inputs and the table's core."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from astroiqa_indi.grading._sources import SourceSet, fwhm_from_radii
from astroiqa_indi.grading._verdict import FrameMetrics

__all__ = ["MeasuredFrame", "measure", "sky_structure"]

_GRID = 8


@dataclass(frozen=True, slots=True)
class MeasuredFrame:
    """Metrics plus the extra per-frame statistics that only the table uses."""

    metrics: FrameMetrics
    density_cv: float
    flux_cv: float
    sky_residual: float
    fwhm_minor_px: float | None
    sky_ratio: float | None
    gradient_raw: float
    has_bias: bool
    pair_fraction: float
    pair_separation_px: float


def _box3(padded: np.ndarray) -> np.ndarray:
    """3x3 box sum of an array padded by one cell on each side."""
    h, w = padded.shape[0] - 2, padded.shape[1] - 2
    out = np.zeros((h, w), dtype=np.float64)
    for i in range(3):
        for j in range(3):
            out += padded[i : i + h, j : j + w]
    return out


def sky_structure(data: np.ndarray, *, bias: float = 0.0) -> tuple[float, float, float]:
    """Large-scale sky statistics from a coarse grid of cell medians.

    Parameters
    ----------
    bias
        Camera bias (ADU) subtracted before taking ratios: the product's G is a
        fraction of the sky, not of sky plus the camera's offset.

    Returns
    -------
    median, gradient, residual
        Median sky above ``bias`` (ADU); peak-to-peak of the smoothed cell map over
        that median (the product's G); rms of the map after removing a plane, over
        the median (patchy clouds leave structure a plane cannot explain).
    """
    return _grid_stats(_sky_grid(data), bias)


def _sky_grid(data: np.ndarray) -> np.ndarray:
    """An 8x8 map of cell sky levels (a 1x1 map of the median for tiny frames)."""
    h, w = data.shape
    step = max(1, int(min(h, w) // 512))
    view = data[::step, ::step]
    ch, cw = view.shape[0] // _GRID, view.shape[1] // _GRID
    if ch < 2 or cw < 2:
        return np.array([[float(np.median(view))]])
    cells = view[: ch * _GRID, : cw * _GRID].reshape(_GRID, ch, _GRID, cw)
    # The 30th percentile rejects stars and nebulosity better than the median.
    return np.percentile(cells.transpose(0, 2, 1, 3).reshape(_GRID, _GRID, -1), 30, axis=2)


def _grid_stats(grid: np.ndarray, bias: float) -> tuple[float, float, float]:
    """Median, gradient and plane residual of a sky map above ``bias``."""
    if grid.shape != (_GRID, _GRID):
        return float(grid[0, 0]) - bias, 0.0, 0.0
    # 3x3 box smoothing, edges replicated: noise in single cells is not a gradient.
    smooth = _box3(np.pad(grid, 1, mode="edge")) / 9.0 - bias
    grid = grid - bias
    med = float(np.median(grid))
    # A sky at or below the bias (a bad bias value, a dark frame) has no meaningful ratio.
    scale = max(abs(med), 1.0)
    gradient = float(np.ptp(smooth)) / scale
    yy, xx = np.mgrid[0:_GRID, 0:_GRID]
    design = np.column_stack([np.ones(_GRID * _GRID), xx.ravel(), yy.ravel()])
    coef, *_ = np.linalg.lstsq(design, grid.ravel(), rcond=None)
    residual = float(np.std(grid.ravel() - design @ coef)) / scale
    return med, gradient, residual


def _cell_cv(
    x: np.ndarray, y: np.ndarray, values: np.ndarray | None, shape: tuple[int, int]
) -> float:
    """Coefficient of variation across a 4x4 grid of star counts (or median fluxes)."""
    if x.size < 16:
        return 0.0
    h, w = shape
    ix = np.clip((x / w * 4).astype(int), 0, 3)
    iy = np.clip((y / h * 4).astype(int), 0, 3)
    cell = iy * 4 + ix
    if values is None:
        counts = np.bincount(cell, minlength=16).astype(float)
        return float(np.std(counts) / max(np.mean(counts), 1e-9))
    meds = [np.median(values[cell == c]) for c in range(16) if np.any(cell == c)]
    if len(meds) < 4:
        return 0.0
    logs = np.log10(np.maximum(meds, 1e-9))
    return float(np.std(logs))


def pair_statistics(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """How many stars share one nearest-neighbour offset: the signature of double images.

    A jump of the mount during the exposure repeats every star at the same offset; in
    a random field nearest-neighbour offsets scatter. Offsets are folded so that the
    pair (a, b) and (b, a) agree.

    Returns
    -------
    fraction, separation
        Fraction of stars whose nearest-neighbour offset falls in the most common
        2-pixel cell (and its 8 neighbours), and that offset's length in pixels.
    """
    if x.size < 8:
        return 0.0, 0.0
    points = np.column_stack([x, y])
    _, nearest = cKDTree(points).query(points, k=2)
    offset = points[nearest[:, 1]] - points
    flip = (offset[:, 0] < 0) | ((offset[:, 0] == 0) & (offset[:, 1] < 0))
    offset[flip] *= -1
    keep = np.all(np.abs(offset) < 64, axis=1)
    if keep.sum() < 4:
        return 0.0, 0.0
    bins = np.arange(-64, 66, 2)
    hist, xe, ye = np.histogram2d(offset[keep, 0], offset[keep, 1], bins=[bins, bins])
    summed = _box3(np.pad(hist, 1))
    i, j = np.unravel_index(int(np.argmax(summed)), summed.shape)
    inside = offset[keep]
    inside = inside[
        (inside[:, 0] >= xe[max(i - 1, 0)])
        & (inside[:, 0] < xe[min(i + 2, xe.size - 1)])
        & (inside[:, 1] >= ye[max(j - 1, 0)])
        & (inside[:, 1] < ye[min(j + 2, ye.size - 1)])
    ]
    separation = float(np.median(np.hypot(inside[:, 0], inside[:, 1]))) if inside.size else 0.0
    return float(summed[i, j] / x.size), separation


def measure(
    data: np.ndarray,
    sources: SourceSet,
    *,
    pixel_scale_arcsec: float | None,
    max_fwhm_arcsec: float | None,
    nominal_sky_adu: float | None,
    bias_adu: float | None = None,
) -> MeasuredFrame:
    """Interpretable metrics of one frame from its sources and sky."""
    grid = _sky_grid(data)  # once: the percentile map is the costly part
    raw_sky, gradient_raw, raw_residual = _grid_stats(grid, 0.0)
    if bias_adu is not None:
        sky, gradient, residual = _grid_stats(grid, bias_adu)
    else:
        sky, gradient, residual = raw_sky, gradient_raw, raw_residual
    n_kept = sources.n_kept
    fwhm_px = ecc = ecc_iqr = elong = coh = pa = fwhm_minor = None
    if n_kept:
        fwhm_each = fwhm_from_radii(sources.r25, sources.r50, sources.r75)
        fwhm_px = float(np.median(fwhm_each))
        ratio_ba = np.clip(sources.b / sources.a, 0.0, 1.0)
        ecc_each = np.sqrt(1.0 - ratio_ba**2)
        ecc = float(np.median(ecc_each))
        ecc_iqr = float(np.subtract(*np.percentile(ecc_each, [75, 25])))
        elong = float(np.median(sources.a / sources.b))
        # Mean resultant length of 2*theta, weighted by ellipticity: tracking errors
        # elongate every star the same way, optical aberrations do so radially.
        weight = (sources.a - sources.b) / (sources.a + sources.b)
        phasor = np.sum(weight * np.exp(2j * sources.theta))
        total = float(np.sum(weight))
        coh = float(abs(phasor) / total) if total > 0 else 0.0
        pa = float(np.degrees(0.5 * np.angle(phasor))) % 180.0
        # Width across the elongation: the seeing, even when stars trail.
        fwhm_minor = float(np.median(fwhm_each * np.sqrt(sources.b / sources.a)))
    fwhm_arcsec = fwhm_px * pixel_scale_arcsec if fwhm_px and pixel_scale_arcsec else None
    fwhm_ratio = fwhm_arcsec / max_fwhm_arcsec if fwhm_arcsec and max_fwhm_arcsec else None
    n_det = max(sources.n_detected, 1)
    sky_ratio = sky / nominal_sky_adu if nominal_sky_adu else None
    metrics = FrameMetrics(
        n_sources=sources.n_detected,
        n_stars=n_kept,
        fwhm_px=fwhm_px,
        fwhm_arcsec=fwhm_arcsec,
        eccentricity=ecc,
        eccentricity_spread=ecc_iqr,
        elongation=elong,
        orientation_coherence=coh,
        position_angle_deg=pa,
        saturated_fraction=sources.n_saturated / n_det if sources.n_detected else 0.0,
        background=raw_sky,
        background_rms=sources.background_rms,
        gradient=gradient,
        fwhm_ratio=fwhm_ratio,
    )
    pair_fraction, pair_separation = pair_statistics(sources.all_x, sources.all_y)
    return MeasuredFrame(
        metrics=metrics,
        pair_fraction=pair_fraction,
        pair_separation_px=pair_separation,
        density_cv=_cell_cv(sources.all_x, sources.all_y, None, data.shape),
        flux_cv=_cell_cv(sources.all_x, sources.all_y, sources.all_flux, data.shape),
        sky_residual=residual,
        fwhm_minor_px=fwhm_minor,
        sky_ratio=sky_ratio,
        gradient_raw=gradient_raw,
        has_bias=bias_adu is not None,
    )
