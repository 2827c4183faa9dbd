"""Flag graded frame files: FITS keywords, a JSON sidecar, or a move to a reject folder.

Every write is atomic (a temporary file in the same folder, fsync, ``os.replace``), so
a crash leaves either the old file or the new one, never half of one. Nothing is ever
deleted: a move keeps the bytes under a new name, never overwrites an existing file,
and is recorded in a JSON-lines manifest that :func:`undo_moves` replays backwards.

All failures raise :class:`~astroiqa_indi.errors.FrameError` (wrapping the
``OSError``): the frame could not be flagged, which is a property of that frame file,
and callers that grade a stream of frames handle it like an unreadable frame.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final, Literal, Protocol

from astropy.io import fits

from astroiqa_indi import __version__
from astroiqa_indi._files import fsync_dir, write_atomically
from astroiqa_indi.actions._fits_header import (
    find_image_header,
    format_cards,
    replace_cards,
    write_with_header,
)
from astroiqa_indi.errors import FrameError

if TYPE_CHECKING:  # only attributes are used: importing grading is not needed to flag
    from astroiqa_indi.grading import Verdict

__all__ = [
    "MANIFEST_NAME",
    "FlagResult",
    "FlagSettings",
    "UndoResult",
    "flag_frame",
    "numbered_name",
    "undo_moves",
]

MANIFEST_NAME: Final = "iqa-moves.jsonl"
IQA_KEYWORDS: Final = frozenset({"IQACLASS", "IQAPROB", "IQAFWHM", "IQAECC", "IQAREJ", "IQAVER"})
# The header checksum no longer matches once keywords are added; DATASUM still does.
_STALE_KEYWORDS: Final = IQA_KEYWORDS | {"CHECKSUM"}
_FITS_SUFFIXES: Final = (".fits.fz", ".fit.fz", ".fts.fz", ".fits", ".fit", ".fts")
_NO_HARD_LINKS: Final = frozenset(
    {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS}
)
_MAX_SUFFIX: Final = 10_000

Action = Literal["none", "header", "sidecar", "moved", "kept"]


class FlagSettings(Protocol):
    """What :func:`flag_frame` reads from :class:`astroiqa_indi.config.FramesSettings`."""

    @property
    def flag(self) -> str: ...

    @property
    def reject_dir(self) -> str | None: ...

    @property
    def keywords_in_place(self) -> bool: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class FlagResult:
    """What :func:`flag_frame` did.

    Attributes
    ----------
    source
        The frame as given.
    action
        ``"none"`` (flagging off), ``"header"``, ``"sidecar"``, ``"moved"``, or
        ``"kept"`` (move mode, frame not rejected).
    written
        The file written or moved to: the ``.iqa`` copy or the edited original, the
        sidecar, or the frame's new path.
    manifest
        The move manifest the move was recorded in.
    """

    source: Path
    action: Action
    written: Path | None = None
    manifest: Path | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UndoResult:
    """What :func:`undo_moves` restored, and what it left alone and why."""

    restored: tuple[tuple[Path, Path], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()


def flag_frame(
    path: str | os.PathLike[str],
    verdict: Verdict,
    settings: FlagSettings,
    *,
    rejected: bool,
    model_version: str,
) -> FlagResult:
    """Flag one frame file the way ``settings.flag`` says.

    Parameters
    ----------
    path
        The frame file (``.fits``/``.fit``/``.fts``, optionally ``.fz``, for header mode;
        anything for sidecar and move modes).
    verdict
        The grade.
    settings
        ``flag``: ``"none"``, ``"header"``, ``"sidecar"`` or ``"move"``;
        ``reject_dir``: the move target (relative paths are relative to the frame's
        folder); ``keywords_in_place``: header mode edits the original file.
    rejected
        Whether policy rejects the frame; only rejected frames are moved.
    model_version
        Written as ``IQAVER`` and the sidecar's ``model_version``.

    Raises
    ------
    FrameError
        The frame is missing, not FITS (header mode), or a file cannot be written.
    ValueError
        ``settings`` is inconsistent (unknown mode, move without ``reject_dir``).
    """
    source = Path(path)
    mode = settings.flag
    if mode == "none":
        return FlagResult(source=source, action="none")
    if not source.is_file():
        raise FrameError(f"cannot flag {source}: no such file")
    if mode == "header":
        # In place, a symlinked frame is edited where it lives, not replaced by a copy.
        dest = source.resolve() if settings.keywords_in_place else _iqa_copy_name(source)
        if settings.keywords_in_place and not dest.stat().st_mode & 0o222:
            # Replacing the file through its folder would succeed; a frame someone
            # made read-only is one they want kept as it is (root included).
            raise FrameError(f"cannot write keywords into {source}: the file is read-only")
        _write_header(source, dest, verdict, rejected=rejected, model_version=model_version)
        return FlagResult(source=source, action="header", written=dest)
    if mode == "sidecar":
        sidecar = source.with_name(source.name + ".iqa.json")
        payload = {**verdict.to_dict(), "model_version": model_version, "rejected": rejected}
        text = json.dumps(payload, indent=2, allow_nan=False) + "\n"
        _atomic_write(sidecar, lambda out: out.write(text.encode("utf-8")))
        return FlagResult(source=source, action="sidecar", written=sidecar)
    if mode == "move":
        if settings.reject_dir is None:
            raise ValueError("frames.flag is 'move' but frames.reject_dir is not set")
        if not rejected:
            return FlagResult(source=source, action="kept")
        return _move_rejected(source, Path(settings.reject_dir), verdict, model_version)
    raise ValueError(f"unknown frames.flag {mode!r}; expected none, header, sidecar or move")


# ------------------------------------------------------------------ header
def _fits_suffix(path: Path) -> str:
    lower = path.name.lower()
    for suffix in _FITS_SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return path.name[-len(suffix) :]
    raise FrameError(f"cannot write FITS keywords into {path}: not a .fits/.fit/.fts(.fz) file")


def _iqa_copy_name(path: Path) -> Path:
    suffix = _fits_suffix(path)
    return path.with_name(f"{path.name[: -len(suffix)]}.iqa{suffix}")


def _ascii(text: str) -> str:
    return "".join(c if " " <= c <= "~" else "?" for c in text)


def _iqa_cards(verdict: Verdict, *, rejected: bool, model_version: str) -> list[fits.Card]:
    metrics = verdict.metrics
    cards = [
        fits.Card("IQACLASS", verdict.label, "astroiqa-indi frame label"),
        fits.Card("IQAPROB", round(verdict.probabilities[verdict.label], 4), "P(IQACLASS)"),
    ]
    if metrics.fwhm_arcsec is not None:
        cards.append(fits.Card("IQAFWHM", round(metrics.fwhm_arcsec, 3), "[arcsec] median FWHM"))
    elif metrics.fwhm_px is not None:
        cards.append(fits.Card("IQAFWHM", round(metrics.fwhm_px, 3), "[px] median FWHM"))
    if metrics.eccentricity is not None:
        cards.append(fits.Card("IQAECC", round(metrics.eccentricity, 3), "median eccentricity"))
    cards.append(fits.Card("IQAREJ", rejected, "rejected by astroiqa-indi policy"))
    cards.append(fits.Card("IQAVER", _ascii(model_version), "astroiqa-indi model version"))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    cards.append(
        fits.Card("HISTORY", f"astroiqa-indi {__version__} {stamp}Z IQACLASS={verdict.label}")
    )
    return cards


def _write_header(
    source: Path, dest: Path, verdict: Verdict, *, rejected: bool, model_version: str
) -> None:
    new_cards = format_cards(_iqa_cards(verdict, rejected=rejected, model_version=model_version))
    try:
        with source.open("rb") as stream:
            try:
                edit = find_image_header(stream)
            except FrameError as exc:
                raise FrameError(f"cannot flag {source}: {exc}") from exc
            header = replace_cards(edit.cards, new_cards, drop=_STALE_KEYWORDS)
            _atomic_write(dest, lambda out: write_with_header(stream, edit, header, out), source)
    except OSError as exc:  # opening or reading the frame; write errors are FrameErrors
        raise FrameError(f"cannot read {source}: {exc.strerror or exc}") from exc


# ------------------------------------------------------------ atomic write
def _atomic_write(
    dest: Path, write: Callable[[BinaryIO], object], mode_from: Path | None = None
) -> None:
    """Write ``dest`` through a same-folder temporary file, fsync, then rename over it."""
    try:
        write_atomically(dest, write, mode_from=mode_from)
    except OSError as exc:  # only our own temporary file was removed
        raise FrameError(f"cannot write {dest}: {exc.strerror or exc}") from exc


# -------------------------------------------------------------------- move
# A counter goes before the whole of a packed FITS suffix: light_1.fits.gz, not
# light.fits_1.gz, which no longer reads as a frame name.
_PACKED_SUFFIXES: Final = tuple(
    f"{stem}{pack}" for pack in (".fz", ".gz", ".z") for stem in (".fits", ".fit", ".fts")
)


def numbered_name(name: str, n: int) -> str:
    """``name`` with ``_n`` before its frame suffix (``n`` = 0: ``name`` itself)."""
    if n == 0:
        return name
    lower = name.lower()
    suffix = next(
        (s for s in _PACKED_SUFFIXES if lower.endswith(s) and len(lower) > len(s)),
        os.path.splitext(name)[1],
    )
    stem = name[: len(name) - len(suffix)] if suffix else name
    return f"{stem}_{n}{name[len(stem) :]}"


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy_verified(source: Path, dest: Path) -> None:
    """Copy to a new ``dest`` (exclusive create), fsync and compare; then unlink the source."""
    with dest.open("xb") as out:  # FileExistsError when the name is taken
        try:
            with source.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            dest.unlink(missing_ok=True)  # our own partial copy
            raise
    try:
        shutil.copystat(source, dest)
        if _sha256(source) != _sha256(dest):
            raise FrameError(f"copy of {source} to {dest} does not match; original kept")
        source.unlink()
    except BaseException:
        dest.unlink(missing_ok=True)  # the original stays: no second copy left behind
        raise


def _move_no_overwrite(source: Path, dest: Path, *, numbered: bool) -> Path:
    """Move ``source`` to ``dest`` (or ``dest_1``, ``dest_2``... when ``numbered``).

    A hard link claims the new name atomically and fails if it exists, so nothing is
    ever overwritten; the old name is removed only once the new one exists. Across
    devices the bytes are copied and verified before the original is unlinked.
    """
    for n in range(_MAX_SUFFIX if numbered else 1):
        target = dest.with_name(numbered_name(dest.name, n))
        if source.is_symlink():
            # A link farm: the link moves, and points where it did from its new folder.
            try:
                os.symlink(os.path.realpath(source), target)
            except FileExistsError:
                continue
            _unlink_or_undo(source, target)
            fsync_dir(target.parent)
            fsync_dir(source.parent)
            return target
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                try:
                    _copy_verified(source, target)
                except FileExistsError:
                    continue
            elif exc.errno in _NO_HARD_LINKS:
                # File systems without hard links (FAT, some network shares): a
                # check-then-rename is the best that portable Python offers.
                if target.exists():
                    continue
                os.rename(source, target)
            else:
                raise
        else:
            _unlink_or_undo(source, target)
        fsync_dir(target.parent)
        fsync_dir(source.parent)
        return target
    raise FileExistsError(errno.EEXIST, "no free name", str(dest))


def _unlink_or_undo(source: Path, target: Path) -> None:
    """Remove the old name of a frame now also at ``target``; if that fails, remove
    ``target`` instead, so that a failed move leaves no second name behind."""
    try:
        source.unlink()
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _move_rejected(
    source: Path, reject_dir: Path, verdict: Verdict, model_version: str
) -> FlagResult:
    if not reject_dir.is_absolute():
        reject_dir = source.parent / reject_dir
    manifest = reject_dir / MANIFEST_NAME
    try:
        reject_dir.mkdir(parents=True, exist_ok=True)
        target = _move_no_overwrite(source, reject_dir / source.name, numbered=True)
    except OSError as exc:
        raise FrameError(f"cannot move {source} to {reject_dir}: {exc.strerror or exc}") from exc
    entry = {
        "from": str(source.absolute()),
        "to": str(target.absolute()),
        "label": verdict.label,
        "model_version": model_version,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    try:
        with manifest.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise FrameError(
            f"moved {source} to {target} but could not record it in {manifest}: "
            f"{exc.strerror or exc}"
        ) from exc
    return FlagResult(source=source, action="moved", written=target, manifest=manifest)


def _manifest_entries(manifest: Path) -> list[tuple[str, dict[str, Any] | None]]:
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise FrameError(f"cannot read move manifest {manifest}: {exc.strerror or exc}") from exc
    entries: list[tuple[str, dict[str, Any] | None]] = []
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entries.append((line, None))
            continue
        ok = isinstance(entry, dict) and all(isinstance(entry.get(k), str) for k in ("from", "to"))
        entries.append((line, entry if ok else None))
    return entries


def undo_moves(manifest_path: str | os.PathLike[str]) -> UndoResult:
    """Move every frame recorded in a manifest back where it came from, newest first.

    A frame whose original path is taken again, or that is no longer in the reject
    folder, is left where it is and reported in :attr:`UndoResult.skipped`; running
    the undo twice is harmless. The manifest itself is kept.
    """
    manifest = Path(manifest_path)
    restored: list[tuple[Path, Path]] = []
    skipped: list[tuple[str, str]] = []
    for line, entry in reversed(_manifest_entries(manifest)):
        if entry is None:
            skipped.append((line, "not a manifest entry"))
            continue
        moved, original = Path(entry["to"]), Path(entry["from"])
        if not moved.exists():
            skipped.append((line, f"{moved} is gone (already restored?)"))
            continue
        if original.exists():
            skipped.append((line, f"{original} exists; not overwriting it"))
            continue
        try:
            original.parent.mkdir(parents=True, exist_ok=True)
            _move_no_overwrite(moved, original, numbered=False)
        except FileExistsError:
            skipped.append((line, f"{original} exists; not overwriting it"))
            continue
        except OSError as exc:
            raise FrameError(
                f"cannot move {moved} back to {original}: {exc.strerror or exc}"
            ) from exc
        restored.append((moved, original))
    return UndoResult(restored=tuple(restored), skipped=tuple(skipped))
