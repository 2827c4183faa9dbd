"""Conditions of one exposure: atmosphere, mount, sky and scene."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

__all__ = ["PSF_KINDS", "STREAKS", "Conditions"]

PSF_KINDS = ("moffat", "kolmogorov")
STREAKS = ("none", "satellite", "aircraft")


@dataclass(frozen=True)
class Conditions:
    """Everything that varies from one exposure to the next.

    Lengths are in pixels of the rig that the conditions were drawn for,
    angles in degrees on the sensor (0 = +x, 90 = +y), times in seconds.

    Parameters
    ----------
    exposure_s
        Exposure time.
    seeing_fwhm_arcsec
        FWHM of the static PSF (atmosphere + optics on axis).
    psf_kind, moffat_beta
        ``"moffat"`` (with beta 2.5-4.5) or ``"kolmogorov"``.
    drift_px, drift_angle_deg
        Linear drift during the exposure (total length) and its direction.
    ra_angle_deg
        Direction of the RA axis on the sensor (periodic error acts along it).
    pe_amplitude_px, pe_period_s, pe_phase
        Periodic error: semi-amplitude, period, phase (radians) at exposure start.
    wind_rms_px, wind_timescale_s, wind_angle_deg, wind_ratio
        Random wind shake: rms displacement, correlation time, the direction
        the mount rocks in most, and the rms across it / the rms along it.
    zigzag_amplitude_px, zigzag_period_s, zigzag_angle_deg
        Triangle-wave oscillation (guiding oscillation, backlash).
    jump_px, jump_angle_deg, jump_time_frac
        A sudden shift (mount slip, cable snag) that makes a double image;
        ``jump_time_frac`` is when it happens as a fraction of the exposure.
    path_seed
        Seed of the random wind shake.
    transparency
        Mean fraction of starlight reaching the sensor.
    cloud_variation, cloud_scale, cloud_glow, cloud_seed
        Relative rms of the transparency screen, its correlation length as a
        fraction of the frame, scattered light added where clouds are thick
        (fraction of the sky level per unit opacity), and the screen's seed.
    sky_ratio
        Median sky / the rig's nominal dark sky.
    gradient, gradient_angle_deg
        Linear light-pollution gradient: peak-to-peak fraction across the frame
        and its direction (towards brighter).
    moon_glow, moon_angle_deg
        Curved glow from the moon or twilight: peak-to-peak fraction, direction.
    vignetting
        Light loss in the sensor corners (fraction), growing with radius squared.
    sky_tint
        Sky colour relative to starlight, R, G, B (Bayer rigs).
    crop_x, crop_y
        Where a crop sits on the sensor: 0 = left/top edge, 1 = right/bottom.
    n_stars, star_slope, faint_snr, field_seed
        Stars per frame (at most one per 80 px^2 of a small crop), slope ``a``
        of ``N(>flux) ~ flux**-a``, peak signal-to-noise of the faintest star
        at the rig's typical seeing, and the star field's seed.
    faint_flux_e
        The faintest star's flux, electrons, when > 0. Left at 0, it follows from
        ``faint_snr`` and this exposure's sky noise and PSF, which suits frames drawn
        one by one; a night scenario fixes it, so that its stars keep their
        brightness when the moon rises or the seeing changes.
    n_galaxies, nebulosity
        Faint galaxies per frame; nebula peak as a fraction of the sky level.
    target_size_px, target_snr, target_ba, target_pa_deg
        The imaged object, a bright galaxy near the frame centre (0 = none):
        disk FWHM along its major axis (px), central surface brightness in
        units of the sky noise, axis ratio, position angle.
    streak
        ``"none"``, ``"satellite"`` or ``"aircraft"``.
    cosmic_rate
        Cosmic-ray hits per megapixel per second.
    date_obs
        ``DATE-OBS`` of the exposure start (ISO 8601, UTC).
    """

    exposure_s: float
    seeing_fwhm_arcsec: float
    psf_kind: str = "moffat"
    moffat_beta: float = 3.0
    drift_px: float = 0.0
    drift_angle_deg: float = 0.0
    ra_angle_deg: float = 0.0
    pe_amplitude_px: float = 0.0
    pe_period_s: float = 400.0
    pe_phase: float = 0.0
    wind_rms_px: float = 0.0
    wind_timescale_s: float = 0.5
    wind_angle_deg: float = 0.0
    wind_ratio: float = 0.3
    zigzag_amplitude_px: float = 0.0
    zigzag_period_s: float = 30.0
    zigzag_angle_deg: float = 0.0
    jump_px: float = 0.0
    jump_angle_deg: float = 0.0
    jump_time_frac: float = 0.5
    path_seed: int = 0
    transparency: float = 1.0
    cloud_variation: float = 0.0
    cloud_scale: float = 0.3
    cloud_glow: float = 0.0
    cloud_seed: int = 0
    sky_ratio: float = 1.0
    gradient: float = 0.0
    gradient_angle_deg: float = 0.0
    moon_glow: float = 0.0
    moon_angle_deg: float = 0.0
    vignetting: float = 0.0
    sky_tint: tuple[float, float, float] = (1.0, 1.0, 1.0)
    crop_x: float = 0.5
    crop_y: float = 0.5
    n_stars: int = 1000
    star_slope: float = 0.8
    faint_snr: float = 1.0
    faint_flux_e: float = 0.0
    field_seed: int = 0
    n_galaxies: int = 0
    nebulosity: float = 0.0
    target_size_px: float = 0.0
    target_snr: float = 0.0
    target_ba: float = 0.6
    target_pa_deg: float = 0.0
    streak: str = "none"
    cosmic_rate: float = 0.01
    date_obs: str = "2024-01-01T00:00:00"

    def __post_init__(self) -> None:
        if not self.exposure_s > 0:
            raise ValueError("exposure_s must be > 0")
        if not self.seeing_fwhm_arcsec > 0:
            raise ValueError("seeing_fwhm_arcsec must be > 0")
        if self.psf_kind not in PSF_KINDS:
            raise ValueError(f"psf_kind must be one of {PSF_KINDS}")
        if not 1.5 <= self.moffat_beta <= 10:
            raise ValueError("moffat_beta must be 1.5..10")
        nonneg = (
            "drift_px",
            "pe_amplitude_px",
            "wind_rms_px",
            "zigzag_amplitude_px",
            "jump_px",
            "cloud_variation",
            "cloud_glow",
            "gradient",
            "moon_glow",
            "nebulosity",
            "cosmic_rate",
            "n_galaxies",
            "target_size_px",
            "target_snr",
        )
        for key in nonneg:
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0")
        for key in ("pe_period_s", "zigzag_period_s", "wind_timescale_s", "cloud_scale"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0")
        if not 0.05 <= self.target_ba <= 1:
            raise ValueError("target_ba must be in [0.05, 1]")
        if not 0 <= self.wind_ratio <= 1:
            raise ValueError("wind_ratio must be in [0, 1]")
        if not 0 <= self.transparency <= 1:
            raise ValueError("transparency must be in [0, 1]")
        if not self.sky_ratio > 0:
            raise ValueError("sky_ratio must be > 0")
        if not 0 <= self.vignetting < 0.9:
            raise ValueError("vignetting must be in [0, 0.9)")
        for key in ("crop_x", "crop_y", "jump_time_frac"):
            if not 0 <= getattr(self, key) <= 1:
                raise ValueError(f"{key} must be in [0, 1]")
        if self.n_stars < 0:
            raise ValueError("n_stars must be >= 0")
        if not 0.2 <= self.star_slope <= 2.0:
            raise ValueError("star_slope must be 0.2..2")
        if not self.faint_snr > 0:
            raise ValueError("faint_snr must be > 0")
        if self.faint_flux_e < 0:
            raise ValueError("faint_flux_e must be >= 0")
        if self.streak not in STREAKS:
            raise ValueError(f"streak must be one of {STREAKS}")
        if len(self.sky_tint) != 3 or min(self.sky_tint) <= 0:
            raise ValueError("sky_tint must be three positive numbers")

    def replace(self, **changes: Any) -> Conditions:
        """A copy with ``changes`` applied (validated)."""
        return replace(self, **changes)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all fields, in declaration order."""
        return tuple(f.name for f in fields(cls))
