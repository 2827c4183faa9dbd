"""What a FITS header says about a frame: pure functions over ``astropy.io.fits.Header``.

Every lookup tolerates missing, misspelt or mistyped keywords by answering ``None``:
capture programs disagree on types (``EXPTIME = '53.9'``), and a grader must not
refuse a frame over its metadata.
"""

from __future__ import annotations

import copy
import logging
import math
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Literal

from astropy.io import fits
from astropy.io.fits.verify import VerifyError

__all__ = [
    "BAYER_PATTERNS",
    "FrameKind",
    "clean_header",
    "frame_kind",
    "header_bayer",
    "header_captured_at",
    "header_exposure",
    "header_pixel_scale",
    "header_pointing",
    "header_saturation",
    "inherit_primary",
    "separation_deg",
]

log = logging.getLogger(__name__)

FrameKind = Literal["light", "dark", "flat", "bias", "unknown"]

BAYER_PATTERNS: Final = ("RGGB", "GRBG", "GBRG", "BGGR")

# 206264.806 arcsec per radian, with um / mm = 1e-3.
_ARCSEC_PER_UM_PER_MM: Final = 206.264806247

# Keywords that describe one HDU's layout; never copied from the primary header.
_STRUCTURAL: Final = frozenset(
    {"SIMPLE", "XTENSION", "BITPIX", "EXTEND", "BZERO", "BSCALE", "BLANK", "PCOUNT", "GCOUNT"}
    | {"EXTNAME", "EXTVER", "CHECKSUM", "DATASUM", "INHERIT", "COMMENT", "HISTORY", ""}
)


def clean_header(header: fits.Header, *, source: str) -> fits.Header:
    """A copy of ``header`` without the cards astropy cannot parse.

    A card such as ``EXPTIME = 10.0.0`` makes every later ``header[...]`` lookup of
    that key raise ``VerifyError``; dropping it (with a log line) keeps one bad card
    from costing the whole frame, and keeps the header safe for downstream code.
    """
    out = header.copy()
    bad: list[int] = []
    for index, card in enumerate(out.cards):
        try:
            _ = (card.keyword, card.value, card.comment)
        except (VerifyError, ValueError, TypeError, UnicodeError) as exc:
            log.debug("%s: dropping unparsable header card %r: %s", source, card.image, exc)
            bad.append(index)
    for index in reversed(bad):
        del out[index]
    return out


def inherit_primary(image_header: fits.Header, primary: fits.Header) -> fits.Header:
    """``image_header`` plus the primary header's keywords it lacks.

    Multi-extension files often keep ``DATE-OBS`` or ``EXPTIME`` in the primary
    header only (the FITS ``INHERIT`` convention); layout keywords are not copied.
    """
    merged = image_header.copy()
    for card in primary.cards:
        key = card.keyword
        if key in _STRUCTURAL or key.startswith("NAXIS") or key in merged:
            continue
        merged.append(copy.copy(card), end=True)
    return merged


def _get(header: fits.Header, key: str) -> object:
    try:
        return header.get(key)
    except (VerifyError, ValueError, KeyError, IndexError):
        # Headers given to Frame.from_array are not cleaned; treat a broken card as absent.
        return None


def _number(header: fits.Header, key: str) -> float | None:
    value = _get(header, key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _positive(header: fits.Header, key: str) -> float | None:
    number = _number(header, key)
    return number if number is not None and number > 0 else None


def _text(header: fits.Header, key: str) -> str | None:
    value = _get(header, key)
    return value.strip() if isinstance(value, str) and value.strip() else None


def header_exposure(header: fits.Header) -> float | None:
    """Exposure time, s, from ``EXPTIME`` or ``EXPOSURE``; ``None`` if absent or negative."""
    for key in ("EXPTIME", "EXPOSURE"):
        value = _number(header, key)
        if value is not None and value >= 0:
            return value
    return None


def header_pixel_scale(header: fits.Header) -> float | None:
    """Image scale as the camera wrote it, arcsec per stored pixel.

    Order of preference:

    1. ``FOCALLEN`` [mm] with ``XPIXSZ`` [um]. ``XPIXSZ`` is used *as written*:
       MaxIm, ASCOM, INDI, ZWO and N.I.N.A. all write it with the binning
       already applied (the comment often says "with binning"), so multiplying
       by ``XBINNING`` would count the binning twice.
    2. ``FOCALLEN`` with ``PIXSIZE1`` [um], times ``XBINNING`` (default 1):
       INDI writes ``PIXSIZE1`` as the *unbinned* pixel size.
    3. ``SCALE``, ``PIXSCALE`` or ``SECPIX`` [arcsec/px].

    The WCS (``CD1_1``, ``CDELT1``) is deliberately ignored: cut-outs and
    unsolved frames often carry a placeholder WCS that is off by orders of
    magnitude, and a wrong scale is worse than none.
    """
    focal_mm = _positive(header, "FOCALLEN")
    if focal_mm is not None:
        binned_um = _positive(header, "XPIXSZ")
        if binned_um is not None:
            return _ARCSEC_PER_UM_PER_MM * binned_um / focal_mm
        unbinned_um = _positive(header, "PIXSIZE1")
        if unbinned_um is not None:
            binning = _positive(header, "XBINNING") or 1.0
            return _ARCSEC_PER_UM_PER_MM * unbinned_um * binning / focal_mm
    for key in ("SCALE", "PIXSCALE", "SECPIX"):
        scale = _positive(header, key)
        if scale is not None:
            return scale
    return None


_SEXAGESIMAL: Final = re.compile(
    r"^\s*([+-]?)\s*(\d+(?:\.\d*)?)(?:[\s:hd]+(\d+(?:\.\d*)?))?"
    r"(?:[\s:m']+(\d+(?:\.\d*)?))?[\s\"s]*$"
)


def _angle(value: object, *, hours: bool, bare_hours: bool = False) -> float | None:
    """Degrees from a number or a sexagesimal string (hours when ``hours``); a bare
    number counts as hours only when ``bare_hours`` (``OBJCTRA`` is hours by convention)."""
    if isinstance(value, bool) or value is None:
        return None
    scale = 15.0 if hours else 1.0
    if isinstance(value, int | float):
        number = float(value) * (scale if bare_hours else 1.0)
        return number if math.isfinite(number) else None
    if not isinstance(value, str):
        return None
    match = _SEXAGESIMAL.match(value)
    if match is None:
        return None
    sign, whole, minutes, seconds = match.groups()
    if minutes is None:
        angle = float(whole) * (scale if bare_hours else 1.0)
    elif float(minutes) >= 60 or float(seconds or 0) >= 60:
        return None
    else:
        angle = (float(whole) + float(minutes) / 60 + float(seconds or 0) / 3600) * scale
    return -angle if sign == "-" else angle


def separation_deg(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Angle between two ``(ra_deg, dec_deg)`` positions on the sky, degrees."""
    ra1, dec1, ra2, dec2 = (math.radians(v) for v in (*a, *b))
    # Haversine: well-conditioned for the small separations that matter here.
    h = (
        math.sin((dec2 - dec1) / 2) ** 2
        + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    )
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h))))


def header_pointing(header: fits.Header) -> tuple[float, float] | None:
    """Where the frame points, ``(ra_deg, dec_deg)``, or ``None``.

    The mount's position as the capture program wrote it: ``RA``/``DEC`` (N.I.N.A.,
    the Seestar and INDI write degrees; a sexagesimal string is read as hours of RA),
    else ``OBJCTRA``/``OBJCTDEC`` (sexagesimal, RA in hours: INDI, MaxIm, SGP), else
    the reference point of a celestial WCS (``CRVAL1/2`` with ``CTYPE1`` ``RA---*``).
    Meant for telling fields apart within a session, not for astrometry.
    """
    pairs: list[tuple[object, object]] = [
        (_get(header, "RA"), _get(header, "DEC")),
        (_get(header, "OBJCTRA"), _get(header, "OBJCTDEC")),
    ]
    ctype1, ctype2 = _text(header, "CTYPE1") or "", _text(header, "CTYPE2") or ""
    if ctype1.upper().startswith("RA-") and ctype2.upper().startswith("DEC-"):
        pairs.append((_number(header, "CRVAL1"), _number(header, "CRVAL2")))
    for index, (ra_value, dec_value) in enumerate(pairs):
        ra = _angle(ra_value, hours=True, bare_hours=index == 1)
        dec = _angle(dec_value, hours=False)
        if ra is not None and dec is not None and 0 <= ra <= 360 and -90 <= dec <= 90:
            return ra % 360.0, dec
    return None


def header_saturation(header: fits.Header) -> float | None:
    """``SATURATE`` in the units of the data, if positive and finite."""
    return _positive(header, "SATURATE")


def header_bayer(header: fits.Header) -> str | None:
    """Colour filter pattern from ``BAYERPAT`` (or ``COLORTYP``); ``None`` for mono.

    Values that are not one of the four 2x2 patterns (``'TRUE'``, ``'MONO'``,
    ``'RGB'``) do not make a frame a mosaic.
    """
    for key in ("BAYERPAT", "COLORTYP"):
        value = _text(header, key)
        if value is not None and value.upper() in BAYER_PATTERNS:
            return value.upper()
    return None


_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?"
)
# FITS before 1997: dd/mm/yy, with yy counted from 1900.
_OLD_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})")
_TIME = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d*))?)?")


def _clock(hour: str, minute: str, second: str | None, fraction: str | None) -> timedelta:
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    # Second 60 is a leap second: it rolls into the next minute.
    if int(hour) > 23 or int(minute) > 59 or int(second or 0) > 60:
        raise ValueError(f"no such time of day {hour}:{minute}:{second}")
    return timedelta(
        hours=int(hour), minutes=int(minute), seconds=int(second or 0), microseconds=micro
    )


def _time_of_day(header: fits.Header) -> timedelta | None:
    for key in ("TIME-OBS", "UT", "UTSTART", "UTC-OBS"):
        text = _text(header, key)
        match = _TIME.fullmatch(text) if text else None
        if match:
            try:
                return _clock(*match.groups())
            except ValueError:
                continue
    return None


def _parse_date(text: str, header: fits.Header) -> datetime | None:
    try:
        if match := _ISO.fullmatch(text):
            y, mo, d, hh, mm, ss, frac, zone = match.groups()
            day = datetime(int(y), int(mo), int(d), tzinfo=UTC)
            if hh is None:
                return day + (_time_of_day(header) or timedelta())
            stamp = day + _clock(hh, mm, ss, frac)
            if zone and zone != "Z":
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
                stamp = stamp.replace(tzinfo=timezone(sign * offset)).astimezone(UTC)
            return stamp
        if match := _OLD_DATE.fullmatch(text):
            d, mo, yy = match.groups()
            day = datetime(1900 + int(yy), int(mo), int(d), tzinfo=UTC)
            return day + (_time_of_day(header) or timedelta())
    except (ValueError, OverflowError):  # 2023-02-30, hour 25, ...
        return None
    return None


def header_captured_at(header: fits.Header) -> datetime | None:
    """Start of the exposure, UTC, from ``DATE-OBS`` (else ``DATE-AVG``).

    FITS times are UTC unless they carry an offset. A date without a time takes
    ``TIME-OBS``/``UT``/``UTSTART``/``UTC-OBS`` when present, else midnight.
    """
    for key in ("DATE-OBS", "DATE-AVG"):
        text = _text(header, key)
        stamp = _parse_date(text, header) if text else None
        if stamp is not None:
            return stamp
    return None


def _kind_of(text: str) -> FrameKind:
    words = re.findall(r"[a-z]+", text.lower())
    joined = "".join(words)
    # "Dark Flat" / "FlatDark" are darks; test dark before flat.
    if "dark" in joined:
        return "dark"
    if "bias" in joined or {"zero", "offset"} & set(words):
        return "bias"
    if "flat" in joined:
        return "flat"
    if "light" in joined or {"object", "science", "expose"} & set(words):
        return "light"
    return "unknown"


def frame_kind(header: fits.Header) -> FrameKind:
    """Calibration role of a frame: light, dark, flat, bias, or ``"unknown"``.

    Reads ``IMAGETYP``, then ``FRAME``, ``FRAMETYP`` and ``OBSTYPE`` (NOAO, LCO); the
    first one that names a known kind wins ("Light Frame", "LIGHT", "Object",
    "EXPOSE", "Dark Frame", "Flat Field", "SKYFLAT", "Bias Frame", "zero", "Offset").
    Non-text values (SDSS writes ``FRAME = 27``) are skipped.
    """
    for key in ("IMAGETYP", "FRAME", "FRAMETYP", "OBSTYPE"):
        text = _text(header, key)
        if text is not None:
            kind = _kind_of(text)
            if kind != "unknown":
                return kind
    return "unknown"
