"""The camera: colour filter array, defects, noise, saturation, ADC, header."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from astropy.io import fits

    from ._conditions import Conditions
    from ._rigs import Rig

__all__ = ["add_cosmic_rays", "cfa_tiles", "digitise", "hot_pixels", "make_header", "mosaic"]

F32 = NDArray[np.float32]
_CHANNEL = {"R": 0, "G": 1, "B": 2}


def cfa_tiles(rig: Rig, cond: Conditions) -> tuple[F32, F32] | None:
    """2x2 response tiles for starlight and for sky light (mean 1 each), or None (mono)."""
    if rig.bayer is None:
        return None
    idx = [_CHANNEL[c] for c in rig.bayer]
    star = np.array([rig.channel_response[i] for i in idx], dtype=np.float64).reshape(2, 2)
    sky = star * np.array([cond.sky_tint[i] for i in idx]).reshape(2, 2)
    return (star / star.mean()).astype(np.float32), (sky / sky.mean()).astype(np.float32)


def mosaic(image: F32, tile: F32) -> F32:
    """Multiply an even-sized image in place by a repeated 2x2 tile."""
    # four strided passes beat one broadcast over a (h/2, 2, w/2, 2) view
    for i in range(2):
        for j in range(2):
            image[i::2, j::2] *= tile[i, j]
    return image


def hot_pixels(
    rig: Rig, *, x0: int, y0: int, width: int, height: int, exposure_s: float
) -> tuple[NDArray[np.int64], F32]:
    """Flat indices in the frame and dark signal (electrons) of the rig's hot pixels.

    Positions and brightness come from the rig's own seed: the same sensor has
    the same hot pixels in every frame. Their signal follows ``N(>x) ~ 1/x``
    from 5 sky-noise sigma of a nominal sub up to 1000 times that (what real
    subs show: ten times fewer at 100 sigma than at 10 sigma), and scales with
    the exposure time.
    """
    rng = np.random.default_rng(rig.stable_seed)
    n = round(rig.hot_pixel_fraction * rig.width * rig.height)
    xs = rng.integers(0, rig.width, n)
    ys = rng.integers(0, rig.height, n)
    sigma = np.sqrt(rig.nominal_sky_adu * rig.gain_e_per_adu + rig.read_noise_e**2)
    signal = 5 * sigma / rng.uniform(1e-3, 1.0, n) * (exposure_s / rig.exposure_s)
    keep = (xs >= x0) & (xs < x0 + width) & (ys >= y0) & (ys < y0 + height)
    idx = ((ys[keep] - y0) * width + (xs[keep] - x0)).astype(np.int64)
    return idx, signal[keep].astype(np.float32)


def add_cosmic_rays(image: F32, rng: np.random.Generator, n: int) -> None:
    """Add ``n`` sharp cosmic-ray hits (short straight tracks, electrons) in place."""
    h, w = image.shape
    flat = image.reshape(-1)
    for _ in range(n):
        length = rng.exponential(2.5)
        steps = max(1, int(length / 0.3))
        ang = rng.uniform(0, 2 * np.pi)
        t = np.linspace(0, length, steps)
        x = rng.uniform(0, w - 1) + t * np.cos(ang)
        y = rng.uniform(0, h - 1) + t * np.sin(ang)
        e = rng.uniform(300, 4000) / steps * max(1.0, length)
        x0 = np.floor(x).astype(np.int64)
        y0 = np.floor(y).astype(np.int64)
        fx, fy = x - x0, y - y0
        for dy, wy in ((0, 1 - fy), (1, fy)):
            for dx, wx in ((0, 1 - fx), (1, fx)):
                xx, yy = x0 + dx, y0 + dy
                ok = (xx >= 0) & (xx < w) & (yy >= 0) & (yy < h)
                np.add.at(flat, (yy * w + xx)[ok], (e * wx * wy)[ok].astype(np.float32))


def _fill(col: NDArray[np.float64], start: int, step: int, budget: float, full: float) -> None:
    """Pour ``budget`` electrons into ``col`` from ``start`` on, filling pixels to ``full``."""
    idx = np.arange(start, col.size) if step > 0 else np.arange(start, -1, -1)
    if idx.size == 0 or budget <= 0:
        return  # what spills off the sensor edge is lost
    room = np.cumsum(full - col[idx])
    n_full = int(np.searchsorted(room, budget))
    col[idx[:n_full]] = full
    if n_full < idx.size:
        col[idx[n_full]] += budget - (room[n_full - 1] if n_full else 0.0)


def _bleed(charge: F32, full_well: float) -> None:
    """CCD blooming: charge above the full well spills up and down its column."""
    cols = np.nonzero((charge > full_well).any(axis=0))[0]
    for j in cols:
        col = charge[:, j].astype(np.float64)
        for _ in range(64):
            over = np.nonzero(col > full_well)[0]
            if over.size == 0:
                break
            # one saturated run at a time; filling can merge runs, hence the loop
            breaks = np.nonzero(np.diff(over) > 1)[0]
            a, b = over[0], over[breaks[0]] if breaks.size else over[-1]
            excess = float((col[a : b + 1] - full_well).clip(0).sum())
            col[a : b + 1] = np.minimum(col[a : b + 1], full_well)
            _fill(col, b + 1, 1, excess / 2, full_well)
            _fill(col, a - 1, -1, excess / 2, full_well)
        charge[:, j] = col.astype(np.float32)


def digitise(mean_e: F32, rig: Rig, rng: np.random.Generator) -> NDArray[np.uint16] | F32:
    """Noise, saturation and ADC: electrons in, the array the camera writes out.

    Shot noise uses the normal approximation where the mean is at least 5 e
    (indistinguishable after read noise and ADC, and 5x faster than Poisson);
    exact Poisson below that.
    """
    if rig.bleed:
        _bleed(mean_e, rig.full_well_e)
    np.maximum(mean_e, 0, out=mean_e)
    noise = rng.standard_normal(mean_e.shape, dtype=np.float32)
    low = mean_e < 5
    var = mean_e + np.float32(rig.read_noise_e**2)
    np.sqrt(var, out=var)
    noise *= var
    noise += mean_e
    if low.any():
        m = mean_e[low]
        noise[low] = rng.poisson(m).astype(np.float32) + rig.read_noise_e * rng.standard_normal(
            m.size, dtype=np.float32
        )
    np.minimum(noise, np.float32(rig.full_well_e), out=noise)
    adu = noise
    adu *= np.float32(1.0 / rig.gain_e_per_adu)
    adu += np.float32(rig.bias_adu)
    step = rig.adc_step
    if step > 1:
        adu /= step
        np.floor(adu, out=adu)
        adu *= step
    else:
        np.rint(adu, out=adu)
    np.clip(adu, 0, rig.adc_max, out=adu)
    if rig.calibrated:
        adu -= np.float32(rig.bias_adu)
    if rig.dtype == "uint16":
        return adu.astype(np.uint16)
    return adu


def make_header(
    rig: Rig, cond: Conditions, rng: np.random.Generator, *, x0: int, y0: int
) -> fits.Header:
    """The header a capture program would write. Nothing in it reveals the truth."""
    from astropy.io import fits

    hdr = fits.Header()
    hdr["IMAGETYP"] = ("Light Frame", "Type of image")
    hdr["EXPTIME"] = (float(cond.exposure_s), "Exposure time in seconds")
    hdr["EXPOSURE"] = (float(cond.exposure_s), "Exposure time in seconds")
    hdr["DATE-OBS"] = (cond.date_obs, "UTC start of exposure")
    hdr["FOCALLEN"] = (float(rig.focal_length_mm), "Focal length of telescope in mm")
    hdr["XPIXSZ"] = (float(rig.pixel_size_um * rig.binning), "pixel size in microns (with binning)")
    hdr["YPIXSZ"] = (float(rig.pixel_size_um * rig.binning), "pixel size in microns (with binning)")
    hdr["XBINNING"] = (rig.binning, "Camera X Bin")
    hdr["YBINNING"] = (rig.binning, "Camera Y Bin")
    hdr["XORGSUBF"] = (x0, "Subframe X position in binned pixels")
    hdr["YORGSUBF"] = (y0, "Subframe Y position in binned pixels")
    if rig.bayer is not None:
        hdr["BAYERPAT"] = (rig.bayer, "Bayer pattern")
        hdr["XBAYROFF"] = (0, "X offset of Bayer array")
        hdr["YBAYROFF"] = (0, "Y offset of Bayer array")
    hdr["GAIN"] = (rig.gain_setting, "Sensor gain")
    hdr["EGAIN"] = (float(rig.gain_e_per_adu), "Electrons per ADU")
    hdr["CCD-TEMP"] = (round(float(rng.uniform(-15.0, 20.0)), 2), "sensor temperature in C")
    hdr["INSTRUME"] = (rig.instrument, "Camera model")
    hdr["TELESCOP"] = (rig.telescope, "Telescope name")
    hdr["ROWORDER"] = ("TOP-DOWN", "Order of the rows in image array")
    return hdr
