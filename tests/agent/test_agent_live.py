"""The agent end to end with real parts: our simulated observatory (INDI over TCP),
the PHD2 simulator, a real mosquitto broker and the shipped model."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from astroiqa_indi.agent import LiveView
from astroiqa_indi.cli._demo import run_simulated_night
from astroiqa_indi.cli._watch import notifier_factory
from astroiqa_indi.config import MqttSettings, default_profile
from astroiqa_indi.grading import Grader, default_model_dir

pytestmark = [pytest.mark.network, pytest.mark.slow]


@pytest.fixture(scope="module")
def grader() -> Grader:
    if not (default_model_dir() / "model.json").is_file():
        pytest.fail("the shipped model is missing from astroiqa_indi/grading/model")
    return Grader.load()


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_night_with_faults_pauses_guiding_alerts_and_resumes(
    tmp_path: Path, grader: Grader, mosquitto_broker: Any
) -> None:
    profile = dataclasses.replace(
        default_profile(),
        mqtt=MqttSettings(host="127.0.0.1", port=mosquitto_broker.port, base_topic="iqa-test"),
    )
    received: list[aiomqtt.Message] = []

    async def observe(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto_broker.port) as client:
            await client.subscribe("iqa-test/#", qos=1)
            await client.subscribe("homeassistant/#", qos=1)
            ready.set()
            frames = 0
            async for message in client.messages:
                received.append(message)
                if message.topic.value == "iqa-test/simulator/frame":
                    frames += 1
                    if frames % 12 == 0:  # a user asks for the newest frame again
                        await client.publish("iqa-test/simulator/command", b"regrade-last", qos=1)

    ready = asyncio.Event()
    observer = asyncio.create_task(observe(ready))
    await asyncio.wait_for(ready.wait(), 10)
    try:
        summary = await run_simulated_night(
            profile,
            grader=grader,
            out=tmp_path,
            time_scale=20.0,
            size=(480, 360),
            notifier_factory=notifier_factory,
            view=LiveView(enabled=False),
        )
        await asyncio.sleep(1.0)  # let the last QoS 1 messages arrive
    finally:
        observer.cancel()

    journal = _lines(tmp_path / "journal.jsonl")
    frames = [r for r in journal if r["kind"] == "frame"]
    events = [r["event"] for r in journal if r["kind"] == "event"]
    truth = _lines(tmp_path / "truth.jsonl")
    assert summary.frames == len(frames) >= 55
    assert summary.frame_errors == 0 and summary.dropped == 0
    assert (tmp_path / "report.csv").is_file() and (tmp_path / "report.png").stat().st_size > 0

    # The fault segment pauses guiding, and the clear sky after it resumes it.
    assert "pause" in events and "resume" in events
    assert events.index("pause") < len(events) - 1 - events[::-1].index("resume")
    pause_frames = [f["index"] for f in frames if "pause_guiding" in f["actions"]]
    assert pause_frames, "no frame triggered pause_guiding"
    first_pause_truth = truth[pause_frames[0] - 1]
    # The pause falls in the faulty part of the night, not on a clear sky.
    assert first_pause_truth["label"] != "good", first_pause_truth

    # The verdicts follow the scenario's truth on clear-cut frames.
    pairs = [
        (f["verdict"]["label"], t["label"])
        for f, t in zip(frames, truth, strict=False)
        if t["clear"]
    ]
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    assert agreement >= 0.8, pairs
    # The profile's min_transparency rule runs in the agent; it never turns a clear
    # good frame into background_issues.
    flagged = [
        t
        for f, t in zip(frames, truth, strict=False)
        if f["verdict"]["reasons"] and f["verdict"]["reasons"][0].startswith("stars at ")
    ]
    assert not [t for t in flagged if t["label"] == "good" and t["clear"]], flagged
    # ...and it measures the good frames after the first few against the earlier ones.
    measured = [f["verdict"]["transparency"] for f in frames if f["verdict"]["transparency"]]
    assert len(measured) >= 10

    # regrade-last grades the newest saved frame again, against the session as it
    # stood when the frame came in: the same label and measured transparency.
    regrades = [r for r in journal if r["kind"] == "event" and r["event"] == "regrade"]
    assert len(regrades) >= 3
    by_name = {f["frame"]: f["verdict"] for f in frames}
    for regrade in regrades:
        first = by_name[regrade["frame"]]
        assert regrade["label"] == first["label"], (regrade, first)
        assert regrade["transparency"] == pytest.approx(first["transparency"]), (regrade, first)
    assert any(r["transparency"] is not None for r in regrades), regrades

    # MQTT: one verdict per frame, the retained state, alerts and discovery configs.
    topics = [m.topic.value for m in received]
    assert topics.count("iqa-test/simulator/frame") == len(frames) + len(regrades)
    assert "iqa-test/simulator/alert" in topics
    assert any(t.startswith("homeassistant/") and t.endswith("/config") for t in topics)
    states = [m.payload for m in received if m.topic.value == "iqa-test/simulator/state"]
    assert b"paused" in [s if isinstance(s, bytes) else str(s).encode() for s in states]
