"""The session journal: one JSON object per line, flushed as it happens.

Kinds of line: ``frame`` (verdict, actions, timings), ``event`` (pause, resume,
alert, guider and broker news) and ``summary`` at exit. A crash loses at most
the line being written.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from astroiqa_indi.grading import Verdict

__all__ = ["Journal"]


class Journal:
    """Append-only JSON-lines file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: Any = None
        self.lines = 0

    def __enter__(self) -> Self:
        if self._fh is not None:
            raise RuntimeError("journal already open")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._fh is None:
            raise RuntimeError("journal is not open")
        record.setdefault("time", datetime.now(UTC).isoformat(timespec="milliseconds"))
        self._fh.write(json.dumps(record, default=str) + "\n")
        self._fh.flush()
        os.fsync(self._fh.fileno())
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
