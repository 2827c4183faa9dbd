"""Whole-or-absent file writes, shared by flagging, reports, batch lists and the agent."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["fsync_dir", "write_atomically"]


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable; not every platform lets a folder be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(
    path: Path,
    write: Callable[[BinaryIO], object],
    *,
    mode_from: Path | None = None,
    durable: bool = True,
) -> None:
    """Write ``path`` through a hidden temporary file in its folder and a rename.

    ``path`` is either the old file or the whole new one, never half of it. With
    ``durable`` the data and the rename are fsynced before returning. On any error
    the temporary file is removed, ``path`` is untouched, and the error propagates
    (``OSError`` for the file system's).
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        if mode_from is not None:
            shutil.copymode(mode_from, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)
