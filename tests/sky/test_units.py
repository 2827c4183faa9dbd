"""Small hand-checkable pieces: profiles, stamps, paths, bleeding, rigs, profiles YAML."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from numpy.testing import assert_allclose

import simulators.sky as sky
from simulators.sky import RIGS, Conditions, Rig, profile_yaml, random_rig
from simulators.sky._camera import _bleed, digitise
from simulators.sky._path import path_kernel, tracking_path, trail_length
from simulators.sky._psf import StampBatch, deposit_stamps, profile, r50_over_fwhm


def test_all_is_complete() -> None:
    public = {n for n in dir(sky) if not n.startswith("_")} - {"annotations"}
    modules = {n for n in public if type(getattr(sky, n)).__name__ == "module"}
    assert set(sky.__all__) == public - modules


@pytest.mark.parametrize("kind", ["moffat", "kolmogorov", "gaussian"])
@pytest.mark.parametrize("beta", [2.5, 4.5])
def test_profiles_have_fwhm_one_and_unit_flux(kind: str, beta: float) -> None:
    p = profile(kind, beta)
    assert_allclose(p(np.array([0.5]))[0], p.value[0] / 2, rtol=2e-3)
    rho = np.linspace(0, 60, 200001)
    flux = np.trapezoid(2 * np.pi * rho * p(rho), rho)
    assert_allclose(flux, 1.0, rtol=2e-3)


def test_half_light_radius_matches_moffat_formula() -> None:
    for beta in (2.5, 3.0, 4.5):
        exact = np.sqrt(2 ** (1 / (beta - 1)) - 1) / (2 * np.sqrt(2 ** (1 / beta) - 1))
        assert_allclose(r50_over_fwhm("moffat", beta), exact, rtol=1e-3)
    assert_allclose(r50_over_fwhm("gaussian"), 0.5, rtol=1e-3)


def test_stamp_keeps_flux_and_centroid() -> None:
    fwhm = 3.0
    batch = StampBatch(
        x=np.array([20.3]),
        y=np.array([15.8]),
        flux=np.array([1000.0]),
        shape=np.array([[1 / fwhm**2, 0.0, 1 / fwhm**2]]),
        norm=np.array([1 / fwhm**2]),
        radius=np.array([16]),
    )
    img, _ = deposit_stamps((32, 40), batch, profile("gaussian"), subsample=3)
    assert_allclose(img.sum(), 1000.0, rtol=1e-3)
    yy, xx = np.mgrid[0:32, 0:40]
    assert_allclose((img * xx).sum() / img.sum(), 20.3, atol=0.01)
    assert_allclose((img * yy).sum() / img.sum(), 15.8, atol=0.01)
    var_x = (img * (xx - 20.3) ** 2).sum() / img.sum()
    # Gaussian sigma^2 plus the pixel's 1/12
    assert_allclose(var_x, (fwhm / 2.3548) ** 2 + 1 / 12, rtol=0.02)


def test_elongated_stamp_second_moments() -> None:
    # covariance diag(4, 1) px^2 as a shape matrix in FWHM units: A = s1^2 C^-1
    s1 = 1 / 2.3548
    a = np.array([[s1**2 / 4, 0.0, s1**2 / 1]])
    batch = StampBatch(
        np.array([30.0]),
        np.array([30.0]),
        np.array([1.0]),
        a,
        np.array([np.sqrt(a[0, 0] * a[0, 2])]),
        np.array([22]),
    )
    img, _ = deposit_stamps((61, 61), batch, profile("gaussian"), subsample=3)
    yy, xx = np.mgrid[0:61, 0:61]
    assert_allclose(img.sum(), 1.0, rtol=1e-3)
    assert_allclose((img * (xx - 30) ** 2).sum(), 4 + 1 / 12, rtol=0.02)
    assert_allclose((img * (yy - 30) ** 2).sum(), 1 + 1 / 12, rtol=0.02)


def test_trail_length_is_the_path_diameter() -> None:
    cond = Conditions(exposure_s=100, seeing_fwhm_arcsec=2.0, drift_px=10.0, drift_angle_deg=30)
    path = tracking_path(cond)
    assert path.shape == (512, 2)
    # samples at the centres of 512 equal time slices: 10 * 511/512
    assert_allclose(trail_length(path), 10 * 511 / 512, rtol=1e-9)
    assert_allclose(np.rad2deg(np.arctan2(*(path[-1] - path[0])[::-1])), 30, atol=1e-6)
    square = np.array([[0.0, 0.0], [3.0, 0.0], [3.0, 4.0], [0.0, 4.0], [1.0, 1.0]])
    assert trail_length(square) == 5.0


def test_periodic_error_and_jump() -> None:
    pe = Conditions(
        exposure_s=400, seeing_fwhm_arcsec=2.0, pe_amplitude_px=3.0, pe_period_s=400, ra_angle_deg=0
    )
    assert_allclose(trail_length(tracking_path(pe)), 6.0, rtol=1e-3)
    jump = Conditions(exposure_s=10, seeing_fwhm_arcsec=2.0, jump_px=7.0, jump_time_frac=0.3)
    path = tracking_path(jump)
    assert trail_length(path) == pytest.approx(7.0)
    assert (path[:, 0] > 0).mean() == pytest.approx(0.7, abs=0.01)


def test_path_kernel_is_normalised_and_centred() -> None:
    path = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    kern, half = path_kernel(path)
    assert kern.shape == (2 * half + 1, 2 * half + 1)
    assert_allclose(kern.sum(), 1.0)
    assert_allclose(kern[half, half - 2 : half + 3], [1 / 3, 0, 1 / 3, 0, 1 / 3])


def test_bleed_conserves_charge_along_the_column() -> None:
    col = np.zeros((12, 2), np.float32)
    col[6, 0] = 45.0
    _bleed(col, 10.0)
    assert_allclose(col[:, 0], [0, 0, 0, 0, 7.5, 10, 10, 10, 7.5, 0, 0, 0])
    assert col.sum() == 45.0


def test_digitise_adc_step_offset_and_clip() -> None:
    rig = replace(RIGS["c11_asi1600mm_bin2"], read_noise_e=0.0)  # 12-bit ADC scaled to 16 bits
    mean = np.full((64, 64), 1e6, np.float32)
    mean[0, 0] = 0.0
    out = digitise(mean, rig, np.random.default_rng(0))
    assert out.dtype == np.uint16
    assert np.all(out % 16 == 0)
    assert out[0, 0] == 800  # bias
    assert out[5, 5] == min(65520, 800 + 60000 / 0.25 // 16 * 16)  # full well, ADC top


def test_catalogue_is_realistic() -> None:
    assert len(RIGS) >= 8
    scales = [r.pixel_scale_arcsec for r in RIGS.values()]
    assert min(scales) <= 0.6 and max(scales) >= 3.5
    assert any(r.bayer == "GRBG" for r in RIGS.values())
    assert any(r.bayer is None for r in RIGS.values())
    assert any(r.dtype == "float32" for r in RIGS.values())
    assert any(r.bleed for r in RIGS.values())
    assert any(r.aberration >= 0.1 for r in RIGS.values())
    seestar = RIGS["seestar_s50"]
    assert (seestar.width, seestar.height, seestar.bayer) == (1080, 1920, "GRBG")
    assert max(r.width * r.height for r in RIGS.values()) == 6248 * 4176


def test_rig_validates_plate_scale() -> None:
    with pytest.raises(ValueError, match="disagrees"):
        replace(RIGS["seestar_s50"], pixel_scale_arcsec=3.0)


@pytest.mark.parametrize("seed", range(20))
def test_random_rigs_are_valid_and_in_range(seed: int) -> None:
    rig = random_rig(np.random.default_rng(seed))
    assert isinstance(rig, Rig)
    assert 0.5 <= rig.pixel_scale_arcsec <= 4.0
    assert 2.5 <= rig.max_fwhm_px <= 6.1
    assert rig.name not in RIGS


@pytest.mark.parametrize("rig", [*RIGS.values(), random_rig(np.random.default_rng(3))], ids=str)
def test_profile_yaml_has_the_loader_keys(rig: Rig) -> None:
    data = yaml.safe_load(profile_yaml(rig))
    assert set(data) == {"name", "optics", "quality"}
    assert data["name"] == rig.name
    optics = data["optics"]
    assert set(optics) == {
        "pixel_scale_arcsec",
        "focal_length_mm",
        "pixel_size_um",
        "binning",
        "bayer",
    }
    expected = 206.265 * optics["pixel_size_um"] * optics["binning"] / optics["focal_length_mm"]
    assert optics["pixel_scale_arcsec"] == pytest.approx(expected, rel=0.05)
    assert optics["bayer"] == (rig.bayer or "none")
    assert set(data["quality"]) == {"max_fwhm_arcsec", "nominal_sky_adu", "bias_adu"}
