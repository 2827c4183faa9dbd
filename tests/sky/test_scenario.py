"""Night scenarios: files load, the timeline works, segments give their labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulators.sky import RIGS, SCENARIO_DIR, Scenario, label_of, load_scenario, render_frame

SCENARIOS = sorted(SCENARIO_DIR.glob("*.yaml"))


def test_there_are_scenarios() -> None:
    names = {p.stem for p in SCENARIOS}
    assert "night-with-faults" in names
    assert len(names) >= 2


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_loads_and_segments_give_their_label(path: Path) -> None:
    sc = load_scenario(path)
    assert isinstance(sc, Scenario) and sc.duration_s > 0
    rig = RIGS[sc.rig] if sc.rig else RIGS["seestar_s50"]
    for seg in sc.segments:
        # ramps end where the label holds; constant segments hold it throughout
        at = seg.start_s + (0.95 if seg.ramp else 0.5) * seg.duration_s
        cond, got = sc.conditions_at(at, rig)
        assert got == seg
        assert cond.exposure_s == sc.exposure_s
        _, _, truth = render_frame(rig, cond, np.random.default_rng(0), size=(192, 192))
        assert label_of(truth, rig)[0] == seg.label, (seg.name, truth)


def test_night_with_faults_timeline() -> None:
    sc = load_scenario(next(p for p in SCENARIOS if p.stem == "night-with-faults"))
    rig = RIGS["seestar_s50"]
    names = [s.name for s in sc.segments]
    assert names[0] == "clear" and names[-1] == "clear-again"
    assert sc.segment_at(0)[0].name == "clear"
    assert sc.segment_at(sc.duration_s + 1)[0].name == "clear"  # loops
    c1, _ = sc.conditions_at(10, rig)
    c2, _ = sc.conditions_at(200, rig)
    assert c1.field_seed == c2.field_seed  # same target all night
    assert c1.path_seed != sc.conditions_at(15, rig)[0].path_seed  # the wind changes
    a, _ = sc.conditions_at(sc.segments[3].start_s + 1, rig)
    b, _ = sc.conditions_at(sc.segments[3].start_s + 80, rig)
    assert a.transparency > 0.8 > 0.3 > b.transparency  # clouds roll in
    assert sc.conditions_at(12.5, rig)[0] == sc.conditions_at(12.5, rig)[0]  # deterministic


def test_stars_and_target_keep_their_brightness_all_night() -> None:
    sc = load_scenario(next(p for p in SCENARIOS if p.stem == "thin-cloud"))
    rig = RIGS["edgehd8_asi294mc_reducer"]
    nights = [sc.conditions_at(s.start_s + 1, rig)[0] for s in sc.segments]
    assert len({c.sky_ratio for c in nights}) > 1  # the sky changes...
    for key in ("faint_flux_e", "target_size_px", "target_snr", "field_seed"):
        assert len({getattr(c, key) for c in nights}) == 1, key  # ...the stars do not
    assert nights[0].faint_flux_e > 0
    # tests/grading/test_session.py measures the rendered fluxes against the veil.


def test_bad_scenarios_are_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments:\n  - {name: x, duration_s: 10, label: nope}\n")
    with pytest.raises(ValueError, match="unknown label"):
        load_scenario(bad)
    bad.write_text("segments:\n  - {name: x, duration_s: 10, label: good, set: {warp: 1}}\n")
    with pytest.raises(ValueError, match="unknown condition field"):
        load_scenario(bad)
    bad.write_text("segmentz: []\n")
    with pytest.raises(ValueError, match="segments"):
        load_scenario(bad)
