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


_PAIR_POINTS = 400  # brightest sources used: the pair count grows as its square
_PAIR_RADIUS_PX = 96.0  # longest jump looked for (capped at a third of the frame)
_PAIR_MIN_PX = 4.0  # closer images blend into one source: an elongation, not a pair
_PAIR_BIN_PX = 2.0


def pair_statistics(
    x: np.ndarray,
    y: np.ndarray,
    *,
    flux: np.ndarray | None = None,
    shape: tuple[int, int] | None = None,
) -> tuple[float, float]:
    """How many stars repeat at one offset: the signature of double images.

    A jump of the mount during the exposure repeats every star at the same offset.
    All pairs of the brightest sources closer than the search radius are binned by
    their offset (folded, so that (a, b) and (b, a) agree); in a random field the
    pairs spread evenly over the offsets, a double image piles half the stars into
    one cell. Nearest neighbours alone miss jumps longer than the typical distance
    between stars, which rich fields make short.

    Returns
    -------
    fraction, separation
        Pairs in the fullest 6x6 px cell beyond those a random field puts there, per
        source used (about 0.5 for a double image of every star, near 0 otherwise),
        and that cell's offset length in pixels.
    """
    if x.size < 8:
        return 0.0, 0.0
    if flux is not None and x.size > _PAIR_POINTS:
        brightest = np.argsort(flux)[::-1][:_PAIR_POINTS]
        x, y = x[brightest], y[brightest]
    radius = _PAIR_RADIUS_PX
    if shape is not None:
        radius = max(min(radius, min(shape) / 3.0), 4 * _PAIR_MIN_PX)
    points = np.column_stack([x, y])
    pairs = cKDTree(points).query_pairs(radius, output_type="ndarray")
    if pairs.shape[0] < 4:
        return 0.0, 0.0
    offset = points[pairs[:, 1]] - points[pairs[:, 0]]
    flip = (offset[:, 1] < 0) | ((offset[:, 1] == 0) & (offset[:, 0] < 0))
    offset[flip] *= -1
    length = np.hypot(offset[:, 0], offset[:, 1])
    offset = offset[(length >= _PAIR_MIN_PX) & (length < radius)]
    if offset.shape[0] < 4:
        return 0.0, 0.0
    xbins = np.arange(-radius, radius + _PAIR_BIN_PX, _PAIR_BIN_PX)
    ybins = np.arange(0.0, radius + _PAIR_BIN_PX, _PAIR_BIN_PX)
    hist, xe, ye = np.histogram2d(offset[:, 0], offset[:, 1], bins=[xbins, ybins])
    summed = _box3(np.pad(hist, 1))
    i, j = np.unravel_index(int(np.argmax(summed)), summed.shape)
    # Pairs of a random field per 6x6 px cell: the half annulus holds them evenly.
    area = 0.5 * np.pi * (radius**2 - _PAIR_MIN_PX**2)
    expected = offset.shape[0] * (3 * _PAIR_BIN_PX) ** 2 / area
    lo_x, hi_x = xe[max(i - 1, 0)], xe[min(i + 2, xe.size - 1)]
    lo_y, hi_y = ye[max(j - 1, 0)], ye[min(j + 2, ye.size - 1)]
    inside = offset[
        (offset[:, 0] >= lo_x)
        & (offset[:, 0] < hi_x)
        & (offset[:, 1] >= lo_y)
        & (offset[:, 1] < hi_y)
    ]
    separation = float(np.median(np.hypot(inside[:, 0], inside[:, 1]))) if inside.size else 0.0
    excess = max(float(summed[i, j]) - expected, 0.0)
    return excess / x.size, separation


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
    pair_fraction, pair_separation = pair_statistics(
        sources.all_x, sources.all_y, flux=sources.all_flux, shape=data.shape
    )
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
