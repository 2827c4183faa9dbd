"""XISF through the optional ``xisf`` package; a clear FrameError when it is missing."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame, frame_kind, read_header
from tests.frames._files import MOSAIC, MOSAIC_MEANS, ONE_ARCSEC_FOCAL_MM


def write_xisf(path: Path, pixels: np.ndarray, keywords: dict[str, str]) -> bytes:
    xisf = pytest.importorskip("xisf")
    meta = {"FITSKeywords": {k: [{"value": v, "comment": ""}] for k, v in keywords.items()}}
    xisf.XISF.write(str(path), pixels, image_metadata=meta)
    return path.read_bytes()


MOSAIC_KEYWORDS = {
    "BAYERPAT": "'GRBG'",
    "EXPTIME": "5.0",
    "FOCALLEN": str(ONE_ARCSEC_FOCAL_MM),
    "XPIXSZ": "1.0",
    "IMAGETYP": "'Light Frame'",
    "DATE-OBS": "'2024-05-01T22:00:00'",
}


def test_mono_mosaic_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "light.xisf"
    raw = write_xisf(path, MOSAIC[:, :, np.newaxis], MOSAIC_KEYWORDS)
    for frame in (Frame.from_path(path), Frame.from_bytes(raw, ".xisf")):
        assert_allclose(frame.data, MOSAIC_MEANS)
        assert (frame.bayer, frame.binned, frame.exposure_s) == ("GRBG", 2, 5.0)
        assert frame.pixel_scale_arcsec == pytest.approx(2.0)
        assert frame.saturation_adu == 65535.0
        assert frame.captured_at is not None and frame.captured_at.hour == 22
    assert frame_kind(read_header(path)) == "light"
    assert path.read_bytes() == raw


def test_zlib_packed_xisf(tmp_path: Path) -> None:
    raw = write_xisf(tmp_path / "light.xisf", MOSAIC[:, :, np.newaxis], MOSAIC_KEYWORDS)
    frame = Frame.from_bytes(zlib.compress(raw), ".xisf.z")
    assert_allclose(frame.data, MOSAIC_MEANS)


def test_rgb_float_image_is_averaged(tmp_path: Path) -> None:
    rgb = np.zeros((1, 2, 3), dtype=np.float32)
    rgb[0, :, 0] = [0.3, 0.6]
    rgb[0, :, 2] = [0.0, 0.3]
    raw = write_xisf(tmp_path / "rgb.xisf", rgb, {})
    frame = Frame.from_bytes(raw, ".xisf")
    assert_allclose(frame.data, [[0.1, 0.3]], rtol=1e-6)
    assert (frame.saturation_adu, frame.bayer) == (None, None)


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "xisf", None)  # makes `import xisf` raise ImportError
    raw = b"XISF0100" + bytes(64)
    with pytest.raises(FrameError, match=r"pip install astroiqa-indi\[xisf\]") as caught:
        Frame.from_bytes(raw, ".xisf", source="cam")
    assert isinstance(caught.value.__cause__, ImportError)
    path = tmp_path / "a.xisf"
    path.write_bytes(raw)
    with pytest.raises(FrameError, match=r"astroiqa-indi\[xisf\]"):
        Frame.from_path(path)
    with pytest.raises(FrameError, match=r"astroiqa-indi\[xisf\]"):
        read_header(path)


def test_corrupt_xisf_is_a_frame_error(tmp_path: Path) -> None:
    raw = write_xisf(tmp_path / "light.xisf", MOSAIC[:, :, np.newaxis], MOSAIC_KEYWORDS)
    for broken in (raw[:40], raw[:-100], raw[:16] + b"<not xml" + raw[24:]):
        with pytest.raises(FrameError, match="<bytes>"):
            Frame.from_bytes(broken, ".xisf")
