"""The session journal: one JSON object per line, flushed as it happens.

Kinds of line: ``frame`` (verdict, actions, timings), ``event`` (pause, resume,
alert, guider and broker news) and ``summary`` at exit. A crash loses at most
the line being written. A line that cannot be written (a full disk) is counted and
logged, never raised: grading the night matters more than its diary.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from astroiqa_indi.grading import Verdict

__all__ = ["Journal"]

log = logging.getLogger(__name__)


class Journal:
    """Append-only JSON-lines file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._torn = False
        self.lines = 0
        self.write_errors = 0

    def __enter__(self) -> Self:
        if self._fd is not None:
            raise RuntimeError("journal already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: a failed write leaves nothing queued to come out later.
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._fd is None:
            raise RuntimeError("journal is not open")
        record.setdefault("time", datetime.now(UTC).isoformat(timespec="milliseconds"))
        line = json.dumps(record, default=str) + "\n"
        if self._torn:
            line = "\n" + line  # end the half line a failed write may have left
        data = memoryview(line.encode("utf-8", errors="backslashreplace"))
        try:
            while data:
                data = data[os.write(self._fd, data) :]
            os.fsync(self._fd)
        except OSError as exc:
            self.write_errors += 1
            self._torn = True
            if self.write_errors == 1:
                log.error("journal %s: a line could not be written (%s)", self.path, exc)
            return
        self._torn = False
        self.lines += 1

    def frame(
        self,
        *,
        index: int,
        frame: str,
        verdict: Verdict,
        actions: list[str],
        timings: dict[str, float],
        truth: dict[str, Any] | None = None,
    ) -> None:
        record: dict[str, Any] = {
            "kind": "frame",
            "index": index,
            "frame": frame,
            "verdict": verdict.to_dict(),
            "actions": actions,
            "timings": timings,
        }
        if truth:
            record["truth"] = truth
        self._write(record)

    def event(self, name: str, **fields: Any) -> None:
        self._write({"kind": "event", "event": name, **fields})

    def summary(self, **fields: Any) -> None:
        self._write({"kind": "summary", **fields})
