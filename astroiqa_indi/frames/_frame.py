"""The :class:`Frame`: one exposure as a float32 luminance plane plus what its header says."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import numpy as np
from astropy.io import fits

from astroiqa_indi.frames._decode import Decoded, _guard, decode_bytes, decode_path
from astroiqa_indi.frames._header import (
    BAYER_PATTERNS,
    clean_header,
    header_bayer,
    header_captured_at,
    header_exposure,
    header_pixel_scale,
    header_saturation,
)
from astroiqa_indi.frames._pixels import storage_max, to_luminance

if TYPE_CHECKING:
    from os import PathLike

__all__ = ["Frame"]

_BAYER_OPTIONS: Final = ("auto", "none", *BAYER_PATTERNS)


def _bayer_option(bayer: str) -> str:
    option = bayer.strip().lower() if isinstance(bayer, str) else ""
    option = option if option in ("auto", "none") else option.upper()
    if option not in _BAYER_OPTIONS:
        raise ValueError(f"bayer must be one of {', '.join(_BAYER_OPTIONS)}; got {bayer!r}")
    return option


def _scale_option(pixel_scale_arcsec: float | None) -> float | None:
    if pixel_scale_arcsec is None:
        return None
    scale = float(pixel_scale_arcsec)
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"pixel_scale_arcsec must be > 0 and finite; got {pixel_scale_arcsec!r}")
    return scale


def _optional_positive(name: str, value: float | None, *, allow_zero: bool = False) -> None:
    if value is None:
        return
    ok = math.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"Frame.{name} must be None or finite and {bound}; got {value!r}")


# eq=False: equality of two frames is identity; element-wise array equality would make
# ``frame_a == frame_b`` raise "truth value of an array is ambiguous".
@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Frame:
    """One exposure, reduced to a single luminance plane.

    Build frames with :meth:`from_bytes`, :meth:`from_path` or :meth:`from_array`;
    they decode, fold colour into luminance and read the header once.

    Attributes
    ----------
    data
        2-D float32 luminance, ADU, C-contiguous, read-only, all finite.
    header
        The image's FITS header (cards astropy cannot parse removed); empty if none.
    exposure_s
        Exposure time, s (``EXPTIME``/``EXPOSURE``), or ``None``.
    pixel_scale_arcsec
        Scale of ``data``, arcsec per pixel (doubled for a 2x2 super-pixel), or ``None``.
    bayer
        Bayer pattern of the raw mosaic (``"GRBG"``...), ``None`` for mono or RGB data.
    captured_at
        UTC start of the exposure (``DATE-OBS``, else ``DATE-AVG``), tz-aware, or ``None``.
    source
        File path, ``"<bytes>"``, ``"<array>"`` or a name given by the caller.
    saturation_adu
        Saturation level in the units of ``data``: ``SATURATE`` if the header has it,
        else the stored integer type's maximum after ``BZERO``/``BSCALE`` (65535 for
        unsigned 16-bit), ``None`` for float data. Super-pixels are *means*, so a
        cell of four saturated pixels reads the same level and it is not rescaled.
    original_shape
        ``(height, width)`` of the plane before super-pixel binning, px.
    binned
        1, or 2 when a Bayer mosaic became 2x2 super-pixels.
    nonfinite_pixels
        NaN/inf/``BLANK`` input samples replaced by the median of the finite ones.
    """

    data: np.ndarray
    header: fits.Header = field(default_factory=fits.Header)
    exposure_s: float | None = None
    pixel_scale_arcsec: float | None = None
    bayer: str | None = None
    captured_at: datetime | None = None
    source: str = "<array>"
    saturation_adu: float | None = None
    original_shape: tuple[int, int] = (0, 0)
    binned: int = 1
    nonfinite_pixels: int = 0

    def __post_init__(self) -> None:
        data = self.data
        if not isinstance(data, np.ndarray) or data.ndim != 2 or data.dtype != np.float32:
            raise ValueError("Frame.data must be a 2-D float32 numpy array")
        if data.size == 0 or not data.flags.c_contiguous:
            raise ValueError(f"Frame.data must be non-empty and C-contiguous; shape {data.shape}")
        if not np.isfinite(data).all():
            raise ValueError("Frame.data must be finite (use Frame.from_array to patch NaN)")
        if data.flags.writeable:
            view = data.view()
            view.flags.writeable = False
            object.__setattr__(self, "data", view)
        if not isinstance(self.header, fits.Header):
            raise ValueError("Frame.header must be an astropy.io.fits.Header")
        _optional_positive("exposure_s", self.exposure_s, allow_zero=True)
        _optional_positive("pixel_scale_arcsec", self.pixel_scale_arcsec)
        _optional_positive("saturation_adu", self.saturation_adu)
        if self.bayer is not None and self.bayer not in BAYER_PATTERNS:
            raise ValueError(f"Frame.bayer must be None or one of {BAYER_PATTERNS}")
        if self.captured_at is not None:
            if self.captured_at.tzinfo is None:
                raise ValueError("Frame.captured_at must be timezone-aware (UTC)")
            object.__setattr__(self, "captured_at", self.captured_at.astimezone(UTC))
        if not self.source:
            raise ValueError("Frame.source must be a non-empty string")
        if self.binned not in (1, 2):
            raise ValueError(f"Frame.binned must be 1 or 2; got {self.binned!r}")
        if self.nonfinite_pixels < 0:
            raise ValueError("Frame.nonfinite_pixels must be >= 0")
        shape = self.original_shape
        pair = isinstance(shape, tuple) and len(shape) == 2
        if not (pair and all(type(side) is int for side in shape)):
            raise ValueError(f"Frame.original_shape must be a (height, width) tuple; got {shape!r}")
        if self.original_shape == (0, 0):
            object.__setattr__(self, "original_shape", tuple(s * self.binned for s in data.shape))
        height, width = self.original_shape
        if (height // self.binned, width // self.binned) != data.shape:
            raise ValueError(
                f"Frame.original_shape {self.original_shape} binned {self.binned}x "
                f"does not give data shape {data.shape}"
            )

    def __repr__(self) -> str:
        height, width = self.data.shape
        return (
            f"Frame(source={self.source!r}, shape={height}x{width}, binned={self.binned}, "
            f"bayer={self.bayer!r}, exposure_s={self.exposure_s!r}, "
            f"pixel_scale_arcsec={self.pixel_scale_arcsec!r})"
        )

    @classmethod
    def from_bytes(
        cls,
        data: bytes | bytearray | memoryview,
        fmt: str = ".fits",
        *,
        source: str | None = None,
        pixel_scale_arcsec: float | None = None,
        bayer: str = "auto",
    ) -> Frame:
        """Decode an in-memory frame (an INDI BLOB, an upload).

        Parameters
        ----------
        data
            The file's bytes; never modified.
        fmt
            File name or INDI format: ``.fits``/``.fit``/``.fts``, ``.fits.fz`` (fpack),
            ``.fits.z``/``.z`` (zlib-compressed BLOB), ``.xisf``. Case-insensitive;
            recognisable content (FITS, XISF, gzip magic) wins over the name.
        source
            Name for messages and :attr:`source`; ``"<bytes>"`` by default.
        pixel_scale_arcsec
            The rig's scale in arcsec per *sensor* pixel (the profile); overrides the
            header. Doubled when a mosaic is binned.
        bayer
            ``"auto"`` (header ``BAYERPAT``/``COLORTYP``), ``"none"`` (mono), or a
            pattern ``RGGB``/``GRBG``/``GBRG``/``BGGR`` that overrides the header.

        Raises
        ------
        FrameError
            Bytes that are empty, truncated, of no supported format, or hold no
            2-D/3-D image with at least one finite pixel.
        ValueError
            An invalid ``bayer`` or ``pixel_scale_arcsec`` argument.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"Frame.from_bytes needs bytes; got {type(data).__name__}")
        option, scale = _bayer_option(bayer), _scale_option(pixel_scale_arcsec)
        name = source or "<bytes>"
        return cls._build(decode_bytes(bytes(data), fmt, name), name, scale, option)

    @classmethod
    def from_path(
        cls,
        path: str | PathLike[str],
        *,
        pixel_scale_arcsec: float | None = None,
        bayer: str = "auto",
    ) -> Frame:
        """Decode a frame file (opened read-only, closed before returning).

        The format comes from the file's magic bytes and extension, as in
        :meth:`from_bytes`; arguments are as there.
        """
        option, scale = _bayer_option(bayer), _scale_option(pixel_scale_arcsec)
        return cls._build(decode_path(path), str(path), scale, option)

    @classmethod
    def from_array(
        cls,
        array: np.ndarray,
        *,
        header: fits.Header | None = None,
        source: str = "<array>",
        pixel_scale_arcsec: float | None = None,
        bayer: str = "none",
    ) -> Frame:
        """A frame from pixels already in memory (simulators, tests).

        ``array`` is copied, never modified; 2-D, or a 3-D RGB cube. Integer arrays
        get the type's maximum as saturation unless ``header`` has ``SATURATE``.
        ``bayer`` defaults to ``"none"``; ``"auto"`` reads ``header``.
        """
        option, scale = _bayer_option(bayer), _scale_option(pixel_scale_arcsec)
        samples = np.asarray(array)
        with _guard(source, "unusable header"):
            cleaned = clean_header(header if header is not None else fits.Header(), source=source)
        top = storage_max(samples.dtype) if samples.dtype.kind in "iu" else None
        decoded = Decoded(samples=samples, header=cleaned, storage_max=top)
        return cls._build(decoded, source, scale, option)

    @classmethod
    def _build(cls, decoded: Decoded, source: str, scale: float | None, bayer_option: str) -> Frame:
        header = decoded.header
        if bayer_option == "auto":
            pattern = header_bayer(header)
        else:
            pattern = None if bayer_option == "none" else bayer_option
        plane = to_luminance(
            decoded.samples, mosaic=pattern is not None, blank=decoded.blank, source=source
        )
        if scale is None:
            scale = header_pixel_scale(header)
        if scale is not None:
            scale *= plane.binned
        saturation = header_saturation(header)
        if saturation is None:
            saturation = decoded.storage_max
        return cls(
            data=plane.data,
            header=header,
            exposure_s=header_exposure(header),
            pixel_scale_arcsec=scale,
            bayer=pattern if plane.binned == 2 else None,
            captured_at=header_captured_at(header),
            source=source,
            saturation_adu=saturation,
            original_shape=plane.original_shape,
            binned=plane.binned,
            nonfinite_pixels=plane.nonfinite,
        )
