"""Pure parts of the alert layer: topics, payloads, commands, discovery (no broker)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import astroiqa_indi.alerts as alerts
from astroiqa_indi.alerts import (
    Command,
    OutgoingMessage,
    Topics,
    alert_message,
    discovery_messages,
    parse_command,
    state_message,
    verdict_messages,
)
from astroiqa_indi.grading import FrameMetrics, Verdict
from tests.alerts._support import make_verdict

TOPICS = Topics(base="astroiqa", rig="rig-1")
NOW = datetime(2024, 3, 9, 21, 30, 5, 123456, tzinfo=UTC)


def test_all_is_complete() -> None:
    public = {n for n in vars(alerts) if not n.startswith("_")} - {"annotations"}
    assert public <= set(alerts.__all__)
    assert all(hasattr(alerts, name) for name in alerts.__all__)


def test_import_loads_no_tensorflow() -> None:
    code = "import sys, astroiqa_indi.alerts; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------------- topics


def test_topics_of_a_rig() -> None:
    assert (TOPICS.frame, TOPICS.last, TOPICS.state, TOPICS.alert) == (
        "astroiqa/rig-1/frame",
        "astroiqa/rig-1/last",
        "astroiqa/rig-1/state",
        "astroiqa/rig-1/alert",
    )
    assert (TOPICS.availability, TOPICS.command, TOPICS.ha_status) == (
        "astroiqa/rig-1/availability",
        "astroiqa/rig-1/command",
        "homeassistant/status",
    )
    nested = Topics(base="home/obs", rig="rig-1", discovery_prefix="ha")
    assert nested.node_id == "home_obs_rig-1"
    assert nested.discovery("sensor", "fwhm") == "ha/sensor/home_obs_rig-1/fwhm/config"


@pytest.mark.parametrize("rig", ["", "my rig", "a/b", "a+", "#"])
def test_bad_rig_names(rig: str) -> None:
    with pytest.raises(ValueError, match="rig name"):
        Topics(base="astroiqa", rig=rig)


@pytest.mark.parametrize("base", ["", "a/#", "a/+/b", "/a", "a/", "a//b"])
def test_bad_base_topics(base: str) -> None:
    with pytest.raises(ValueError, match="base"):
        Topics(base=base, rig="rig")


# ---------------------------------------------------------------------- commands


@pytest.mark.parametrize(
    ("payload", "command"),
    [
        (b"pause", Command.PAUSE),
        (b"RESUME", Command.RESUME),
        (b"  regrade-last\r\n", Command.REGRADE_LAST),
        (b'"pause"', Command.PAUSE),
        (b"regrade_last", None),
        (b"", None),
        (b"\xff\xfe", None),
        (b"pause " * 20, None),
    ],
)
def test_parse_command(payload: bytes, command: Command | None) -> None:
    assert parse_command(payload) is command


@given(st.binary(max_size=200))
def test_parse_command_never_raises(payload: bytes) -> None:
    result = parse_command(payload)
    assert result is None or isinstance(result, Command)


@given(
    st.sampled_from(Command),
    st.text(" \t\r\n", max_size=3),
    st.text(" \t\r\n", max_size=3),
    st.booleans(),
)
def test_parse_command_ignores_case_and_space(
    command: Command, before: str, after: str, upper: bool
) -> None:
    word = command.value.upper() if upper else command.value
    assert parse_command(f"{before}{word}{after}".encode()) is command


# ---------------------------------------------------------------------- payloads


def test_verdict_messages() -> None:
    verdict = make_verdict("bad_seeing", fwhm=4.25)
    frame, last = verdict_messages(verdict, frame_name="a.fits", topics=TOPICS, now=NOW)
    assert (frame.topic, frame.retain, last.topic, last.retain) == (
        "astroiqa/rig-1/frame",
        False,
        "astroiqa/rig-1/last",
        True,
    )
    body = json.loads(frame.payload)
    assert body == {
        **verdict.to_dict(),
        "frame": "a.fits",
        "rig": "rig-1",
        "time": "2024-03-09T21:30:05.123Z",
    }
    assert json.loads(last.payload) == {
        "frame": "a.fits",
        "time": "2024-03-09T21:30:05.123Z",
        "label": "bad_seeing",
        "problem": "ON",
        "confident": True,
        "fwhm_arcsec": 4.25,
        "eccentricity": 0.62,
        "n_stars": 31,
        "background": 1234.5,
        "transparency": None,
        "reasons": ["stars are elongated"],
    }


def test_good_frame_is_no_problem_and_local_time_becomes_utc() -> None:
    local = NOW.astimezone(timezone(timedelta(hours=2)))
    _, last = verdict_messages(make_verdict("good"), frame_name="g", topics=TOPICS, now=local)
    body = json.loads(last.payload)
    assert (body["problem"], body["time"]) == ("OFF", "2024-03-09T21:30:05.123Z")


def test_frame_without_stars_has_null_metrics_and_no_nan() -> None:
    verdict = Verdict(
        label="background_issues",
        probabilities={"background_issues": 1.0},
        metrics=FrameMetrics(n_sources=0, n_stars=0, background=math.nan),
        confident=False,
        timings={"total": math.inf},
    )
    frame, last = verdict_messages(verdict, frame_name="empty", topics=TOPICS, now=NOW)
    assert b"NaN" not in frame.payload and b"Infinity" not in frame.payload
    body = json.loads(last.payload)
    assert (body["fwhm_arcsec"], body["eccentricity"], body["background"]) == (None, None, None)
    assert json.loads(frame.payload)["timings"] == {"total": None}


def test_alert_message() -> None:
    message = alert_message(
        "pausing",
        label="bad_tracking",
        reason="4 of 5",
        severity="warning",
        fields={"frames": 7, "ratio": 0.5},
        topics=TOPICS,
        now=NOW,
    )
    assert (message.topic, message.retain) == ("astroiqa/rig-1/alert", False)
    assert json.loads(message.payload) == {
        "event_type": "warning",
        "text": "pausing",
        "label": "bad_tracking",
        "reason": "4 of 5",
        "severity": "warning",
        "rig": "rig-1",
        "time": "2024-03-09T21:30:05.123Z",
        "fields": {"frames": 7, "ratio": 0.5},
    }


def test_alert_message_refuses_bad_input() -> None:
    common = {"label": "good", "reason": "", "topics": TOPICS, "now": NOW}
    with pytest.raises(ValueError, match="severity"):
        alert_message("x", severity="panic", fields={}, **common)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="object"):
        alert_message("x", severity="info", fields={"o": object()}, **common)  # type: ignore[arg-type]


def test_state_message() -> None:
    assert state_message(" paused\n", topics=TOPICS) == OutgoingMessage(
        "astroiqa/rig-1/state", b"paused", retain=True
    )
    with pytest.raises(ValueError, match="state"):
        state_message("  ", topics=TOPICS)


def test_outgoing_message_refuses_wildcards() -> None:
    with pytest.raises(ValueError, match="topic"):
        OutgoingMessage("a/#", b"")


# ---------------------------------------------------------------------- discovery


def test_discovery_configs() -> None:
    messages = discovery_messages(TOPICS, sw_version="9.9")
    assert all(m.retain for m in messages)
    configs = {m.topic: json.loads(m.payload) for m in messages}
    ids = [c["unique_id"] for c in configs.values()]
    assert len(set(ids)) == len(ids) == 9
    for topic, config in configs.items():
        prefix, component, node, object_id, leaf = topic.split("/")
        assert (prefix, node, leaf) == ("homeassistant", "astroiqa_rig-1", "config")
        assert config["unique_id"] == f"astroiqa_rig-1_{object_id}"
        assert config["device"] == {
            "identifiers": ["astroiqa_rig-1"],
            "name": "astroiqa rig-1",
            "manufacturer": "astroiqa-indi",
            "model": "frame quality agent",
            "sw_version": "9.9",
        }
        assert config["availability_topic"] == "astroiqa/rig-1/availability"
        assert component in {"sensor", "binary_sensor", "event"}
    fwhm = configs["homeassistant/sensor/astroiqa_rig-1/fwhm/config"]
    assert fwhm["state_topic"] == "astroiqa/rig-1/last"
    assert fwhm["value_template"] == "{{ value_json.fwhm_arcsec }}"
    assert fwhm["unit_of_measurement"] == "arcsec"
    problem = configs["homeassistant/binary_sensor/astroiqa_rig-1/problem/config"]
    assert (problem["device_class"], problem["payload_on"], problem["payload_off"]) == (
        "problem",
        "ON",
        "OFF",
    )
    assert problem["value_template"] == "{{ value_json.problem }}"
    event = configs["homeassistant/event/astroiqa_rig-1/alert/config"]
    assert event["state_topic"] == "astroiqa/rig-1/alert"
    assert event["event_types"] == ["info", "warning", "critical"]
    label = configs["homeassistant/sensor/astroiqa_rig-1/label/config"]
    assert label["json_attributes_topic"] == "astroiqa/rig-1/last"


def test_sensor_templates_name_fields_of_the_last_payload() -> None:
    _, last = verdict_messages(make_verdict(), frame_name="f", topics=TOPICS, now=NOW)
    fields = set(json.loads(last.payload))
    for message in discovery_messages(TOPICS, sw_version="1"):
        template = json.loads(message.payload).get("value_template")
        if template is not None:
            key = template.removeprefix("{{ value_json.").removesuffix(" }}")
            assert key in fields, message.topic
