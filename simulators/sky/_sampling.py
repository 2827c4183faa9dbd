"""``conditions_for``: draw conditions that give a requested label.

Each draw picks a *target* for every truth parameter (trail/FWHM, seeing,
transparency, sky ratio, gradient) inside the label's band (``clear=True``,
with a margin from every threshold) or inside an ambiguous band next to it
(``clear=False``), then builds conditions that realise the targets exactly:
tracking amplitudes are scaled so the path's trail length is the target, and
gradients are scaled against the frame's sky grid. A final check predicts the
truth (for several crop sizes, since vignetting depends on the crop) and
re-draws in the rare case the label or its clarity would not come out.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from astroiqa_indi.labels import LABELS

from ._conditions import Conditions
from ._labels import Truth, label_of
from ._path import tracking_path, trail_length
from ._render import frame_geometry, peak_fraction, reference_fwhm
from ._sky import gradient_of, sky_grid

if TYPE_CHECKING:
    from ._rigs import Rig

__all__ = ["conditions_for", "predict_truth"]

FEWEST_STARS = 100  # the default lower end of the stars drawn per frame
_MIN_EXPECTED_STARS = 12.0  # detectable stars a non-background frame needs, by default
_CHECK_SIZES: tuple[tuple[int, int] | None, ...] = (None, (1024, 1024), (512, 512), (256, 256))


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(math.log(lo), math.log(hi))))


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


# --- tracking ----------------------------------------------------------------


def _tracking(rng: np.random.Generator, style: str, exposure: float) -> dict[str, float]:
    """Unscaled tracking components of a style (amplitudes are relative)."""
    out: dict[str, float] = {
        "drift_px": 0.0,
        "drift_angle_deg": _u(rng, 0, 360),
        "ra_angle_deg": _u(rng, 0, 360),
        "pe_amplitude_px": 0.0,
        "pe_period_s": _u(rng, 200, 600),
        "pe_phase": _u(rng, 0, 2 * math.pi),
        "wind_rms_px": 0.0,
        "wind_timescale_s": _logu(rng, 0.05, 3.0) * min(1.0, exposure / 10),
        "wind_angle_deg": _u(rng, 0, 180),
        "wind_ratio": _u(rng, 0.1, 0.45),
        "zigzag_amplitude_px": 0.0,
        "zigzag_period_s": exposure / _u(rng, 2.5, 12),
        "zigzag_angle_deg": _u(rng, 0, 360),
        "jump_px": 0.0,
        "jump_angle_deg": _u(rng, 0, 360),
        "jump_time_frac": _u(rng, 0.2, 0.8),
    }
    if style == "still":
        out["wind_ratio"] = _u(rng, 0.3, 1.0)
        out["wind_rms_px"] = _u(rng, 0.2, 1.0)
        out["drift_px"] = _u(rng, 0.0, 1.0)
        out["pe_amplitude_px"] = _u(rng, 0.0, 0.5)
    elif style == "drift":
        out["drift_px"] = 1.0
        out["wind_rms_px"] = _u(rng, 0.0, 0.08)
    elif style == "pe":
        # the periodic error dominates; over a short sub it is a straight line
        out["pe_amplitude_px"] = 1.0
        out["drift_px"] = _u(rng, 0.0, 0.3)
        out["drift_angle_deg"] = out["ra_angle_deg"] + 90
        out["wind_rms_px"] = _u(rng, 0.0, 0.05)
        out["pe_period_s"] = min(out["pe_period_s"], exposure * _u(rng, 0.8, 3.0))
    elif style == "wind":
        out["wind_rms_px"] = 1.0
        out["wind_ratio"] = _u(rng, 0.05, 0.3)
        out["wind_timescale_s"] = _logu(rng, 0.3, 3.0) * min(1.0, exposure / 10)
        out["drift_px"] = _u(rng, 0.0, 0.5)
        out["drift_angle_deg"] = out["wind_angle_deg"] + _u(rng, -20, 20)
    elif style == "zigzag":
        out["zigzag_amplitude_px"] = 1.0
        out["drift_px"] = _u(rng, 0.0, 3.0)
        out["wind_rms_px"] = _u(rng, 0.0, 0.05)
    elif style == "double":
        out["jump_px"] = 1.0
        out["wind_rms_px"] = _u(rng, 0.0, 0.03)
    else:  # mixed: drift near the RA axis plus periodic error and some wind
        out["drift_px"] = _u(rng, 0.0, 1.0)
        out["drift_angle_deg"] = out["ra_angle_deg"] + _u(rng, -30, 30) + 180 * int(rng.integers(2))
        out["pe_amplitude_px"] = _u(rng, 0.0, 1.0)
        out["wind_rms_px"] = _u(rng, 0.0, 0.4)
        out["pe_period_s"] = min(out["pe_period_s"], exposure * _u(rng, 0.8, 3.0))
    return out


_AMPLITUDES = ("drift_px", "pe_amplitude_px", "wind_rms_px", "zigzag_amplitude_px", "jump_px")


def _scale_path(cond: Conditions, target_px: float) -> Conditions:
    """Scale all tracking amplitudes so the trail length is ``target_px``."""
    length = trail_length(tracking_path(cond))
    if length <= 0:
        return cond
    k = target_px / length
    return cond.replace(**{key: getattr(cond, key) * k for key in _AMPLITUDES})


# --- background --------------------------------------------------------------


def _clean_background(rng: np.random.Generator, rig: Rig) -> dict[str, float]:
    """A background that is `good` with margin (T >= 0.83, G <= ~0.13, S <= 2.7)."""
    bg: dict[str, float] = {
        "transparency": _u(rng, 0.93, 1.0),
        "cloud_variation": 0.0,
        "sky_ratio": _logu(rng, 0.55, 2.7),
        "gradient": _u(rng, 0.0, 0.07),
        "moon_glow": 0.0,
        "vignetting": _u(rng, 0.0, 0.06 + 0.3 * rig.aberration),
        "cloud_glow": 0.0,
    }
    if rng.random() < 0.25:  # thin haze
        bg["transparency"] = _u(rng, 0.84, 0.95)
        bg["cloud_variation"] = _u(rng, 0.0, 0.06)
    if rng.random() < 0.3:  # moderate moon
        bg["moon_glow"] = _u(rng, 0.0, 0.05)
        bg["sky_ratio"] = _u(rng, 1.5, 2.8)
    return bg


def _bad_background(rng: np.random.Generator, rig: Rig) -> dict[str, float]:
    """A background_issues sky: clouds, overcast, strong gradient or bright sky."""
    bg = _clean_background(rng, rig)
    kind = rng.choice(["clouds", "clouds", "overcast", "gradient", "bright", "bright_gradient"])
    if kind == "clouds":
        bg.update(
            transparency=_u(rng, 0.08, 0.44),
            cloud_variation=_u(rng, 0.25, 0.9),
            cloud_scale=_u(rng, 0.15, 0.8),
            cloud_glow=_u(rng, 0.05, 0.6),
            sky_ratio=_logu(rng, 0.8, 5.0),
        )
    elif kind == "overcast":
        bg.update(
            transparency=_u(rng, 0.0, 0.03),
            cloud_variation=_u(rng, 0.0, 0.5),
            cloud_scale=_u(rng, 0.2, 0.8),
            cloud_glow=_u(rng, 0.0, 0.2),
            sky_ratio=_logu(rng, 1.0, 5.5),
        )
    elif kind == "gradient":
        bg.update(gradient=_u(rng, 0.45, 1.6), sky_ratio=_logu(rng, 0.8, 5.0))
    elif kind == "bright":
        bg.update(sky_ratio=_logu(rng, 7.0, 80.0), moon_glow=_u(rng, 0.0, 0.1))
    else:
        bg.update(
            sky_ratio=_logu(rng, 3.0, 60.0),
            moon_glow=_u(rng, 0.3, 1.2),
            gradient=_u(rng, 0.0, 0.4),
        )
    return bg


def _sky_tint(rng: np.random.Generator, bg: dict[str, float]) -> tuple[float, float, float]:
    if bg["sky_ratio"] > 3 or bg.get("moon_glow", 0) > 0.02:  # moonlight/twilight: bluer
        return (round(_u(rng, 0.75, 1.0), 3), 1.0, round(_u(rng, 0.9, 1.3), 3))
    return (round(_u(rng, 0.85, 1.35), 3), 1.0, round(_u(rng, 0.7, 1.05), 3))  # LED/sodium glow


def _fit_gradient(cond: Conditions, rig: Rig, target: float) -> Conditions:
    """Scale gradient + moon glow (no vignetting) so that G equals ``target``."""
    cond = cond.replace(vignetting=0.0)
    if cond.gradient + cond.moon_glow <= 0:
        cond = cond.replace(gradient=0.1)
    base_g, base_m = cond.gradient, cond.moon_glow
    lo, hi = 0.0, 1.0
    while _gradients(cond.replace(gradient=base_g * hi, moon_glow=base_m * hi), rig)[1] < target:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        g = _gradients(cond.replace(gradient=base_g * mid, moon_glow=base_m * mid), rig)[1]
        lo, hi = (mid, hi) if g < target else (lo, mid)
    return cond.replace(gradient=base_g * hi, moon_glow=base_m * hi)


def _gradients(cond: Conditions, rig: Rig) -> tuple[float, float]:
    """Smallest and largest G over a few crop sizes at the conditions' crop position."""
    gs = []
    for size in _CHECK_SIZES:
        w, h, x0, y0 = frame_geometry(rig, cond, size)
        gs.append(gradient_of(sky_grid(rig, cond, width=w, height=h, x0=x0, y0=y0).sky))
    return min(gs), max(gs)


# --- prediction and check ----------------------------------------------------


def predict_truth(cond: Conditions, rig: Rig, *, gradient: float) -> Truth:
    """The truth ``render_frame`` will report, without rendering (``n_detectable`` is the
    expected count; ``gradient`` is supplied because it depends on the crop)."""
    fwhm = cond.seeing_fwhm_arcsec / rig.pixel_scale_arcsec
    path = tracking_path(cond)
    trail = trail_length(path)
    w, h, x0, y0 = frame_geometry(rig, cond, None)
    grid = sky_grid(rig, cond, width=w, height=h, x0=x0, y0=y0)
    trans = float(grid.trans.mean())
    ratio = peak_fraction(cond, fwhm, path) / peak_fraction(cond, reference_fwhm(rig))
    snr = cond.faint_snr * ratio * float((grid.trans * grid.vig).mean())
    expected = cond.n_stars * min(1.0, snr / 5.0) ** cond.star_slope
    return Truth(
        fwhm_px=fwhm,
        fwhm_arcsec=cond.seeing_fwhm_arcsec,
        max_fwhm_arcsec=rig.max_fwhm_arcsec,
        trail_px=trail,
        transparency=trans,
        sky_ratio=cond.sky_ratio,
        gradient=gradient,
        n_stars=cond.n_stars,
        n_detectable=int(expected),
        exposure_s=cond.exposure_s,
        psf_kind=cond.psf_kind,
        moffat_beta=cond.moffat_beta,
        aberration=rig.aberration,
        width=w,
        height=h,
        x0=x0,
        y0=y0,
        sky_adu=cond.sky_ratio * rig.nominal_sky_adu,
        trail_over_fwhm=trail / fwhm,
        drift_px=cond.drift_px,
        pe_amplitude_px=cond.pe_amplitude_px,
        wind_rms_px=cond.wind_rms_px,
        zigzag_amplitude_px=cond.zigzag_amplitude_px,
        jump_px=cond.jump_px,
        cloud_variation=cond.cloud_variation,
        moon_glow=cond.moon_glow,
        vignetting=cond.vignetting,
        nebulosity=cond.nebulosity,
        n_galaxies=cond.n_galaxies,
        target_size_px=cond.target_size_px,
        streak=cond.streak,
        sky_fill=rig.sky_fill(cond.sky_ratio * rig.nominal_sky_adu),
    )


def path_elongation(cond: Conditions, fwhm_px: float) -> float:
    """Expected a/b of a trailed star: second moments of PSF + pixel + path."""
    ev = np.linalg.eigvalsh(np.cov(tracking_path(cond).T))
    s2 = (fwhm_px / 2.3548) ** 2 + 1 / 12
    return float(np.sqrt((s2 + ev[1]) / (s2 + max(ev[0], 0.0))))


def _visible(cond: Conditions, rig: Rig, label: str) -> bool:
    """Tracking labels must look like what they claim, not only measure so."""
    fwhm = cond.seeing_fwhm_arcsec / rig.pixel_scale_arcsec
    ab = path_elongation(cond, fwhm)
    if label == "bad_tracking":
        return ab >= 1.2
    if label == "very_bad_tracking":
        return cond.jump_px > 0 or ab >= 1.5
    return True


def _min_expected_stars(fewest_stars: int) -> float:
    """12 detectable stars by default; sparser draws allow sparser frames, down to 6."""
    return max(6.0, min(_MIN_EXPECTED_STARS, _MIN_EXPECTED_STARS * fewest_stars / FEWEST_STARS))


def _accept(cond: Conditions, rig: Rig, label: str, clear: bool, fewest_stars: int) -> bool:
    if clear and not _visible(cond, rig, label):
        return False
    min_expected = _min_expected_stars(fewest_stars)
    g_lo, g_hi = _gradients(cond, rig)
    for g in (g_lo, g_hi):
        truth = predict_truth(cond, rig, gradient=g)
        if label != "background_issues" and truth.n_detectable < min_expected:
            return False
        if label_of(truth, rig) != (label, clear):
            return False
    return True


# --- the draw ----------------------------------------------------------------


def _draw(
    label: str, rig: Rig, rng: np.random.Generator, clear: bool, fewest_stars: int
) -> Conditions:
    max_px = rig.max_fwhm_px
    exposure = rig.exposure_s
    min_frac = 1.5 / max_px  # never sharper than 1.5 px
    seeing = _u(rng, max(0.45, min_frac), 0.85)
    trail = _u(rng, 0.0, 0.6) if rng.random() < 0.6 else _u(rng, 0.0, 0.25)
    style = "still"
    bg = _clean_background(rng, rig)
    fit_g: float | None = None

    if label == "bad_tracking":
        trail = _u(rng, 1.1, 2.35)
        style = str(rng.choice(["drift", "drift", "pe", "wind", "mixed"]))
    elif label == "very_bad_tracking":
        trail = _logu(rng, 3.3, 25.0)
        style = str(rng.choice(["drift", "drift", "pe", "zigzag", "double", "wind", "mixed"]))
    elif label == "bad_seeing":
        seeing = _u(rng, 1.22, 2.0)
        trail = _u(rng, 0.0, 0.5)
    elif label == "background_issues":
        bg = _bad_background(rng, rig)
        r = rng.random()
        if r < 0.15:
            trail, style = _u(rng, 1.1, 2.3), "drift"
        elif r < 0.25:
            trail, style = _logu(rng, 3.3, 10.0), "drift"
    if label in ("bad_tracking", "very_bad_tracking", "background_issues") and rng.random() < 0.2:
        seeing = _u(rng, 0.85, 1.4)
    if label in ("bad_tracking", "very_bad_tracking", "bad_seeing") and rng.random() < 0.1:
        # still a clear label by the rules: a mildly hazy or bright sky
        which = rng.choice(["t", "s"])
        if which == "t":
            bg.update(transparency=_u(rng, 0.6, 0.8), cloud_variation=_u(rng, 0.0, 0.15))
        else:
            bg.update(sky_ratio=_u(rng, 3.3, 5.5))

    if not clear:
        gaps = {
            "good": ["trail", "seeing", "t", "g", "s"],
            "bad_tracking": ["trail_lo", "trail_hi"],
            "very_bad_tracking": ["trail_vbt"],
            "bad_seeing": ["seeing_bs"],
            "background_issues": ["t_bi", "g_bi", "s_bi"],
        }[label]
        gap = str(rng.choice(gaps))
        bg = _clean_background(rng, rig)
        seeing = _u(rng, max(0.45, min_frac), 0.85)
        trail, style = _u(rng, 0.0, 0.55), "still"
        if gap == "trail":
            trail, style = _u(rng, 0.72, 0.83), str(rng.choice(["drift", "wind", "mixed"]))
        elif gap == "seeing":
            seeing = _u(rng, 0.91, 1.01)
        elif gap == "t":
            bg.update(transparency=_u(rng, 0.67, 0.79), cloud_variation=_u(rng, 0.0, 0.1))
        elif gap == "g":
            fit_g = _u(rng, 0.16, 0.215)
        elif gap == "s":
            bg.update(sky_ratio=_u(rng, 3.1, 4.4))
        elif gap == "trail_lo":
            trail, style = _u(rng, 0.87, 0.99), str(rng.choice(["drift", "wind", "pe"]))
        elif gap == "trail_hi":
            trail, style = _u(rng, 2.51, 2.74), str(rng.choice(["drift", "pe", "mixed"]))
        elif gap == "trail_vbt":
            trail, style = _u(rng, 2.76, 2.99), str(rng.choice(["drift", "pe", "zigzag"]))
        elif gap == "seeing_bs":
            seeing = _u(rng, 1.04, 1.14)
        elif gap == "t_bi":
            bg.update(transparency=_u(rng, 0.51, 0.64), cloud_variation=_u(rng, 0.0, 0.2))
        elif gap == "g_bi":
            fit_g = _u(rng, 0.235, 0.295)
        else:
            bg.update(sky_ratio=_u(rng, 4.6, 5.95))

    fwhm_px = float(np.clip(seeing * max_px, 1.5, 14.0))
    kind = "kolmogorov" if rng.random() < 0.35 else "moffat"
    n_stars = round(_logu(rng, fewest_stars, 5000))
    cond = Conditions(
        exposure_s=exposure,
        seeing_fwhm_arcsec=fwhm_px * rig.pixel_scale_arcsec,
        psf_kind=kind,
        moffat_beta=_u(rng, 2.5, 4.5),
        path_seed=_seed(rng),
        cloud_seed=_seed(rng),
        field_seed=_seed(rng),
        cloud_scale=float(bg.get("cloud_scale", _u(rng, 0.2, 0.8))),
        transparency=bg["transparency"],
        cloud_variation=bg["cloud_variation"],
        cloud_glow=bg["cloud_glow"],
        sky_ratio=bg["sky_ratio"],
        gradient=bg["gradient"],
        gradient_angle_deg=_u(rng, 0, 360),
        moon_glow=bg["moon_glow"],
        moon_angle_deg=_u(rng, 0, 360),
        vignetting=bg["vignetting"],
        sky_tint=_sky_tint(rng, bg),
        crop_x=_u(rng, 0, 1),
        crop_y=_u(rng, 0, 1),
        n_stars=n_stars,
        star_slope=_u(rng, 0.7, 1.05),
        faint_snr=_u(rng, 0.3, 1.5),
        n_galaxies=int(rng.poisson(_u(rng, 1, 15))) if rng.random() < 0.5 else 0,
        nebulosity=_u(rng, 0.05, 0.6) if rng.random() < 0.15 else 0.0,
        target_size_px=_logu(rng, 8.0, 150.0) if rng.random() < 0.45 else 0.0,
        target_snr=_logu(rng, 1.0, 80.0),
        target_ba=_u(rng, 0.2, 1.0),
        target_pa_deg=_u(rng, 0, 180),
        streak=str(rng.choice(["none", "satellite", "aircraft"], p=[0.89, 0.08, 0.03])),
        cosmic_rate=_logu(rng, 0.002, 0.03),
        date_obs=_date(rng),
        **_tracking(rng, style, exposure),
    )
    cond = _scale_path(cond, min(trail * fwhm_px, 160.0))
    if fit_g is not None:
        cond = _fit_gradient(cond, rig, fit_g)
    # Bloated and trailed stars spread their light and lose peak height. Make
    # up for half of that (in magnitudes) so that such frames still show
    # stars, without making them as rich as sharp frames (a cue no real sky gives).
    ratio = peak_fraction(cond, fwhm_px, tracking_path(cond)) / peak_fraction(
        cond, reference_fwhm(rig)
    )
    if ratio < 1:
        cond = cond.replace(faint_snr=cond.faint_snr / ratio**0.5)
    return cond


def _date(rng: np.random.Generator) -> str:
    day = int(rng.integers(0, 3 * 365))
    secs = int(rng.integers(0, 8 * 3600)) + 20 * 3600
    base = (
        np.datetime64("2023-01-01T00:00:00") + np.timedelta64(day, "D") + np.timedelta64(secs, "s")
    )
    frac = int(rng.integers(0, 1000))
    return f"{base}.{frac:03d}"


def conditions_for(
    label: str,
    rig: Rig,
    rng: np.random.Generator,
    *,
    clear: bool = True,
    fewest_stars: int = FEWEST_STARS,
) -> Conditions:
    """Draw conditions whose truth gets ``label`` from :func:`label_of`.

    Parameters
    ----------
    label
        One of ``astroiqa_indi.labels.LABELS``.
    rig
        The rig the conditions are for (lengths are in its pixels).
    rng
        Source of randomness.
    clear
        ``True``: well inside the label's band (``label_clear=1``).
        ``False``: inside an ambiguous band whose nearest rule is ``label``.
    fewest_stars
        Lower end of the stars per frame (drawn log-uniform up to 5000). Below the
        default 100, frames of every label may be sparser: the detectable stars a
        non-background frame needs fall from 12 to as few as 6.

    Returns
    -------
    Conditions
    """
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {LABELS}")
    if not 1 <= fewest_stars <= 5000:
        raise ValueError("fewest_stars must be within 1..5000")
    for _ in range(200):
        cond = _draw(label, rig, rng, clear, fewest_stars)
        if _accept(cond, rig, label, clear, fewest_stars):
            return cond
    raise RuntimeError(f"could not draw conditions for {label!r} (clear={clear}) on {rig.name}")
