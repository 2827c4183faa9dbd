"""The end-of-run summary: a table per label and a few lines of what happened."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

from rich.table import Table

from astroiqa_indi.batch._report import ReportRecord
from astroiqa_indi.batch._types import BatchResult
from astroiqa_indi.labels import LABELS

__all__ = ["summary_lines", "summary_table"]


def _median(values: Sequence[float | None], fmt: str) -> str:
    present = [v for v in values if v is not None]
    return format(statistics.median(present), fmt) if present else "-"


def summary_table(result: BatchResult) -> Table:
    """Frames per label (the whole report when there is one), with median metrics."""
    records = [r for r in result.records if r.label is not None]
    table = Table(title=f"{len(records)} graded frames", title_justify="left")
    for name, justify in (
        ("label", "left"),
        ("frames", "right"),
        ("share", "right"),
        ('FWHM "', "right"),
        ("eccentricity", "right"),
        ("stars", "right"),
        ("kept", "center"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    by_label: dict[str, list[ReportRecord]] = {name: [] for name in LABELS}
    for record in records:
        by_label[str(record.label)].append(record)
    for name in LABELS:
        group = by_label[name]
        if not group:
            continue
        table.add_row(
            name,
            str(len(group)),
            f"{len(group) / len(records):.0%}",
            _median([r.fwhm_arcsec for r in group], ".2f"),
            _median([r.eccentricity for r in group], ".2f"),
            _median([float(r.stars) for r in group], ".0f"),
            "yes" if name in result.keep else "",
        )
    return table


def summary_lines(result: BatchResult) -> list[str]:
    """What happened in this run, in plain sentences."""
    lines = []
    done = result.graded + len(result.errors) + len(result.skipped)
    if done:
        lines.append(
            f"this run: {result.graded} graded, {len(result.errors)} unreadable, "
            f"{len(result.skipped)} calibration skipped, in {result.grading_s:.1f} s "
            f"({result.rate:.2f} frames/s on {result.workers}; start-up {result.startup_s:.1f} s)"
        )
    if result.already_done:
        lines.append(f"already in the report, not graded again: {result.already_done}")
    kinds = Counter(detail.split(" ", 1)[0] for _, detail in result.skipped)
    if kinds:
        lines.append(
            "skipped calibration frames: " + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        )
    for path, error in result.errors[:10]:
        # FrameError messages name their file already.
        lines.append(
            f"unreadable: {error}" if str(path) in error else f"unreadable: {path}: {error}"
        )
    if len(result.errors) > 10:
        lines.append(f"... and {len(result.errors) - 10} more unreadable frames (see the report)")
    for path, error in result.action_errors[:10]:
        lines.append(f"action failed: {path}: {error}")
    accepted = len(result.accepted())
    lines.append(f"accepted ({', '.join(sorted(result.keep))}): {accepted}")
    for name, path in result.outputs.items():
        lines.append(f"{name.replace('_', ' ')}: {path}")
    if result.interrupted:
        lines.append(
            f"interrupted: {result.not_graded} frames not graded; run again with --resume to finish"
        )
    return lines
