"""The same grading in worker processes and on a Dask LocalCluster; Ctrl-C on a real CLI."""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from rich.console import Console

from astroiqa_indi.batch import BatchOptions, grade_paths, read_report
from astroiqa_indi.batch._local import stop_pool
from tests.batch._tree import Tree

pytestmark = pytest.mark.slow


def _probabilities(report: Path) -> dict[str, dict[str, float]]:
    return {r.path: dict(r.probabilities) for r in read_report(report) if r.label is not None}


def _assert_same_grades(report: Path, reference: Path) -> None:
    ours, theirs = _probabilities(report), _probabilities(reference)
    assert set(ours) <= set(theirs)
    for path, probs in ours.items():
        assert probs == pytest.approx(theirs[path], abs=2e-4), path


def test_dask_local_cluster_of_two_workers(tree: Tree, tiny_model: Path, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    reference = tmp_path / "inline.csv"
    inline = BatchOptions(recursive=True, model_dir=tiny_model, jobs=1, report=reference)
    grade_paths([tree.root], options=inline)

    report = tmp_path / "dask.csv"
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120)
    options = BatchOptions(
        recursive=True, model_dir=tiny_model, jobs=2, dask="local", report=report
    )
    result = grade_paths([tree.root], options=options, progress=True, console=console)
    assert not result.interrupted
    assert result.workers == "2 Dask worker threads on a local Dask cluster"
    assert result.graded == len(tree.lights)
    assert [p for p, _ in result.errors] == [tree.corrupt]
    assert [p for p, _ in result.skipped] == [tree.dark]
    paths = [r.path for r in read_report(report)]
    assert sorted(paths) == sorted(r.path for r in read_report(reference))
    _assert_same_grades(report, reference)
    assert "frames/s" in screen.getvalue() and "grading" in screen.getvalue()


def test_ctrl_c_stops_worker_processes_cleanly(
    sky_frames: list[Path], tiny_model: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "archive"
    for night in ("n1", "n2"):
        (folder / night).mkdir(parents=True)
        for frame in sky_frames:
            shutil.copyfile(frame, folder / night / frame.name)
    total = 2 * len(sky_frames)
    report = tmp_path / "archive.csv"
    command = [sys.executable, "-m", "astroiqa_indi", "grade", str(folder), "-r"]
    command += ["--jobs", "2", "--json", "--report", str(report), "--model", str(tiny_model)]
    # The with-block closes the pipes even when the test fails, so a failure stays here.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    ) as child:
        try:
            assert child.stdout is not None
            first = child.stdout.readline()  # blocks until the first frame is recorded
            assert first.startswith("{"), first
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
    assert child.returncode == 130, err[-2000:]
    assert "interrupted" in err
    raw = report.read_bytes()
    assert raw.endswith(b"\n"), "never left with a torn line"
    rows = read_report(report)
    assert 1 <= len(rows) < total
    assert len({r.path for r in rows}) == len(rows)
    assert len(raw.splitlines()) == len(rows) + 1
    # The report is the record: a SIGINT can land between a frame's report row and its
    # JSON line, so stdout may lag by the frames in flight (one per worker), never lead.
    printed = len(out.splitlines()) + 1
    assert len(rows) - 2 <= printed <= len(rows), (printed, len(rows))

    reference = tmp_path / "inline.csv"
    inline = BatchOptions(model_dir=tiny_model, jobs=1, report=reference)
    grade_paths([r.path for r in rows], options=inline)
    _assert_same_grades(report, reference)  # the workers grade as this process does

    resumed = grade_paths(
        [folder],
        options=BatchOptions(
            recursive=True, model_dir=tiny_model, jobs=1, report=report, resume=True
        ),
    )
    assert resumed.already_done == len(rows)
    paths = [r.path for r in read_report(report)]
    assert sorted(paths) == sorted(os.path.abspath(p) for p in folder.rglob("*.fits"))


def _stuck() -> None:
    time.sleep(600)  # a worker that never comes back (a native library hung)


def test_a_worker_that_does_not_stop_is_killed_and_the_pool_still_stops() -> None:
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
    assert executor.submit(abs, -3).result(timeout=60) == 3
    stuck = executor.submit(_stuck)
    while not stuck.running():  # handed to the worker: shutdown cannot cancel it
        time.sleep(0.01)
    time.sleep(0.5)
    worker = next(iter(executor._processes.values()))
    began = time.monotonic()
    assert stop_pool(executor, within=1.0) is False
    assert time.monotonic() - began < 30
    assert not worker.is_alive()


def test_an_idle_pool_stops_without_killing() -> None:
    context = multiprocessing.get_context("spawn")
    executor = ProcessPoolExecutor(max_workers=1, mp_context=context)
    assert executor.submit(abs, -3).result(timeout=60) == 3
    worker = next(iter(executor._processes.values()))
    assert stop_pool(executor, within=60.0) is True
    assert not worker.is_alive() and worker.exitcode == 0
