"""The simulator's pure layers: request parsing and the guider state machine (no sockets)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.phd2 import GuideConditions, GuiderEngine, GuiderState
from simulators.phd2._protocol import (
    INTERNAL_ERROR,
    INVALID_REQUEST,
    PARSE_ERROR,
    RpcFailure,
    RpcRequest,
    RpcResult,
    encode_event,
    named_params,
    parse_request_line,
)
from tests.phd2 import _doc_examples as doc


def _call(engine: GuiderEngine, method: str, params: object = None) -> tuple[object, list]:
    handled = engine.call(method, params)
    assert handled is not None, method
    outcome, events = handled
    return outcome, events


def _names(events: list) -> list[str]:
    return [name for name, _attrs in events]


def _run_until(engine: GuiderEngine, name: str, limit: int = 100) -> list:
    seen: list = []
    for _ in range(limit):
        seen += engine.tick()
        if name in _names(seen):
            return seen
    raise AssertionError(f"no {name} within {limit} frames: {_names(seen)}")


def _guiding(**kwargs: object) -> GuiderEngine:
    engine = GuiderEngine(exposure_s=2.0, **kwargs)  # type: ignore[arg-type]
    settle = json.loads(doc.GUIDE_REQUEST)["params"]
    _call(engine, "guide", settle)
    _run_until(engine, "SettleDone")
    assert engine.state is GuiderState.GUIDING
    return engine


# --------------------------------------------------------------- protocol layer
def test_doc_requests_parse_as_documented() -> None:
    items, batch = parse_request_line(doc.SET_PAUSED_FULL_REQUEST.encode())
    assert not batch
    assert items == [RpcRequest(method="set_paused", params=[True, "full"], id=42, has_id=True)]
    (guide,), _ = parse_request_line(doc.GUIDE_REQUEST_WITH_ROI.encode())
    assert isinstance(guide, RpcRequest)
    assert named_params(guide.params, ("settle", "recalibrate", "roi"))["roi"] == [
        20,
        -50,
        1280,
        960,
    ]


def test_positional_and_named_params_mean_the_same() -> None:
    names = ("paused", "type")
    assert named_params([True, "full"], names) == named_params(
        {"paused": True, "type": "full"}, names
    )
    assert named_params(None, names) == {}


def test_event_line_is_compact_crlf_json_with_common_attributes_first() -> None:
    line = encode_event("Paused", {}, timestamp=1372082668.8974, host="h", inst=1)
    assert line.endswith(b"\r\n") and line.count(b"\n") == 1
    assert list(json.loads(line)) == ["Event", "Timestamp", "Host", "Inst"]
    assert json.loads(line)["Timestamp"] == 1372082668.897


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b"not json", PARSE_ERROR),
        (b'{"params": []}', INVALID_REQUEST),
        (b'{"method": "x", "params": 3, "id": 1}', INVALID_REQUEST),
        (b'{"method": "' + b"x" * 1100 + b'", "id": 1}', INTERNAL_ERROR),
    ],
)
def test_bad_request_lines_become_error_responses(line: bytes, code: int) -> None:
    (item,), _batch = parse_request_line(line)
    assert isinstance(item, dict)
    assert item["error"]["code"] == code
    assert item["id"] is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_request_parser_never_raises(line: bytes) -> None:
    items, _batch = parse_request_line(line)
    for item in items:
        assert isinstance(item, RpcRequest | dict)


# ---------------------------------------------------------------- state machine
def test_catch_up_starts_with_version_and_ends_with_app_state() -> None:
    events = GuiderEngine().catch_up()
    assert events[0][0] == "Version" and events[-1] == ("AppState", {"State": "Stopped"})
    engine = _guiding(seed=1)
    names = _names(engine.catch_up())
    assert names[0] == "Version" and names[-1] == "AppState"
    assert {"LockPositionSet", "StarSelected", "CalibrationComplete", "StartGuiding"} <= set(names)


def test_guide_from_stopped_loops_selects_calibrates_guides_and_settles() -> None:
    engine = GuiderEngine(exposure_s=2.0, calibration_steps=2)
    outcome, events = _call(engine, "guide", {"settle": {"pixels": 1.5, "time": 4, "timeout": 60}})
    assert outcome == RpcResult(0) and events == []
    seen = _run_until(engine, "SettleDone")
    names = _names(seen)
    order = [
        "LoopingExposures",
        "StarSelected",
        "StartCalibration",
        "Calibrating",
        "CalibrationComplete",
        "StartGuiding",
        "SettleBegin",
        "GuideStep",
        "Settling",
    ]
    assert [names.index(n) for n in order] == sorted(names.index(n) for n in order)
    done = dict(seen)["SettleDone"]
    # In range from the first guide frame; 4 s at 2 s per frame: done on the third.
    assert done == {"Status": 0, "TotalFrames": 3, "DroppedFrames": 0}
    assert engine.state is GuiderState.GUIDING


def test_guide_while_guiding_only_settles_again() -> None:
    engine = _guiding()
    outcome, events = _call(engine, "guide", {"settle": {"pixels": 1.5, "time": 0, "timeout": 10}})
    assert outcome == RpcResult(0) and _names(events) == ["SettleBegin"]
    assert "StartGuiding" not in _names(_run_until(engine, "SettleDone"))


def test_second_guide_while_settling_is_a_reentrancy_error() -> None:
    engine = GuiderEngine()
    settle = {"settle": {"pixels": 1.5, "time": 4, "timeout": 60}}
    _call(engine, "guide", settle)
    outcome, _ = _call(engine, "guide", settle)
    assert outcome == RpcFailure(1, "Cannot initiate guide while guide is in progress")


def test_pause_skips_guide_steps_and_full_pause_stops_frames() -> None:
    engine = _guiding()
    outcome, events = _call(engine, "set_paused", [True])
    assert outcome == RpcResult(0) and _names(events) == ["Paused"]
    assert engine.state is GuiderState.PAUSED
    assert [engine.tick() for _ in range(3)] == [[], [], []]  # frames taken, no GuideStep
    assert _call(engine, "set_paused", [True]) == (RpcResult(0), [])  # already paused: no event
    outcome, events = _call(engine, "set_paused", [False])
    assert _names(events) == ["Resumed"] and engine.state is GuiderState.GUIDING
    assert _names(engine.tick()) == ["GuideStep"]
    _call(engine, "set_paused", {"paused": True, "type": "full"})
    time_before = engine._now
    assert engine.tick() == [] and engine._now == time_before  # no exposure at all


def test_paused_looping_keeps_looping_exposures() -> None:
    engine = GuiderEngine()
    _call(engine, "loop")
    _call(engine, "set_paused", [True])
    assert _names(engine.tick()) == ["LoopingExposures"]
    _call(engine, "set_paused", [True, "full"])  # already paused: stays a guiding pause
    assert _names(engine.tick()) == ["LoopingExposures"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "expected bool param at index 0"),
        (["yes"], "expected bool param at index 0"),
        ([True, 3], "expected string param at index 1"),
    ],
)
def test_set_paused_rejects_bad_params_like_phd2(params: list, message: str) -> None:
    outcome, events = _call(GuiderEngine(), "set_paused", params)
    assert outcome == RpcFailure(-32602, message) and events == []


def test_stop_capture_resumes_first_then_stops_guiding_and_looping() -> None:
    engine = _guiding()
    _call(engine, "set_paused", [True])
    _outcome, events = _call(engine, "stop_capture")
    assert _names(events) == ["Resumed", "GuidingStopped", "LoopingExposuresStopped"]
    assert engine.state is GuiderState.STOPPED
    assert engine.tick() == []


def test_stop_capture_aborts_a_pending_guide_with_a_failed_settle_done() -> None:
    engine = GuiderEngine()
    _call(engine, "guide", {"settle": {"pixels": 1.5, "time": 4, "timeout": 60}})
    _outcome, events = _call(engine, "stop_capture")
    assert events[0] == (
        "SettleDone",
        {"Status": 1, "Error": "guiding stopped", "TotalFrames": 0, "DroppedFrames": 0},
    )


def test_loop_while_guiding_stops_guiding_but_keeps_capturing() -> None:
    engine = _guiding()
    _outcome, events = _call(engine, "loop")
    assert _names(events) == ["GuidingStopped"]
    assert engine.state is GuiderState.SELECTED  # the star stays selected, as in PHD2
    assert _names(engine.tick()) == ["LoopingExposures"]


def test_dither_needs_guiding_then_offsets_and_settles() -> None:
    params = json.loads(doc.DITHER_REQUEST)["params"]
    outcome, _ = _call(GuiderEngine(), "dither", params)
    assert outcome == RpcFailure(1, "Dither error")
    engine = _guiding()
    outcome, events = _call(engine, "dither", params)
    assert outcome == RpcResult(0) and _names(events) == ["GuidingDithered", "SettleBegin"]
    dx, dy = events[0][1]["dx"], events[0][1]["dy"]
    assert abs(dx) <= 10 and abs(dy) <= 10
    first_step = dict(engine.tick())["GuideStep"]
    # The lock position moved: the first step after it carries the offset.
    assert first_step["RADistanceRaw"] == pytest.approx(dx, abs=2.0)
    assert first_step["DECDistanceRaw"] == pytest.approx(dy, abs=2.0)


def test_ra_only_dither_leaves_dec_alone() -> None:
    engine = _guiding()
    params = {"amount": 5, "raOnly": True, "settle": {"pixels": 1.5, "time": 0, "timeout": 20}}
    _outcome, events = _call(engine, "dither", params)
    assert events[0][1]["dy"] == 0.0


def test_settle_times_out_when_guiding_stays_out_of_range() -> None:
    engine = _guiding(conditions=lambda: GuideConditions(rms_arcsec=30.0))
    _call(engine, "guide", {"settle": {"pixels": 0.1, "time": 10, "timeout": 6}})
    done = dict(_run_until(engine, "SettleDone"))["SettleDone"]
    assert done["Status"] == 1 and done["Error"] == "timed-out waiting for guider to settle"
    assert done["TotalFrames"] == 3  # 6 s timeout at 2 s per frame


def test_clouds_lose_the_star_and_clear_skies_recover_it() -> None:
    sky = {"lost": False}
    engine = _guiding(conditions=lambda: GuideConditions(0.6, star_lost=sky["lost"]))
    sky["lost"] = True
    ((name, attrs),) = engine.tick()
    assert name == "StarLost" and attrs["Status"]
    assert engine.state is GuiderState.LOST_LOCK
    sky["lost"] = False
    assert _names(engine.tick()) == ["GuideStep"]
    assert engine.state is GuiderState.GUIDING


@pytest.mark.parametrize("rms_arcsec", [0.5, 2.0, 6.0])
def test_guide_errors_follow_the_scenario_rms(rms_arcsec: float) -> None:
    engine = _guiding(seed=7, pixel_scale=1.5, conditions=lambda: GuideConditions(rms_arcsec))
    steps = [dict(engine.tick())["GuideStep"] for _ in range(600)]
    ra = np.array([s["RADistanceRaw"] for s in steps])
    dec = np.array([s["DECDistanceRaw"] for s in steps])
    total_arcsec = math.hypot(ra.std(), dec.std()) * 1.5
    assert total_arcsec == pytest.approx(rms_arcsec, rel=0.08)


def test_documented_exposure_examples_hold() -> None:
    engine = GuiderEngine(exposure_s=1.0)
    assert _call(engine, "get_exposure") == (RpcResult(1000), [])
    assert _call(engine, "set_exposure", [1500]) == (RpcResult(0), [])
    assert _call(engine, "set_exposure", [1502]) == (
        RpcFailure(1, "could not set exposure duration"),
        [],
    )


def test_unknown_method_is_none_and_known_ones_are_listed() -> None:
    engine = GuiderEngine()
    assert engine.call("no_such_method", None) is None
    assert {
        "get_app_state",
        "set_paused",
        "guide",
        "dither",
        "stop_capture",
        "loop",
        "get_pixel_scale",
        "get_paused",
        "get_connected",
    } <= engine.methods


def test_conditions_and_options_are_validated() -> None:
    with pytest.raises(ValueError, match="rms_arcsec"):
        GuideConditions(rms_arcsec=-1.0)
    with pytest.raises(ValueError, match="pixel_scale"):
        GuiderEngine(pixel_scale=0.0)
    with pytest.raises(ValueError, match="exposure_s"):
        GuiderEngine(exposure_s=0.0)
