"""Acting on graded frames: FITS keywords, moving rejects, links and lists of accepted frames.

Keywords and moves go through :func:`astroiqa_indi.actions.flag_frame`, so they share
its guarantees: atomic writes, moves that never overwrite, and a manifest that
:func:`astroiqa_indi.actions.undo_moves` replays backwards. Links and lists are
derived from the report after the run and can be rebuilt at any time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from astroiqa_indi._files import write_atomically
from astroiqa_indi.actions import flag_frame, numbered_name
from astroiqa_indi.errors import FrameError
from astroiqa_indi.grading import Verdict

__all__ = ["LinkResult", "act_on_frame", "link_frames", "write_text_atomic"]


@dataclass(frozen=True, slots=True)
class _Flagging:
    """A :class:`astroiqa_indi.actions.FlagSettings` for one kind of flagging."""

    flag: str
    reject_dir: str | None = None
    keywords_in_place: bool = False


def act_on_frame(
    path: Path,
    verdict: Verdict,
    *,
    accepted: bool,
    write_keywords: bool,
    move_rejected: Path | None,
) -> tuple[list[str], list[str]]:
    """Write keywords and move a rejected frame, as asked; returns (actions, errors).

    A failure (read-only file, XISF asked for FITS keywords, full disk) is recorded and
    the next action still runs: one frame must not stop an archive.
    """
    done: list[str] = []
    errors: list[str] = []
    if write_keywords:
        try:
            flag_frame(
                path,
                verdict,
                _Flagging("header", keywords_in_place=True),
                rejected=not accepted,
                model_version=verdict.model_version,
            )
            done.append("keywords")
        except FrameError as exc:
            errors.append(f"keywords: {exc}")
    if move_rejected is not None and not accepted:
        try:
            result = flag_frame(
                path,
                verdict,
                _Flagging("move", reject_dir=os.path.abspath(move_rejected)),
                rejected=True,
                model_version=verdict.model_version,
            )
            done.append(f"moved:{result.written}")
        except FrameError as exc:
            errors.append(f"move: {exc}")
    return done, errors


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkResult:
    """What :func:`link_frames` did: new links, links kept, stale links removed, frames gone."""

    created: tuple[Path, ...] = ()
    existing: tuple[Path, ...] = ()
    removed: tuple[Path, ...] = ()
    missing: tuple[Path, ...] = ()


def link_frames(
    targets: Iterable[Path], folder: Path, *, known: Iterable[Path] | None = None
) -> LinkResult:
    """Make ``folder`` hold a symbolic link to each target (absolute), idempotently.

    A target already linked from ``folder`` is left alone; a name already taken gets a
    numeric suffix (``light_1.fits``), so no entry is ever replaced. Symbolic links in
    it to the ``known`` frames that are not targets (frames accepted by an earlier run
    and rejected now, or moved away) are removed; links to anything else (a master
    dark, another night's frames) and other files are never touched. ``known=None``
    makes the folder mirror the targets: every other link in it is removed.
    Targets that no longer exist are reported.

    Raises
    ------
    OSError
        The folder or a link cannot be created.
    """
    folder.mkdir(parents=True, exist_ok=True)
    linked: dict[str, Path] = {}
    duplicates: list[Path] = []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if real in linked:
                duplicates.append(Path(entry.path))
            else:
                linked[real] = Path(entry.path)
    created: list[Path] = []
    existing: list[Path] = []
    missing: list[Path] = []
    wanted: list[tuple[Path, str]] = []
    for target in targets:
        absolute = Path(os.path.abspath(target))
        if absolute.exists():
            wanted.append((absolute, os.path.realpath(absolute)))
        else:
            missing.append(absolute)
    keep = {real for _, real in wanted}
    ours = None if known is None else {os.path.realpath(p) for p in known} | keep
    removed = [
        link for real, link in linked.items() if real not in keep and (ours is None or real in ours)
    ]
    # A second link to one of our frames goes too; to someone else's, it stays.
    removed += [link for link in duplicates if ours is None or os.path.realpath(link) in ours]
    for link in removed:
        link.unlink()
    linked = {real: link for real, link in linked.items() if real in keep}
    for absolute, real in wanted:
        if real in linked:
            existing.append(linked[real])
            continue
        for n in range(10_000):
            link = folder / numbered_name(absolute.name, n)
            try:
                os.symlink(absolute, link)  # fails if the name is taken: never replaces
            except FileExistsError:
                continue
            break
        else:
            raise FileExistsError(f"no free name for a link to {absolute} in {folder}")
        linked[real] = link
        created.append(link)
    return LinkResult(
        created=tuple(created),
        existing=tuple(existing),
        removed=tuple(removed),
        missing=tuple(missing),
    )


def write_text_atomic(path: Path, text: str) -> Path:
    """Write a small text file through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # File lists name frames by their bytes on disk, UTF-8 or not.
    write_atomically(path, lambda out: out.write(text.encode("utf-8", errors="surrogateescape")))
    return path


def accepted_list_text(paths: Sequence[str]) -> str:
    """One absolute path per line."""
    return "".join(f"{os.path.abspath(p)}\n" for p in paths)
