"""Independent measurements of rendered frames with sep (no simulator internals)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sep
from numpy.typing import NDArray


@dataclass(frozen=True)
class Measured:
    n_sources: int
    n_isolated: int
    r50: float  # median half-flux radius of isolated, unsaturated, bright stars (px)
    ab: float  # median a/b of the same stars
    background: float  # median of sep's background mesh (ADU)
    background_ptp: float  # peak-to-peak of the background mesh (ADU)
    rms: float


def expected_r50(kind: str, beta: float, fwhm: float, rmax: float) -> float:
    """Half-flux radius within ``rmax`` of the profile integrated over square pixels.

    Computed on a grid 8x finer than the pixels, so it includes what pixel
    integration does to a star of a few pixels FWHM.
    """
    from scipy.ndimage import uniform_filter

    from simulators.sky._psf import profile

    k = 8
    half = int(np.ceil(rmax)) + 2
    coord = (np.arange(-half * k, half * k) + 0.5) / k
    r = np.hypot(coord[:, None], coord[None, :])
    img = profile(kind, beta)(r / fwhm) / fwhm**2
    img = uniform_filter(img, size=k, mode="constant")
    inside = r <= rmax
    order = np.argsort(r[inside])
    cum = np.cumsum(img[inside][order])
    return float(np.interp(0.5 * cum[-1], cum, r[inside][order]))


def superpixel(data: NDArray[np.floating]) -> NDArray[np.float64]:
    """2x2 mean of a Bayer mosaic (what a colour frame's QA looks at)."""
    h, w = data.shape
    return data[: h - h % 2, : w - w % 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def measure(data: NDArray[np.floating], *, rmax: float, thresh: float = 8.0) -> Measured:
    """Detect stars and measure isolated bright ones; ``rmax`` is the flux-radius aperture."""
    d = np.ascontiguousarray(data, dtype=np.float64)
    bkg = sep.Background(d, bw=64, bh=64)
    sub = d - bkg
    objs = sep.extract(sub, thresh, err=bkg.globalrms, minarea=5)
    mesh = bkg.back()
    if len(objs) == 0:
        return Measured(
            0, 0, np.nan, np.nan, float(np.median(mesh)), float(np.ptp(mesh)), bkg.globalrms
        )
    xy = np.c_[objs["x"], objs["y"]]
    dist = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    top = float(d.max() - np.median(d))
    h, w = d.shape
    ok = (
        (dist.min(axis=1) > 2 * rmax)
        & (objs["flag"] == 0)
        & (objs["peak"] < 0.3 * top)
        & (objs["npix"] >= 9)
        & (objs["flux"] > 50 * bkg.globalrms * np.sqrt(objs["npix"]))
        & (objs["x"] > rmax)
        & (objs["x"] < w - rmax)
        & (objs["y"] > rmax)
        & (objs["y"] < h - rmax)
    )
    if not ok.any():
        return Measured(
            len(objs), 0, np.nan, np.nan, float(np.median(mesh)), float(np.ptp(mesh)), bkg.globalrms
        )
    r50, _ = sep.flux_radius(
        sub, objs["x"][ok], objs["y"][ok], np.full(ok.sum(), rmax), 0.5, subpix=5
    )
    ab = objs["a"][ok] / objs["b"][ok]
    return Measured(
        n_sources=len(objs),
        n_isolated=int(ok.sum()),
        r50=float(np.median(r50)),
        ab=float(np.median(ab)),
        background=float(np.median(mesh)),
        background_ptp=float(np.ptp(mesh)),
        rms=float(bkg.globalrms),
    )
