"""Bad input is a FrameError naming the source, raised from the original error; nothing else."""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame
from tests.frames._files import MOSAIC, fits_bytes, fpack_bytes, hdus_bytes, replace_card

VALID = fits_bytes(MOSAIC, {"BAYERPAT": "RGGB", "EXPTIME": 5.0, "DATE-OBS": "2024-05-01T22:00:00"})
VALID_FPACK = fpack_bytes(MOSAIC, {"BAYERPAT": "RGGB", "EXPTIME": 5.0})
VALID_ZLIB = zlib.compress(VALID)
FORMATS = [".fits", ".fit", ".fts", ".fits.fz", ".fits.z", ".z", ".xisf", ".FITS", "", ".jpg"]


def table_only() -> bytes:
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=[1.0])])
    return hdus_bytes(fits.PrimaryHDU(), table)


def huge_claim() -> bytes:
    raw = fits_bytes(np.zeros((2, 2), np.uint8))
    raw = replace_card(raw, "NAXIS1", "NAXIS1  =                99999")
    return replace_card(raw, "NAXIS2", "NAXIS2  =                99999")


BAD_BYTES = {
    "empty": (b"", ".fits", "no data"),
    "not FITS": (b"hello, this is not a frame " * 200, ".fits", "not a readable FITS file"),
    "truncated in the header": (VALID[:1000], ".fits", "not a readable FITS file"),
    "truncated in the data": (VALID[:2890], ".fits", "not a readable FITS file"),
    # 5760 bytes of headers, then the compressed tile table and heap.
    "truncated fpack": (VALID_FPACK[:5790], ".fits.fz", "not a readable FITS file"),
    "header only": (fits_bytes(None, {"EXPTIME": 1.0}), ".fits", "no 2-D or 3-D image HDU"),
    "table only": (table_only(), ".fits", "HDU 1 is a BinTableHDU"),
    "1-D": (fits_bytes(np.arange(5, dtype=np.int16)), ".fits", "HDU 0 is 1-D"),
    "4-D": (fits_bytes(np.zeros((2, 1, 2, 2), np.int16)), ".fits", "HDU 0 is 4-D"),
    "zero-size": (fits_bytes(np.zeros((0, 4), np.int16)), ".fits", "zero-size"),
    "two planes": (fits_bytes(np.zeros((2, 3, 4), np.int16)), ".fits", "neither one plane"),
    "all NaN": (fits_bytes(np.full((2, 2), np.nan, np.float32)), ".fits", "no finite pixel"),
    "too large": (huge_claim(), ".fits", "too large"),
    "truncated zlib": (VALID_ZLIB[:-10], ".fits.z", "zlib stream is truncated"),
    "zlib of junk": (zlib.compress(b"junk" * 100), ".fits.z", "not a readable FITS file"),
    "zlib of junk, no name": (zlib.compress(b"junk" * 100), ".z", "unsupported format ''"),
    "not zlib": (b"\x00\x01junk" * 50, ".fits.z", "not a zlib stream"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(100), ".png", "unsupported format '.png'"),
    "broken XISF": (b"XISF0100" + bytes(40), ".xisf", "XISF"),
}


@pytest.mark.parametrize("case", BAD_BYTES)
def test_bad_bytes(case: str) -> None:
    raw, fmt, message = BAD_BYTES[case]
    with pytest.raises(FrameError, match=r"^blob 7: .*" + message.replace("(", r"\(")):
        Frame.from_bytes(raw, fmt, source="blob 7")


def test_foreign_errors_are_chained() -> None:
    with pytest.raises(FrameError) as caught:
        Frame.from_bytes(VALID[:2890])
    assert caught.value.__cause__ is not None
    assert not isinstance(caught.value.__cause__, FrameError)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.fits"
    with pytest.raises(FrameError, match=f"{path}: cannot read") as caught:
        Frame.from_path(path)
    assert isinstance(caught.value.__cause__, FileNotFoundError)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(FrameError, match="is a directory"):
        Frame.from_path(tmp_path)


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.fits"
    path.write_bytes(VALID)
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as root: every file is readable")
    with pytest.raises(FrameError, match="cannot read"):
        Frame.from_path(path)


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="bayer must be one of"):
        Frame.from_bytes(VALID, bayer="RGBG")
    with pytest.raises(ValueError, match="pixel_scale_arcsec"):
        Frame.from_bytes(VALID, pixel_scale_arcsec=0.0)
    with pytest.raises(TypeError, match="needs bytes"):
        Frame.from_bytes("SIMPLE  =  T")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(data=st.binary(max_size=8000), fmt=st.sampled_from(FORMATS))
@example(data=b"SIMPLE  =                    T", fmt=".fits")
@example(data=b"XISF0100", fmt=".xisf")
@example(data=b"\x78\x9c", fmt=".z")
def test_random_bytes_never_raise_anything_but_frame_error(data: bytes, fmt: str) -> None:
    try:
        frame = Frame.from_bytes(data, fmt)
    except FrameError:
        return
    assert frame.data.ndim == 2


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    base=st.sampled_from([VALID, VALID_FPACK, VALID_ZLIB]),
    cut=st.integers(min_value=0, max_value=len(VALID_FPACK)),
)
def test_truncations_raise_frame_error_or_decode(base: bytes, cut: int) -> None:
    prefix = base[:cut]
    try:
        frame = Frame.from_bytes(prefix, ".fits.fz" if base is VALID_FPACK else ".fits.z")
    except FrameError:
        assert cut < len(base)
        return
    np.testing.assert_allclose(frame.data, [[2.5, 6.5], [10.5, 14.5]])


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=st.sampled_from([VALID, VALID_FPACK]),
    edits=st.lists(st.tuples(st.integers(0, 5759), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_headers_raise_frame_error_or_decode(
    base: bytes, edits: list[tuple[int, int]]
) -> None:
    raw = bytearray(base)
    for index, value in edits:
        raw[index % len(raw)] = value
    try:
        frame = Frame.from_bytes(bytes(raw), ".fits.fz")
    except FrameError:
        return
    assert frame.data.ndim == 2 and np.isfinite(frame.data).all()
