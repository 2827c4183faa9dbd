"""``astroiqa-indi grade`` on simulated folders, graded in this process (``--jobs 1``)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from astropy.io import fits

from astroiqa_indi.actions import MANIFEST_NAME
from astroiqa_indi.batch import BatchOptions, FrameResult, grade_paths, read_report
from astroiqa_indi.cli import main
from astroiqa_indi.labels import LABELS
from tests.batch._tree import Tree

pytestmark = pytest.mark.slow  # trains the session's tiny model on first use


def _digests(root: Path) -> dict[Path, str]:
    return {
        p: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _abs(paths: object) -> set[str]:
    return {os.path.abspath(p) for p in paths}  # type: ignore[attr-defined]


def test_single_frame_keeps_the_minimal_contract(
    tiny_model: Path, sky_frames: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    frame = str(sky_frames[0])
    assert main(["grade", "--model", str(tiny_model), frame]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{frame}: ")
    assert out[0].split()[1] in LABELS
    assert all(line.startswith("    ") for line in out[1:]), "no summary for one frame"

    assert main(["grade", "--model", str(tiny_model), "--json", frame]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert payload["path"] == frame
    assert {"label", "probabilities", "metrics", "reasons"} <= set(payload)
    assert set(payload["probabilities"]) == set(LABELS)


def test_folder_report_lists_every_light_frame_once(
    tree: Tree, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out" / "night.csv"
    before = _digests(tree.root)
    model = ["--model", str(tiny_model), "--jobs", "1"]
    code = main(["grade", str(tree.root), "-r", "--report", str(report), "--json", *model])
    captured = capsys.readouterr()
    assert code == 1, "an unreadable frame makes the exit status 1"
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert {line["path"] for line in lines} == {str(p) for p in (*tree.lights, tree.corrupt)}
    assert len(lines) == len(tree.lights) + 1
    errors = [line for line in lines if "error" in line]
    assert [e["path"] for e in errors] == [str(tree.corrupt)]

    rows = read_report(report)
    assert sorted(r.path for r in rows) == sorted(_abs([*tree.lights, tree.corrupt]))
    by_path = {r.path: r for r in rows}
    broken = by_path[os.path.abspath(tree.corrupt)]
    assert broken.label is None and broken.error and "light_008.fits" in broken.error
    for light in tree.lights:
        row = by_path[os.path.abspath(light)]
        assert row.label in LABELS and row.error is None
        assert row.time is not None and row.time.year >= 2000, "DATE-OBS from the header"
        assert sum(row.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert "1 dark" in captured.err and "skipped" in captured.err
    assert report.with_suffix(".png").read_bytes().startswith(b"\x89PNG")
    assert _digests(tree.root) == before, "grading alone never modifies a frame"


def test_resume_grades_only_what_is_missing(tree: Tree, tiny_model: Path, tmp_path: Path) -> None:
    report = tmp_path / "night.csv"
    options = BatchOptions(model_dir=tiny_model, report=report, jobs=1)
    first = grade_paths([tree.root / "night1"], options=options)
    night1 = [p for p in tree.lights if p.parent == tree.root / "night1"]
    assert first.graded == len(night1) and first.already_done == 0
    # A crash while writing a row leaves a torn line; resuming drops it.
    with report.open("ab") as fh:
        fh.write(b"/torn/row.fits,2024")
    options = replace(options, recursive=True, resume=True)
    second = grade_paths([tree.root], options=options)
    assert second.already_done == len(night1)
    assert second.graded == len(tree.lights) - len(night1)
    assert [p for p, _ in second.errors] == [tree.corrupt]
    # A file that could not be read is tried again (a frame still being written the
    # first time); the report keeps one row per frame, its last.
    third = grade_paths([tree.root], options=options)
    assert (third.graded, [p for p, _ in third.errors]) == (0, [tree.corrupt])
    assert third.already_done == len(tree.lights)
    paths = [r.path for r in read_report(report)]
    assert sorted(paths) == sorted(_abs([*tree.lights, tree.corrupt]))
    assert len(third.records) == len(paths)
    tree.corrupt.write_bytes(tree.lights[0].read_bytes())  # the capture finished
    fourth = grade_paths([tree.root], options=options)
    assert (fourth.graded, fourth.errors) == (1, ())
    records = {r.path: r for r in read_report(report)}
    assert len(records) == len(paths)
    whole = records[os.path.abspath(tree.corrupt)]
    assert whole.error is None and whole.label is not None
    assert len(report.read_text().splitlines()) == 1 + len(paths) + 2  # header, rows, retries


def test_ctrl_c_keeps_what_was_written(tree: Tree, tiny_model: Path, tmp_path: Path) -> None:
    report = tmp_path / "night.csv"
    seen: list[FrameResult] = []

    def stop_after_two(result: FrameResult) -> None:
        seen.append(result)
        if len(seen) == 2:
            raise KeyboardInterrupt  # what a Ctrl-C does at this point

    options = BatchOptions(recursive=True, model_dir=tiny_model, report=report, jobs=1)
    result = grade_paths([tree.root], options=options, on_frame=stop_after_two)
    assert result.interrupted
    total = len(tree.lights) + 2  # + the dark and the corrupt frame
    assert result.not_graded == total - 2
    recorded = [r.path for r in read_report(report)]
    assert recorded == [os.path.abspath(r.path) for r in seen if r.status != "skipped"]
    resumed = grade_paths([tree.root], options=replace(options, resume=True))
    assert not resumed.interrupted
    paths = [r.path for r in read_report(report)]
    assert sorted(paths) == sorted(_abs([*tree.lights, tree.corrupt]))


def test_ctrl_c_while_a_frame_is_graded_counts_it_as_left(
    tree: Tree, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astroiqa_indi.batch import _local

    calls: list[str] = []
    real = _local.grade_file

    def interrupted_on_the_third(path: str, *args: object) -> object:
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C inside the grading of this process
        return real(path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_local, "grade_file", interrupted_on_the_third)
    report = tmp_path / "night.csv"
    options = BatchOptions(recursive=True, model_dir=tiny_model, report=report, jobs=1)
    result = grade_paths([tree.root], options=options)
    assert result.interrupted
    assert result.graded + len(result.errors) + len(result.skipped) == 2  # the first two
    total = len(tree.lights) + 2  # + the dark and the corrupt frame
    assert result.not_graded == total - 2  # the third is left too
    monkeypatch.setattr(_local, "grade_file", real)
    again: list[FrameResult] = []
    grade_paths([tree.root], options=replace(options, resume=True), on_frame=again.append)
    assert calls[2] in {str(r.path) for r in again}


def test_resume_through_a_linked_folder_knows_the_frames(
    tree: Tree, tiny_model: Path, tmp_path: Path
) -> None:
    # Graded as /data/night (a link to /mnt/disk/night), resumed from inside it,
    # where the shell's working directory is the real path.
    alias = tmp_path / "alias"
    alias.symlink_to(tree.root / "night1", target_is_directory=True)
    report = tmp_path / "night.csv"
    options = BatchOptions(model_dir=tiny_model, report=report, jobs=1)
    first = grade_paths([alias], options=options)
    assert first.graded > 0
    again = grade_paths([tree.root / "night1"], options=replace(options, resume=True))
    assert (again.graded, again.already_done) == (0, first.graded)


def _labels(report: Path) -> dict[str, str]:
    return {r.path: r.label for r in read_report(report) if r.label is not None}


def test_move_rejected_then_undo(
    tree: Tree, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ["--model", str(tiny_model), "--jobs", "1", "-q"]
    main(["grade", str(tree.root), "-r", "--report", str(tmp_path / "first.csv"), *model])
    labels = list(_labels(tmp_path / "first.csv").values())
    assert len(set(labels)) >= 2, "need accepted and rejected frames to test moves"
    keep = max(set(labels), key=labels.count)
    before = {os.path.abspath(p): d for p, d in _digests(tree.root).items()}
    rejects = tree.root / "rejected"  # inside the graded tree: must never be graded
    report = tmp_path / "moves.csv"
    actions = ["--keep", keep, "--move-rejected", str(rejects)]
    code = main(["grade", str(tree.root), "-r", "--report", str(report), *actions, *model])
    assert code == 1  # the corrupt frame
    rows = {r.path: r for r in read_report(report)}
    rejected = {p for p, r in rows.items() if r.label not in (None, keep)}
    accepted = {p for p, r in rows.items() if r.label == keep}
    assert rejected and accepted
    for path in rejected:
        assert not Path(path).exists()
        (moved,) = (a for a in rows[path].actions if a.startswith("moved:"))
        target = Path(moved.removeprefix("moved:"))
        assert target.parent == rejects
        assert hashlib.sha256(target.read_bytes()).hexdigest() == before[path]
    for path in accepted:
        assert Path(path).exists() and rows[path].actions == ()
    assert tree.corrupt.exists() and tree.dark.exists()
    manifest = rejects / MANIFEST_NAME
    assert len(manifest.read_text().splitlines()) == len(rejected)

    again = grade_paths(
        [tree.root], options=BatchOptions(recursive=True, model_dir=tiny_model, jobs=1)
    )
    assert again.graded == len(accepted), "the reject folder is passed over"
    assert (rejects, f"reject folder (holds {MANIFEST_NAME})") in again.ignored

    capsys.readouterr()
    assert main(["grade", "--undo-moves", str(rejects)]) == 0
    assert f"{len(rejected)} frames restored" in capsys.readouterr().out
    after = {os.path.abspath(p): d for p, d in _digests(tree.root).items()}
    assert set(after) - set(before) == {str(manifest)}, "the manifest is kept"
    assert all(after[p] == d for p, d in before.items())


def test_links_siril_and_list_of_accepted_frames(
    tree: Tree, tiny_model: Path, tmp_path: Path
) -> None:
    before = _digests(tree.root)
    links, siril, listing = tmp_path / "links", tmp_path / "siril", tmp_path / "accepted.txt"
    options = BatchOptions(
        recursive=True,
        model_dir=tiny_model,
        jobs=1,
        keep=frozenset(LABELS),  # every graded light is accepted
        link_accepted=links,
        siril=siril,
        accepted_list=listing,
    )
    result = grade_paths([tree.root], options=options)
    lights = _abs(tree.lights)
    assert {os.path.realpath(p) for p in links.iterdir()} == {os.path.realpath(p) for p in lights}
    assert len(list(links.iterdir())) == len(lights), "same names in two nights both linked"
    assert {os.path.realpath(p) for p in (siril / "lights").iterdir()} == {
        os.path.realpath(p) for p in lights
    }
    script = result.outputs["siril_script"].read_text()
    assert f"Stacks the {len(lights)} frames" in script and "register light" in script
    assert set(listing.read_text().splitlines()) == lights
    assert _digests(tree.root) == before, "links and lists never modify a frame"


def test_write_keywords_edits_fits_originals_only(
    tree: Tree, tiny_model: Path, tmp_path: Path
) -> None:
    options = BatchOptions(
        recursive=True, model_dir=tiny_model, jobs=1, write_keywords=True, report=tmp_path / "r.csv"
    )
    result = grade_paths([tree.root], options=options)
    labels = _labels(tmp_path / "r.csv")
    failed = {p for p, _ in result.action_errors}
    for light in tree.lights:
        name = light.name.lower()
        if name.endswith((".fits", ".fit", ".fits.fz")):
            header = fits.getheader(light, ext=1 if name.endswith(".fz") else 0)
            assert header["IQACLASS"] == labels[os.path.abspath(light)]
        else:  # gzip and XISF cannot take keywords in place: recorded, not fatal
            assert light in failed


def test_missing_model_is_a_clear_error(
    tree: Tree, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["grade", str(tree.root), "-r", "--model", str(tmp_path), "--jobs", "1"])
    assert code == 1
    assert "model.json missing" in capsys.readouterr().err


def test_missing_dask_is_a_clear_error(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "astroiqa_indi.batch._dask", raising=False)
    code = main(["grade", str(tree.root), "-r", "--dask", "local"])
    assert code == 1
    assert "pip install 'astroiqa-indi[dask]'" in capsys.readouterr().err


def test_importing_batch_loads_neither_tensorflow_nor_dask() -> None:
    code = (
        "import sys, astroiqa_indi.batch, astroiqa_indi.cli._grade; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'tensorflow', 'keras', 'distributed', 'dask', 'simulators'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unwritable_output_is_reported_not_fatal(
    tree: Tree, tiny_model: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    options = BatchOptions(
        model_dir=tiny_model, jobs=1, keep=frozenset(LABELS), link_accepted=blocker / "links"
    )
    result = grade_paths([tree.root / "night1"], options=options)
    night1 = [p for p in tree.lights if p.parent == tree.root / "night1"]
    assert result.graded == len(night1)
    (failure,) = result.action_errors
    assert failure[0] == blocker / "links" and failure[1].startswith("links:")
    assert "links" not in result.outputs


def test_a_frame_name_that_is_not_utf8_is_graded_reported_and_resumed(
    tree: Tree, tiny_model: Path, tmp_path: Path
) -> None:
    # A Latin-1 name from an old camera share: printing it, its report row and the
    # list of accepted frames must not end the run after the frame was handled.
    night = tmp_path / "night"
    night.mkdir()
    name = os.fsdecode(b"Nacht_M\xe9_001.fits")
    (night / name).write_bytes(tree.lights[0].read_bytes())
    (night / "plain_002.fits").write_bytes(tree.lights[1].read_bytes())
    report, listing = tmp_path / "night.csv", tmp_path / "accepted.txt"
    command = [sys.executable, "-m", "astroiqa_indi", "grade", str(night), "--jobs", "1"]
    command += ["--model", str(tiny_model), "--report", str(report)]
    command += ["--keep", ",".join(LABELS), "--accepted-list", str(listing)]
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict"}
    first = subprocess.run(command, capture_output=True, env=env, timeout=300)
    assert first.returncode == 0, first.stderr.decode(errors="replace")[-2000:]
    assert os.fsencode(night / name) + b": " in first.stdout  # its bytes, as ls shows them
    assert sorted(r.frame for r in read_report(report)) == sorted([name, "plain_002.fits"])
    assert os.fsencode(night / name) in listing.read_bytes().splitlines()
    again = subprocess.run([*command, "--resume"], capture_output=True, env=env, timeout=300)
    assert (
        again.returncode == 0 and b"already in the report, not graded again: 2" in again.stdout
    ), again.stdout


def test_a_frame_the_grader_fails_on_is_an_error_row_not_the_end_of_the_run(
    tree: Tree, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from astroiqa_indi.grading import Grader
    from tests._faults import grade_failing_on

    monkeypatch.setattr(Grader, "grade", grade_failing_on(2))  # a bug on one odd frame
    report = tmp_path / "night.csv"
    options = BatchOptions(recursive=True, model_dir=tiny_model, report=report, jobs=1)
    result = grade_paths([tree.root], options=options)
    failed = [detail for _, detail in result.errors if "grading failed" in detail]
    assert len(failed) == 1 and "ValueError: data must be finite" in failed[0]
    assert result.graded == len(tree.lights) - 1 and not result.interrupted


def test_a_folder_without_frames_says_so_and_what_it_passed_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    night = tmp_path / "night"
    (night / "lights").mkdir(parents=True)
    (night / "lights" / "light_001.fits").write_bytes(b"")  # one folder down
    (night / "notes.txt").write_text("seeing 2.5")
    assert main(["grade", str(night)]) == 0
    err = capsys.readouterr().err
    assert f"no frames found in {night}" in err
    assert "lights: sub-folder (use --recursive)" in err
    assert "notes.txt: not a frame file name" in err
