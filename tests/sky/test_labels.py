"""label_of on hand-made truths at and around every threshold (docs/classes.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulators.sky import RIGS, THRESHOLDS, Truth, label_of

RIG = RIGS["refractor80_asi2600mm"]  # max_fwhm_arcsec 5.0, 1.616 arcsec/px
F = 3.0  # px
EPS = 1e-6


def truth(
    *,
    trail: float = 0.2,
    seeing: float = 0.6,
    t: float = 1.0,
    g: float = 0.05,
    s: float = 1.0,
    n_det: int = 100,
) -> Truth:
    """A truth with trail in units of F and seeing in units of the rig's max FWHM."""
    fwhm_arcsec = seeing * RIG.max_fwhm_arcsec
    fwhm_px = fwhm_arcsec / RIG.pixel_scale_arcsec
    return Truth(
        fwhm_px=fwhm_px,
        fwhm_arcsec=fwhm_arcsec,
        max_fwhm_arcsec=RIG.max_fwhm_arcsec,
        trail_px=trail * fwhm_px,
        transparency=t,
        sky_ratio=s,
        gradient=g,
        n_stars=200,
        n_detectable=n_det,
        exposure_s=60.0,
        psf_kind="moffat",
        moffat_beta=3.0,
        aberration=0.0,
        width=100,
        height=100,
        x0=0,
        y0=0,
        sky_adu=700.0,
        trail_over_fwhm=trail,
        drift_px=0.0,
        pe_amplitude_px=0.0,
        wind_rms_px=0.0,
        zigzag_amplitude_px=0.0,
        jump_px=0.0,
        cloud_variation=0.0,
        moon_glow=0.0,
        vignetting=0.0,
        nebulosity=0.0,
        n_galaxies=0,
        target_size_px=0.0,
        streak="none",
    )


def test_thresholds_are_the_documented_ones() -> None:
    th = THRESHOLDS
    assert (th.bi_transparency, th.bi_gradient, th.bi_sky_ratio) == (0.5, 0.30, 6.0)
    assert (th.vbt_trail, th.bt_trail_low, th.bt_trail_high) == (3.0, 1.0, 2.5)
    assert th.bs_seeing == 1.15
    assert (th.good_trail, th.good_seeing, th.good_transparency) == (0.7, 0.9, 0.8)
    assert (th.good_gradient, th.good_sky_ratio) == (0.15, 3.0)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        # background_issues: T < 0.5, G > 0.30, S > 6, no stars
        ({"t": 0.5 - EPS}, ("background_issues", True)),
        ({"t": 0.5}, ("background_issues", False)),  # on the band's edge: nearest is BI
        ({"g": 0.30 + EPS}, ("background_issues", True)),
        ({"g": 0.30}, ("background_issues", False)),
        ({"s": 6.0 + EPS}, ("background_issues", True)),
        ({"s": 6.0}, ("background_issues", False)),
        ({"n_det": 0}, ("background_issues", True)),
        # background_issues wins over everything
        ({"t": 0.3, "trail": 5.0, "seeing": 2.0}, ("background_issues", True)),
        # very_bad_tracking: L >= 3F
        ({"trail": 3.0}, ("very_bad_tracking", True)),
        ({"trail": 3.0 - EPS}, ("very_bad_tracking", False)),
        ({"trail": 2.5 + 0.26}, ("very_bad_tracking", False)),
        ({"trail": 2.5 + 0.24}, ("bad_tracking", False)),
        # bad_tracking: 1.0F <= L < 2.5F
        ({"trail": 2.5 - EPS}, ("bad_tracking", True)),
        ({"trail": 2.5}, ("bad_tracking", False)),
        ({"trail": 1.0}, ("bad_tracking", True)),
        ({"trail": 1.0 - EPS}, ("bad_tracking", False)),
        ({"trail": 0.86}, ("bad_tracking", False)),
        ({"trail": 0.84}, ("good", False)),
        ({"trail": 0.7 + EPS}, ("good", False)),
        ({"trail": 0.7}, ("good", True)),
        # tracking wins over seeing
        ({"trail": 1.5, "seeing": 2.0}, ("bad_tracking", True)),
        ({"trail": 4.0, "seeing": 2.0}, ("very_bad_tracking", True)),
        # bad_seeing: fwhm >= 1.15 max
        ({"seeing": 1.15}, ("bad_seeing", True)),
        ({"seeing": 1.15 - EPS}, ("bad_seeing", False)),
        ({"seeing": 1.04}, ("bad_seeing", False)),
        ({"seeing": 1.01}, ("good", False)),
        ({"seeing": 0.9 + EPS}, ("good", False)),
        ({"seeing": 0.9}, ("good", True)),
        # good's background limits
        ({"t": 0.8}, ("good", True)),
        ({"t": 0.8 - EPS}, ("good", False)),
        ({"t": 0.66}, ("good", False)),
        ({"t": 0.64}, ("background_issues", False)),
        ({"g": 0.15}, ("good", True)),
        ({"g": 0.15 + EPS}, ("good", False)),
        ({"g": 0.22}, ("good", False)),
        ({"g": 0.23}, ("background_issues", False)),
        ({"s": 3.0}, ("good", True)),
        ({"s": 3.0 + EPS}, ("good", False)),
        ({"s": 4.4}, ("good", False)),
        ({"s": 4.6}, ("background_issues", False)),
        # round but bloated, with a mildly hazy sky: rule 4 still matches
        ({"seeing": 1.3, "t": 0.7}, ("bad_seeing", True)),
    ],
)
def test_label_of_around_thresholds(kwargs: dict[str, float], expected: tuple[str, bool]) -> None:
    assert label_of(truth(**kwargs), RIG) == expected  # type: ignore[arg-type]


def test_label_uses_the_rigs_max_fwhm() -> None:
    t = truth(seeing=1.0)
    sharp_rig = replace(RIG, name="strict", max_fwhm_arcsec=RIG.max_fwhm_arcsec * 0.8)
    assert label_of(t, RIG) == ("good", False)
    assert label_of(t, sharp_rig) == ("bad_seeing", True)


def test_ambiguous_in_two_bands_is_labelled_by_the_nearest() -> None:
    # deep in the seeing band towards bad_seeing, barely out of good in trail
    assert label_of(truth(trail=0.72, seeing=1.13), RIG) == ("bad_seeing", False)
    # deep in the trail band towards bad_tracking, barely out of good in seeing
    assert label_of(truth(trail=0.98, seeing=0.92), RIG) == ("bad_tracking", False)


def test_a_sky_near_saturation_is_a_background_issue() -> None:
    assert label_of(replace(truth(), sky_fill=THRESHOLDS.bi_sky_fill + EPS), RIG) == (
        "background_issues",
        True,
    )
    # Between the bands: not clear; nearer saturation reads as background_issues.
    assert label_of(replace(truth(), sky_fill=0.75), RIG) == ("background_issues", False)
    assert label_of(replace(truth(), sky_fill=0.55), RIG) == ("good", False)
    assert label_of(replace(truth(), sky_fill=THRESHOLDS.good_sky_fill), RIG) == ("good", True)
    # Tracking still wins below saturation, as for the other background limits.
    assert label_of(replace(truth(trail=4.0), sky_fill=0.7), RIG) == ("very_bad_tracking", True)


def test_sky_fill_counts_bias_and_ends_at_the_adc_or_the_full_well() -> None:
    rig = RIGS["refractor80_asi2600mm"]
    top = min(rig.adc_max, rig.bias_adu + rig.full_well_e / rig.gain_e_per_adu)
    assert rig.sky_fill(0.0) == pytest.approx(rig.bias_adu / top)
    assert rig.sky_fill(top - rig.bias_adu) == pytest.approx(1.0)


def test_random_rigs_keep_a_clean_sky_well_below_saturation() -> None:
    import numpy as np

    from simulators.sky import random_rig

    rng = np.random.default_rng(7)
    fills = []
    for _ in range(400):
        rig = random_rig(rng)
        # A clean sky is at most 3x the nominal level (rule 5).
        fills.append(rig.sky_fill(THRESHOLDS.good_sky_ratio * rig.nominal_sky_adu))
    assert max(fills) < 1.0
    assert np.mean(np.array(fills) <= THRESHOLDS.good_sky_fill) > 0.9
