"""The Frame value object: validation, from_array, exports, thread safety."""

from __future__ import annotations

import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

import astroiqa_indi.frames as frames
from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame
from tests.frames._files import MOSAIC, MOSAIC_MEANS, fits_bytes, header_of

PLANE = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)


def test_all_is_complete() -> None:
    public = {n for n in vars(frames) if not n.startswith("_")} - {"annotations"}
    assert public <= set(frames.__all__)
    assert all(hasattr(frames, name) for name in frames.__all__)


def test_importing_frames_loads_neither_tensorflow_nor_xisf() -> None:
    code = (
        "import sys, astroiqa_indi.frames; "
        "print(any(m.startswith(('tensorflow', 'xisf', 'simulators')) for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_direct_construction_fills_defaults_and_freezes_data() -> None:
    data = PLANE.copy()
    frame = Frame(data=data)
    assert (frame.original_shape, frame.binned, frame.source) == ((2, 2), 1, "<array>")
    assert not frame.data.flags.writeable
    with pytest.raises(AttributeError):
        frame.source = "other"  # type: ignore[misc]
    assert frame != Frame(data=data)  # identity, not element-wise comparison
    assert "shape=2x2" in repr(frame)


def test_captured_at_is_normalised_to_utc() -> None:
    local = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert Frame(data=PLANE, captured_at=local).captured_at == datetime(2024, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"data": np.ones((2, 2), np.float64)}, "2-D float32"),
        ({"data": np.ones(3, np.float32)}, "2-D float32"),
        ({"data": np.ones((0, 2), np.float32)}, "non-empty"),
        ({"data": np.ones((4, 4), np.float32)[:, ::2]}, "C-contiguous"),
        ({"data": np.array([[np.nan, 1.0]], np.float32)}, "finite"),
        ({"header": {"EXPTIME": 1}}, "Header"),
        ({"exposure_s": -1.0}, "exposure_s"),
        ({"pixel_scale_arcsec": 0.0}, "pixel_scale_arcsec"),
        ({"pixel_scale_arcsec": float("nan")}, "pixel_scale_arcsec"),
        ({"saturation_adu": float("inf")}, "saturation_adu"),
        ({"bayer": "RGBG"}, "bayer"),
        ({"captured_at": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"source": ""}, "source"),
        ({"binned": 3}, "binned"),
        ({"nonfinite_pixels": -1}, "nonfinite_pixels"),
        ({"original_shape": (2,)}, "original_shape"),
        ({"original_shape": (8, 8), "binned": 2}, "does not give data shape"),
    ],
)
def test_invalid_fields_are_rejected(changes: dict[str, object], message: str) -> None:
    fields: dict[str, object] = {"data": PLANE}
    fields.update(changes)
    with pytest.raises(ValueError, match=message):
        Frame(**fields)  # type: ignore[arg-type]


def test_odd_original_shape_is_valid_when_binned() -> None:
    assert Frame(data=PLANE, original_shape=(5, 5), binned=2).binned == 2


def test_from_array_copies_and_reads_the_header() -> None:
    mosaic = MOSAIC.copy()
    header = header_of({"BAYERPAT": "RGGB", "EXPTIME": 3.0})
    frame = Frame.from_array(mosaic, header=header, bayer="auto", source="sim")
    assert_allclose(frame.data, MOSAIC_MEANS)
    assert (frame.bayer, frame.exposure_s, frame.source, frame.saturation_adu) == (
        "RGGB",
        3.0,
        "sim",
        65535.0,
    )
    assert not np.shares_memory(frame.data, mosaic)
    assert_allclose(mosaic, MOSAIC)
    assert frame.header is not header


def test_from_array_defaults_to_mono_and_patches_nan() -> None:
    data = np.array([[1.0, np.nan], [3.0, 5.0]])
    frame = Frame.from_array(data, header=header_of({"BAYERPAT": "RGGB"}))
    assert (frame.binned, frame.bayer, frame.nonfinite_pixels) == (1, None, 1)
    assert_allclose(frame.data, [[1, 3], [3, 5]])
    assert frame.saturation_adu is None
    assert np.isnan(data[0, 1])  # the caller's array is untouched


@pytest.mark.parametrize(
    "array",
    [
        np.array(["a", "b"]),
        np.ones(4),
        np.ones((2, 2, 2, 2)),
        np.zeros((0, 3)),
        np.ones((2, 2), complex),
    ],
)
def test_from_array_rejects_what_is_no_image(array: np.ndarray) -> None:
    with pytest.raises(FrameError, match=r"^<array>: "):
        Frame.from_array(array)


def test_concurrent_decoding_leaves_warning_filters_alone() -> None:
    raw = fits_bytes(MOSAIC, {"BAYERPAT": "RGGB"})
    before = list(warnings.filters)
    with ThreadPoolExecutor(max_workers=4) as pool:
        frames_ = list(pool.map(lambda _: Frame.from_bytes(raw), range(32)))
    assert warnings.filters == before
    for frame in frames_:
        assert_allclose(frame.data, MOSAIC_MEANS)


def test_header_is_a_copy_of_the_files() -> None:
    frame = Frame.from_bytes(fits_bytes(PLANE, {"OBJECT": "M 94"}))
    assert isinstance(frame.header, fits.Header)
    assert frame.header["OBJECT"] == "M 94"
