import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from astroiqa_indi.errors import ModelError
from astroiqa_indi.grading import SomCodebook, analyse
from astroiqa_indi.grading._metrics import sky_structure
from astroiqa_indi.grading._sources import _window_moments, extract_sources, fwhm_from_radii
from astroiqa_indi.grading._stamps import cut_stamps

from ._synthetic import gaussian_field


def test_fwhm_from_radii_is_exact_for_a_gaussian() -> None:
    # Gaussian: r_f = sigma * sqrt(-2 ln(1 - f)); FWHM = 2 sqrt(2 ln 2) sigma = 2 r50.
    sigma = 1.7
    r = [sigma * math.sqrt(-2 * math.log(1 - f)) for f in (0.25, 0.5, 0.75)]
    assert_allclose(fwhm_from_radii(*(np.array([v]) for v in r)), [2 * r[1]], rtol=2e-3)


def test_fwhm_from_radii_is_exact_for_a_moffat() -> None:
    alpha, beta = 2.0, 3.0

    def radius(f: float) -> float:
        return alpha * math.sqrt((1 - f) ** (1 / (1 - beta)) - 1)

    fwhm = 2 * alpha * math.sqrt(2 ** (1 / beta) - 1)
    r = [np.array([radius(f)]) for f in (0.25, 0.5, 0.75)]
    assert_allclose(fwhm_from_radii(*r), [fwhm], rtol=5e-3)


def test_window_moments_of_an_elongated_gaussian() -> None:
    yy, xx = np.mgrid[0:41, 0:41].astype(float)
    image = np.exp(-0.5 * ((xx - 20) ** 2 / 3.0**2 + (yy - 20) ** 2 / 1.5**2))
    a, b, theta = _window_moments(image, np.array([20.0]), np.array([20.0]), np.array([4.0]))
    # The window's shrinkage (s2 w2 / (s2 + w2)) is undone exactly for a Gaussian.
    assert_allclose([a[0], b[0], theta[0]], [3.0, 1.5, 0.0], atol=0.03)


def test_window_moments_of_one_pixel_wide_sources_stay_finite() -> None:
    image = np.zeros((41, 41))
    image[20, 20] = 50.0  # a hot pixel
    image[5:15, 30] = 80.0  # a cosmic-ray track, one pixel wide
    image[25, 5] = -3.0  # a noise dip: negative weights
    x, y = np.array([20.0, 30.0, 5.0]), np.array([20.0, 10.0, 25.0])
    a, b, _ = _window_moments(image, x, y, np.full(3, 1.5))
    # No narrower than a pixel (sqrt(1/12) = 0.289 px, a little more once the window
    # is undone): the track reads long and thin, but not 1e5:1.
    assert np.all(b >= 0.28)
    assert np.all(a / b < 20)
    assert a[1] / b[1] > 3


def test_sky_structure_of_a_linear_ramp() -> None:
    # Sky from 100 to 130 across x: peak-to-peak of the smoothed 8x8 cell map over the median.
    ramp = np.tile(np.linspace(100, 130, 512, dtype=np.float32), (512, 1))
    med, gradient, residual = sky_structure(ramp)
    assert med == pytest.approx(115, rel=0.01)
    # Cell values step by 30/8; the 3x3 box with replicated edges pulls each end cell
    # a third of a step inwards: ptp = (7 - 2/3) steps.
    assert gradient == pytest.approx(30 / 8 * (7 - 2 / 3) / 115, rel=0.03)
    assert residual < 1e-3


def test_flat_sky_has_no_gradient() -> None:
    med, gradient, residual = sky_structure(np.full((256, 256), 50.0, np.float32))
    assert (med, gradient, residual) == (50.0, 0.0, 0.0)


def test_extract_sources_measures_round_gaussian_stars() -> None:
    image = gaussian_field(sigma_x=1.6, sigma_y=1.6, seed=1)
    sources = extract_sources(image, saturation=65535.0)
    assert sources.n_kept >= 30
    fwhm = np.median(fwhm_from_radii(sources.r25, sources.r50, sources.r75))
    assert fwhm == pytest.approx(2.3548 * 1.6, rel=0.08)
    assert np.median(sources.a / sources.b) < 1.15


def test_extract_sources_sees_elongation_and_its_angle() -> None:
    image = gaussian_field(sigma_x=3.0, sigma_y=1.3, angle_deg=30.0, seed=2)
    a = analyse(
        image, saturation=None, pixel_scale_arcsec=1.0, max_fwhm_arcsec=4.0, nominal_sky_adu=None
    )
    m = a.measured.metrics
    assert m.elongation == pytest.approx(3.0 / 1.3, rel=0.08)
    assert m.orientation_coherence is not None and m.orientation_coherence > 0.75
    assert m.position_angle_deg == pytest.approx(30.0, abs=5.0)


def test_randomly_oriented_elongations_are_not_coherent() -> None:
    image = gaussian_field(sigma_x=3.0, sigma_y=1.3, random_angles=True, seed=2)
    a = analyse(
        image, saturation=None, pixel_scale_arcsec=1.0, max_fwhm_arcsec=4.0, nominal_sky_adu=None
    )
    m = a.measured.metrics
    assert m.elongation == pytest.approx(3.0 / 1.3, rel=0.1)
    assert m.orientation_coherence is not None and m.orientation_coherence < 0.4


def test_empty_frame_is_a_result_not_an_error() -> None:
    rng = np.random.default_rng(3)
    image = rng.normal(100, 3, (128, 128)).astype(np.float32)
    a = analyse(
        image, saturation=65535, pixel_scale_arcsec=1.0, max_fwhm_arcsec=4.0, nominal_sky_adu=100
    )
    assert a.measured.metrics.n_stars == 0
    assert a.stamps.shape == (0, 32, 32)
    assert a.measured.metrics.fwhm_px is None


def test_saturated_stars_are_not_measured() -> None:
    image = gaussian_field(n_stars=30, seed=4, noise=False)
    clipped = np.minimum(image, 1500.0)
    sources = extract_sources(clipped, saturation=1500.0)
    assert sources.n_saturated > 0
    peaks = clipped[np.rint(sources.y).astype(int), np.rint(sources.x).astype(int)]
    assert np.all(peaks < 0.9 * 1500.0)


def test_cut_stamps_centres_the_star_and_scales_to_unit_range() -> None:
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    image = np.exp(-0.5 * ((xx - 30.3) ** 2 + (yy - 33.7) ** 2) / 2.0**2).astype(np.float32)
    stamps = cut_stamps(image, np.array([30.3]), np.array([33.7]), 16.0)
    assert stamps.shape == (1, 32, 32)
    assert stamps.min() == 0.0 and stamps.max() == 1.0
    yy, xx = np.mgrid[0:32, 0:32]
    total = stamps[0].sum()
    centroid = ((stamps[0] * yy).sum() / total, (stamps[0] * xx).sum() / total)
    assert_allclose(centroid, (15.5, 15.5), atol=0.3)
    assert_allclose(stamps[0], stamps[0].T, atol=0.05)


def test_som_best_matching_units_by_hand() -> None:
    som = SomCodebook(
        weights=np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32),
        mean=np.zeros(2, np.float32),
        std=np.ones(2, np.float32),
        rows=2,
        cols=2,
    )
    samples = np.array([[0.1, 0.1], [0.9, 0.2], [0.2, 0.8], [2.0, 2.0]])
    assert som.best_matching_units(samples).tolist() == [0, 1, 2, 3]


def test_som_rejects_inconsistent_codebooks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ModelError):
        SomCodebook(
            weights=np.zeros((3, 2), np.float32),
            mean=np.zeros(2, np.float32),
            std=np.ones(2, np.float32),
            rows=2,
            cols=2,
        )
    bad = tmp_path / "som.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelError, match="cannot read SOM"):
        SomCodebook.load(bad)


def test_pair_statistics_find_a_double_image() -> None:
    from astroiqa_indi.grading._metrics import pair_statistics

    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1000, 60)
    y = rng.uniform(0, 1000, 60)
    single_fraction, _ = pair_statistics(x, y, shape=(1000, 1000))
    # Every star repeated 9 px right and 4 px down: half the sources form one pair each.
    doubled_fraction, separation = pair_statistics(
        np.r_[x, x + 9], np.r_[y, y + 4], shape=(1000, 1000)
    )
    assert single_fraction < 0.1
    assert doubled_fraction > 0.4
    assert separation == pytest.approx(np.hypot(9, 4), abs=1.5)


def test_pair_statistics_find_a_long_jump_in_a_rich_field() -> None:
    # 500 stars on 640x640 px lie about 14 px apart, so a 47 px jump puts each copy
    # farther away than other stars: nearest neighbours alone do not see it.
    from astroiqa_indi.grading._metrics import pair_statistics

    rng = np.random.default_rng(6)
    x = rng.uniform(0, 640, 500)
    y = rng.uniform(0, 640, 500)
    flux = rng.pareto(1.5, 500) + 1
    single_fraction, _ = pair_statistics(x, y, flux=flux, shape=(640, 640))
    fainter = 0.6 * flux
    doubled_fraction, separation = pair_statistics(
        np.r_[x, x - 40], np.r_[y, y + 25], flux=np.r_[flux, fainter], shape=(640, 640)
    )
    assert single_fraction < 0.05
    assert doubled_fraction > 0.25
    assert separation == pytest.approx(np.hypot(40, 25), abs=1.5)


def test_hot_pixels_and_cosmic_rays_do_not_count_as_stars() -> None:
    # A sparse field (12 stars, FWHM 3.5 px) on an uncalibrated frame with more
    # sharp artefacts than stars: hot pixels and short cosmic-ray tracks.
    image = gaussian_field(n_stars=12, sigma_x=1.5, sigma_y=1.5, seed=3)
    rng = np.random.default_rng(4)
    for _ in range(30):
        x, y = (int(v) for v in rng.integers(12, 244, 2))
        if rng.random() < 0.5:
            image[y, x] += 5000.0  # a hot pixel
        else:
            image[y, x : x + 7] += 2500.0  # a cosmic ray along a row
    sources = extract_sources(image)
    assert sources.n_detected > 30  # the artefacts are detected...
    assert 8 <= sources.n_kept <= 12  # ...but not kept as stars
    fwhm = np.median(fwhm_from_radii(sources.r25, sources.r50, sources.r75))
    assert fwhm == pytest.approx(2.355 * 1.5, rel=0.15)


def test_a_field_of_stars_as_narrow_as_a_pixel_keeps_them() -> None:
    # A coarse rig: stars of 0.9 px FWHM cannot be told from hot pixels by width.
    image = gaussian_field(n_stars=40, sigma_x=0.38, sigma_y=0.38, seed=5)
    wide = gaussian_field(n_stars=40, sigma_x=1.5, sigma_y=1.5, seed=5)
    assert extract_sources(image).n_kept >= 0.8 * extract_sources(wide).n_kept


def test_pixels_at_the_float32_limit_do_not_break_extraction() -> None:
    # A calibrated float64 frame divided by a flat that is nearly zero in a few pixels:
    # decoded to float32 they sit at its largest value, and sep's sums over them
    # overflow to an object without a place or a flux.
    import io

    from astropy.io import fits

    from astroiqa_indi.frames import Frame

    image = gaussian_field(sigma_x=1.3, sigma_y=1.3, seed=5).astype(np.float64)
    image[100:104, 50] = 1e40
    buffer = io.BytesIO()
    fits.PrimaryHDU(image).writeto(buffer)
    frame = Frame.from_bytes(buffer.getvalue(), ".fits")
    sources = extract_sources(np.asarray(frame.data), saturation=None)
    assert np.all(np.isfinite(sources.all_x)) and np.all(np.isfinite(sources.all_flux))
    assert sources.n_kept >= 30
    measured = analyse(
        frame.data,
        saturation=None,
        pixel_scale_arcsec=1.0,
        max_fwhm_arcsec=4.0,
        nominal_sky_adu=None,
    )
    assert measured.measured.metrics.n_stars >= 30
