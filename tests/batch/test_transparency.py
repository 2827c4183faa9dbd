"""quality.min_transparency across one batch run: a thin cloud against the frames before it.

The night is ``simulators/scenarios/thin-cloud.yaml`` with night seed 516, where the
veil is uniform over a clean sky and the shipped model, judging frames alone, lets
every veiled frame through (``python -m bench.session_transparency``). Graded in
file order, as the live agent would see them, whatever the number of jobs. A slew
to a sparser field is told apart from a veil by the pointing keywords.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
import yaml
from astropy.io import fits

from astroiqa_indi.batch import BatchOptions, FrameResult, grade_paths
from astroiqa_indi.config import Profile, loads_profile
from astroiqa_indi.grading import default_model_dir

pytestmark = pytest.mark.slow

_RIG = "edgehd8_asi294mc_reducer"
_RULE = "stars at "


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    from simulators.observatory import write_night_files
    from simulators.sky import SCENARIO_DIR

    if not (default_model_dir() / "model.json").is_file():
        pytest.fail("the shipped model is missing from astroiqa_indi/grading/model")
    root = tmp_path_factory.mktemp("thin-cloud")
    scenario = yaml.safe_load((SCENARIO_DIR / "thin-cloud.yaml").read_text())
    (root / "night.yaml").write_text(yaml.safe_dump({**scenario, "seed": 516}))
    folder = root / "frames"
    write_night_files(root / "night.yaml", folder, rig=_RIG, size=(640, 480), seed=1)
    truth = [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines()]
    return folder, truth


def _profile(min_transparency: float | None) -> Profile:
    from simulators.sky import RIGS, profile_yaml

    profile = loads_profile(profile_yaml(RIGS[_RIG]))
    quality = dataclasses.replace(profile.quality, min_transparency=min_transparency)
    return dataclasses.replace(profile, quality=quality)


def _grade(folder: Path, min_transparency: float | None, *, jobs: int = 1) -> list[FrameResult]:
    results: list[FrameResult] = []
    grade_paths(
        [folder],
        options=BatchOptions(jobs=jobs),
        profile=_profile(min_transparency),
        on_frame=results.append,
    )
    return results


@pytest.fixture(scope="module")
def judged(night: tuple[Path, list[dict[str, object]]]) -> list[FrameResult]:
    """The night graded in one run with ``min_transparency: 0.5``."""
    return _grade(night[0], 0.5)


def test_thin_cloud_is_flagged_against_the_session_and_clear_frames_are_not(
    night: tuple[Path, list[dict[str, object]]], judged: list[FrameResult]
) -> None:
    folder, truth = night
    alone = _grade(folder, None)
    assert [r.path.name for r in judged] == [t["file"] for t in truth]

    changed = []
    for with_rule, without, true in zip(judged, alone, truth, strict=True):
        assert with_rule.verdict is not None and without.verdict is not None
        if with_rule.verdict.label != without.verdict.label:
            # The rule only ever turns a good call into background_issues, and says so.
            assert without.verdict.label == "good"
            assert with_rule.verdict.label == "background_issues"
            assert with_rule.verdict.reasons[0].startswith(_RULE)
            assert with_rule.accepted is False
            changed.append(true)
        else:
            assert not with_rule.verdict.reasons[0].startswith(_RULE)
    # Never on a frame whose truth is clearly good...
    assert not [t for t in changed if t["label"] == "good" and t["clear"]]
    # ...and it catches the veil that the frames alone let through.
    veiled = [
        (r.verdict.label if r.verdict else None)
        for r, t in zip(judged, truth, strict=True)
        if t["label"] == "background_issues" and t["clear"]
    ]
    assert len(veiled) >= 10
    assert len(changed) >= len(veiled) // 2
    assert veiled.count("background_issues") >= 0.9 * len(veiled), veiled


def test_parallel_workers_give_the_verdicts_of_one(
    night: tuple[Path, list[dict[str, object]]], judged: list[FrameResult]
) -> None:
    # Each frame is judged against the good frames before it, so two workers that
    # finish out of order must still record the frames in file order.
    folder, truth = night
    one = judged
    two = _grade(folder, 0.5, jobs=2)
    assert [r.path.name for r in two] == [t["file"] for t in truth]
    for a, b in zip(one, two, strict=True):
        assert a.verdict is not None and b.verdict is not None
        assert b.verdict.label == a.verdict.label, b.path.name
        assert b.verdict.transparency == pytest.approx(a.verdict.transparency), b.path.name


@pytest.fixture(scope="module")
def two_fields(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Five clear frames of a rich field, then five of a sparse one (night seeds 516
    and 522: the sparse field's brightest stars have a quarter of the flux), the
    same folders with and without the mount's pointing in the headers."""
    from simulators.observatory import write_night_files
    from simulators.sky import SCENARIO_DIR

    root = tmp_path_factory.mktemp("two-fields")
    scenario = yaml.safe_load((SCENARIO_DIR / "thin-cloud.yaml").read_text())
    pointed, blind = root / "pointed", root / "blind"
    pointed.mkdir()
    blind.mkdir()
    fields = (("a", 516, "00 42 44.3", "+41 16 09"), ("b", 522, "01 33 50.9", "+30 39 37"))
    for field, night_seed, ra, dec in fields:
        (root / f"{field}.yaml").write_text(yaml.safe_dump({**scenario, "seed": night_seed}))
        files = write_night_files(
            root / f"{field}.yaml", root / field, rig=_RIG, size=(640, 480), seed=1, count=5
        )
        for item in files:
            name = f"{field}_{item.path.name}"
            shutil.copyfile(item.path, blind / name)
            with fits.open(item.path) as hdus:
                hdus[0].header["OBJCTRA"] = ra
                hdus[0].header["OBJCTDEC"] = dec
                hdus.writeto(pointed / name)
    return pointed, blind


def test_a_slew_to_a_sparser_field_is_not_taken_for_cloud(two_fields: tuple[Path, Path]) -> None:
    pointed, blind = two_fields
    with_pointing = _grade(pointed, 0.5)
    without = _grade(blind, 0.5)
    assert [r.path.name for r in with_pointing] == [r.path.name for r in without]
    assert len(with_pointing) == 10
    # No OBJECT keyword and no pointing: the sparse field reads as a veil over the
    # rich one (the control that shows the fields differ enough)...
    sparse = [r.verdict for r in without[5:] if r.verdict is not None]
    assert [v.label for v in sparse] == ["background_issues"] * 5
    assert all(v.reasons[0].startswith(_RULE) for v in sparse)
    # ...while the pointing keywords tell the two fields apart.
    labels = [r.verdict.label if r.verdict else None for r in with_pointing]
    assert labels == ["good"] * 10
    transparency = [r.verdict.transparency for r in with_pointing if r.verdict is not None]
    # Each field is measured against its own frames once it has three good ones.
    assert transparency[:3] == [None] * 3 and transparency[5:8] == [None] * 3
    assert all(t is not None and 0.8 < t < 1.25 for t in transparency[3:5] + transparency[8:])


def test_a_resumed_run_judges_against_the_frames_graded_before_it(
    night: tuple[Path, list[dict[str, object]]], judged: list[FrameResult], tmp_path: Path
) -> None:
    folder, truth = night
    names = [str(t["file"]) for t in truth]
    # Stop the first run just before the first clearly veiled frame.
    split = next(i for i, t in enumerate(truth) if t["label"] == "background_issues" and t["clear"])
    assert split >= 5
    whole = {r.path.name: r.verdict for r in judged}

    frames = tmp_path / "frames"
    frames.mkdir()
    for name in names[:split]:
        shutil.copyfile(folder / name, frames / name)
    report = tmp_path / "night.csv"
    saved = tmp_path / "night.csv.transparency.json"
    first = grade_paths([frames], options=BatchOptions(report=report), profile=_profile(0.5))
    assert first.graded == split and not first.action_errors
    assert json.loads(saved.read_text())["history"]
    # The same report without the saved reference: a control run.
    blind_report = tmp_path / "blind.csv"
    shutil.copyfile(report, blind_report)
    (tmp_path / "blind.csv.transparency.json").write_text("{not json")

    for name in names[split:]:
        shutil.copyfile(folder / name, frames / name)
    resumed: list[FrameResult] = []
    blind: list[FrameResult] = []
    for options, results in (
        (BatchOptions(report=report, resume=True), resumed),
        (BatchOptions(report=blind_report, resume=True), blind),
    ):
        result = grade_paths(
            [frames], options=options, profile=_profile(0.5), on_frame=results.append
        )
        assert result.already_done == split and result.graded == len(names) - split
        if options.report == blind_report:
            assert [str(p.name) for p, _ in result.action_errors] == ["blind.csv.transparency.json"]
            assert "unreadable" in result.action_errors[0][1]
        else:
            assert not result.action_errors
    # Resumed, every frame gets the verdict of one uninterrupted run...
    for r in resumed:
        expected = whole[r.path.name]
        assert r.verdict is not None and expected is not None
        assert r.verdict.label == expected.label, r.path.name
        assert r.verdict.transparency == pytest.approx(expected.transparency), r.path.name
    # ...where a run without the saved reference judges the first frames after the
    # restart against nothing, and the veil gets through.
    assert [r.verdict.transparency for r in blind[:3] if r.verdict] == [None] * 3
    assert (
        sum(
            r.verdict is not None and r.verdict.label != whole[r.path.name].label  # type: ignore[union-attr]
            for r in blind
        )
        >= 1
    )


def test_a_new_report_forgets_a_reference_left_by_another(tmp_path: Path) -> None:
    # A report deleted and started again, even with --resume in a script: the file
    # beside it is an earlier night's, neither loaded nor kept.
    empty = tmp_path / "frames"
    empty.mkdir()
    for resume in (False, True):
        saved = tmp_path / "night.csv.transparency.json"
        saved.write_text('{"format": 1}')
        result = grade_paths(
            [empty],
            options=BatchOptions(report=tmp_path / "night.csv", resume=resume),
            profile=_profile(0.5),
        )
        assert not saved.exists() and not result.action_errors
        (tmp_path / "night.csv").unlink()
    # Without the rule there is no reference, and nothing beside the report is touched.
    saved.write_text("someone's notes")
    grade_paths(
        [empty], options=BatchOptions(report=tmp_path / "night.csv"), profile=_profile(None)
    )
    assert saved.read_text() == "someone's notes"


def test_paced_saves_leave_the_reference_of_unpaced_ones(
    night: tuple[Path, list[dict[str, object]]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow save (a reference of many fields) is rewritten seldom; the end of the
    # run writes what the pacing held back, so the file is the same.
    from astroiqa_indi.batch import _runner
    from astroiqa_indi.grading import TransparencyReference, save_reference

    folder, _ = night
    # share 1: the wait after a save is as long as the save, far shorter than grading
    # a frame, so every change is saved (the default 5% depends on the machine's pace).
    saved: dict[float, dict[str, object]] = {}
    calls: dict[float, int] = {}
    for share in (1.0, 1e-9):
        calls[share] = 0

        def counted(path: Path, reference: TransparencyReference, share: float = share) -> float:
            calls[share] += 1
            return save_reference(path, reference)

        monkeypatch.setattr(_runner, "_SAVE_SHARE", share)
        monkeypatch.setattr(_runner, "save_reference", counted)
        report = tmp_path / f"{share}.csv"
        grade_paths([folder], options=BatchOptions(report=report), profile=_profile(0.5))
        saved[share] = json.loads(report.with_name(f"{report.name}.transparency.json").read_text())
    unpaced, paced = saved.values()
    assert paced == unpaced and paced["history"]
    # Unpaced: after every frame that changed the reference; paced: the first and the last.
    assert calls[1.0] >= 10 and calls[1e-9] == 2, calls
