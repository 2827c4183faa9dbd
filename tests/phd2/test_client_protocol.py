"""Our client's pure parser on PHD2's documented messages (no sockets)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from astroiqa_indi.actions import (
    AppStateEvent,
    GuideStepEvent,
    OtherEvent,
    PausedEvent,
    Phd2AppState,
    Phd2Client,
    SettleDoneEvent,
    SettleParams,
    StarLostEvent,
    VersionEvent,
)
from astroiqa_indi.actions._phd2_protocol import (
    RpcError,
    RpcResponse,
    encode_request,
    parse_message,
)
from astroiqa_indi.errors import GuiderError
from tests.phd2 import _doc_examples as doc


def test_documented_version_event() -> None:
    event = parse_message(doc.VERSION_EVENT.encode())
    assert event == VersionEvent(
        timestamp=1372082668.897,
        host="AGALASSO",
        inst=1,
        phd_version="2.0.4",
        phd_subver="a",
        msg_version=1,
        overlap_support=False,
    )
    assert event.name == "Version"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (doc.GET_EXPOSURE_RESPONSE, RpcResponse(id=1, result=1000)),
        (doc.SET_EXPOSURE_RESPONSE, RpcResponse(id=2, result=0)),
        (
            doc.SET_EXPOSURE_ERROR_RESPONSE,
            RpcResponse(id=3, error=RpcError(code=1, message="could not set exposure duration")),
        ),
    ],
)
def test_documented_responses(line: str, expected: RpcResponse) -> None:
    assert parse_message(line.encode()) == expected


@pytest.mark.parametrize("line", [doc.GUIDE_STEP_FROM_TABLE, doc.GUIDE_STEP_TABLE_SPELLING])
def test_guide_step_in_phd2_and_in_wiki_spelling(line: str) -> None:
    step = parse_message(line.encode())
    assert isinstance(step, GuideStepEvent)
    assert (step.ra_distance_raw, step.dec_distance_raw) == (0.45, -0.12)
    assert (step.ra_distance_guide, step.dec_distance_guide) == (0.31, -0.08)
    assert (step.ra_duration_ms, step.ra_direction) == (75, "East")
    assert (step.dec_duration_ms, step.dec_direction) == (20, "North")
    assert (step.frame, step.time, step.mount, step.hfd) == (7, 14.2, "Mount", 2.31)
    assert not step.ra_limited and step.error_code == 0


def test_guide_step_without_pulses_has_zero_durations() -> None:
    obj = json.loads(doc.GUIDE_STEP_FROM_TABLE)
    for key in ("RADuration", "RADirection", "DECDuration", "DECDirection"):
        del obj[key]
    step = parse_message(json.dumps(obj).encode())
    assert isinstance(step, GuideStepEvent)
    assert step.ra_duration_ms == 0 and step.ra_direction is None


def test_state_events_and_settle_done() -> None:
    app_state = parse_message(
        b'{"Event":"AppState","Timestamp":1,"Host":"h","Inst":1,"State":"LostLock"}'
    )
    assert app_state == AppStateEvent(timestamp=1, host="h", state=Phd2AppState.LOST_LOCK)
    assert isinstance(
        parse_message(b'{"Event":"Paused","Timestamp":2,"Host":"h","Inst":1}'), PausedEvent
    )
    failed = parse_message(
        b'{"Event":"SettleDone","Timestamp":3,"Host":"h","Inst":1,"Status":1,'
        b'"Error":"timed-out waiting for guider to settle","TotalFrames":30,"DroppedFrames":2}'
    )
    assert isinstance(failed, SettleDoneEvent) and not failed.ok and failed.dropped_frames == 2
    lost = parse_message(
        b'{"Event":"StarLost","Timestamp":4,"Host":"h","Inst":1,"Frame":9,"Time":18.1,'
        b'"StarMass":0,"SNR":0,"AvgDist":0.2,"ErrorCode":1,"Status":"Star lost - low SNR"}'
    )
    assert isinstance(lost, StarLostEvent) and lost.status == "Star lost - low SNR"


def test_unmodelled_events_keep_their_attributes() -> None:
    event = parse_message(b'{"Event":"GuideParamChange","Timestamp":5,"Name":"x","Value":3}')
    assert isinstance(event, OtherEvent)
    assert event.name == "GuideParamChange" and dict(event.attributes) == {"Name": "x", "Value": 3}


def test_batch_answer_is_a_list_of_responses() -> None:
    batch = parse_message(
        b'[{"jsonrpc":"2.0","result":0,"id":1},{"jsonrpc":"2.0","result":1,"id":2}]'
    )
    assert batch == [RpcResponse(id=1, result=0), RpcResponse(id=2, result=1)]


@pytest.mark.parametrize(
    "line",
    [
        b"not json",
        b"[1, 2]",
        b'"just a string"',
        b'{"something": 1}',
        b'{"Event":"AppState","Timestamp":1,"State":"Dancing"}',
        b'{"Event":"GuideStep","Timestamp":1,"Frame":1,"Time":1,"Mount":"m","dx":0,"dy":0}',
        b'{"Event":"GuideStep","Timestamp":1,"Frame":true,"Time":1,"Mount":"m","dx":0,"dy":0,'
        b'"RADistanceRaw":0,"DECDistanceRaw":0}',
        b'{"Event":"Version","Timestamp":NaN,"PHDVersion":"2","PHDSubver":""}',
        b'{"jsonrpc":"2.0","error":"bad","id":1}',
        b"\xff\xfe",
    ],
)
def test_malformed_lines_raise_guider_error(line: bytes) -> None:
    with pytest.raises(GuiderError):
        parse_message(line)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parser_raises_only_guider_error_on_any_bytes(line: bytes) -> None:
    with contextlib.suppress(GuiderError):
        parse_message(line)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(
        ["GuideStep", "StarLost", "Settling", "SettleDone", "AppState", "Version", "X"]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "Frame",
                "Time",
                "Mount",
                "dx",
                "dy",
                "RADistanceRaw",
                "DECDistanceRaw",
                "Status",
                "Error",
                "State",
                "Distance",
                "SettleTime",
                "StarLocked",
            ]
        ),
        _json_values,
    ),
)
def test_events_with_any_attribute_values_parse_or_raise_guider_error(
    name: str, attrs: dict
) -> None:
    line = json.dumps({"Event": name, "Timestamp": 1.0, **attrs}).encode()
    with contextlib.suppress(GuiderError):
        parse_message(line)


def test_requests_are_json_rpc_2_lines() -> None:
    line = encode_request("set_paused", [True, "full"], 42)
    assert line.endswith(b"\r\n")
    assert json.loads(line) == {
        "jsonrpc": "2.0",
        "method": "set_paused",
        "params": [True, "full"],
        "id": 42,
    }
    # Same request as the wiki's set_paused example, apart from the optional "jsonrpc".
    documented = json.loads(doc.SET_PAUSED_FULL_REQUEST)
    assert {k: v for k, v in json.loads(line).items() if k != "jsonrpc"} == documented
    assert "params" not in json.loads(encode_request("get_app_state", None, 1))


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="rms_window"):
        Phd2Client(rms_window=1)
    with pytest.raises(ValueError, match="timeouts"):
        Phd2Client(request_timeout=0)
    with pytest.raises(ValueError, match="settle pixels"):
        SettleParams(pixels=0)
    with pytest.raises(ValueError, match="settle timeout"):
        SettleParams(timeout=float("nan"))
