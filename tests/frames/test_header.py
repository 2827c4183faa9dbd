"""What a header says: scale, exposure, time, kind; broken cards cost the card, not the frame."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from astroiqa_indi.errors import FrameError
from astroiqa_indi.frames import Frame, frame_kind, read_header
from astroiqa_indi.frames._header import header_pointing
from tests.frames._files import (
    ONE_ARCSEC_FOCAL_MM,
    Cards,
    fits_bytes,
    fpack_bytes,
    hdus_bytes,
    header_of,
    replace_card,
)

PIXELS = np.ones((2, 2), dtype=np.uint16)


def frame_with(cards: Cards) -> Frame:
    return Frame.from_bytes(fits_bytes(PIXELS, cards))


@pytest.mark.parametrize(
    ("cards", "scale"),
    [
        ({"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 3.0}, 3.0),
        # XPIXSZ already includes the binning: XBINNING must not multiply it again.
        ({"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 2.0, "XBINNING": 2}, 2.0),
        ({"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 2.0, "PIXSIZE1": 1.0, "XBINNING": 2}, 2.0),
        # PIXSIZE1 is unbinned: times XBINNING.
        ({"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "PIXSIZE1": 1.5, "XBINNING": 2}, 3.0),
        ({"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "PIXSIZE1": 1.5}, 1.5),
        ({"FOCALLEN": "103.1324", "XPIXSZ": "2.0"}, 4.0),  # numbers written as text
        ({"SCALE": 1.25}, 1.25),
        ({"PIXSCALE": 0.5}, 0.5),
        ({"SECPIX": 2.5}, 2.5),
        ({"FOCALLEN": 0.0, "XPIXSZ": 3.8, "SCALE": 1.1}, 1.1),  # INDI writes 0 when unknown
        ({"FOCALLEN": 500.0, "SCALE": 0.9}, 0.9),
        ({"FOCALLEN": 500.0}, None),
        ({"SCALE": -1.0}, None),
        ({"CD1_1": -2.7e-4, "CDELT1": 1.0}, None),  # WCS is not trusted for the scale
        ({}, None),
    ],
)
def test_pixel_scale_from_header(cards: Cards, scale: float | None) -> None:
    found = frame_with(cards).pixel_scale_arcsec
    assert found == (None if scale is None else pytest.approx(scale))


@pytest.mark.parametrize(
    ("cards", "pointing"),
    [
        ({"RA": 193.070835, "DEC": 40.979722}, (193.070835, 40.979722)),  # Seestar, N.I.N.A.
        ({"OBJCTRA": "08 51 20.100", "OBJCTDEC": "+11 48 43.00"}, (132.83375, 11.8119444)),
        ({"OBJCTRA": "00:30:00", "OBJCTDEC": "-00:30:00"}, (7.5, -0.5)),
        ({"OBJCTRA": "05h34m32s", "OBJCTDEC": "+22d00m52s"}, (83.633333, 22.0144444)),
        ({"RA": "22:22:08.65", "DEC": "-46:01:03.3"}, (335.536042, -46.0175833)),  # hours
        # RA/DEC win over OBJCTRA/OBJCTDEC, and both over the WCS.
        ({"RA": 10.0, "DEC": 5.0, "OBJCTRA": "01 00 00", "OBJCTDEC": "00 00 00"}, (10.0, 5.0)),
        (
            {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 303.2, "CRVAL2": 46.0},
            (303.2, 46.0),
        ),
        ({"CRVAL1": 1.0, "CRVAL2": 1.0}, None),  # a pixel WCS says nothing about the sky
        ({"OBJCTRA": "n/a", "OBJCTDEC": "n/a", "RA": 400.0, "DEC": 0.0}, None),
        ({"RA": 10.0}, None),
        ({"OBJCTRA": "12 60 00", "OBJCTDEC": "+10 00 00"}, None),  # 60 minutes
        ({"OBJCTRA": 5.5, "OBJCTDEC": "-05 30 00"}, (82.5, -5.5)),  # a number in hours
        ({}, None),
    ],
)
def test_pointing_from_header(cards: Cards, pointing: tuple[float, float] | None) -> None:
    found = header_pointing(frame_with(cards).header)
    assert found == (None if pointing is None else pytest.approx(pointing))


def test_explicit_scale_wins_over_the_header() -> None:
    cards = {"FOCALLEN": ONE_ARCSEC_FOCAL_MM, "XPIXSZ": 3.0}
    assert (
        Frame.from_bytes(fits_bytes(PIXELS, cards), pixel_scale_arcsec=0.8).pixel_scale_arcsec
        == 0.8
    )


@pytest.mark.parametrize(
    ("cards", "exposure"),
    [
        ({"EXPTIME": 10.0}, 10.0),
        ({"EXPOSURE": 2.5}, 2.5),
        ({"EXPTIME": "53.907456"}, 53.907456),
        ({"EXPTIME": 0}, 0.0),
        ({"EXPTIME": -1.0, "EXPOSURE": 4.0}, 4.0),
        ({"EXPTIME": True}, None),
        ({"EXPTIME": "long"}, None),
    ],
)
def test_exposure(cards: Cards, exposure: float | None) -> None:
    assert frame_with(cards).exposure_s == exposure


@pytest.mark.parametrize(
    ("cards", "expected"),
    [
        ({"DATE-OBS": "2025-03-27T05:45:00.734589"}, datetime(2025, 3, 27, 5, 45, 0, 734589)),
        ({"DATE-OBS": "2025-03-27T05:45:00.73458912"}, datetime(2025, 3, 27, 5, 45, 0, 734589)),
        ({"DATE-OBS": "2025-03-27T05:45:00Z"}, datetime(2025, 3, 27, 5, 45)),
        ({"DATE-OBS": "2025-03-27T07:45:00+02:00"}, datetime(2025, 3, 27, 5, 45)),
        ({"DATE-OBS": "2025-03-27 05:45"}, datetime(2025, 3, 27, 5, 45)),
        (
            {"DATE-OBS": "2009-10-17", "TIME-OBS": "01:53:10.5"},
            datetime(2009, 10, 17, 1, 53, 10, 500000),
        ),
        ({"DATE-OBS": "2009-10-17"}, datetime(2009, 10, 17)),
        ({"DATE-OBS": "29/11/51", "UT": "12:07:00.00"}, datetime(1951, 11, 29, 12, 7)),
        ({"DATE-AVG": "2024-01-02T03:04:05"}, datetime(2024, 1, 2, 3, 4, 5)),
        ({"DATE-OBS": "garbage", "DATE-AVG": "2024-01-02T03:04:05"}, datetime(2024, 1, 2, 3, 4, 5)),
        ({"DATE-OBS": "2023-02-30T00:00:00"}, None),
        ({"DATE-OBS": "2023-02-03T25:00:00"}, None),
        ({}, None),
    ],
)
def test_captured_at_is_utc(cards: Cards, expected: datetime | None) -> None:
    found = frame_with(cards).captured_at
    if expected is None:
        assert found is None
    else:
        assert found == expected.replace(tzinfo=UTC)
        assert found is not None and found.utcoffset() is not None


@pytest.mark.parametrize(
    ("cards", "kind"),
    [
        ({"IMAGETYP": "Light Frame"}, "light"),
        ({"IMAGETYP": "LIGHT"}, "light"),
        ({"IMAGETYP": "Object"}, "light"),
        ({"IMAGETYP": "Dark Frame"}, "dark"),
        ({"IMAGETYP": "Dark Flat"}, "dark"),
        ({"IMAGETYP": "Flat Field"}, "flat"),
        ({"IMAGETYP": "SKYFLAT"}, "flat"),
        ({"IMAGETYP": "Bias Frame"}, "bias"),
        ({"IMAGETYP": "zero"}, "bias"),
        ({"IMAGETYP": "Offset"}, "bias"),
        ({"FRAME": "Dark"}, "dark"),
        ({"FRAMETYP": "Flat"}, "flat"),
        ({"OBSTYPE": "EXPOSE"}, "light"),
        ({"IMAGETYP": "Tricolor Image", "FRAME": "Light"}, "light"),
        ({"FRAME": 27}, "unknown"),  # SDSS frame number
        ({"IMAGETYP": "lightning"}, "light"),
        ({"IMAGETYP": "focus"}, "unknown"),
        ({}, "unknown"),
    ],
)
def test_frame_kind(cards: Cards, kind: str) -> None:
    assert frame_kind(header_of(cards)) == kind


def test_unparsable_cards_are_dropped_and_warnings_do_not_escape() -> None:
    raw = fits_bytes(PIXELS, {"EXPTIME": 10.0, "FOCALLEN": 250.0, "OBSERVER": "me"})
    raw = replace_card(raw, "EXPTIME", "EXPTIME =       10.0.0 / broken value")
    raw = replace_card(raw, "OBSERVER", "bad key! = 3")
    # pytest runs with filterwarnings=error: a leaked VerifyWarning would fail here.
    frame = Frame.from_bytes(raw)
    assert frame.exposure_s is None
    assert "EXPTIME" not in frame.header
    assert frame.header["FOCALLEN"] == 250.0
    assert read_header_of_bytes(raw)["FOCALLEN"] == 250.0


def read_header_of_bytes(raw: bytes) -> fits.Header:
    return Frame.from_bytes(raw).header


def test_from_array_tolerates_a_header_with_a_broken_card() -> None:
    header = fits.Header.fromstring(
        ("EXPTIME =       10.0.0".ljust(80) + "OBSERVER= 'me'".ljust(80)), sep=""
    )
    frame = Frame.from_array(np.ones((2, 2), np.float32), header=header)
    assert frame.exposure_s is None
    assert frame.header["OBSERVER"] == "me"


def test_read_header_plain_fpack_and_zlib(tmp_path: Path) -> None:
    cards = {"IMAGETYP": "Dark Frame", "EXPTIME": 60.0}
    plain, packed, zipped = tmp_path / "a.fits", tmp_path / "b.fits.fz", tmp_path / "c.fits.z"
    plain.write_bytes(fits_bytes(PIXELS, cards))
    packed.write_bytes(fpack_bytes(PIXELS, cards))
    zipped.write_bytes(zlib.compress(fits_bytes(PIXELS, cards)))
    for path in (plain, packed, zipped):
        header = read_header(path)
        assert frame_kind(header) == "dark", path
        assert header["EXPTIME"] == 60.0


def test_read_header_does_not_decode_pixels(tmp_path: Path) -> None:
    raw = fits_bytes(np.zeros((100, 100), np.uint16), {"IMAGETYP": "Flat Field"})
    path = tmp_path / "cut.fits"
    path.write_bytes(raw[: 2880 + 100])  # pixels truncated: the header is still whole
    assert frame_kind(read_header(path)) == "flat"
    with pytest.raises(FrameError):
        Frame.from_path(path)


def test_read_header_inherits_primary_keywords(tmp_path: Path) -> None:
    primary = fits.PrimaryHDU()
    primary.header["IMAGETYP"] = "Bias Frame"
    path = tmp_path / "mef.fits"
    path.write_bytes(hdus_bytes(primary, fits.ImageHDU(PIXELS)))
    assert frame_kind(read_header(path)) == "bias"


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "not-fits", "no-image"])
def test_read_header_bad_input(tmp_path: Path, case: str) -> None:
    path = tmp_path / "x.fits"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "not-fits":
        path.write_bytes(b"hello, this is not a frame" * 10)
    elif case == "no-image":
        path.write_bytes(fits_bytes(None, {"IMAGETYP": "Light"}))
    with pytest.raises(FrameError, match=str(path)):
        read_header(path)
