"""Folders of simulated frames as an imager leaves them: nested, mixed formats, a dark, junk."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

HAS_XISF = importlib.util.find_spec("xisf") is not None


@dataclass(frozen=True)
class Tree:
    root: Path
    lights: tuple[Path, ...]  # every light frame, any format
    dark: Path
    corrupt: Path
    junk: tuple[Path, ...]  # files discovery must pass over


def _load(path: Path) -> tuple[np.ndarray, fits.Header]:
    with fits.open(path) as hdus:
        return hdus[0].data.copy(), hdus[0].header.copy()


def _write_xisf(path: Path, source: Path) -> None:
    import xisf

    data, header = _load(source)
    keywords = {}
    for key in ("IMAGETYP", "DATE-OBS", "EXPTIME", "FOCALLEN", "XPIXSZ"):
        if key in header:
            value = header[key]
            text = f"'{value}'" if isinstance(value, str) else str(value)
            keywords[key] = [{"value": text, "comment": ""}]
    xisf.XISF.write(str(path), data[:, :, None], image_metadata={"FITSKeywords": keywords})


def build_tree(frames: Sequence[Path], root: Path) -> Tree:
    """Copy simulated frames (at least 8) into ``root`` in every format the product reads."""
    assert len(frames) >= 8
    night1, sub, night2 = root / "night1", root / "night1" / "late", root / "night2"
    for folder in (night1, sub, night2):
        folder.mkdir(parents=True)
    lights: list[Path] = []

    def copy(i: int, dest: Path) -> None:
        shutil.copyfile(frames[i], dest)
        lights.append(dest)

    copy(0, night1 / "light_001.fits")
    copy(1, night1 / "light_002.fit")
    copy(2, night1 / "LIGHT_003.FITS")
    data, header = _load(frames[3])
    packed = sub / "light_004.fits.fz"
    compressed = fits.CompImageHDU(data, header=header, compression_type="RICE_1")
    fits.HDUList([fits.PrimaryHDU(), compressed]).writeto(packed)
    lights.append(packed)
    zipped = sub / "light_005.fits.gz"
    zipped.write_bytes(gzip.compress(frames[4].read_bytes()))
    lights.append(zipped)
    copy(5, night2 / "light_001.fits")  # same name as in night1: links must not clash
    if HAS_XISF:
        _write_xisf(night2 / "light_007.xisf", frames[6])
        lights.append(night2 / "light_007.xisf")
    else:
        copy(6, night2 / "light_007.fits")

    corrupt = night2 / "light_008.fits"
    corrupt.write_bytes(frames[7].read_bytes()[:4000])  # truncated in the data unit
    data, header = _load(frames[0])
    header["IMAGETYP"] = "Dark Frame"
    dark = night1 / "dark_001.fits"
    fits.PrimaryHDU(data, header=header).writeto(dark)

    junk = (
        night1 / "notes.txt",
        night1 / "light_001.iqa.fits",  # a flagged copy from an earlier run
        night1 / "light_001.fits.iqa.json",
        night2 / ".light_001.fits.abcd.tmp",
    )
    for path in junk:
        path.write_bytes(b"not a frame")
    return Tree(root=root, lights=tuple(lights), dark=dark, corrupt=corrupt, junk=junk)
