"""FITS variants, fpack, zlib and gzip decode to the luminance a hand can check."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from astroiqa_indi.frames import Frame
from tests.frames._files import fits_bytes, fpack_bytes, hdus_bytes


@pytest.mark.parametrize(
    ("values", "dtype", "saturation"),
    [
        ([[0, 1], [65535, 40000]], np.uint16, 65535.0),  # written as int16 + BZERO 32768
        ([[-32768, -1], [0, 32767]], np.int16, 32767.0),
        ([[0, 7], [128, 255]], np.uint8, 255.0),
        ([[-5, 0], [70000, 2147483647]], np.int32, 2147483647.0),
        ([[0.5, -1.25], [3.0, 1e4]], np.float32, None),
        ([[1e-3, 2.0], [-7.5, 1e5]], np.float64, None),
    ],
)
def test_sample_types_keep_their_values(
    values: list[list[float]], dtype: type, saturation: float | None
) -> None:
    raw = fits_bytes(np.array(values, dtype=dtype))
    frame = Frame.from_bytes(raw)
    assert frame.data.dtype == np.float32
    assert frame.data.flags.c_contiguous and not frame.data.flags.writeable
    assert_allclose(frame.data, np.array(values, dtype=np.float64), rtol=1e-6)
    assert frame.saturation_adu == saturation
    assert (frame.binned, frame.bayer, frame.original_shape) == (1, None, (2, 2))
    assert frame.source == "<bytes>"


def test_uint16_is_stored_with_bzero() -> None:
    raw = fits_bytes(np.array([[0, 65535]], dtype=np.uint16))
    header = fits.Header.fromstring(raw[:2880].decode("ascii"))
    assert (header["BITPIX"], header["BZERO"]) == (16, 32768)


def test_bscale_bzero_are_applied_and_scale_saturation() -> None:
    hdu = fits.PrimaryHDU(np.array([[100.0, 120.0], [140.0, 102.0]]))
    hdu.scale("int16", bscale=2.0, bzero=100.0)
    frame = Frame.from_bytes(hdus_bytes(hdu))
    assert_allclose(frame.data, [[100, 120], [140, 102]])
    assert frame.saturation_adu == pytest.approx(32767 * 2.0 + 100.0)


def test_saturate_keyword_wins_over_the_type() -> None:
    frame = Frame.from_bytes(fits_bytes(np.ones((2, 2), np.uint16), {"SATURATE": 50000}))
    assert frame.saturation_adu == 50000.0


def test_nan_and_inf_become_the_median_of_finite_pixels() -> None:
    data = np.array([[1.0, np.nan], [3.0, np.inf], [-np.inf, 8.0]], dtype=np.float32)
    frame = Frame.from_bytes(fits_bytes(data))
    # finite pixels 1, 3, 8 -> median 3
    assert_allclose(frame.data, [[1, 3], [3, 3], [3, 8]])
    assert frame.nonfinite_pixels == 3


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
def test_blank_pixels_count_as_nonfinite(dtype: type) -> None:
    data: np.ndarray = np.array([[0, 5], [7, 9]], dtype=dtype)
    hdu = fits.PrimaryHDU(data)
    # uint16 stores 0 as -32768; int16 stores it as 0.
    hdu.header["BLANK"] = -32768 if dtype is np.uint16 else 0
    frame = Frame.from_bytes(hdus_bytes(hdu))
    assert_allclose(frame.data, [[7, 5], [7, 9]])  # median of 5, 7, 9
    assert frame.nonfinite_pixels == 1


def test_float64_beyond_float32_is_clipped_not_inf() -> None:
    frame = Frame.from_bytes(fits_bytes(np.array([[1e300, -1e300], [0.0, 1.0]])))
    top = float(np.finfo(np.float32).max)
    assert_allclose(frame.data, np.array([[top, -top], [0.0, 1.0]]))


RED = np.array([[3.0, 6.0]])
GREEN = np.array([[0.0, 0.0]])
BLUE = np.array([[0.0, 3.0]])


def test_rgb_cube_planes_first_is_averaged() -> None:
    cube = np.stack([RED, GREEN, BLUE]).astype(np.float32)  # FITS NAXIS3 = 3
    frame = Frame.from_bytes(fits_bytes(cube))
    assert_allclose(frame.data, [[1.0, 3.0]])
    assert (frame.original_shape, frame.binned, frame.bayer) == ((1, 2), 1, None)


def test_rgb_cube_planes_last_is_averaged() -> None:
    cube = np.stack([RED, GREEN, BLUE], axis=-1).astype(np.uint16)
    assert cube.shape == (1, 2, 3)
    frame = Frame.from_bytes(fits_bytes(cube))
    assert_allclose(frame.data, [[1.0, 3.0]])


@pytest.mark.parametrize("shape", [(1, 2, 4), (2, 4, 1)])
def test_single_plane_cube_is_a_plane(shape: tuple[int, int, int]) -> None:
    frame = Frame.from_bytes(fits_bytes(np.arange(8, dtype=np.uint16).reshape(shape)))
    assert_allclose(frame.data, [[0, 1, 2, 3], [4, 5, 6, 7]])
    assert frame.original_shape == (2, 4)


def test_bayer_keyword_is_ignored_for_rgb_cubes() -> None:
    cube = np.stack([RED, GREEN, BLUE]).astype(np.float32)
    frame = Frame.from_bytes(fits_bytes(cube, {"BAYERPAT": "RGGB"}))
    assert (frame.binned, frame.bayer) == (1, None)


def test_first_image_hdu_is_used_and_inherits_primary_keywords() -> None:
    primary = fits.PrimaryHDU(np.arange(3, dtype=np.int16))  # 1-D: skipped
    primary.header["EXPTIME"] = 30.0
    primary.header["OBSERVER"] = "primary"
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=[1.0])])
    image = fits.ImageHDU(np.array([[4, 2]], dtype=np.uint16))
    image.header["OBSERVER"] = "extension"
    second = fits.ImageHDU(np.array([[9, 9]], dtype=np.uint16))
    frame = Frame.from_bytes(hdus_bytes(primary, table, image, second))
    assert_allclose(frame.data, [[4, 2]])
    assert frame.exposure_s == 30.0
    assert frame.header["OBSERVER"] == "extension"


def test_fpack_decodes_losslessly_with_its_header() -> None:
    data = np.array([[0, 1, 65535], [40000, 2, 3]], dtype=np.uint16)
    raw = fpack_bytes(data, {"EXPTIME": 2.5, "IMAGETYP": "Light Frame"})
    for fmt in (".fits.fz", ".FITS.FZ", ".fz"):
        frame = Frame.from_bytes(raw, fmt)
        assert_allclose(frame.data, data)
        assert (frame.exposure_s, frame.saturation_adu) == (2.5, 65535.0)
        assert "ZIMAGE" not in frame.header


@pytest.mark.parametrize("fmt", [".fits.z", ".z", ".Z", "fits.z"])
def test_zlib_blob_decodes(fmt: str) -> None:
    raw = zlib.compress(fits_bytes(np.array([[5, 6]], dtype=np.uint16), {"EXPTIME": 1.0}))
    frame = Frame.from_bytes(raw, fmt, source="CCD Simulator.CCD1")
    assert_allclose(frame.data, [[5, 6]])
    assert (frame.exposure_s, frame.source) == (1.0, "CCD Simulator.CCD1")


def test_zlib_of_fpack_decodes() -> None:
    data = np.array([[7, 8]], dtype=np.uint16)
    frame = Frame.from_bytes(zlib.compress(fpack_bytes(data)), ".fits.fz.z")
    assert_allclose(frame.data, data)


def test_gzipped_fits_decodes() -> None:
    raw = gzip.compress(fits_bytes(np.array([[1, 2]], dtype=np.uint8)))
    assert_allclose(Frame.from_bytes(raw, ".fits.gz").data, [[1, 2]])


def test_content_wins_over_a_wrong_format_name() -> None:
    raw = fits_bytes(np.array([[1, 2]], dtype=np.uint8))
    assert_allclose(Frame.from_bytes(raw, ".fits.z").data, [[1, 2]])
    assert_allclose(Frame.from_bytes(zlib.compress(raw), ".bin").data, [[1, 2]])


@pytest.mark.parametrize("name", ["f.fits", "f.FIT", "f.fts", "f.fits.fz", "f.fits.z", "f.new"])
def test_from_path_by_extension(tmp_path: Path, name: str) -> None:
    data = np.array([[3, 4], [5, 6]], dtype=np.uint16)
    raw = fpack_bytes(data) if name.endswith(".fz") else fits_bytes(data)
    path = tmp_path / name
    path.write_bytes(zlib.compress(raw) if name.endswith(".z") else raw)
    frame = Frame.from_path(path)
    assert_allclose(frame.data, data)
    assert frame.source == str(path)
    assert Frame.from_path(str(path)).source == str(path)


def test_files_and_bytes_are_not_modified(tmp_path: Path) -> None:
    raw = fits_bytes(np.array([[1.0, np.nan]], dtype=np.float32))
    path = tmp_path / "frame.fits"
    path.write_bytes(raw)
    path.chmod(0o444)  # opening for writing would fail
    before = os.stat(path)
    frame = Frame.from_path(path)
    assert path.read_bytes() == raw
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns
    buffer = bytearray(raw)
    Frame.from_bytes(buffer)
    assert bytes(buffer) == raw
    assert frame.nonfinite_pixels == 1
    with pytest.raises(ValueError, match="read-only"):
        frame.data[0, 0] = 0.0
