"""The batch report: a CSV file appended to and fsynced one frame at a time.

The columns are :data:`astroiqa_indi.reports.REPORT_COLUMNS` (the live agent's report)
with the frame's ``path`` first and its ``bayer`` pattern and ``error`` last. Each row
is one ``os.write`` of one line followed by ``fsync``: a crash or a power cut leaves
every earlier row intact and at worst a torn last line, which :func:`open_report`
drops when the run is resumed. Field values never contain a line break, so "one
line, one row" holds and a torn line is recognisable.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from astroiqa_indi._files import fsync_dir
from astroiqa_indi.errors import AstroIQAError
from astroiqa_indi.grading import FrameMetrics, Verdict
from astroiqa_indi.labels import LABELS
from astroiqa_indi.reports import REPORT_COLUMNS, ReportRow

__all__ = ["BATCH_COLUMNS", "ReportRecord", "ReportWriter", "open_report", "read_report"]

BATCH_COLUMNS: Final[tuple[str, ...]] = ("path", *REPORT_COLUMNS, "bayer", "error")


def _num(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportRecord:
    """One row of a batch report, parsed.

    ``label`` is ``None`` (and ``error`` set) for a frame that could not be read.
    Numbers are as rounded in the CSV.
    """

    path: str
    frame: str
    time: datetime | None
    label: str | None
    confident: bool
    probabilities: Mapping[str, float]
    fwhm_arcsec: float | None
    fwhm_px: float | None
    eccentricity: float | None
    elongation: float | None
    stars: int
    background: float | None
    gradient: float | None
    actions: tuple[str, ...]
    reasons: tuple[str, ...]
    bayer: str | None
    error: str | None

    @classmethod
    def from_csv(cls, row: Mapping[str, str]) -> ReportRecord:
        """Parse a CSV row (as :class:`csv.DictReader` gives it)."""
        label = row.get("label") or None
        time_text = row.get("time") or ""
        try:
            when = datetime.fromisoformat(time_text) if time_text else None
        except ValueError:
            when = None
        if when is not None and when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return cls(
            path=row["path"],
            frame=row.get("frame", ""),
            time=when,
            label=label if label in LABELS else None,
            confident=row.get("confident") == "1",
            probabilities={n: _num(row.get(f"p_{n}", "")) or 0.0 for n in LABELS},
            fwhm_arcsec=_num(row.get("fwhm_arcsec", "")),
            fwhm_px=_num(row.get("fwhm_px", "")),
            eccentricity=_num(row.get("eccentricity", "")),
            elongation=_num(row.get("elongation", "")),
            stars=int(_num(row.get("stars", "")) or 0),
            background=_num(row.get("background", "")),
            gradient=_num(row.get("gradient", "")),
            actions=tuple(a for a in row.get("actions", "").split(";") if a),
            reasons=tuple(r for r in row.get("reasons", "").split(" | ") if r),
            bayer=row.get("bayer") or None,
            error=row.get("error") or None,
        )

    def to_report_row(self) -> ReportRow | None:
        """The :class:`ReportRow` that :func:`astroiqa_indi.reports.plot_session` draws.

        ``None`` for an unreadable frame, or one without a time. The verdict is rebuilt
        from the rounded CSV values, which is all a plot needs.
        """
        if self.label is None or self.time is None:
            return None
        total = sum(self.probabilities.values())
        probs: dict[str, float] = (
            {n: p / total for n, p in self.probabilities.items()}
            if total > 0
            else {n: float(n == self.label) for n in LABELS}
        )
        metrics = FrameMetrics(
            n_sources=self.stars,
            n_stars=self.stars,
            fwhm_px=self.fwhm_px,
            fwhm_arcsec=self.fwhm_arcsec,
            eccentricity=self.eccentricity,
            elongation=self.elongation,
            background=self.background or 0.0,
            gradient=self.gradient or 0.0,
        )
        verdict = Verdict(
            label=self.label,  # type: ignore[arg-type]
            probabilities=probs,
            metrics=metrics,
            reasons=self.reasons,
            confident=self.confident,
            source=self.path,
        )
        return ReportRow(self.time, self.frame, verdict, self.actions)


def graded_row(
    path: str, time: datetime, verdict: Verdict, actions: Sequence[str], bayer: str | None
) -> dict[str, str]:
    """CSV cells of a graded frame (the agent's formatting, plus our columns)."""
    row = ReportRow(time, Path(path).name, verdict, tuple(actions)).as_csv()
    row.update(path=path, bayer=bayer or "", error="")
    return row


def error_row(path: str, time: datetime | None, error: str) -> dict[str, str]:
    """CSV cells of a frame that could not be read."""
    row = dict.fromkeys(BATCH_COLUMNS, "")
    row.update(
        path=path,
        frame=Path(path).name,
        time="" if time is None else time.isoformat(timespec="seconds"),
        error=error,
    )
    return row


def _line(cells: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    flat = [" ".join(str(c).splitlines()) for c in cells]
    csv.writer(buffer, lineterminator="\n").writerow(flat)
    # surrogateescape: a file name that is not UTF-8 (a Latin-1 camera share) is
    # written back as the bytes it has on disk, and --resume finds it again.
    return buffer.getvalue().encode("utf-8", errors="surrogateescape")


def _read_rows(data: bytes, path: Path) -> tuple[list[dict[str, str]], int]:
    """Complete rows of a report's bytes, and how many malformed rows were dropped."""
    text = data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        return [], 0
    if tuple(header) != BATCH_COLUMNS:
        raise AstroIQAError(
            f"{path} is not an astroiqa-indi batch report (its columns differ); "
            "give another --report file"
        )
    rows, bad = [], 0
    for cells in reader:
        if len(cells) != len(BATCH_COLUMNS):
            bad += 1
            continue
        rows.append(dict(zip(BATCH_COLUMNS, cells, strict=True)))
    return rows, bad


def read_report(path: str | os.PathLike[str]) -> list[ReportRecord]:
    """Every complete row of a batch report (a torn last line is ignored), one per
    frame: a frame that could not be read and was tried again by ``--resume`` has the
    row of its last try."""
    file = Path(path)
    data = file.read_bytes()
    cut = data.rfind(b"\n") + 1
    rows, _ = _read_rows(data[:cut], file)
    return _last_row_per_frame(rows)


def _last_row_per_frame(rows: list[dict[str, str]]) -> list[ReportRecord]:
    records = [ReportRecord.from_csv(row) for row in rows]
    last = {record.path: i for i, record in enumerate(records)}
    return [record for i, record in enumerate(records) if last[record.path] == i]


class ReportWriter:
    """Appends rows to an open report; use as a context manager (see :func:`open_report`)."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def __enter__(self) -> ReportWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(self, row: Mapping[str, str]) -> None:
        """Write one row and make it durable before returning."""
        if self._fd is None:
            raise RuntimeError(f"report {self.path} is closed")
        line = _line([row.get(c, "") for c in BATCH_COLUMNS])
        # One write call per row: O_APPEND makes it land whole at the end, and a signal
        # can only arrive before or after it.
        os.write(self._fd, line)
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def open_report(path: Path, *, resume: bool) -> tuple[ReportWriter, list[ReportRecord]]:
    """Open a report for appending; returns the writer and the rows already in it.

    Parameters
    ----------
    path
        The CSV file; its folder is created.
    resume
        Keep the rows already there (dropping a torn last line left by a crash).
        Without it, a report that already holds rows is refused: it may be hours of
        grading, and overwriting it is never what a rerun means.

    Raises
    ------
    AstroIQAError
        The file has rows and ``resume`` is false, or it is not a batch report.
    OSError
        The file cannot be created or written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        data = b""
        while chunk := os.read(fd, 1 << 20):
            data += chunk
        complete = data[: data.rfind(b"\n") + 1]
        if not complete and data and not _line(BATCH_COLUMNS).startswith(data):
            raise AstroIQAError(f"{path} is not an astroiqa-indi batch report; give another file")
        rows, _ = _read_rows(complete, path)
        if rows and not resume:
            raise AstroIQAError(
                f"report {path} already lists {len(rows)} frames: add --resume to continue "
                "it, or give another --report file"
            )
        if not rows:
            complete = b""
        if len(complete) != len(data):
            # A torn last line (or a header without rows): cut back to whole rows.
            os.ftruncate(fd, len(complete))
        if not complete:
            os.write(fd, _line(BATCH_COLUMNS))
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        raise
    fsync_dir(path.parent)
    return ReportWriter(path, fd), _last_row_per_frame(rows)
