"""Bytes and files to a sample array plus header: FITS, fpack, zlib BLOBs, XISF.

Third-party decoders (astropy, xisf) raise a zoo of exception types on bad input
(``OSError``, ``TypeError``, ``VerifyError``, ``zlib.error``...). All of them are
caught at this one seam and re-raised as :class:`FrameError` naming the source.
"""

from __future__ import annotations

import io
import logging
import math
import tempfile
import threading
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

import numpy as np
from astropy.io import fits

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames._header import clean_header, inherit_primary
from astroiqa_indi.frames._pixels import storage_max

if TYPE_CHECKING:
    from os import PathLike

__all__ = ["Decoded", "decode_bytes", "decode_path", "read_header"]

log = logging.getLogger(__name__)

Kind = Literal["fits", "xisf", "zlib", "gzip"]

# Bigger than any camera sensor (a 150 MP sensor is 1.5e8 px); a header that claims
# more is corrupt, and believing it would allocate gigabytes.
MAX_PIXELS: Final = 1 << 28
_MAX_INFLATED: Final = 1 << 31
_FITS_SUFFIXES: Final = (".fits", ".fit", ".fts", ".fz")
_BITPIX_TYPES: Final = {8: np.uint8, 16: np.int16, 32: np.int32, 64: np.int64}
_XISF_HINT: Final = "pip install astroiqa-indi[xisf]"

# warnings.catch_warnings swaps process-global state; two threads decoding at once
# would restore each other's filters. Decoding holds this lock only while astropy runs.
_WARNINGS_LOCK: Final = threading.Lock()


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded image before it becomes a :class:`Frame`.

    Attributes
    ----------
    samples
        Physical values (``BZERO``/``BSCALE`` applied), 2-D or 3-D.
    header
        Parsable cards of the image header (plus inherited primary keywords).
    storage_max
        Largest value the stored integer type can represent, ADU; ``None`` for floats.
    blank
        Physical value of undefined integer samples (FITS ``BLANK``), if any.
    """

    samples: np.ndarray
    header: fits.Header
    storage_max: float | None
    blank: float | None = None


@contextmanager
def _guard(source: str, doing: str) -> Iterator[None]:
    """Record warnings (logged, not raised) and turn foreign errors into FrameError."""
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        # Under filterwarnings=error a VerifyWarning about one odd card would abort the
        # read; the file is judged by whether its pixels decode, not by its pedantry.
        warnings.simplefilter("always")
        try:
            yield
        except FrameError:
            raise
        except Exception as exc:  # decoders raise undocumented types; all mean "bad input"
            raise FrameError(f"{source}: {doing}: {type(exc).__name__}: {exc}") from exc
        finally:
            for item in caught:
                log.debug("%s: %s: %s", source, item.category.__name__, item.message)


def _normal_fmt(fmt: str) -> str:
    text = fmt.strip().lower()
    return text if text.startswith(".") or not text else "." + text


def _looks_zlib(data: bytes) -> bool:
    # RFC 1950: deflate method (CM = 8) and a header checksum divisible by 31.
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _kind(data: bytes, fmt: str, source: str) -> Kind:
    """Content first (magic bytes), then the format name, then weak zlib magic."""
    if data.startswith(b"SIMPLE"):  # FITS and fpack FITS
        return "fits"
    if data.startswith(b"\x1f\x8b"):
        return "gzip"
    if data.startswith(b"XISF0100"):
        return "xisf"
    name = _normal_fmt(fmt)
    if name.endswith(".z"):
        return "zlib"
    if name.endswith(".gz"):
        return "gzip"
    if name.endswith(".xisf"):
        return "xisf"
    if name.endswith(_FITS_SUFFIXES):
        return "fits"
    if _looks_zlib(data):
        return "zlib"
    raise FrameError(
        f"{source}: unsupported format {fmt!r} (expected .fits/.fit/.fts, .fits.fz, "
        ".fits.z or .xisf) and the bytes are none of these"
    )


def _inflate(data: bytes, source: str, *, gzip: bool = False) -> bytes:
    what = "gzip" if gzip else "zlib"
    inflater = zlib.decompressobj(wbits=31 if gzip else 15)
    try:
        out = inflater.decompress(data, _MAX_INFLATED)
    except zlib.error as exc:
        raise FrameError(f"{source}: not a {what} stream: {exc}") from exc
    if inflater.unconsumed_tail:
        raise FrameError(f"{source}: {what} stream inflates past {_MAX_INFLATED} bytes")
    if not inflater.eof:
        raise FrameError(f"{source}: {what} stream is truncated")
    if not out:
        raise FrameError(f"{source}: {what} stream holds no data")
    return out


def _is_image(hdu: object) -> bool:
    return isinstance(hdu, fits.PrimaryHDU | fits.ImageHDU) and not isinstance(hdu, fits.GroupsHDU)


def _first_image(hdus: fits.HDUList, source: str) -> tuple[int, fits.PrimaryHDU | fits.ImageHDU]:
    """Index and HDU of the first 2-D or 3-D image with pixels."""
    skipped: list[str] = []
    for index, hdu in enumerate(hdus):
        if not _is_image(hdu):
            skipped.append(f"HDU {index} is a {type(hdu).__name__}")
            continue
        shape = tuple(hdu.shape)
        if not shape:
            continue  # header-only primary HDU, as in every fpack file
        if len(shape) not in (2, 3):
            skipped.append(f"HDU {index} is {len(shape)}-D {shape}")
        elif 0 in shape:
            skipped.append(f"HDU {index} is zero-size {shape}")
        elif math.prod(shape) > MAX_PIXELS:
            raise FrameError(f"{source}: HDU {index} claims {shape} pixels; too large")
        else:
            return index, hdu
    found = "; ".join(skipped) or "only header-only HDUs"
    raise FrameError(f"{source}: no 2-D or 3-D image HDU ({found})")


def _image_header(
    hdus: fits.HDUList, index: int, hdu: fits.PrimaryHDU | fits.ImageHDU, source: str
) -> fits.Header:
    header = clean_header(hdu.header, source=source)
    if index > 0:
        header = inherit_primary(header, clean_header(hdus[0].header, source=source))
    return header


def _fits_storage(header: fits.Header) -> tuple[float | None, float | None]:
    """``(storage_max, physical BLANK)`` from BITPIX/BZERO/BSCALE/BLANK."""
    stored = _BITPIX_TYPES.get(int(header.get("BITPIX", 0)))
    if stored is None:
        return None, None
    bscale = float(header.get("BSCALE", 1.0))
    bzero = float(header.get("BZERO", 0.0))
    top = storage_max(np.dtype(stored), bscale=bscale, bzero=bzero)
    blank = header.get("BLANK")
    physical_blank = (
        float(blank) * bscale + bzero if isinstance(blank, int) and blank is not True else None
    )
    return top, physical_blank


def _unsigned16(data: bytes, hdu: fits.PrimaryHDU | fits.ImageHDU) -> np.ndarray | None:
    """Pixels of a plain unsigned 16-bit image straight from the bytes, else ``None``.

    Nearly every camera writes BITPIX 16 with BZERO 32768. astropy reads such an HDU
    in three passes (copy, byte swap, add BZERO in a wider type); flipping the sign
    bit of the big-endian words gives the same uint16 values in one pass, which is
    most of the decoding time of a 26 MP frame landing from INDI.
    """
    header = hdu.header
    if type(hdu) not in (fits.PrimaryHDU, fits.ImageHDU) or header.get("BITPIX") != 16:
        return None
    if header.get("BZERO") != 32768 or header.get("BSCALE", 1) != 1 or "BLANK" in header:
        return None
    shape = tuple(int(n) for n in hdu.shape)
    info = hdu.fileinfo()  # the HDU's own: HDUList.fileinfo would re-verify the header
    if not info:
        return None
    offset = int(info["datLoc"])
    count = math.prod(shape)
    if offset + 2 * count > len(data):
        return None  # truncated: astropy's path says so in its own words
    raw = np.frombuffer(data, dtype=">u2", count=count, offset=offset)
    return np.bitwise_xor(raw, np.uint16(0x8000), dtype=np.uint16).reshape(shape)


def _decode_fits(data: bytes, source: str) -> Decoded:
    with (
        _guard(source, "not a readable FITS file"),
        fits.open(io.BytesIO(data), mode="readonly", memmap=False, lazy_load_hdus=False) as hdus,
    ):
        index, hdu = _first_image(hdus, source)
        top, blank = _fits_storage(hdu.header)
        samples = _unsigned16(data, hdu)
        if samples is None:
            samples = hdu.data  # read here, while the file is open
        if samples is None or samples.ndim not in (2, 3):
            raise FrameError(f"{source}: HDU {index} has no pixels")
        header = _image_header(hdus, index, hdu, source)
    return Decoded(samples=samples, header=header, storage_max=top, blank=blank)


def _xisf_module(source: str) -> type:
    try:
        from xisf import XISF
    except ImportError as exc:
        raise FrameError(
            f"{source}: reading XISF needs the optional 'xisf' package: {_XISF_HINT}"
        ) from exc
    return XISF


def _xisf_value(text: str) -> object:
    if text in ("T", "F"):
        return text == "T"
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def _xisf_header(meta: dict[str, object]) -> fits.Header:
    header = fits.Header()
    keywords = meta.get("FITSKeywords")
    for name, entries in keywords.items() if isinstance(keywords, dict) else ():
        for entry in entries:
            try:
                header.append((name, _xisf_value(entry["value"]), entry["comment"]), end=True)
            except (ValueError, KeyError, TypeError):
                log.debug("skipping XISF FITS keyword %r", name)
    return header


def _decode_xisf_file(path: Path, source: str) -> Decoded:
    reader_class = _xisf_module(source)
    with _guard(source, "not a readable XISF file"):
        reader = reader_class(str(path))
        images = reader.get_images_metadata()
        if not images:
            raise FrameError(f"{source}: XISF file holds no image")
        meta = images[0]
        geometry = tuple(meta["geometry"])
        if math.prod(geometry) > MAX_PIXELS:
            raise FrameError(f"{source}: XISF image claims {geometry} pixels; too large")
        samples = reader.read_image(0)  # height x width x channels
        header = clean_header(_xisf_header(meta), source=source)
    return Decoded(samples=samples, header=header, storage_max=storage_max(samples.dtype))


def _decode_xisf_bytes(data: bytes, source: str) -> Decoded:
    _xisf_module(source)  # fail on the missing package before touching the disk
    # The xisf package reads by file name only.
    with tempfile.TemporaryDirectory(prefix="astroiqa-xisf-") as folder:
        path = Path(folder) / "frame.xisf"
        path.write_bytes(data)
        return _decode_xisf_file(path, source)


def decode_bytes(data: bytes, fmt: str, source: str, *, _depth: int = 0) -> Decoded:
    """Decode an in-memory frame; ``fmt`` is a file name or INDI format such as ``.fits.z``."""
    if not data:
        raise FrameError(f"{source}: no data (0 bytes)")
    kind = _kind(data, fmt, source)
    if kind in ("zlib", "gzip"):
        if _depth:
            raise FrameError(f"{source}: compressed stream inside a compressed stream")
        inner = _normal_fmt(fmt).removesuffix(".z").removesuffix(".gz")
        inflated = _inflate(data, source, gzip=kind == "gzip")
        return decode_bytes(inflated, inner, source, _depth=1)
    if kind == "xisf":
        return _decode_xisf_bytes(data, source)
    return _decode_fits(data, source)


def _read(path: Path, source: str, size: int | None = None) -> bytes:
    try:
        if path.is_dir():
            raise FrameError(f"{source}: is a directory, not a frame file")
        with path.open("rb") as stream:
            return stream.read() if size is None else stream.read(size)
    except OSError as exc:
        raise FrameError(f"{source}: cannot read: {exc.strerror or exc}") from exc


def decode_path(path: str | PathLike[str]) -> Decoded:
    """Decode a frame file, read-only, by its name and magic bytes."""
    file, source = Path(path), str(path)
    if _kind(_read(file, source, 16), file.name, source) == "xisf":
        return _decode_xisf_file(file, source)
    return decode_bytes(_read(file, source), file.name, source)


def read_header(path: str | PathLike[str]) -> fits.Header:
    """Header of a frame file's image, without decoding its pixels.

    For FITS (and fpack) only headers are read, up to the first 2-D or 3-D image
    HDU; keywords missing there are inherited from the primary header. zlib-packed
    files are inflated whole. XISF gives its FITS keywords.

    Raises
    ------
    FrameError
        Missing file, directory, not a frame, or no image HDU.
    """
    file, source = Path(path), str(path)
    head = _read(file, source, 16)
    if not head:
        raise FrameError(f"{source}: no data (0 bytes)")
    kind = _kind(head, file.name, source)
    if kind == "xisf":
        reader_class = _xisf_module(source)
        with _guard(source, "not a readable XISF file"):
            images = reader_class(str(file)).get_images_metadata()
            if not images:
                raise FrameError(f"{source}: XISF file holds no image")
            return clean_header(_xisf_header(images[0]), source=source)
    target: Path | io.BytesIO = file
    if kind in ("zlib", "gzip"):
        target = io.BytesIO(_inflate(_read(file, source), source, gzip=kind == "gzip"))
    with (
        _guard(source, "not a readable FITS file"),
        fits.open(target, mode="readonly", memmap=False, lazy_load_hdus=True) as hdus,
    ):
        index, hdu = _first_image(hdus, source)
        return _image_header(hdus, index, hdu, source)
