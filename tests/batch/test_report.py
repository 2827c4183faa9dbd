"""The append-only report: one fsynced line per frame, resumable, never truncated."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from astroiqa_indi.batch import BATCH_COLUMNS, open_report, read_report
from astroiqa_indi.batch._report import error_row, graded_row
from astroiqa_indi.errors import AstroIQAError
from astroiqa_indi.grading import FrameMetrics, Verdict
from astroiqa_indi.labels import LABELS
from astroiqa_indi.reports import REPORT_COLUMNS

WHEN = datetime(2024, 5, 1, 22, 30, tzinfo=UTC)


def verdict(label: str = "good", p: float = 0.7) -> Verdict:
    probs: dict[str, float] = {name: (1 - p) / 4 for name in LABELS}
    probs[label] = p
    metrics = FrameMetrics(
        n_sources=40, n_stars=30, fwhm_px=2.5, fwhm_arcsec=3.0, eccentricity=0.4, background=812.0
    )
    return Verdict(
        label=label,  # type: ignore[arg-type]
        probabilities=probs,
        metrics=metrics,
        reasons=("round stars", "line\nbreak inside"),
    )


def test_columns_extend_the_agent_report() -> None:
    assert ("path", *REPORT_COLUMNS, "bayer", "error") == BATCH_COLUMNS


def test_rows_round_trip(tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    writer, previous = open_report(report, resume=False)
    with writer:
        writer.append(
            graded_row("/n/a.fits", WHEN, verdict("bad_seeing", 0.6), ["keywords"], "RGGB")
        )
        writer.append(error_row("/n/b.fits", None, "b.fits: truncated"))
    assert previous == []
    lines = report.read_text().splitlines()
    assert len(lines) == 3, "a line break inside a field must not split a row"
    a, b = read_report(report)
    assert (a.path, a.frame, a.label, a.time, a.bayer) == (
        "/n/a.fits",
        "a.fits",
        "bad_seeing",
        WHEN,
        "RGGB",
    )
    assert a.probabilities["bad_seeing"] == pytest.approx(0.6)
    assert (a.fwhm_arcsec, a.eccentricity, a.stars, a.background) == (3.0, 0.4, 30, 812.0)
    assert a.actions == ("keywords",) and a.reasons == ("round stars", "line break inside")
    assert a.error is None
    assert (b.label, b.error, b.time) == (None, "b.fits: truncated", None)
    row = a.to_report_row()
    assert row is not None and row.verdict.label == "bad_seeing"
    assert row.verdict.metrics.fwhm_arcsec == 3.0
    assert b.to_report_row() is None


def test_existing_report_needs_resume(tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    writer, _ = open_report(report, resume=False)
    with writer:
        writer.append(graded_row("/n/a.fits", WHEN, verdict(), [], None))
    before = report.read_bytes()
    with pytest.raises(AstroIQAError, match="--resume"):
        open_report(report, resume=False)
    assert report.read_bytes() == before
    writer, previous = open_report(report, resume=True)
    with writer:
        writer.append(graded_row("/n/b.fits", WHEN, verdict(), [], None))
    assert [r.path for r in previous] == ["/n/a.fits"]
    assert [r.path for r in read_report(report)] == ["/n/a.fits", "/n/b.fits"]


def test_torn_last_line_is_dropped_on_resume(tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    writer, _ = open_report(report, resume=False)
    with writer:
        for name in ("a", "b"):
            writer.append(graded_row(f"/n/{name}.fits", WHEN, verdict(), [], None))
    whole = report.read_bytes()
    # A crash in the middle of writing the third row.
    report.write_bytes(whole + b"/n/c.fits,2024-05-01T22:30:00+00:00,c.fi")
    assert [r.path for r in read_report(report)] == ["/n/a.fits", "/n/b.fits"]
    writer, previous = open_report(report, resume=True)
    with writer:
        writer.append(graded_row("/n/c.fits", WHEN, verdict(), [], None))
    assert [r.path for r in previous] == ["/n/a.fits", "/n/b.fits"]
    assert report.read_bytes().startswith(whole)
    with report.open(newline="") as fh:
        rows = list(csv.reader(fh))
    assert all(len(r) == len(BATCH_COLUMNS) for r in rows)
    assert [r[0] for r in rows[1:]] == ["/n/a.fits", "/n/b.fits", "/n/c.fits"]


def test_torn_header_is_rewritten(tmp_path: Path) -> None:
    report = tmp_path / "r.csv"
    report.write_bytes(b"path,time,fra")
    writer, previous = open_report(report, resume=True)
    writer.close()
    assert previous == []
    assert report.read_text().splitlines() == [",".join(BATCH_COLUMNS)]


@pytest.mark.parametrize("content", [b"a,b,c\n1,2,3\n", b"\x00\x01binary"])
def test_other_files_are_never_appended_to(tmp_path: Path, content: bytes) -> None:
    other = tmp_path / "other.csv"
    other.write_bytes(content)
    with pytest.raises(AstroIQAError, match="not an astroiqa-indi batch report"):
        open_report(other, resume=True)
    assert other.read_bytes() == content


def test_closed_writer_refuses_rows(tmp_path: Path) -> None:
    writer, _ = open_report(tmp_path / "r.csv", resume=False)
    writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        writer.append(error_row("/x.fits", None, "x"))
