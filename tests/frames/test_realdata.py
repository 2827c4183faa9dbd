"""Every real frame in ../shared/realdata decodes; the Seestar subs become binned luminance.

The folder sits beside the repository. Locally its absence skips these tests; under
CI=true it fails them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from numpy.testing import assert_allclose

from astroiqa_indi.frames import Frame, frame_kind, read_header
from tests._servers import IN_CI

REPO_ROOT = Path(__file__).resolve().parents[2]
REALDATA = REPO_ROOT.parent / "shared" / "realdata"
MANIFEST = REALDATA / "manifest.csv"
FRAME_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".z", ".xisf")


def manifest_rows() -> list[dict[str, str]]:
    if not MANIFEST.is_file():
        return []
    with MANIFEST.open(newline="") as stream:
        return list(csv.DictReader(stream))


ROWS = manifest_rows()


def require_realdata() -> None:
    if not MANIFEST.is_file():
        message = f"real frames not found at {REALDATA}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def test_realdata_folder_is_present_and_fully_listed() -> None:
    require_realdata()
    on_disk = {p.name for p in REALDATA.iterdir() if p.name.lower().endswith(FRAME_SUFFIXES)}
    assert on_disk == {row["file"] for row in ROWS}
    assert len(on_disk) >= 30


@pytest.mark.parametrize("row", ROWS, ids=[row["file"] for row in ROWS])
def test_every_real_frame_decodes(row: dict[str, str]) -> None:
    require_realdata()
    path = REALDATA / row["file"]
    frame = Frame.from_path(path)
    width, height = int(row["w"]), int(row["h"])
    assert frame.original_shape == (height, width)
    assert frame.data.shape == (height // frame.binned, width // frame.binned)
    assert np.isfinite(frame.data).all() and frame.data.std() > 0
    assert frame.source == str(path)
    read_header(path)  # must not raise either


SEESTAR = [row["file"] for row in ROWS if row["file"].startswith("seestar_")]


@pytest.mark.parametrize("name", SEESTAR)
def test_seestar_subs_become_binned_luminance(name: str) -> None:
    require_realdata()
    frame = Frame.from_path(REALDATA / name)
    # 1080 x 1920 (width x height) GRBG mosaic -> 540 x 960 super-pixels.
    assert frame.data.shape == (960, 540)
    assert (frame.bayer, frame.binned, frame.original_shape) == ("GRBG", 2, (1920, 1080))
    # Header: FOCALLEN = 250 mm, XPIXSZ = 2.9 um -> 2.393 "/px, doubled by the super-pixel.
    assert frame.pixel_scale_arcsec == pytest.approx(2 * 206.264806 * 2.9 / 250, rel=1e-6)
    assert (frame.exposure_s, frame.saturation_adu) == (10.0, 65535.0)
    assert frame.captured_at is not None and frame.captured_at.year == 2025
    assert frame_kind(frame.header) == "light"


def test_seestar_luminance_is_the_mean_of_each_cell() -> None:
    require_realdata()
    path = REALDATA / SEESTAR[0]
    with fits.open(path, memmap=False) as hdus:
        raw = hdus[0].data.astype(np.float64)
    expected = raw.reshape(960, 2, 540, 2).mean(axis=(1, 3))
    assert_allclose(Frame.from_path(path).data, expected, rtol=1e-6)


def test_panoptes_dslr_frames_have_no_bayer_keyword() -> None:
    """They are raw RGGB mosaics without BAYERPAT: mono unless the profile says otherwise."""
    require_realdata()
    path = REALDATA / "panoptes_unsolved.fits"
    assert Frame.from_path(path).binned == 1
    binned = Frame.from_path(path, bayer="RGGB")
    assert (binned.data.shape, binned.bayer) == ((350, 350), "RGGB")
