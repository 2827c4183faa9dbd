"""Imaging rigs: optics + camera, a catalogue of realistic ones and random ones.

A :class:`Rig` holds everything the renderer needs to know about the hardware.
Camera numbers are *effective* values for the frames the camera writes, i.e.
after binning: ``gain_e_per_adu`` converts final ADU to electrons,
``read_noise_e`` is the read noise of one output pixel, and
``nominal_sky_adu`` is the median dark-sky level *above the bias* in final
ADU for an exposure of ``exposure_s`` seconds.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

import numpy as np

__all__ = ["BAYER_PATTERNS", "RIGS", "Rig", "profile_yaml", "random_rig"]

BAYER_PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_ARCSEC_PER_RAD_OVER_1000 = 206.264806


def plate_scale(pixel_size_um: float, binning: int, focal_length_mm: float) -> float:
    """Pixel scale in arcsec/px of a ``pixel_size_um`` pixel binned ``binning`` times."""
    return _ARCSEC_PER_RAD_OVER_1000 * pixel_size_um * binning / focal_length_mm


@dataclass(frozen=True)
class Rig:
    """One telescope + camera combination.

    Parameters
    ----------
    name
        Identifier, ``[A-Za-z0-9_-]+``; also the profile file name.
    pixel_scale_arcsec
        arcsec per (binned) pixel; must agree with focal length, pixel size and
        binning within 5 %.
    width, height
        Full sensor size in binned pixels.
    focal_length_mm, pixel_size_um, binning
        Optics and unbinned pixel pitch as cameras write them in FITS headers.
    bayer
        ``None`` for mono, else the CFA pattern of the written frame.
    max_fwhm_arcsec
        The rig's acceptable star FWHM (the profile's quality limit).
    nominal_sky_adu
        Median dark-sky level above bias, final ADU, at ``exposure_s``.
    gain_e_per_adu, read_noise_e, bias_adu, full_well_e
        Camera response (electrons per ADU, electrons rms, ADU, electrons).
    adc_bits, adc_scaled
        ADC depth; ``adc_scaled`` cameras shift values to the 16-bit range
        (multiples of ``2**(16 - adc_bits)``), others write ``0..2**adc_bits-1``.
    bleed
        CCD blooming: saturated charge runs along columns.
    aberration
        Corner elongation of the optics (0 = perfect; 0.15 = a/b of 1.15 in the
        sensor corners), radially oriented, growing with radius squared.
    spikes
        Diffraction spikes from a secondary-mirror spider.
    dtype
        ``"uint16"`` (written with BZERO) or ``"float32"``.
    instrument, telescope
        ``INSTRUME`` and ``TELESCOP`` header values.
    exposure_s
        Typical sub-exposure length.
    gain_setting
        The camera's own gain number (``GAIN`` header), not electrons/ADU.
    channel_response
        Relative R, G, B sensitivity for starlight (Bayer rigs only).
    hot_pixel_fraction
        Fraction of pixels that are warm or hot, i.e. at least 5 sky-noise
        sigma above the sky in a nominal sub (positions fixed per rig).
    dark_e_per_s
        Mean dark current of an ordinary pixel, electrons per second (dark
        frames of the observatory simulator; negligible in lights).
    calibrated
        The frames are bias-subtracted already (``float32`` only), as a
        calibration step or some capture programs write them.
    """

    name: str
    pixel_scale_arcsec: float
    width: int
    height: int
    focal_length_mm: float
    pixel_size_um: float
    binning: int
    bayer: str | None
    max_fwhm_arcsec: float
    nominal_sky_adu: float
    gain_e_per_adu: float
    read_noise_e: float
    bias_adu: float
    full_well_e: float
    adc_bits: int = 16
    adc_scaled: bool = True
    bleed: bool = False
    aberration: float = 0.0
    spikes: bool = False
    dtype: Literal["uint16", "float32"] = "uint16"
    instrument: str = "Camera"
    telescope: str = "Telescope"
    exposure_s: float = 60.0
    gain_setting: int = 100
    channel_response: tuple[float, float, float] = (0.8, 1.0, 0.75)
    hot_pixel_fraction: float = 1e-4
    dark_e_per_s: float = 0.01
    calibrated: bool = False

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"rig name {self.name!r} must match [A-Za-z0-9_-]+")
        if self.width < 16 or self.height < 16:
            raise ValueError("sensor must be at least 16x16 pixels")
        if self.binning not in (1, 2, 3, 4):
            raise ValueError("binning must be 1..4")
        expected = plate_scale(self.pixel_size_um, self.binning, self.focal_length_mm)
        if abs(self.pixel_scale_arcsec / expected - 1) > 0.05:
            raise ValueError(
                f"{self.name}: pixel_scale_arcsec {self.pixel_scale_arcsec} disagrees with "
                f"206.265*{self.pixel_size_um}*{self.binning}/{self.focal_length_mm}"
                f" = {expected:.4f}"
            )
        if self.bayer is not None and self.bayer not in BAYER_PATTERNS:
            raise ValueError(f"bayer must be None or one of {BAYER_PATTERNS}")
        positive = (
            "pixel_scale_arcsec",
            "focal_length_mm",
            "pixel_size_um",
            "max_fwhm_arcsec",
            "nominal_sky_adu",
            "gain_e_per_adu",
            "full_well_e",
            "exposure_s",
        )
        for key in positive:
            if not getattr(self, key) > 0:
                raise ValueError(f"{key} must be > 0")
        if self.read_noise_e < 0 or self.bias_adu < 0 or self.dark_e_per_s < 0:
            raise ValueError("read noise, bias and dark current must be >= 0")
        if not 8 <= self.adc_bits <= 16:
            raise ValueError("adc_bits must be 8..16")
        if not 0 <= self.aberration <= 0.3:
            raise ValueError("aberration must be 0..0.3")
        if self.dtype not in ("uint16", "float32"):
            raise ValueError("dtype must be 'uint16' or 'float32'")
        if self.calibrated and self.dtype != "float32":
            raise ValueError("calibrated frames are float32")
        if len(self.channel_response) != 3 or min(self.channel_response) <= 0:
            raise ValueError("channel_response must be three positive numbers")
        if not 0 <= self.hot_pixel_fraction < 0.01:
            raise ValueError("hot_pixel_fraction must be in [0, 0.01)")

    @property
    def max_fwhm_px(self) -> float:
        """The acceptable FWHM in pixels."""
        return self.max_fwhm_arcsec / self.pixel_scale_arcsec

    @property
    def adc_max(self) -> int:
        """Largest value the camera writes."""
        return 65536 - self.adc_step if self.adc_scaled else 2**self.adc_bits - 1

    def sky_fill(self, sky_adu: float) -> float:
        """Fraction of the pixel's range taken by bias plus a sky of ``sky_adu``.

        The range ends at the ADC's largest value or at the full well, whichever
        comes first; at 1 the sky itself is saturated and every star is clipped.
        """
        # Calibrated frames were digitised the same way before the bias came off.
        top = min(float(self.adc_max), self.bias_adu + self.full_well_e / self.gain_e_per_adu)
        return (self.bias_adu + sky_adu) / top

    @property
    def adc_step(self) -> int:
        """Spacing of written values (1, or 2**(16-bits) for scaled ADCs)."""
        return 2 ** (16 - self.adc_bits) if self.adc_scaled else 1

    @property
    def stable_seed(self) -> int:
        """A seed fixed for this rig (hot pixels are a property of the sensor)."""
        return zlib.crc32(self.name.encode())


def _rig(**kw: object) -> Rig:
    kw.setdefault(
        "pixel_scale_arcsec",
        round(plate_scale(kw["pixel_size_um"], kw["binning"], kw["focal_length_mm"]), 4),  # type: ignore[arg-type]
    )
    return Rig(**kw)  # type: ignore[arg-type]


_CATALOGUE = (
    # Seestar S50 numbers measured on real subs: sky ~250 ADU above a ~450 ADU
    # pedestal in 10 s, noise variance slope 13.7 ADU^2/ADU -> 0.073 e/ADU.
    _rig(
        name="seestar_s50",
        width=1080,
        height=1920,
        focal_length_mm=250.0,
        pixel_size_um=2.9,
        binning=1,
        bayer="GRBG",
        max_fwhm_arcsec=13.0,
        nominal_sky_adu=250.0,
        gain_e_per_adu=0.073,
        read_noise_e=1.6,
        bias_adu=450.0,
        full_well_e=11000.0,
        aberration=0.05,
        instrument="Seestar S50",
        telescope="S50_5a21c7e0",
        exposure_s=10.0,
        gain_setting=80,
        channel_response=(0.72, 1.0, 0.66),
        hot_pixel_fraction=2e-4,
        dark_e_per_s=0.5,
    ),
    _rig(
        name="redcat51_asi2600mc",
        width=6248,
        height=4176,
        focal_length_mm=250.0,
        pixel_size_um=3.76,
        binning=1,
        bayer="RGGB",
        max_fwhm_arcsec=9.0,
        nominal_sky_adu=900.0,
        gain_e_per_adu=0.25,
        read_noise_e=1.5,
        bias_adu=500.0,
        full_well_e=15000.0,
        aberration=0.08,
        instrument="ZWO ASI2600MC Pro",
        telescope="RedCat 51",
        exposure_s=120.0,
        gain_setting=100,
        channel_response=(0.85, 1.0, 0.8),
        hot_pixel_fraction=2e-5,
    ),
    _rig(
        name="refractor80_asi2600mm",
        width=6248,
        height=4176,
        focal_length_mm=480.0,
        pixel_size_um=3.76,
        binning=1,
        bayer=None,
        max_fwhm_arcsec=5.0,
        nominal_sky_adu=700.0,
        gain_e_per_adu=0.25,
        read_noise_e=1.5,
        bias_adu=500.0,
        full_well_e=15000.0,
        instrument="ZWO ASI2600MM Pro",
        telescope="80mm f/6 APO",
        exposure_s=180.0,
        gain_setting=100,
        hot_pixel_fraction=2e-5,
    ),
    _rig(
        name="rasa8_asi2600mc",
        width=6248,
        height=4176,
        focal_length_mm=400.0,
        pixel_size_um=3.76,
        binning=1,
        bayer="RGGB",
        max_fwhm_arcsec=5.5,
        nominal_sky_adu=2000.0,
        gain_e_per_adu=0.25,
        read_noise_e=1.5,
        bias_adu=500.0,
        full_well_e=15000.0,
        aberration=0.15,
        instrument="ZWO ASI2600MC Pro",
        telescope="Celestron RASA 8",
        exposure_s=30.0,
        gain_setting=100,
        channel_response=(0.8, 1.0, 0.78),
        hot_pixel_fraction=2e-5,
    ),
    _rig(
        name="c11_asi1600mm_bin2",
        width=2328,
        height=1760,
        focal_length_mm=2800.0,
        pixel_size_um=3.8,
        binning=2,
        bayer=None,
        max_fwhm_arcsec=3.5,
        nominal_sky_adu=300.0,
        gain_e_per_adu=0.25,
        read_noise_e=3.4,
        bias_adu=800.0,
        full_well_e=60000.0,
        adc_bits=12,
        instrument="ZWO ASI1600MM Pro",
        telescope="Celestron C11",
        exposure_s=300.0,
        gain_setting=139,
        hot_pixel_fraction=1e-4,
    ),
    _rig(
        name="dslr_200mm_canon80d",
        width=6000,
        height=4000,
        focal_length_mm=200.0,
        pixel_size_um=3.72,
        binning=1,
        bayer="RGGB",
        max_fwhm_arcsec=12.0,
        nominal_sky_adu=600.0,
        gain_e_per_adu=0.9,
        read_noise_e=3.0,
        bias_adu=2048.0,
        full_well_e=14000.0,
        adc_bits=14,
        adc_scaled=False,
        aberration=0.13,
        dtype="float32",
        instrument="Canon EOS 80D",
        telescope="200mm f/2.8 lens",
        exposure_s=60.0,
        gain_setting=800,
        channel_response=(0.6, 1.0, 0.55),
        hot_pixel_fraction=2e-4,
        dark_e_per_s=0.3,
    ),
    _rig(
        name="newton200_kaf8300",
        width=3326,
        height=2504,
        focal_length_mm=1000.0,
        pixel_size_um=5.4,
        binning=1,
        bayer=None,
        max_fwhm_arcsec=3.8,
        nominal_sky_adu=700.0,
        gain_e_per_adu=0.37,
        read_noise_e=9.0,
        bias_adu=1000.0,
        full_well_e=25500.0,
        bleed=True,
        aberration=0.12,
        spikes=True,
        instrument="SBIG STF-8300M",
        telescope="200mm f/5 Newtonian",
        exposure_s=300.0,
        gain_setting=0,
        hot_pixel_fraction=2e-4,
    ),
    _rig(
        name="edgehd8_asi294mc_reducer",
        width=4144,
        height=2822,
        focal_length_mm=1422.0,
        pixel_size_um=4.63,
        binning=1,
        bayer="RGGB",
        max_fwhm_arcsec=3.0,
        nominal_sky_adu=400.0,
        gain_e_per_adu=0.25,
        read_noise_e=1.8,
        bias_adu=1000.0,
        full_well_e=14400.0,
        adc_bits=14,
        instrument="ZWO ASI294MC Pro",
        telescope="Celestron EdgeHD 8 + 0.7x",
        exposure_s=180.0,
        gain_setting=120,
        channel_response=(0.75, 1.0, 0.7),
        hot_pixel_fraction=1e-4,
    ),
    _rig(
        name="rc6_asi183mm_bin2",
        width=2748,
        height=1836,
        focal_length_mm=1370.0,
        pixel_size_um=2.4,
        binning=2,
        bayer=None,
        max_fwhm_arcsec=3.2,
        nominal_sky_adu=500.0,
        gain_e_per_adu=0.5,
        read_noise_e=3.2,
        bias_adu=400.0,
        full_well_e=60000.0,
        adc_bits=12,
        aberration=0.04,
        spikes=True,
        dtype="float32",
        instrument="ZWO ASI183MM Pro",
        telescope="GSO RC6",
        exposure_s=240.0,
        gain_setting=111,
        hot_pixel_fraction=1e-4,
    ),
    _rig(
        name="ed72_asi533mc",
        width=3008,
        height=3008,
        focal_length_mm=420.0,
        pixel_size_um=3.76,
        binning=1,
        bayer="RGGB",
        max_fwhm_arcsec=5.0,
        nominal_sky_adu=700.0,
        gain_e_per_adu=0.25,
        read_noise_e=1.5,
        bias_adu=400.0,
        full_well_e=15000.0,
        adc_bits=14,
        aberration=0.06,
        instrument="ZWO ASI533MC Pro",
        telescope="72mm ED f/5.8",
        exposure_s=120.0,
        gain_setting=100,
        channel_response=(0.82, 1.0, 0.74),
        hot_pixel_fraction=5e-5,
    ),
)

RIGS: Mapping[str, Rig] = MappingProxyType({rig.name: rig for rig in _CATALOGUE})
"""The named rigs, by name."""

_SENSORS = (
    # (width, height, pixel um, bayer-capable, adc bits)
    (1920, 1080, 2.9, True, 12),
    (3096, 2080, 2.4, True, 12),
    (3008, 3008, 3.76, True, 14),
    (4144, 2822, 4.63, True, 14),
    (4656, 3520, 3.8, False, 12),
    (5496, 3672, 2.4, False, 12),
    (6248, 4176, 3.76, True, 16),
    (3326, 2504, 5.4, False, 16),
    (2750, 2200, 4.54, False, 16),
    (3056, 2048, 5.94, False, 14),
)


def random_rig(rng: np.random.Generator) -> Rig:
    """A plausible rig that is not in the catalogue.

    Pixel scale 0.5-4 arcsec/px, acceptable FWHM 2.6-6 px, any CFA or mono,
    either output type.
    """
    for _ in range(1000):
        w, h, pix, colour, bits = _SENSORS[int(rng.integers(len(_SENSORS)))]
        binning = int(rng.choice([1, 1, 1, 2])) if pix < 4 else 1
        focal = float(np.exp(rng.uniform(np.log(135.0), np.log(3000.0))))
        scale = plate_scale(pix, binning, focal)
        if 0.5 <= scale <= 4.0:
            break
    else:  # pragma: no cover - the loop practically always succeeds
        raise RuntimeError("could not draw a random rig")
    bayer = str(rng.choice(BAYER_PATTERNS)) if colour and rng.random() < 0.6 else None
    max_px = rng.uniform(2.6, 6.0)
    gain = float(rng.uniform(0.08, 1.5))
    tag = f"{int(rng.integers(16**6)):06x}"
    output = str(rng.choice(["uint16", "float32", "calibrated"], p=[0.7, 0.15, 0.15]))
    nominal_sky = float(np.exp(rng.uniform(np.log(150), np.log(3000))))
    bias = float(rng.choice([0, 100, 256, 400, 500, 800, 1000, 2048]))
    scaled = bool(rng.random() < 0.85)
    if not scaled:
        # A camera writing its native 12- or 14-bit values counts the same electrons
        # in coarser units: sky and bias shrink, electrons per ADU grow. (Drawn in
        # 16-bit units, a 12-bit camera's sky sat at its top value.)
        step = 2 ** (16 - bits)
        nominal_sky, bias, gain = nominal_sky / step, float(round(bias / step)), gain * step
    return Rig(
        name=f"random-{tag}",
        pixel_scale_arcsec=round(scale, 4),
        width=w // binning,
        height=h // binning,
        focal_length_mm=round(focal, 1),
        pixel_size_um=pix,
        binning=binning,
        bayer=bayer,
        max_fwhm_arcsec=round(max(max_px * scale, 1.0), 3),
        nominal_sky_adu=round(nominal_sky, 1),
        gain_e_per_adu=round(gain, 3),
        read_noise_e=round(float(rng.uniform(1.0, 10.0)), 2),
        bias_adu=bias,
        full_well_e=float(rng.uniform(10000, 60000)),
        adc_bits=bits,
        adc_scaled=scaled,
        bleed=bool(not colour and rng.random() < 0.3),
        aberration=round(float(rng.choice([0.0, 0.0, rng.uniform(0.02, 0.15)])), 3),
        spikes=bool(rng.random() < 0.25),
        dtype="float32" if output != "uint16" else "uint16",
        calibrated=output == "calibrated",
        instrument=f"Camera {tag[:3].upper()}",
        telescope=f"Scope {focal:.0f}mm",
        exposure_s=float(rng.choice([10, 30, 60, 120, 180, 300])),
        gain_setting=int(rng.integers(0, 300)),
        channel_response=(
            round(float(rng.uniform(0.55, 0.95)), 3),
            1.0,
            round(float(rng.uniform(0.5, 0.9)), 3),
        ),
        hot_pixel_fraction=float(rng.uniform(0, 2e-4)),
        dark_e_per_s=float(np.exp(rng.uniform(np.log(0.002), np.log(0.5)))),
    )


def profile_yaml(rig: Rig) -> str:
    """The rig's profile in the project's YAML profile format (optics + quality)."""
    bayer = rig.bayer if rig.bayer is not None else "none"
    return (
        f"name: {rig.name}\n"
        "optics:\n"
        f"  pixel_scale_arcsec: {rig.pixel_scale_arcsec!r}\n"
        f"  focal_length_mm: {float(rig.focal_length_mm)!r}\n"
        f"  pixel_size_um: {float(rig.pixel_size_um)!r}\n"
        f"  binning: {rig.binning}\n"
        f"  bayer: {bayer}\n"
        "quality:\n"
        f"  max_fwhm_arcsec: {float(rig.max_fwhm_arcsec)!r}\n"
        f"  nominal_sky_adu: {float(rig.nominal_sky_adu)!r}\n"
        f"  bias_adu: {float(rig.bias_adu)!r}\n"
    )
