"""Tiny frame files written by the tests themselves (FITS, fpack, zlib, gzip)."""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
from astropy.io import fits

Cards = Mapping[str, object]


def header_of(cards: Cards | None = None) -> fits.Header:
    header = fits.Header()
    for key, value in (cards or {}).items():
        header[key] = value
    return header


def fits_bytes(data: np.ndarray | None, cards: Cards | None = None) -> bytes:
    """A single-HDU FITS file; unsigned 16-bit data is written with BZERO = 32768."""
    buffer = io.BytesIO()
    fits.PrimaryHDU(data, header=header_of(cards)).writeto(buffer)
    return buffer.getvalue()


def hdus_bytes(*hdus: fits.hdu.base._BaseHDU) -> bytes:
    buffer = io.BytesIO()
    fits.HDUList(list(hdus)).writeto(buffer)
    return buffer.getvalue()


def fpack_bytes(data: np.ndarray, cards: Cards | None = None) -> bytes:
    """What INDI sends as ``.fits.fz``: an empty primary HDU and a Rice CompImageHDU."""
    compressed = fits.CompImageHDU(data, header=header_of(cards), compression_type="RICE_1")
    return hdus_bytes(fits.PrimaryHDU(), compressed)


def replace_card(raw: bytes, keyword: str, card: str) -> bytes:
    """``raw`` with the 80-byte card of ``keyword`` replaced by ``card`` (padded)."""
    start = raw.index(keyword.ljust(8).encode())
    assert start % 80 == 0
    return raw[:start] + card.ljust(80).encode() + raw[start + 80 :]


# 4x4 Bayer mosaic whose 2x2 cell means are 2.5, 6.5, 10.5 and 14.5.
MOSAIC = np.array(
    [[1, 2, 5, 6], [3, 4, 7, 8], [9, 10, 13, 14], [11, 12, 15, 16]],
    dtype=np.uint16,
)
MOSAIC_MEANS = np.array([[2.5, 6.5], [10.5, 14.5]], dtype=np.float32)

# FOCALLEN (mm) at which a 1 um pixel spans exactly 1 arcsec.
ONE_ARCSEC_FOCAL_MM = 206.264806247
