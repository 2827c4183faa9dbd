"""The one-pass path for BITPIX 16 + BZERO 32768 gives astropy's values exactly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames._decode import decode_bytes

RNG = np.random.default_rng(3)


def _bytes(hdus: list[fits.PrimaryHDU | fits.ImageHDU]) -> bytes:
    out = io.BytesIO()
    fits.HDUList(hdus).writeto(out)
    return out.getvalue()


def _astropy(data: bytes) -> np.ndarray:
    with fits.open(io.BytesIO(data)) as hdus:
        return next(np.array(h.data) for h in hdus if h.data is not None)


@pytest.mark.parametrize("shape", [(37, 53), (3, 20, 30)])
@pytest.mark.parametrize("in_extension", [False, True])
def test_unsigned_16_bit_matches_astropy(shape: tuple[int, ...], in_extension: bool) -> None:
    pixels = RNG.integers(0, 65536, size=shape, dtype=np.uint16)
    pixels.flat[:2] = (0, 65535)
    hdus = [fits.PrimaryHDU(), fits.ImageHDU(pixels)] if in_extension else [fits.PrimaryHDU(pixels)]
    data = _bytes(hdus)
    decoded = decode_bytes(data, ".fits", "x")
    assert decoded.samples.dtype == np.uint16 and decoded.samples.shape == shape
    np.testing.assert_array_equal(decoded.samples, _astropy(data))
    np.testing.assert_array_equal(decoded.samples, pixels)
    assert decoded.storage_max == 65535


def test_other_scalings_keep_astropys_path() -> None:
    hdu = fits.PrimaryHDU(RNG.integers(-100, 100, size=(8, 8), dtype=np.int16))
    hdu.header["BSCALE"] = 2.0
    hdu.header["BZERO"] = 32768
    data = _bytes([hdu])
    np.testing.assert_array_equal(decode_bytes(data, ".fits", "x").samples, _astropy(data))


def test_truncated_unsigned_file_is_still_an_error() -> None:
    data = _bytes([fits.PrimaryHDU(np.ones((64, 64), np.uint16))])
    with pytest.raises(FrameError):
        decode_bytes(data[: len(data) - 4000], ".fits", "x")
