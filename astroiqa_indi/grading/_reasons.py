"""Human-readable sentences that explain a verdict from its metrics."""

from __future__ import annotations

from astroiqa_indi.grading._verdict import FrameMetrics

__all__ = ["explain"]


# A median sky this close to the top leaves no room for stars: they are clipped flat.
_SATURATED_SKY = 0.9
# Excess pairs at one offset per source: random fields measure about 0.06, a double
# image of every star up to 0.5 (grading/_metrics.pair_statistics; bench.misses).
_DOUBLED = 0.15


def _fwhm_text(m: FrameMetrics) -> str:
    if m.fwhm_arcsec is not None:
        return f'FWHM {m.fwhm_arcsec:.1f}"'
    if m.fwhm_px is not None:
        return f"FWHM {m.fwhm_px:.1f} px"
    return "FWHM unknown"


def explain(
    label: str,
    m: FrameMetrics,
    *,
    max_fwhm_arcsec: float | None,
    min_stars: int,
    sky_ratio: float | None,
    density_cv: float,
    sky_fill: float | None = None,
    tolerated_elongation: float | None = None,
    pairs: tuple[float, float] = (0.0, 0.0),
) -> list[str]:
    """Reasons for ``label``, most telling first, plus caveats about confidence.

    ``tolerated_elongation``: the profile's ``max_elongation`` when it turned a
    ``bad_tracking`` call into ``label``. ``pairs``: the fraction of stars repeated
    at one offset and that offset in pixels.
    """
    reasons: list[str] = []
    pair_fraction, pair_separation = pairs
    if label == "very_bad_tracking" and pair_fraction >= _DOUBLED:
        reasons.append(
            f"stars doubled: repeated {pair_separation:.0f} px away across the field: "
            "the mount jumped or swung during the exposure"
        )
    if tolerated_elongation is not None and m.elongation is not None:
        reasons.append(
            f"stars elongated {m.elongation:.2f}:1, within the profile's max_elongation "
            f"{tolerated_elongation:.2f}: not counted as bad_tracking"
        )
    coherent = (m.orientation_coherence or 0.0) >= 0.6
    if label in {"bad_tracking", "very_bad_tracking"} and m.elongation is not None:
        where = "coherent across the field" if coherent else "in mixed directions"
        kind = "trails or double images" if label == "very_bad_tracking" else "tracking"
        reasons.append(
            f"stars elongated {m.elongation:.1f}:1 along PA {m.position_angle_deg or 0:.0f} deg, "
            f"{where}: {kind}"
        )
    elif label == "bad_seeing":
        limit = f" against the profile's {max_fwhm_arcsec:.1f}\" limit" if max_fwhm_arcsec else ""
        ratio = f" ({m.fwhm_ratio:.2f}x)" if m.fwhm_ratio is not None else ""
        reasons.append(f"round but bloated stars: {_fwhm_text(m)}{limit}{ratio}: seeing or focus")
    elif label == "background_issues":
        if sky_fill is not None and sky_fill >= _SATURATED_SKY:
            reasons.append(
                f"sky at {100 * sky_fill:.0f}% of the camera's saturation level: "
                "overexposed, moon or twilight"
            )
        elif m.n_stars == 0 and m.n_sources >= min_stars:
            reasons.append(
                f"{m.n_sources} detections, none usable as a star (long trails, blends or "
                "saturation?): too few stars to judge, low confidence"
            )
        elif m.n_stars == 0:
            reasons.append("no usable stars detected: clouds, dew, a closed cover or daylight")
        if m.gradient > 0.15:
            reasons.append(f"sky varies {100 * m.gradient:.0f}% across the frame: gradient")
        if sky_ratio is not None and sky_ratio > 3:
            reasons.append(f"sky {sky_ratio:.1f}x the nominal level: moon, twilight or haze")
        if density_cv > 0.5:
            reasons.append("star counts uneven across the field: passing clouds")
        if not reasons:
            reasons.append("faint, sparse or uneven stars on a troubled sky: clouds or haze")
    elif label == "good":
        ecc = f", e={m.eccentricity:.2f}" if m.eccentricity is not None else ""
        shape = "stars" if tolerated_elongation is not None else "round stars"
        reasons.append(f"{shape} ({_fwhm_text(m)}{ecc}), {m.n_stars} measured, even sky")
    if 0 < m.n_stars < min_stars:
        reasons.append(f"only {m.n_stars} usable stars (fewer than {min_stars}): low confidence")
    if m.fwhm_arcsec is None and m.fwhm_px is not None:
        reasons.append("pixel scale unknown: seeing judged from the star shapes only")
    return reasons
