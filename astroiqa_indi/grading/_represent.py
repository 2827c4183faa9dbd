"""The network's two inputs: the representative image and the table.

Following Teimoorinia et al. (2020), each frame's star stamps are mapped onto a
trained SOM. The *representative image* is a mosaic with one cell per node
holding the median stamp of this frame's stars that landed there (empty cells
are zero); the *table* holds the node hit fractions plus interpretable metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from astroiqa_indi.grading._metrics import MeasuredFrame, measure
from astroiqa_indi.grading._som import SomCodebook
from astroiqa_indi.grading._sources import SourceSet, extract_sources
from astroiqa_indi.grading._stamps import STAMP_SIZE, cut_stamps, stamp_side

__all__ = [
    "CELL_SIZE",
    "METRIC_FEATURES",
    "Analysis",
    "analyse",
    "metric_vector",
    "mosaic",
    "represent",
]

CELL_SIZE = 16
METRIC_FEATURES: tuple[str, ...] = (
    "log_density",
    "log_n_sources",
    "log_n_stars",
    "fwhm_ratio",
    "minor_ratio",
    "has_scale",
    "log_fwhm_px",
    "eccentricity",
    "eccentricity_spread",
    "log_elongation",
    "orientation_coherence",
    "saturated_fraction",
    "gradient",
    "gradient_raw",
    "has_bias",
    "sky_residual",
    "log_sky_ratio",
    "has_nominal",
    "density_cv",
    "flux_cv",
    "log_sky_over_noise",
    "pair_fraction",
    "log_pair_separation",
)


@dataclass(frozen=True, slots=True)
class Analysis:
    """Everything measured on a frame before the SOM: sources, metrics, stamps."""

    sources: SourceSet
    measured: MeasuredFrame
    stamps: np.ndarray
    pixel_scale_arcsec: float | None
    max_fwhm_arcsec: float | None
    timings: Mapping[str, float] = field(default_factory=dict)


def analyse(
    data: np.ndarray,
    *,
    saturation: float | None,
    pixel_scale_arcsec: float | None,
    max_fwhm_arcsec: float | None,
    nominal_sky_adu: float | None,
    bias_adu: float | None = None,
) -> Analysis:
    """Extract sources, measure metrics and cut the star stamps of one frame."""
    t0 = time.perf_counter()
    sources = extract_sources(data, saturation=saturation)
    t1 = time.perf_counter()
    measured = measure(
        data,
        sources,
        pixel_scale_arcsec=pixel_scale_arcsec,
        max_fwhm_arcsec=max_fwhm_arcsec,
        nominal_sky_adu=nominal_sky_adu,
        bias_adu=bias_adu,
    )
    t2 = time.perf_counter()
    if sources.n_kept:
        side = stamp_side(float(np.median(sources.r50)))
        stamps = cut_stamps(sources.sub, sources.x, sources.y, side)
    else:
        stamps = np.zeros((0, STAMP_SIZE, STAMP_SIZE), np.float32)
    t3 = time.perf_counter()
    return Analysis(
        sources=sources,
        measured=measured,
        stamps=stamps,
        pixel_scale_arcsec=pixel_scale_arcsec,
        max_fwhm_arcsec=max_fwhm_arcsec,
        timings={"sources": t1 - t0, "metrics": t2 - t1, "stamps": t3 - t2},
    )


def _log(value: float | None, default: float = 0.0) -> float:
    return math.log10(value) if value and value > 0 else default


def metric_vector(analysis: Analysis) -> np.ndarray:
    """The interpretable part of the table, in :data:`METRIC_FEATURES` order."""
    m = analysis.measured.metrics
    extra = analysis.measured
    scale = analysis.pixel_scale_arcsec
    minor_ratio = None
    if extra.fwhm_minor_px and scale and analysis.max_fwhm_arcsec:
        minor_ratio = extra.fwhm_minor_px * scale / analysis.max_fwhm_arcsec
    noise = m.background_rms if m.background_rms > 0 else 1.0
    # A nominal sky without the bias gives a ratio inflated by the camera's offset:
    # treat it as unknown, as training does when it hides both.
    sky_ratio = extra.sky_ratio if extra.has_bias else None
    megapixels = analysis.sources.sub.size / 1e6
    values = {
        # Detections per megapixel: training crops and full frames must look alike.
        "log_density": math.log10(m.n_sources / megapixels + 1),
        "log_n_sources": math.log10(m.n_sources + 1),
        "log_n_stars": math.log10(m.n_stars + 1),
        # Unknown pixel scale: a neutral value, flagged, rather than a guess.
        "fwhm_ratio": m.fwhm_ratio if m.fwhm_ratio is not None else 0.75,
        "minor_ratio": minor_ratio if minor_ratio is not None else 0.75,
        "has_scale": 1.0 if scale else 0.0,
        "log_fwhm_px": _log(m.fwhm_px),
        "eccentricity": m.eccentricity or 0.0,
        "eccentricity_spread": m.eccentricity_spread or 0.0,
        "log_elongation": _log(m.elongation),
        "orientation_coherence": m.orientation_coherence or 0.0,
        "saturated_fraction": m.saturated_fraction,
        "gradient": min(m.gradient, 3.0),
        "gradient_raw": min(extra.gradient_raw, 3.0),
        "has_bias": 1.0 if extra.has_bias else 0.0,
        "sky_residual": min(extra.sky_residual, 3.0),
        "log_sky_ratio": _log(sky_ratio),
        "has_nominal": 1.0 if sky_ratio is not None else 0.0,
        "density_cv": min(extra.density_cv, 5.0),
        "flux_cv": min(extra.flux_cv, 5.0),
        "log_sky_over_noise": _log(abs(m.background) / noise),
        "pair_fraction": extra.pair_fraction,
        # In star sizes: a double image's separation is several FWHM.
        "log_pair_separation": _log(extra.pair_separation_px / (m.fwhm_px or 1.0)),
    }
    return np.array([values[name] for name in METRIC_FEATURES], np.float32)


def mosaic(
    stamps: np.ndarray, som: SomCodebook, *, cell: int = CELL_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Representative image (median stamp per node) and node hit fractions.

    Parameters
    ----------
    stamps
        (n, 32, 32) stamps scaled to [0, 1].
    """
    image = np.zeros((som.rows * cell, som.cols * cell), np.float32)
    hits = np.zeros(som.n_nodes, np.float32)
    if stamps.shape[0] == 0:
        return image, hits
    bmu = som.best_matching_units(stamps)
    factor = STAMP_SIZE // cell
    small = stamps.reshape(-1, cell, factor, cell, factor).mean(axis=(2, 4))
    for node in np.unique(bmu):
        members = small[bmu == node]
        r, c = divmod(int(node), som.cols)
        image[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = np.median(members, axis=0)
        hits[node] = members.shape[0]
    return image, hits / hits.sum()


def represent(
    analysis: Analysis, som: SomCodebook, *, cell: int = CELL_SIZE
) -> tuple[np.ndarray, np.ndarray]:
    """Representative image and table of one frame.

    Returns
    -------
    image : ndarray, shape (rows * cell, cols * cell), float32 in [0, 1]
    table : ndarray, shape (n_nodes + len(METRIC_FEATURES),), float32
    """
    image, hits = mosaic(analysis.stamps, som, cell=cell)
    table = np.concatenate([hits, metric_vector(analysis)]).astype(np.float32)
    return image, table
