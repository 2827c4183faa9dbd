"""``render_frame``: one exposure with known truth.

Pipeline (electrons until the ADC):

1. the scene (``_scene``): stars, galaxies, the target and diffraction spikes
   as exact sub-pixel stamps of the static PSF, with per-source optical
   aberration, colour and cloud/vignetting transmission;
2. the tracking path: short paths (L < 1 px) are folded into the stamps as
   a covariance; longer ones by one FFT convolution of the whole canvas with
   the path kernel;
3. satellite/aircraft streaks;
4. smooth sky (gradients, moon, cloud glow, vignetting) and nebulosity on a
   coarse grid, interpolated to full size;
5. colour filter array, dark current, hot pixels, cosmic rays, noise,
   blooming/saturation, ADC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._camera import add_cosmic_rays, cfa_tiles, digitise, hot_pixels, make_header, mosaic
from ._labels import Truth
from ._path import path_kernel, tracking_path, trail_length
from ._psf import StampBatch, deposit_stamps, profile
from ._scene import SIGMA1, Stage, draw_scene, star_field
from ._sky import gradient_of, nebula_grid, sky_grid, upsample

if TYPE_CHECKING:
    from astropy.io import fits

    from ._conditions import Conditions
    from ._rigs import Rig

__all__ = ["frame_geometry", "peak_fraction", "reference_fwhm", "render_frame"]

FloatArray = NDArray[np.float64]
F32 = NDArray[np.float32]
_COLOUR_GAIN = {"R": 0.25, "G": 0.0, "B": -0.25}  # channel change per unit colour index


def frame_geometry(
    rig: Rig, cond: Conditions, size: tuple[int, int] | None
) -> tuple[int, int, int, int]:
    """``(width, height, x0, y0)`` of the rendered frame on the sensor."""
    if size is None:
        w, h = rig.width, rig.height
    else:
        w, h = min(int(size[0]), rig.width), min(int(size[1]), rig.height)
    if rig.bayer is not None:
        w, h = w - w % 2, h - h % 2
    if w < 16 or h < 16:
        raise ValueError("frame must be at least 16x16 pixels")
    x0 = round(cond.crop_x * (rig.width - w))
    y0 = round(cond.crop_y * (rig.height - h))
    if rig.bayer is not None:  # keep the CFA phase of BAYERPAT
        x0, y0 = x0 - x0 % 2, y0 - y0 % 2
    return w, h, x0, y0


def reference_fwhm(rig: Rig) -> float:
    """FWHM (px) at which ``Conditions.faint_snr`` is defined: typical seeing for the rig.

    Star fluxes do not depend on the seeing or the tracking of one exposure:
    bloated or trailed stars have lower peaks, as in the sky.
    """
    return float(np.clip(0.65 * rig.max_fwhm_px, 1.5, 14.0))


def _sky_e(rig: Rig, cond: Conditions) -> tuple[float, float]:
    """Sky level and per-pixel sky plus read noise of one exposure, electrons."""
    sky_e = cond.sky_ratio * rig.nominal_sky_adu * rig.gain_e_per_adu
    return sky_e, float(np.sqrt(sky_e + rig.read_noise_e**2))


def faint_flux(rig: Rig, cond: Conditions) -> float:
    """The faintest star's flux (electrons) that gives it ``cond.faint_snr``.

    Set at the rig's typical seeing, not this exposure's: bloated stars have lower
    peaks, as in the sky.
    """
    return cond.faint_snr * _sky_e(rig, cond)[1] / peak_fraction(cond, reference_fwhm(rig))


def peak_fraction(cond: Conditions, fwhm: float, path: FloatArray | None = None) -> float:
    """Fraction of a star's flux in its brightest pixel (static PSF, or trailed by ``path``)."""
    prof = profile(cond.psf_kind, cond.moffat_beta)
    r = int(np.ceil(3 * fwhm)) + 2
    batch = StampBatch(
        x=np.array([float(r)]),
        y=np.array([float(r)]),
        flux=np.array([1.0]),
        shape=np.array([[1 / fwhm**2, 0.0, 1 / fwhm**2]]),
        norm=np.array([1 / fwhm**2]),
        radius=np.array([r]),
    )
    stamp, _ = deposit_stamps((2 * r + 1, 2 * r + 1), batch, prof, subsample=5)
    if path is not None and trail_length(path) >= 1.0:
        from scipy.signal import fftconvolve

        kern, _ = path_kernel(path)
        stamp = fftconvolve(stamp, kern)
    return float(stamp.max())


def _fft_convolve(canvases: list[NDArray[np.floating]], kern: FloatArray) -> list[F32]:
    """Convolve same-shaped canvases with one kernel (its spectrum computed once)."""
    from scipy import fft

    h, w = canvases[0].shape
    shape = (fft.next_fast_len(h, real=True), fft.next_fast_len(w, real=True))
    half = kern.shape[0] // 2
    k = np.zeros(shape, dtype=np.float32)
    k[: kern.shape[0], : kern.shape[1]] = kern
    k = np.roll(k, (-half, -half), axis=(0, 1))
    kspec = fft.rfft2(k, workers=1)
    out = []
    for canvas in canvases:
        spec = fft.rfft2(canvas.astype(np.float32), s=shape, workers=1)
        spec *= kspec
        out.append(fft.irfft2(spec, s=shape, workers=1)[:h, :w].astype(np.float32, copy=False))
    return out


def _streak(
    image: F32, cond: Conditions, rng: np.random.Generator, fwhm: float, level: float
) -> None:
    """Add satellite trails (one or a few, some flaring) or an aircraft (blinking
    navigation lights on two lines) in place; ``level`` is the sky noise (e)."""
    h, w = image.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sig = max(fwhm * SIGMA1, 0.5)
    n = 1 + int(rng.poisson(0.4)) if cond.streak == "satellite" else 1
    for _ in range(n):
        ang = rng.uniform(0, np.pi)
        px, py = rng.uniform(0, w), rng.uniform(0, h)
        across = (xx - px) * -np.sin(ang) + (yy - py) * np.cos(ang)
        along = (xx - px) * np.cos(ang) + (yy - py) * np.sin(ang)
        peak = level * np.exp(rng.uniform(np.log(1.5), np.log(60)))
        if cond.streak == "aircraft":
            blink = (np.cos(2 * np.pi * along / rng.uniform(15, 60)) > 0.6).astype(np.float32)
            sep = rng.uniform(3, 7)
            for off in (-sep, sep):
                image += peak * blink * np.exp(-0.5 * ((across - off) / sig) ** 2)
            image += 0.3 * peak * np.exp(-0.5 * (across / sig) ** 2)
            continue
        line = peak * np.exp(-0.5 * (across / sig) ** 2)
        if rng.random() < 0.3:  # a tumbling satellite flares along its track
            centre, width = rng.uniform(-w, w) / 2, rng.uniform(10, 80)
            line *= 1 + 3 * np.exp(-0.5 * ((along - centre) / width) ** 2)
        image += line


def render_frame(
    rig: Rig,
    conditions: Conditions,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] | None = None,
) -> tuple[NDArray[np.uint16] | F32, fits.Header, Truth]:
    """Render one exposure.

    Parameters
    ----------
    rig
        The hardware.
    conditions
        Atmosphere, mount, sky and scene (lengths in this rig's pixels).
    rng
        Randomness of this exposure (noise, cosmic rays, streak position).
        The star field, clouds and wind come from seeds in ``conditions``.
    size
        ``(width, height)`` of a crop to render instead of the full sensor;
        ``conditions.crop_x/crop_y`` place it.

    Returns
    -------
    array, header, truth
        What the camera writes (``uint16`` or ``float32``, Bayer mosaic for
        colour rigs), its FITS header, and the truth.
    """
    cond = conditions
    w, h, x0, y0 = frame_geometry(rig, cond, size)
    fwhm = cond.seeing_fwhm_arcsec / rig.pixel_scale_arcsec
    path = tracking_path(cond)
    trail = trail_length(path)
    use_fft = trail >= 1.0

    grid = sky_grid(rig, cond, width=w, height=h, x0=x0, y0=y0)
    sky_norm = float(np.median(grid.sky))
    gain = rig.gain_e_per_adu
    sky_e, sigma_e = _sky_e(rig, cond)

    f_min = cond.faint_flux_e or faint_flux(rig, cond)
    field = star_field(cond, width=w, height=h, fwhm=fwhm, f_min=f_min)

    if use_fft:
        kern, pad = path_kernel(path)
        # bilinear spreading of the path adds ~1/6 px^2 of variance; take it
        # out of the stamps so the measured width stays true
        shrink = min(1.0 / 6.0, 0.5 * (fwhm * SIGMA1) ** 2)
        extra = np.array([-shrink, 0.0, -shrink])
    else:
        pad = 0
        c = np.cov(path.T) if trail > 0 else np.zeros((2, 2))
        extra = np.array([c[0, 0], c[0, 1], c[1, 1]])
    stage = Stage(
        rig=rig,
        fwhm=fwhm,
        width=w,
        height=h,
        x0=x0,
        y0=y0,
        pad=pad,
        offset=path.mean(axis=0),
        extra=extra,
        trans_vig=grid.trans * grid.vig,
        sigma_e=sigma_e,
    )
    tiles = cfa_tiles(rig, cond)
    canvas, colour, flux_t = draw_scene(stage, cond, field, colour=tiles is not None)
    crop = (slice(pad, pad + h), slice(pad, pad + w))
    layers: list[NDArray[np.floating]] = [canvas] if colour is None else [canvas, colour]
    if use_fft:
        layers = [layer[crop] for layer in _fft_convolve(layers, kern)]
    image, *rest = (np.ascontiguousarray(layer, dtype=np.float32) for layer in layers)
    if cond.streak != "none":
        _streak(image, cond, rng, fwhm, sigma_e)

    smooth = grid.sky * (sky_e / sky_norm)
    if cond.nebulosity > 0:
        n = 129
        g2 = sky_grid(rig, cond, width=w, height=h, x0=x0, y0=y0, n=n)
        neb = nebula_grid(cond, width=w, height=h, n=n)
        smooth = g2.sky * (sky_e / sky_norm) + neb * g2.trans * g2.vig * (
            cond.nebulosity * rig.nominal_sky_adu * gain
        )
    sky_img = upsample(smooth, h, w)

    if tiles is not None:
        assert rig.bayer is not None
        mosaic(image, tiles[0])
        col = rest[0]
        shift = np.array([_COLOUR_GAIN[c] for c in rig.bayer], dtype=np.float32).reshape(2, 2)
        image += mosaic(col, tiles[0] * shift)
        mosaic(sky_img, tiles[1])
    image += sky_img
    del sky_img
    image += np.float32(rig.dark_e_per_s * cond.exposure_s)
    hot_idx, hot_e = hot_pixels(rig, x0=x0, y0=y0, width=w, height=h, exposure_s=cond.exposure_s)
    image.reshape(-1)[hot_idx] += hot_e
    n_cr = int(rng.poisson(cond.cosmic_rate * cond.exposure_s * w * h / 1e6))
    add_cosmic_rays(image, rng, n_cr)

    header = make_header(rig, cond, rng, x0=x0, y0=y0)
    array = digitise(image, rig, rng)

    inside = (field.x >= -0.5) & (field.x < w - 0.5) & (field.y >= -0.5) & (field.y < h - 0.5)
    peak = peak_fraction(cond, fwhm, path)
    n_det = int(np.count_nonzero(inside & (flux_t * peak >= 5 * sigma_e)))
    truth = Truth(
        fwhm_px=float(fwhm),
        fwhm_arcsec=float(cond.seeing_fwhm_arcsec),
        max_fwhm_arcsec=float(rig.max_fwhm_arcsec),
        trail_px=trail,
        transparency=float(grid.trans.mean()),
        sky_ratio=float(cond.sky_ratio),
        gradient=gradient_of(grid.sky),
        n_stars=int(np.count_nonzero(inside)),
        n_detectable=n_det,
        exposure_s=float(cond.exposure_s),
        psf_kind=cond.psf_kind,
        moffat_beta=float(cond.moffat_beta) if cond.psf_kind == "moffat" else 0.0,
        aberration=float(rig.aberration),
        width=w,
        height=h,
        x0=x0,
        y0=y0,
        sky_adu=float(sky_e / gain),
        trail_over_fwhm=trail / fwhm,
        drift_px=float(cond.drift_px),
        pe_amplitude_px=float(cond.pe_amplitude_px),
        wind_rms_px=float(cond.wind_rms_px),
        zigzag_amplitude_px=float(cond.zigzag_amplitude_px),
        jump_px=float(cond.jump_px),
        cloud_variation=float(cond.cloud_variation),
        moon_glow=float(cond.moon_glow),
        vignetting=float(cond.vignetting),
        nebulosity=float(cond.nebulosity),
        n_galaxies=int(cond.n_galaxies),
        target_size_px=float(cond.target_size_px),
        streak=cond.streak,
        sky_fill=rig.sky_fill(sky_e / gain),
    )
    return array, header, truth
