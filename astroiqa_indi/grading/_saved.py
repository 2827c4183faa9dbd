"""A session's transparency reference on disk, so that a restart does not lose it.

A restarted agent or a resumed batch run would otherwise start a new reference from
its own first good frames: under a thin cloud at that moment, the veiled frames
themselves would become the clear sky that later frames are measured against.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from astroiqa_indi._files import write_atomically
from astroiqa_indi.errors import ReferenceFileError
from astroiqa_indi.grading._session import TransparencyReference

__all__ = ["load_reference", "save_reference"]


def save_reference(path: Path, reference: TransparencyReference) -> None:
    """Write ``reference`` to ``path`` whole or not at all (``OSError`` on failure).

    Not fsynced: it is rewritten after every good frame, and a power cut that loses
    it costs a new reference, not data (:func:`load_reference` then says so).
    """
    text = json.dumps(reference.to_dict(), separators=(",", ":"))
    write_atomically(path, lambda out: out.write(text.encode()), durable=False)


def load_reference(path: Path, *, max_age_s: float | None = None) -> TransparencyReference | None:
    """The reference saved at ``path``; ``None`` when there is none, or when it was
    last written more than ``max_age_s`` seconds ago (another night's sky).

    Raises
    ------
    ReferenceFileError
        The file cannot be read or is not a saved reference.
    """
    try:
        if max_age_s is not None and time.time() - path.stat().st_mtime > max_age_s:
            return None
        payload = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ReferenceFileError(f"cannot read {path}: {exc}") from exc
    try:
        return TransparencyReference.from_dict(payload)
    except ValueError as exc:
        raise ReferenceFileError(f"{path}: {exc}") from exc
