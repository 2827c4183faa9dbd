"""A session's transparency reference on disk, so that a restart does not lose it.

A restarted agent or a resumed batch run would otherwise start a new reference from
its own first good frames: under a thin cloud at that moment, the veiled frames
themselves would become the clear sky that later frames are measured against.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

from astroiqa_indi._files import write_atomically
from astroiqa_indi.errors import ReferenceFileError
from astroiqa_indi.grading._session import TransparencyReference

__all__ = ["SavePacer", "load_reference", "save_reference"]


def save_reference(path: Path, reference: TransparencyReference) -> float:
    """Write ``reference`` to ``path`` whole or not at all (``OSError`` on failure);
    returns the seconds it took, for a :class:`SavePacer`.

    Not fsynced: it is rewritten after good frames, and a power cut that loses it
    costs a new reference, not data (:func:`load_reference` then says so).
    """
    started = time.perf_counter()
    text = json.dumps(reference.to_dict(), separators=(",", ":"))
    write_atomically(path, lambda out: out.write(text.encode()), durable=False)
    return time.perf_counter() - started


class SavePacer:
    """When to rewrite a saved reference, so that saving takes at most ``share`` of a
    run's time.

    A typical reference (one field, 20 frames) saves in well under a millisecond and
    is rewritten after every good frame. The largest one kept (16 setups of 160
    frames) takes about as long as two sep extractions; rewritten after every frame
    it would triple the cost of grading an archive, so after a save of ``d`` seconds
    the next waits ``d / share``. A crash in between loses the good frames since the
    last save from the reference, never a report row; callers save once more at the
    end (``due`` is then not asked).
    """

    def __init__(self, *, share: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        if not 0 < share <= 1:
            raise ValueError("share must be within (0, 1]")
        self._share = share
        self._clock = clock
        self._next = -math.inf

    def due(self) -> bool:
        """Whether enough time has passed since the last save for another."""
        return self._clock() >= self._next

    def took(self, seconds: float) -> None:
        """A save just finished after ``seconds``."""
        self._next = self._clock() + max(seconds, 0.0) / self._share


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
