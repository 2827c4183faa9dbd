"""One row per graded frame, a CSV writer and a plot of the night.

matplotlib is imported inside :func:`plot_session` with the Agg backend, so
reports work on headless observatory computers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from astroiqa_indi._files import write_atomically
from astroiqa_indi.grading import Verdict
from astroiqa_indi.labels import LABELS

__all__ = ["REPORT_COLUMNS", "ReportRow", "plot_session", "write_csv"]

REPORT_COLUMNS: tuple[str, ...] = (
    "time",
    "frame",
    "label",
    "confident",
    *(f"p_{name}" for name in LABELS),
    "fwhm_arcsec",
    "fwhm_px",
    "eccentricity",
    "elongation",
    "stars",
    "background",
    "gradient",
    "actions",
    "reasons",
)

_COLOURS = {
    "good": "#2e7d32",
    "bad_tracking": "#f9a825",
    "very_bad_tracking": "#c62828",
    "bad_seeing": "#6a1b9a",
    "background_issues": "#1565c0",
}


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A graded frame with when it was taken and what was done about it."""

    time: datetime
    frame: str
    verdict: Verdict
    actions: tuple[str, ...] = ()

    def as_csv(self) -> dict[str, str]:
        m = self.verdict.metrics

        def num(value: float | None, digits: int = 3) -> str:
            return "" if value is None else f"{value:.{digits}f}"

        row = {
            "time": self.time.isoformat(timespec="seconds"),
            "frame": self.frame,
            "label": self.verdict.label,
            "confident": "1" if self.verdict.confident else "0",
            "fwhm_arcsec": num(m.fwhm_arcsec),
            "fwhm_px": num(m.fwhm_px),
            "eccentricity": num(m.eccentricity),
            "elongation": num(m.elongation),
            "stars": str(m.n_stars),
            "background": num(m.background, 1),
            "gradient": num(m.gradient),
            "actions": ";".join(self.actions),
            "reasons": " | ".join(self.verdict.reasons),
        }
        for name in LABELS:
            row[f"p_{name}"] = num(self.verdict.probabilities[name], 4)
        return row


def write_csv(rows: Sequence[ReportRow], path: Path) -> Path:
    """Write the report atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(out: BinaryIO) -> None:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=REPORT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row.as_csv())
        text.flush()
        text.detach()  # the caller closes the file

    write_atomically(path, write)
    return path


def plot_session(rows: Sequence[ReportRow], path: Path, *, title: str = "") -> Path:
    """FWHM, eccentricity, star count, background and label against time, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(rows, key=lambda r: r.time)
    times = [r.time for r in ordered]
    metrics = [r.verdict.metrics for r in ordered]
    series: list[tuple[str, list[float | None]]] = [
        ('FWHM (" or px)', [m.fwhm_arcsec or m.fwhm_px for m in metrics]),
        ("eccentricity", [m.eccentricity for m in metrics]),
        ("stars", [float(m.n_stars) for m in metrics]),
        ("background (ADU)", [m.background for m in metrics]),
    ]
    fig, axes = plt.subplots(5, 1, figsize=(10, 9), sharex=True, constrained_layout=True)
    colours = [_COLOURS[r.verdict.label] for r in ordered]
    for i, (name, values) in enumerate(series):
        ax = axes[i]
        pts = [(times[k], v, colours[k]) for k, v in enumerate(values) if v is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color="0.7", lw=0.8, zorder=1)
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], c=[p[2] for p in pts], s=14)
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    label_axis = axes[4]
    label_axis.scatter(times, [LABELS.index(r.verdict.label) for r in ordered], c=colours, s=18)
    label_axis.set_yticks(range(len(LABELS)), LABELS)
    label_axis.set_ylim(-0.5, len(LABELS) - 0.5)
    label_axis.grid(alpha=0.3)
    label_axis.set_xlabel("time (UTC)")
    fig.suptitle(title or f"astroiqa-indi session: {len(ordered)} frames")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
