"""Source extraction with sep and per-star shape measurement.

One ``sep.Background`` and one ``sep.extract`` per frame: everything after them
works on at most :data:`MAX_STARS` stars, so the extraction stays the cost floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sep
from scipy.spatial import cKDTree

from astroiqa_indi.grading._verdict import BrightStars

__all__ = ["MAX_STARS", "SourceSet", "bright_stars", "extract_sources", "fwhm_from_radii"]

MAX_STARS = 256
DETECT_SIGMA = 5.0
_MIN_AREA = 5
_PIXSTACK = 3_000_000
_BRIGHT_STARS = 32
_WIDER_THAN_A_PIXEL = 0.45  # px of minor-axis sigma; one pixel alone is 0.29
_PIXEL_VARIANCE = 1.0 / 12.0  # px^2: a uniform square pixel


@dataclass(frozen=True, slots=True)
class SourceSet:
    """Detections of one frame and the shape of the stars kept for grading.

    All per-star arrays have one entry per kept star (``n_kept``); pixel units.
    ``sub`` is the background-subtracted frame the stamps are cut from.
    """

    sub: np.ndarray
    background: float
    background_rms: float
    n_detected: int
    n_saturated: int
    x: np.ndarray
    y: np.ndarray
    flux: np.ndarray
    r25: np.ndarray
    r50: np.ndarray
    r75: np.ndarray
    a: np.ndarray
    b: np.ndarray
    theta: np.ndarray
    all_x: np.ndarray
    all_y: np.ndarray
    all_flux: np.ndarray
    all_a: np.ndarray
    all_b: np.ndarray
    all_saturated: np.ndarray

    @property
    def n_kept(self) -> int:
        return int(self.x.size)


# FWHM / r50 as a function of the concentration r75 / r25, for Moffat profiles
# from beta = 1.6 (heavy wings) to a Gaussian. Half-flux radius alone over-reads
# the FWHM of real (Moffat-like) stars by 15-35 %, depending on the wings.
def _moffat_table() -> tuple[np.ndarray, np.ndarray]:
    betas = np.concatenate([np.linspace(1.6, 12.0, 200), [1e4]])
    conc = []
    ratio = []
    for beta in betas:

        def radius(frac: float, beta: float = float(beta)) -> float:
            return math.sqrt((1.0 - frac) ** (1.0 / (1.0 - beta)) - 1.0)

        fwhm = 2.0 * math.sqrt(2.0 ** (1.0 / beta) - 1.0)
        conc.append(radius(0.75) / radius(0.25))
        ratio.append(fwhm / radius(0.5))
    order = np.argsort(conc)
    return np.asarray(conc)[order], np.asarray(ratio)[order]


_CONC, _FWHM_PER_R50 = _moffat_table()


def fwhm_from_radii(r25: np.ndarray, r50: np.ndarray, r75: np.ndarray) -> np.ndarray:
    """FWHM estimated from three enclosed-flux radii (pixels).

    The concentration ``r75 / r25`` picks the Moffat profile with the same wings,
    whose exact FWHM / r50 ratio converts the half-flux radius.
    """
    conc = np.asarray(r75, dtype=float) / np.maximum(np.asarray(r25, dtype=float), 1e-6)
    factor = np.interp(conc, _CONC, _FWHM_PER_R50)
    return factor * np.asarray(r50, dtype=float)


def _window_moments(
    sub: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    sigma: np.ndarray,
    *,
    segmap: np.ndarray | None = None,
    ids: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian-windowed second moments -> (a, b, theta), as SExtractor's windowed ones.

    Windowed moments are far less noisy than isophotal ones on faint stars, and
    do not depend on the detection threshold. With a segmentation map, pixels of
    other objects are masked: a neighbour at the window's edge, weighted by its
    squared distance, would otherwise dominate the moments.
    """
    half = int(np.clip(np.ceil(3.0 * np.median(sigma)), 3, 48))
    offs = np.arange(-half, half + 1)
    xi = np.rint(x).astype(np.intp)
    yi = np.rint(y).astype(np.intp)
    h, w = sub.shape
    rows = np.clip(yi[:, None] + offs[None, :], 0, h - 1)
    cols = np.clip(xi[:, None] + offs[None, :], 0, w - 1)
    stamps = sub[rows[:, :, None], cols[:, None, :]].astype(np.float64)
    dy = rows - y[:, None]
    dx = cols - x[:, None]
    r2 = dy[:, :, None] ** 2 + dx[:, None, :] ** 2
    # No clipping at zero: that would turn sky noise into a positive, round bias.
    weight = np.exp(-0.5 * r2 / (sigma[:, None, None] ** 2)) * stamps
    if segmap is not None and ids is not None:
        seg = segmap[rows[:, :, None], cols[:, None, :]]
        weight *= (seg == 0) | (seg == ids[:, None, None])
    norm = weight.sum(axis=(1, 2))
    norm = np.where(norm > 0, norm, 1.0)
    mx = (weight * dx[:, None, :]).sum(axis=(1, 2)) / norm
    my = (weight * dy[:, :, None]).sum(axis=(1, 2)) / norm
    ddx = dx[:, None, :] - mx[:, None, None]
    ddy = dy[:, :, None] - my[:, None, None]
    xx = (weight * ddx**2).sum(axis=(1, 2)) / norm
    yy = (weight * ddy**2).sum(axis=(1, 2)) / norm
    xy = (weight * ddx * ddy).sum(axis=(1, 2)) / norm
    mean = 0.5 * (xx + yy)
    diff = np.sqrt(np.maximum(0.25 * (xx - yy) ** 2 + xy**2, 0.0))
    # Nothing imaged through square pixels is narrower than one pixel's own variance,
    # 1/12 px^2. Noise peaks and one-pixel-wide cosmic-ray tracks measure less (even
    # less than zero): a one-pixel-wide track measured 4.5e6:1 before this floor.
    a2 = np.maximum(mean + diff, _PIXEL_VARIANCE)
    b2 = np.maximum(mean - diff, _PIXEL_VARIANCE)
    # A Gaussian window of variance w2 turns a Gaussian of variance s2 into one of
    # s2 * w2 / (s2 + w2): undo it, or every star would look rounder than it is.
    w2 = (sigma**2)[:, None] * np.ones(2)[None, :]
    m2 = np.minimum(np.column_stack([a2, b2]), 0.9 * w2)
    true2 = m2 * w2 / (w2 - m2)
    theta = 0.5 * np.arctan2(2.0 * xy, xx - yy)
    return np.sqrt(true2[:, 0]), np.sqrt(true2[:, 1]), theta


def _narrower_than_the_stars(b: np.ndarray) -> np.ndarray:
    """Hot pixels and cosmic rays among the kept sources: no wider than half the stars.

    Uncalibrated live frames keep their hot pixels, and a sparse field on a large
    sensor can have more of them, and of cosmic-ray hits, than stars: their minor
    axes sit near one pixel's own width while every star's is at least the seeing's.
    The stars' width is the median minor axis of the sources clearly wider than a
    pixel; without five of those (stars as narrow as hot pixels, on coarse rigs)
    nothing can be told apart and nothing is dropped.
    """
    wide = b[b >= _WIDER_THAN_A_PIXEL]
    if wide.size < 5:
        return np.zeros(b.size, bool)
    return b < 0.5 * float(np.median(wide))


def extract_sources(data: np.ndarray, *, saturation: float | None = None) -> SourceSet:
    """Detect sources and measure the shapes of up to :data:`MAX_STARS` good stars.

    Parameters
    ----------
    data
        2-D float32 image (ADU), finite.
    saturation
        Saturation level in ADU of ``data``; stars peaking above 90 % of it are
        not measured. ``None`` means unknown (use the brightest pixels as a guide).
    """
    # One private float32 copy serves sep (its buffers must be writable; Frame pixels
    # are read-only) and becomes the background-subtracted frame in place, without a
    # full-size background map beside it.
    sub = np.array(data, dtype=np.float32, order="C", copy=True)
    bkg = sep.Background(sub, bw=64, bh=64, fw=3, fh=3)
    bkg.subfrom(sub)
    rms = float(bkg.globalrms) if bkg.globalrms > 0 else 1.0
    sep.set_extract_pixstack(_PIXSTACK)
    sep.set_sub_object_limit(4096)
    objects = segmap = None
    for sigma in (DETECT_SIGMA, 2 * DETECT_SIGMA, 4 * DETECT_SIGMA):
        try:
            objects, segmap = sep.extract(
                sub, sigma, err=rms, minarea=_MIN_AREA, segmentation_map=True
            )
            break
        except Exception as exc:  # sep raises plain Exception on buffer overflows
            if "overflow" not in str(exc) and "buffer" not in str(exc):
                raise
    segment_ids = np.zeros(0, np.int64)
    if objects is not None:
        # A few pixels near float32's limit (a calibrated frame divided by a flat that
        # is nearly zero there) overflow sep's sums: such objects have no place or flux.
        finite = np.ones(len(objects), bool)
        for column in ("x", "y", "flux", "a", "b", "peak"):
            finite &= np.isfinite(objects[column])
        segment_ids = np.flatnonzero(finite) + 1  # segmap labels count every object
        objects = objects[finite]
    empty = np.zeros(0)
    if objects is None or len(objects) == 0:
        arrays = dict.fromkeys(("x", "y", "flux", "r25", "r50", "r75", "a", "b", "theta"), empty)
        return SourceSet(
            sub=sub,
            background=float(bkg.globalback),
            background_rms=rms,
            n_detected=0,
            n_saturated=0,
            all_x=empty,
            all_y=empty,
            all_flux=empty,
            all_a=empty,
            all_b=empty,
            all_saturated=np.zeros(0, bool),
            **arrays,
        )

    h, w = sub.shape
    x = objects["x"].astype(np.float64)
    y = objects["y"].astype(np.float64)
    peak = objects["peak"].astype(np.float64) + float(bkg.globalback)
    if saturation is not None:
        saturated = peak >= 0.9 * saturation
    else:
        # Unknown level (float data): a flat top at the frame maximum means clipping.
        top = float(np.max(data))
        clipped = np.count_nonzero(data >= top - 1e-3 * abs(top)) > 3
        saturated = peak >= 0.98 * top if clipped else np.zeros(x.size, bool)
    # Saturated stars bleed and flatten: drop them, and anything merged or truncated.
    good = (~saturated) & ((objects["flag"] & (sep.OBJ_MERGED | sep.OBJ_TRUNC)) == 0)
    margin = 8.0
    good &= (x > margin) & (x < w - 1 - margin) & (y > margin) & (y < h - 1 - margin)
    good &= objects["npix"] >= _MIN_AREA
    # Isolation: a neighbour within a few star sizes biases radii and moments.
    size = np.sqrt(objects["a"] * objects["b"]).astype(np.float64)
    if x.size > 1:
        radius = 4.0 * max(float(np.median(size)), 1.0) + 4.0
        pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius, output_type="ndarray")
        near = np.zeros(x.size, bool)
        near[pairs.ravel()] = True
        good &= ~near
    idx = np.flatnonzero(good)
    idx = idx[np.argsort(objects["flux"][idx])[::-1][:MAX_STARS]]

    kx, ky = x[idx], y[idx]
    rmax = np.clip(6.0 * objects["a"][idx], 4.0, 60.0)
    # No normflux: the isophotal flux misses the wings, which would shrink every radius.
    radii, rflag = sep.flux_radius(sub, kx, ky, rmax, (0.25, 0.5, 0.75), subpix=5)
    ok = (rflag & sep.APER_TRUNC) == 0
    ok &= np.all(np.isfinite(radii), axis=1) & (radii[:, 0] > 0)
    idx, kx, ky, radii = idx[ok], kx[ok], ky[ok], radii[ok]
    if idx.size:
        # Window twice the star's own sigma: low noise, and the shrinkage stays invertible.
        sigma = np.maximum(2.0 * radii[:, 1] / 1.1774, 1.5)
        a, b, theta = _window_moments(sub, kx, ky, sigma, segmap=segmap, ids=segment_ids[idx])
        star = ~_narrower_than_the_stars(b)
        idx, kx, ky, radii, a, b, theta = (v[star] for v in (idx, kx, ky, radii, a, b, theta))
    else:
        a = b = theta = empty
    return SourceSet(
        sub=sub,
        background=float(bkg.globalback),
        background_rms=rms,
        n_detected=int(x.size),
        n_saturated=int(saturated.sum()),
        x=kx,
        y=ky,
        flux=objects["flux"][idx].astype(np.float64),
        r25=radii[:, 0] if idx.size else empty,
        r50=radii[:, 1] if idx.size else empty,
        r75=radii[:, 2] if idx.size else empty,
        a=a,
        b=b,
        theta=theta,
        all_x=x,
        all_y=y,
        all_flux=objects["flux"].astype(np.float64),
        all_a=objects["a"].astype(np.float64),
        all_b=objects["b"].astype(np.float64),
        all_saturated=saturated,
    )


def bright_stars(sources: SourceSet, *, fwhm_px: float | None) -> BrightStars:
    """The brightest detections of the frame (at most 32), brightest first.

    Fluxes are summed in a circle of 2.5 FWHM (at least 3 px) on the
    background-subtracted frame. sep's isophotal flux would not do: it misses
    the light under the detection threshold, a fixed amount per star, so a star
    dimmed to half would measure less than half.
    """
    if sources.all_flux.size == 0:
        return BrightStars()
    idx = np.argsort(sources.all_flux)[::-1][:_BRIGHT_STARS]
    if fwhm_px is None:
        fwhm_px = 2.0 * float(np.median(np.sqrt(sources.all_a[idx] * sources.all_b[idx])))
    radius = max(3.0, 2.5 * fwhm_px)
    flux, _, _ = sep.sum_circle(sources.sub, sources.all_x[idx], sources.all_y[idx], radius)
    order = np.argsort(flux)[::-1]
    return BrightStars(
        tuple(np.asarray(flux, np.float64)[order].tolist()),
        tuple(sources.all_saturated[idx][order].tolist()),
    )
