"""From an exposure request to FITS bytes: render, subframe, bin, header, compress.

Everything here is synchronous and CPU-bound; the camera runs it on an executor.
The header is what a capture program writes (exposure, rig, DATE-OBS, binning,
subframe, OBSERVER/OBJECT); the truth goes to the truth log, never into the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from astropy.io import fits
from numpy.typing import NDArray

from astroiqa_indi.frames import separation_deg
from simulators.sky import Conditions, Rig, Truth, label_of, render_frame

__all__ = [
    "ExposureRequest",
    "ExposureResult",
    "FrameType",
    "SkyCamera",
    "SkyFields",
    "bin_image",
    "j2000_of",
    "next_upload_path",
]

FrameType = Literal["Light", "Bias", "Dark", "Flat"]
_FRAME_TYPES = ("Light", "Bias", "Dark", "Flat")


@dataclass(frozen=True, slots=True, kw_only=True)
class ExposureRequest:
    """One exposure as the camera's properties describe it.

    Attributes
    ----------
    exposure_s
        Exposure time, seconds.
    start
        UTC start of the exposure (``DATE-OBS``).
    conditions
        Sky and mount conditions for this exposure (``exposure_s`` and
        ``date_obs`` in it are replaced by the request's).
    x, y, width, height
        Subframe on the sensor, unbinned pixels (INDI CCD_FRAME).
    bin_x, bin_y
        Binning (INDI CCD_BINNING).
    frame_type
        ``Light``, ``Bias``, ``Dark`` or ``Flat``.
    compress
        Write ``.fits.fz`` (Rice tile compression) instead of ``.fits``.
    observer, object_name
        FITS_HEADER values; empty strings are left out.
    pointing
        ``(ra_hours, dec_deg)`` of the connected mount at the start, or ``None``.
    frame_number
        1-based count of the camera's exposures; seeds this frame's noise.
    """

    exposure_s: float
    start: datetime
    conditions: Conditions
    x: int
    y: int
    width: int
    height: int
    bin_x: int = 1
    bin_y: int = 1
    frame_type: str = "Light"
    compress: bool = False
    observer: str = ""
    object_name: str = ""
    pointing: tuple[float, float] | None = None
    frame_number: int = 1

    def __post_init__(self) -> None:
        if not self.exposure_s > 0:
            raise ValueError("exposure_s must be positive")
        if self.x < 0 or self.y < 0 or self.width < 1 or self.height < 1:
            raise ValueError("subframe must lie on the sensor")
        if not (1 <= self.bin_x <= 4 and 1 <= self.bin_y <= 4):
            raise ValueError("binning must be 1..4")
        if self.frame_type not in _FRAME_TYPES:
            raise ValueError(f"frame_type must be one of {_FRAME_TYPES}")
        if self.frame_number < 1:
            raise ValueError("frame_number must be >= 1")


@dataclass(frozen=True, slots=True)
class ExposureResult:
    """The file the camera produced and the truth behind it.

    Attributes
    ----------
    data
        FITS (or fpack'ed FITS) bytes.
    format
        INDI BLOB format: ``.fits`` or ``.fits.fz``.
    truth
        The sky simulator's truth (``None`` for bias, dark and flat frames).
    label, clear
        ``label_of(truth, rig)`` (``None``/``False`` without truth).
    """

    data: bytes
    format: str
    truth: Truth | None
    label: str | None
    clear: bool


def bin_image(image: NDArray[np.generic], bin_x: int, bin_y: int) -> NDArray[np.generic]:
    """Sum ``bin_y`` x ``bin_x`` blocks, dropping incomplete edge rows/columns.

    ``uint16`` sums saturate at 65535 as a camera's would; floats stay float.

    Examples
    --------
    >>> bin_image(np.arange(16, dtype=np.uint16).reshape(4, 4), 2, 2).tolist()
    [[10, 18], [42, 50]]
    """
    if bin_x == bin_y == 1:
        return image
    h, w = image.shape[0] // bin_y * bin_y, image.shape[1] // bin_x * bin_x
    blocks = image[:h, :w].reshape(h // bin_y, bin_y, w // bin_x, bin_x)
    summed = blocks.sum(axis=(1, 3), dtype=np.float64)
    if image.dtype == np.uint16:
        return np.minimum(summed, 65535).astype(np.uint16)
    return summed.astype(image.dtype)


class SkyCamera:
    """A camera whose sensor is the rig's (or a ``size`` crop of it).

    Parameters
    ----------
    rig
        The sky simulator's rig.
    size
        ``(width, height)`` of the sensor in pixels; ``None``: the rig's.
    seed
        Frame ``n`` uses ``np.random.default_rng((seed, n))``.
    ccd_name
        INDI device name (for the header's comments only).
    """

    def __init__(
        self, rig: Rig, *, size: tuple[int, int] | None, seed: int, ccd_name: str = "CCD"
    ) -> None:
        self.rig = rig
        width, height = size if size is not None else (rig.width, rig.height)
        width, height = min(width, rig.width), min(height, rig.height)
        if rig.bayer is not None:  # a CFA sensor has even dimensions
            width, height = width - width % 2, height - height % 2
        self.width, self.height = width, height
        self.seed = seed
        self.ccd_name = ccd_name

    @property
    def pixel_size_um(self) -> float:
        """Pixel pitch of a written (rig-binned) pixel, micrometres."""
        return self.rig.pixel_size_um * self.rig.binning

    @property
    def pixel_scale_arcsec(self) -> float:
        """Image scale, arcsec per pixel."""
        return self.rig.pixel_scale_arcsec

    @property
    def bits_per_pixel(self) -> int:
        """16 for ``uint16`` rigs, 32 for ``float32`` ones."""
        return 16 if self.rig.dtype == "uint16" else 32

    def expose(self, request: ExposureRequest) -> ExposureResult:
        """Render, cut, bin and encode one frame (CPU-bound: call it off the loop)."""
        if request.x + request.width > self.width or request.y + request.height > self.height:
            raise ValueError(
                f"subframe {request.width}x{request.height}+{request.x}+{request.y} is off "
                f"the {self.width}x{self.height} sensor"
            )
        rng = np.random.default_rng((self.seed, request.frame_number))
        start = request.start.astimezone(UTC)
        date_obs = start.strftime("%Y-%m-%dT%H:%M:%S.") + f"{start.microsecond // 1000:03d}"
        truth: Truth | None = None
        if request.frame_type == "Light":
            conditions = request.conditions.replace(
                exposure_s=request.exposure_s, date_obs=date_obs
            )
            image, header, truth = render_frame(
                self.rig, conditions, rng, size=(self.width, self.height)
            )
        else:
            image = self._calibration(request, rng)
            header = fits.Header()
        x, y = request.x, request.y
        if self.rig.bayer is not None:  # keep the CFA phase that BAYERPAT states
            x, y = x - x % 2, y - y % 2
        cut = bin_image(
            image[y : y + request.height, x : x + request.width], request.bin_x, request.bin_y
        )
        self._fill_header(header, request, date_obs, x, y)
        data = _encode(np.ascontiguousarray(cut), header, compress=request.compress)
        if truth is None:
            return ExposureResult(data, _format(request.compress), None, None, False)
        label, clear = label_of(truth, self.rig)
        return ExposureResult(data, _format(request.compress), truth, label, clear)

    def _calibration(
        self, request: ExposureRequest, rng: np.random.Generator
    ) -> NDArray[np.uint16] | NDArray[np.float32]:
        rig = self.rig
        shape = (self.height, self.width)
        mean_e = {
            "Bias": 0.0,
            "Dark": 0.05 * rig.dark_e_per_s * request.exposure_s,
            "Flat": 0.4 * rig.full_well_e,
        }[request.frame_type]
        electrons = rng.normal(mean_e, np.sqrt(mean_e + rig.read_noise_e**2), shape)
        adu = np.clip(np.rint(electrons / rig.gain_e_per_adu + rig.bias_adu), 0, rig.adc_max)
        return adu.astype(np.uint16) if rig.dtype == "uint16" else adu.astype(np.float32)

    def _fill_header(
        self, header: fits.Header, request: ExposureRequest, date_obs: str, x: int, y: int
    ) -> None:
        rig = self.rig
        bx, by = rig.binning * request.bin_x, rig.binning * request.bin_y
        header["IMAGETYP"] = (f"{request.frame_type} Frame", "Type of image")
        header["FRAME"] = (request.frame_type, "Frame type")
        header["EXPTIME"] = (float(request.exposure_s), "Exposure time in seconds")
        header["EXPOSURE"] = (float(request.exposure_s), "Exposure time in seconds")
        header["DATE-OBS"] = (date_obs, "UTC start of exposure")
        header["INSTRUME"] = (rig.instrument, "Camera model")
        header["TELESCOP"] = (rig.telescope, "Telescope name")
        header["FOCALLEN"] = (float(rig.focal_length_mm), "Focal length of telescope in mm")
        # PIXSIZE1/2 are INDI's own keywords; indi_simulator_ccd 1.9.9 refuses a file
        # in its directory mode without PIXSIZE1.
        header["PIXSIZE1"] = (float(rig.pixel_size_um * bx), "[um] Pixel Size 1")
        header["PIXSIZE2"] = (float(rig.pixel_size_um * by), "[um] Pixel Size 2")
        header["XPIXSZ"] = (float(rig.pixel_size_um * bx), "pixel size in microns (with binning)")
        header["YPIXSZ"] = (float(rig.pixel_size_um * by), "pixel size in microns (with binning)")
        header["XBINNING"] = (bx, "Camera X Bin")
        header["YBINNING"] = (by, "Camera Y Bin")
        header["XORGSUBF"] = (x // request.bin_x, "Subframe X position in binned pixels")
        header["YORGSUBF"] = (y // request.bin_y, "Subframe Y position in binned pixels")
        if rig.bayer is not None and (request.bin_x > 1 or request.bin_y > 1):
            # Summed 2x2 blocks mix all colours: the result is no longer a mosaic.
            for key in ("BAYERPAT", "XBAYROFF", "YBAYROFF"):
                header.remove(key, ignore_missing=True)
        if request.observer:
            header["OBSERVER"] = (request.observer, "Observer")
        if request.object_name:
            header["OBJECT"] = (request.object_name, "Object name")
        if request.pointing is not None and request.frame_type == "Light":
            # As indi_simulator_ccd 1.9.9 writes them when it snoops a mount: the mount
            # reports JNow, the header says J2000.
            ra_hours, dec_deg = j2000_of(*request.pointing, request.start)
            header["OBJCTRA"] = (_sexagesimal(ra_hours), "Object J2000 RA in Hours")
            header["OBJCTDEC"] = (_sexagesimal(dec_deg), "Object J2000 DEC in Degrees")
            header["RA"] = (round(ra_hours * 15, 6), "Object J2000 RA in Degrees")
            header["DEC"] = (round(dec_deg, 6), "Object J2000 DEC in Degrees")


class SkyFields:
    """The star fields a session's mount has pointed at.

    The scenario's star field lies where the mount first points. A pointing more than
    half the frame's shorter side away from every field seen so far is a new field,
    with stars of its own (another ``field_seed``, and from a quarter to four times
    the scenario's ``n_stars``). Coming back to a field shows its stars again. The
    field is that of the coordinates the mount reports, so a sync to far-away
    coordinates also changes it; a guide pulse or a dither, which moves the mount by
    a few arcseconds, does not. The sky an exposure passes over during a slew is not
    remembered as a field (its stars are smeared anyway).

    Parameters
    ----------
    field_deg
        The sensor's shorter side on the sky, degrees.
    """

    def __init__(self, field_deg: float) -> None:
        if not field_deg > 0:
            raise ValueError("field_deg must be > 0")
        self.field_deg = field_deg
        self._centres: list[tuple[float, float]] = []

    def index_at(self, ra_hours: float, dec_deg: float, *, remember: bool = True) -> int:
        """The field at this pointing: 0 for the first, 1, 2... for later ones.

        With ``remember=False`` a pointing away from every field gets the index the
        next new field would, and is not kept (a mount passing by during a slew).
        """
        here = (ra_hours % 24 * 15, dec_deg)
        for index, centre in enumerate(self._centres):
            if separation_deg(here, centre) <= self.field_deg / 2:
                return index
        if remember:
            self._centres.append(here)
            return len(self._centres) - 1
        return len(self._centres)

    def conditions_at(
        self, conditions: Conditions, ra_hours: float, dec_deg: float, *, remember: bool = True
    ) -> Conditions:
        """``conditions`` with the star field of the pointing (``remember``: as
        :meth:`index_at`)."""
        index = self.index_at(ra_hours, dec_deg, remember=remember)
        if index == 0:
            return conditions
        rng = np.random.default_rng([conditions.field_seed, index])
        return conditions.replace(
            field_seed=int(rng.integers(2**31)),
            n_stars=max(1, round(conditions.n_stars * 4 ** rng.uniform(-1.0, 1.0))),
        )


def j2000_of(ra_hours: float, dec_deg: float, when: datetime) -> tuple[float, float]:
    """A mount's JNow position at ``when`` precessed to J2000: ``(ra_hours, dec_deg)``.

    Precession only (astropy's FK5). INDI also removes nutation and aberration, which
    move a position by under a minute of arc: nothing a field's identity depends on.
    """
    import astropy.units as u
    from astropy.coordinates import FK5, SkyCoord
    from astropy.time import Time

    # TT, not UTC: a minute either way does not matter, and TT needs no leap-second table.
    equinox = Time(when.astimezone(UTC).replace(tzinfo=None), scale="tt")
    now = SkyCoord(ra=(ra_hours % 24) * 15 * u.deg, dec=dec_deg * u.deg, frame=FK5(equinox=equinox))
    j2000 = now.transform_to(FK5(equinox="J2000"))
    return float(j2000.ra.deg) / 15 % 24, float(j2000.dec.deg)


def _sexagesimal(value: float) -> str:
    """libindi's form: `` 5 35 15.00``, ``-5 23 24.00`` (no ``+``), seconds to 0.01."""
    centiseconds = round(abs(value) * 360000)
    whole, rest = divmod(centiseconds, 360000)
    minutes, rest = divmod(rest, 6000)
    sign = "-" if value < 0 and centiseconds else ""
    return f"{sign + str(whole):>2} {minutes:02d} {rest / 100:05.2f}"


def next_upload_path(folder: Path, prefix: str, fmt: str) -> Path:
    """Where a local upload goes, libindi-style: ``XXX`` in ``prefix`` becomes the
    next free three-digit index (``IMAGE_001.fits``); ``folder`` is created."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = prefix or "IMAGE_XXX"
    if "XXX" not in prefix:
        return folder / f"{prefix}{fmt}"
    index = 1
    while (path := folder / f"{prefix.replace('XXX', f'{index:03d}')}{fmt}").exists():
        index += 1
    return path


def _format(compress: bool) -> str:
    return ".fits.fz" if compress else ".fits"


def _encode(image: NDArray[np.generic], header: fits.Header, *, compress: bool) -> bytes:
    """FITS bytes; compressed files follow fpack's layout (empty primary + tile HDU)."""
    buffer = io.BytesIO()
    if compress:
        hdus = fits.HDUList(
            [fits.PrimaryHDU(), fits.CompImageHDU(image, header, compression_type="RICE_1")]
        )
    else:
        hdus = fits.HDUList([fits.PrimaryHDU(image, header)])
    hdus.writeto(buffer, output_verify="silentfix")
    return buffer.getvalue()
