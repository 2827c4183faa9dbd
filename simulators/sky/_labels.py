"""Truth of a rendered frame and the product's five-label rules (docs/classes.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from astroiqa_indi.labels import Label

if TYPE_CHECKING:
    from ._rigs import Rig

__all__ = ["THRESHOLDS", "Truth", "label_of"]


@dataclass(frozen=True)
class _Thresholds:
    # background_issues
    bi_transparency: float = 0.5
    bi_gradient: float = 0.30
    bi_sky_ratio: float = 6.0
    bi_sky_fill: float = 0.8
    # tracking, in units of the FWHM
    vbt_trail: float = 3.0
    bt_trail_low: float = 1.0
    bt_trail_high: float = 2.5
    # seeing, in units of the rig's max_fwhm_arcsec
    bs_seeing: float = 1.15
    # good
    good_trail: float = 0.7
    good_seeing: float = 0.9
    good_transparency: float = 0.8
    good_gradient: float = 0.15
    good_sky_ratio: float = 3.0
    good_sky_fill: float = 0.5


THRESHOLDS = _Thresholds()
"""The label thresholds of docs/classes.md."""


@dataclass(frozen=True)
class Truth:
    """What was really drawn in a frame.

    Attributes
    ----------
    fwhm_px, fwhm_arcsec
        Star FWHM ``F`` of the atmospheric+optical PSF (before tracking), pixels
        and arcsec.
    max_fwhm_arcsec
        The rig's acceptable FWHM (copied for convenience).
    trail_px
        ``L``: largest distance between two samples of the star's path, pixels.
    transparency
        ``T``: mean fraction of star flux reaching the sensor (clouds).
    sky_ratio
        ``S``: median sky level / the rig's nominal dark-sky level.
    gradient
        ``G``: peak-to-peak of the smooth sky / its median, on the final
        noiseless sky including vignetting.
    n_stars
        Stars whose centre lies in the frame.
    n_detectable
        Of those, stars whose peak is at least 5 sky-noise sigma.
    exposure_s
        Exposure time, seconds.
    psf_kind, moffat_beta
        PSF profile (``moffat`` or ``kolmogorov``) and Moffat beta.
    aberration
        The rig's corner elongation (a/b - 1 in the sensor corners).
    width, height, x0, y0
        Rendered frame size and its origin on the full sensor, pixels.
    sky_adu
        Median sky level above bias, ADU.
    trail_over_fwhm
        ``L / F``.
    drift_px, pe_amplitude_px, wind_rms_px, zigzag_amplitude_px, jump_px
        The tracking components behind ``L``.
    cloud_variation, moon_glow, vignetting, nebulosity
        Background components behind ``T``, ``S`` and ``G``.
    n_galaxies
        Galaxies drawn.
    target_size_px
        Size of the bright target object (0 = none).
    streak
        ``none``, ``satellite`` or ``aircraft``.
    sky_fill
        ``P``: (bias + sky) / the pixel's saturation level (ADC top or full well).
    """

    fwhm_px: float
    fwhm_arcsec: float
    max_fwhm_arcsec: float
    trail_px: float
    transparency: float
    sky_ratio: float
    gradient: float
    n_stars: int
    n_detectable: int
    exposure_s: float
    psf_kind: str
    moffat_beta: float
    aberration: float
    width: int
    height: int
    x0: int
    y0: int
    sky_adu: float
    trail_over_fwhm: float
    drift_px: float
    pe_amplitude_px: float
    wind_rms_px: float
    zigzag_amplitude_px: float
    jump_px: float
    cloud_variation: float
    moon_glow: float
    vignetting: float
    nebulosity: float
    n_galaxies: int
    target_size_px: float
    streak: str
    sky_fill: float = 0.0

    def to_row(self) -> dict[str, str | int | float]:
        """The truth as one CSV row (field order = declaration order)."""
        row: dict[str, str | int | float] = {}
        for key, value in asdict(self).items():
            row[key] = round(value, 6) if isinstance(value, float) else value
        return row


def _nearest(truth: Truth, rig: Rig) -> Label:
    th = THRESHOLDS
    f = truth.fwhm_px
    lf = truth.trail_px / f
    s = truth.fwhm_arcsec / rig.max_fwhm_arcsec
    t, g, k = truth.transparency, truth.gradient, truth.sky_ratio
    # Distances in units of the width of each ambiguous band.
    w_lo = th.bt_trail_low - th.good_trail
    w_hi = th.vbt_trail - th.bt_trail_high
    w_s = th.bs_seeing - th.good_seeing
    w_t = th.good_transparency - th.bi_transparency
    w_g = th.bi_gradient - th.good_gradient
    w_k = th.bi_sky_ratio - th.good_sky_ratio
    p = truth.sky_fill
    w_p = th.bi_sky_fill - th.good_sky_fill
    dist: dict[Label, float] = {
        "background_issues": min(
            (t - th.bi_transparency) / w_t,
            (th.bi_gradient - g) / w_g,
            (th.bi_sky_ratio - k) / w_k,
            (th.bi_sky_fill - p) / w_p,
        ),
        "very_bad_tracking": (th.vbt_trail - lf) / w_hi,
        "bad_tracking": (
            (th.bt_trail_low - lf) / w_lo
            if lf < th.bt_trail_low
            else (lf - th.bt_trail_high) / w_hi
        ),
        "bad_seeing": (th.bs_seeing - s) / w_s,
        "good": math.hypot(
            max(0.0, lf - th.good_trail) / w_lo,
            max(0.0, s - th.good_seeing) / w_s,
            max(0.0, th.good_transparency - t) / w_t,
            max(0.0, g - th.good_gradient) / w_g,
            max(0.0, k - th.good_sky_ratio) / w_k,
            max(0.0, p - th.good_sky_fill) / w_p,
        ),
    }
    # Ties go to the earlier rule.
    order: tuple[Label, ...] = (
        "background_issues",
        "very_bad_tracking",
        "bad_tracking",
        "bad_seeing",
        "good",
    )
    return min(order, key=lambda lab: (dist[lab], order.index(lab)))


def label_of(truth: Truth, rig: Rig) -> tuple[Label, bool]:
    """Label a frame from its truth with the rules of docs/classes.md.

    Parameters
    ----------
    truth
        The frame's truth.
    rig
        The rig (for ``max_fwhm_arcsec``).

    Returns
    -------
    label, clear
        The label of the first rule that matches and ``True``; when no rule
        matches (values between bands), the nearest rule's label and ``False``.
    """
    th = THRESHOLDS
    f = truth.fwhm_px
    trail = truth.trail_px
    seeing = truth.fwhm_arcsec / rig.max_fwhm_arcsec
    if (
        truth.n_detectable == 0
        or truth.transparency < th.bi_transparency
        or truth.gradient > th.bi_gradient
        or truth.sky_ratio > th.bi_sky_ratio
        or truth.sky_fill > th.bi_sky_fill
    ):
        return "background_issues", True
    if trail >= th.vbt_trail * f:
        return "very_bad_tracking", True
    if th.bt_trail_low * f <= trail < th.bt_trail_high * f:
        return "bad_tracking", True
    if seeing >= th.bs_seeing:
        return "bad_seeing", True
    if (
        trail <= th.good_trail * f
        and seeing <= th.good_seeing
        and truth.transparency >= th.good_transparency
        and truth.gradient <= th.good_gradient
        and truth.sky_ratio <= th.good_sky_ratio
        and truth.sky_fill <= th.good_sky_fill
    ):
        return "good", True
    return _nearest(truth, rig), False
