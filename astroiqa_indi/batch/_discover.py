"""Find frame files in the paths given on the command line.

Only names are looked at here (no file is opened), so discovering an archive of
100 000 frames on a network share costs one directory listing per folder. Whether
a frame is a light or a calibration frame is decided by the worker that reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from astroiqa_indi.actions import MANIFEST_NAME

__all__ = ["FRAME_SUFFIXES", "Discovery", "discover", "is_frame_name"]

FRAME_SUFFIXES: Final = (
    ".fits",
    ".fit",
    ".fts",
    ".fz",  # fpack: .fits.fz, .fit.fz
    ".gz",  # only after a FITS suffix, see is_frame_name
    ".z",  # INDI's zlib-packed BLOB saved as is: .fits.z
    ".xisf",
)
_FITS_STEMS: Final = (".fits", ".fit", ".fts")


def is_frame_name(name: str) -> bool:
    """Whether a file name found in a folder looks like a frame we can decode.

    Hidden files (``.x``, our ``.*.tmp`` temporaries) and astroiqa-indi's own outputs
    (``*.iqa.fits`` copies, ``*.iqa.json`` sidecars) are not frames.
    """
    lower = name.lower()
    if lower.startswith(".") or ".iqa." in lower:
        return False
    if lower.endswith((".gz", ".z")) and not lower.endswith(".fz"):
        return lower.rsplit(".", 1)[0].endswith(_FITS_STEMS)
    return lower.endswith(FRAME_SUFFIXES)


@dataclass(frozen=True, slots=True)
class Discovery:
    """Frame files to grade, in a stable order, and what was passed over and why."""

    files: tuple[Path, ...]
    ignored: tuple[tuple[Path, str], ...]


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def discover(
    paths: Iterable[str | os.PathLike[str]],
    *,
    recursive: bool = False,
    exclude: Sequence[Path] = (),
) -> Discovery:
    """Expand files and folders into the frame files to grade.

    Parameters
    ----------
    paths
        Files are taken as given, whatever their name (a missing or unreadable one is
        reported by the grader as an error). Folders contribute the files that
        :func:`is_frame_name` accepts.
    recursive
        Descend into sub-folders; symbolic links to folders are not followed.
    exclude
        Folders never entered: the reject and link folders of this run. A folder that
        holds a move manifest is a reject folder of an earlier run and is skipped too.

    Returns
    -------
    Discovery
        Files sorted by path within each argument, each real file once.
    """
    candidates: list[Path] = []
    ignored: list[tuple[Path, str]] = []
    excluded = [Path(p) for p in exclude]

    def add(path: Path) -> None:
        candidates.append(path)

    def skip_folder(folder: Path) -> str | None:
        if any(_same(folder, other) for other in excluded):
            return "output folder of this run"
        if (folder / MANIFEST_NAME).is_file():
            return f"reject folder (holds {MANIFEST_NAME})"
        return None

    def walk(folder: Path) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            ignored.append((folder, f"cannot list: {exc.strerror or exc}"))
            return
        for entry in entries:
            path = folder / entry.name
            if entry.is_dir(follow_symlinks=False):
                if entry.name.startswith("."):
                    continue
                if not recursive:
                    ignored.append((path, "sub-folder (use --recursive)"))
                    continue
                reason = skip_folder(path)
                if reason:
                    ignored.append((path, reason))
                else:
                    walk(path)
            elif entry.is_file():  # follows a link to a file
                if is_frame_name(entry.name):
                    add(path)
                elif not entry.name.startswith(".") and entry.name != MANIFEST_NAME:
                    ignored.append((path, "not a frame file name"))

    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            reason = skip_folder(path)
            if reason:
                ignored.append((path, reason))
            else:
                walk(path)
        else:
            add(path)
    return Discovery(files=_each_file_once(candidates, ignored), ignored=tuple(ignored))


def _each_file_once(candidates: list[Path], ignored: list[tuple[Path, str]]) -> tuple[Path, ...]:
    """One path per real file, in the order found: the file itself rather than a
    symbolic link to it, so that moving a rejected frame moves the frame."""
    chosen: dict[str, Path] = {}
    for path in candidates:
        key = os.path.realpath(path)
        if key not in chosen or (chosen[key].is_symlink() and not path.is_symlink()):
            chosen[key] = path
    kept = set(chosen.values())
    found: list[Path] = []
    for path in candidates:
        if path in kept:
            found.append(path)
            kept.discard(path)
        else:
            ignored.append((path, f"same file as {chosen[os.path.realpath(path)]}"))
    return tuple(found)
