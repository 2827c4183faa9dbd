"""Bayer mosaics become 2x2 super-pixel means; the profile's pattern beats the header's."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame
from tests.frames._files import MOSAIC, MOSAIC_MEANS, ONE_ARCSEC_FOCAL_MM, fits_bytes


@pytest.mark.parametrize("key", ["BAYERPAT", "COLORTYP"])
def test_header_pattern_bins_the_mosaic(key: str) -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC, {key: "GRBG"}))
    assert_allclose(frame.data, MOSAIC_MEANS)
    assert (frame.bayer, frame.binned, frame.original_shape) == ("GRBG", 2, (4, 4))
    # Means, not sums: four saturated pixels still read 65535.
    assert frame.saturation_adu == 65535.0


def test_pattern_is_read_case_and_padding_insensitively() -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC, {"BAYERPAT": " rggb "}))
    assert frame.bayer == "RGGB"


@pytest.mark.parametrize("value", ["TRUE", "MONO", "RGB", ""])
def test_other_bayer_values_are_mono(value: str) -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC, {"BAYERPAT": value}))
    assert (frame.bayer, frame.binned) == (None, 1)
    assert_allclose(frame.data, MOSAIC)


def test_odd_edges_are_cropped() -> None:
    mosaic = np.zeros((5, 7), dtype=np.uint16)
    mosaic[:4, :4] = MOSAIC
    mosaic[4, :] = 60000  # last row and column would break the 2x2 cells
    mosaic[:, 6] = 60000
    frame = Frame.from_bytes(fits_bytes(mosaic, {"BAYERPAT": "RGGB"}))
    assert frame.data.shape == (2, 3)
    assert frame.original_shape == (5, 7)
    assert_allclose(frame.data[:, :2], MOSAIC_MEANS)
    assert_allclose(frame.data[:, 2], [0.0, 0.0])


def test_profile_pattern_overrides_the_header() -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC, {"BAYERPAT": "RGGB"}), bayer="gbrg")
    assert (frame.bayer, frame.binned) == ("GBRG", 2)
    assert_allclose(frame.data, MOSAIC_MEANS)


def test_profile_pattern_applies_to_a_header_without_one() -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC), bayer="BGGR")
    assert (frame.bayer, frame.binned) == ("BGGR", 2)


def test_profile_none_keeps_a_mosaic_as_mono() -> None:
    frame = Frame.from_bytes(fits_bytes(MOSAIC, {"BAYERPAT": "RGGB"}), bayer="none")
    assert (frame.bayer, frame.binned) == (None, 1)
    assert_allclose(frame.data, MOSAIC)


def test_header_scale_is_doubled_by_the_super_pixel() -> None:
    cards = {"BAYERPAT": "RGGB", "FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 1.0}
    assert Frame.from_bytes(fits_bytes(MOSAIC, cards)).pixel_scale_arcsec == pytest.approx(2.0)
    mono = Frame.from_bytes(fits_bytes(MOSAIC, cards), bayer="none")
    assert mono.pixel_scale_arcsec == pytest.approx(1.0)


def test_profile_scale_wins_and_is_doubled() -> None:
    cards = {"BAYERPAT": "RGGB", "FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 1.0}
    frame = Frame.from_bytes(fits_bytes(MOSAIC, cards), pixel_scale_arcsec=0.75)
    assert frame.pixel_scale_arcsec == pytest.approx(1.5)


def test_a_mosaic_needs_one_whole_cell() -> None:
    with pytest.raises(FrameError, match=r"<bytes>: 1x4 mosaic is smaller than one 2x2 cell"):
        Frame.from_bytes(fits_bytes(np.ones((1, 4), np.uint16), {"BAYERPAT": "RGGB"}))


def test_nan_in_a_mosaic_is_patched_before_binning() -> None:
    mosaic = MOSAIC.astype(np.float32)
    mosaic[0, 0] = np.nan  # median of the other 15 values (2..16) is 9
    frame = Frame.from_bytes(fits_bytes(mosaic, {"BAYERPAT": "RGGB"}))
    assert frame.nonfinite_pixels == 1
    assert_allclose(frame.data, [[(9 + 2 + 3 + 4) / 4, 6.5], [10.5, 14.5]])
