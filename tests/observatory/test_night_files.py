"""A scenario night written as files for indi_simulator_ccd's directory mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from astropy.io import fits

from simulators.observatory import write_night_files
from simulators.sky import SCENARIO_DIR

NIGHT = SCENARIO_DIR / "night-with-faults.yaml"


def test_files_in_time_order_with_pixsize_and_truth(tmp_path: Path) -> None:
    written = write_night_files(NIGHT, tmp_path, size=(160, 120), count=30, seed=2)
    names = sorted(p.name for p in tmp_path.glob("frame_*.fits"))
    assert names == [w.path.name for w in written] and len(names) == 30
    header = fits.getheader(written[0].path)
    assert header["PIXSIZE1"] == pytest.approx(2.9) and header["NAXIS1"] == 160
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert [t["file"] for t in truth] == names
    # The night's segments, in order: 60 s clear at 5 s subs, then periodic error.
    assert [t["segment"] for t in truth[:13]] == ["clear"] * 12 + ["periodic-error"]
    assert truth[0]["label"] == "good" and truth[-1]["label"] == "very_bad_tracking"
    assert not list(tmp_path.glob(".*.tmp"))


def test_same_seed_same_bytes_and_no_overwrite(tmp_path: Path) -> None:
    a = write_night_files(NIGHT, tmp_path / "a", size=(96, 64), count=2, seed=5)
    b = write_night_files(NIGHT, tmp_path / "b", size=(96, 64), count=2, seed=5)
    assert [x.path.read_bytes() for x in a] == [x.path.read_bytes() for x in b]
    with pytest.raises(ValueError, match="already holds"):
        write_night_files(NIGHT, tmp_path / "a", size=(96, 64), count=1)
    with pytest.raises(ValueError, match="unknown rig"):
        write_night_files(NIGHT, tmp_path / "c", rig="no-such-rig", count=1)


@pytest.mark.slow
def test_workers_write_the_same_files_and_truth(tmp_path: Path) -> None:
    one = write_night_files(NIGHT, tmp_path / "one", size=(96, 64), count=4, seed=9)
    two = write_night_files(NIGHT, tmp_path / "two", size=(96, 64), count=4, seed=9, workers=2)
    assert [x.path.read_bytes() for x in one] == [x.path.read_bytes() for x in two]
    assert [(x.index, x.segment, x.label, x.clear) for x in one] == [
        (x.index, x.segment, x.label, x.clear) for x in two
    ]
    assert (tmp_path / "one" / "truth.jsonl").read_text() == (
        tmp_path / "two" / "truth.jsonl"
    ).read_text()
    with pytest.raises(ValueError, match="workers"):
        write_night_files(NIGHT, tmp_path / "three", size=(96, 64), count=1, workers=0)


def test_cli_writes_and_reports_errors(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "astroiqa_indi", "simulate", "night-files"]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path / "n"), "--size", "96x64", "--count", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.count("frame_0000") == 3 and "good" in done.stdout
    bad = subprocess.run(
        [*cmd, "--out", str(tmp_path / "n"), "--count", "1"], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "already holds" in bad.stderr
