"""MqttNotifier against a real mosquitto: payloads, discovery, commands, lifecycle."""

from __future__ import annotations

import asyncio

import pytest

from astroiqa_indi.alerts import Backoff, Command, MqttNotifier, NotifierState
from tests._mosquitto import MosquittoBroker
from tests.alerts._support import (
    LogWaiter,
    Observer,
    make_verdict,
    payload_json,
    payload_text,
    settings_for,
    unique_frames,
)

pytestmark = pytest.mark.network

FAST = Backoff(initial_s=0.05, max_s=0.2)


async def test_verdict_goes_to_frame_and_last(broker: MosquittoBroker) -> None:
    async with (
        Observer(broker, "astroiqa/rig1/frame", "astroiqa/rig1/last") as obs,
        MqttNotifier(settings_for(broker), rig="rig1", backoff=FAST) as mqtt,
    ):
        verdict = make_verdict("bad_tracking")
        mqtt.publish_verdict(verdict, frame_name="m31_0001.fits")
        messages = await obs.take(2)
    by_topic = {m.topic.value: m for m in messages}
    frame = payload_json(by_topic["astroiqa/rig1/frame"])
    assert not by_topic["astroiqa/rig1/frame"].retain
    assert frame["frame"] == "m31_0001.fits"
    assert frame["rig"] == "rig1"
    assert frame["time"].endswith("Z")
    assert {k: frame[k] for k in verdict.to_dict()} == verdict.to_dict()
    last = payload_json(by_topic["astroiqa/rig1/last"])
    assert last["label"] == "bad_tracking"
    assert last["problem"] == "ON"
    assert (last["fwhm_arcsec"], last["eccentricity"], last["n_stars"]) == (2.5, 0.62, 31)
    assert last["background"] == 1234.5


async def test_state_and_availability_are_retained(broker: MosquittoBroker) -> None:
    async with MqttNotifier(settings_for(broker), rig="rig1", backoff=FAST) as mqtt:
        mqtt.publish_state("watching")
        mqtt.publish_state("paused")
        await asyncio.wait_for(mqtt.flush(), 5)
        # A subscriber arriving later still learns the latest state and availability.
        async with Observer(broker, "astroiqa/rig1/state", "astroiqa/rig1/availability") as obs:
            messages = await obs.take(2)
        assert {m.topic.value: (payload_text(m), m.retain) for m in messages} == {
            "astroiqa/rig1/state": ("paused", True),
            "astroiqa/rig1/availability": ("online", True),
        }
    # Leaving publishes "offline" before disconnecting.
    async with Observer(broker, "astroiqa/rig1/availability") as obs:
        (message,) = await obs.take(1)
    assert payload_text(message) == "offline"
    assert mqtt.state is NotifierState.CLOSED


async def test_alert_payload_for_home_assistant_event(broker: MosquittoBroker) -> None:
    async with (
        Observer(broker, "astroiqa/rig1/alert") as obs,
        MqttNotifier(settings_for(broker), rig="rig1", backoff=FAST) as mqtt,
    ):
        mqtt.publish_alert(
            "pausing: 4 of the last 5 frames trail",
            label="bad_tracking",
            reason="4/5 bad_tracking",
            severity="critical",
            fields={"frames": 12},
        )
        (message,) = await obs.take(1)
    alert = payload_json(message)
    assert alert["event_type"] == alert["severity"] == "critical"
    assert alert["text"] == "pausing: 4 of the last 5 frames trail"
    assert (alert["label"], alert["reason"], alert["fields"]) == (
        "bad_tracking",
        "4/5 bad_tracking",
        {"frames": 12},
    )


async def test_discovery_configs_are_retained_and_republished(broker: MosquittoBroker) -> None:
    settings = settings_for(broker)
    async with MqttNotifier(settings, rig="rig1", backoff=FAST) as mqtt:
        await asyncio.wait_for(mqtt.flush(), 5)
        async with Observer(broker, "homeassistant/+/+/+/config") as obs:
            retained = await obs.take(9)
            assert all(m.retain for m in retained)
            configs = {m.topic.value: payload_json(m) for m in retained}
            assert set(configs) == {
                "homeassistant/sensor/astroiqa_rig1/label/config",
                "homeassistant/sensor/astroiqa_rig1/fwhm/config",
                "homeassistant/sensor/astroiqa_rig1/eccentricity/config",
                "homeassistant/sensor/astroiqa_rig1/stars/config",
                "homeassistant/sensor/astroiqa_rig1/background/config",
                "homeassistant/sensor/astroiqa_rig1/transparency/config",
                "homeassistant/sensor/astroiqa_rig1/state/config",
                "homeassistant/binary_sensor/astroiqa_rig1/problem/config",
                "homeassistant/event/astroiqa_rig1/alert/config",
            }
            for config in configs.values():
                assert config["unique_id"].startswith("astroiqa_rig1_")
                assert config["device"]["identifiers"] == ["astroiqa_rig1"]
                assert config["device"]["manufacturer"] == "astroiqa-indi"
                assert config["availability_topic"] == "astroiqa/rig1/availability"
            # Home Assistant restarted: its birth message asks for discovery again.
            await obs.client.publish("homeassistant/status", b"online", qos=1)
            again = await obs.take(9, timeout=5)
            assert {m.topic.value for m in again} == set(configs)
            assert [payload_json(m) for m in again] == [configs[m.topic.value] for m in again]


async def test_no_discovery_without_home_assistant(broker: MosquittoBroker) -> None:
    settings = settings_for(broker, home_assistant=False)
    async with MqttNotifier(settings, rig="rig1", backoff=FAST) as mqtt:
        mqtt.publish_state("watching")
        await asyncio.wait_for(mqtt.flush(), 5)
        async with Observer(broker, "homeassistant/#", "astroiqa/rig1/state") as obs:
            (message,) = await obs.take(1)
    # Retained discovery would have arrived before the state: only the state came.
    assert message.topic.value == "astroiqa/rig1/state"


async def test_commands_reach_the_callback(broker: MosquittoBroker) -> None:
    received: asyncio.Queue[Command] = asyncio.Queue()

    async def on_command(command: Command) -> None:
        await received.put(command)

    async with (
        MqttNotifier(settings_for(broker), rig="rig1", on_command=on_command, backoff=FAST) as mqtt,
        Observer(broker) as obs,
    ):
        await asyncio.wait_for(mqtt.wait_connected(), 5)
        for payload in (b"pause", b"dance", b" Regrade-Last\n", b"resume"):
            await obs.client.publish("astroiqa/rig1/command", payload, qos=1)
        got = [await asyncio.wait_for(received.get(), 5) for _ in range(3)]
        assert got == [Command.PAUSE, Command.REGRADE_LAST, Command.RESUME]
        assert (mqtt.stats.commands, mqtt.stats.unknown_commands) == (3, 1)


async def test_retained_command_is_refused(broker: MosquittoBroker) -> None:
    received: list[Command] = []

    async def on_command(command: Command) -> None:
        received.append(command)

    async with Observer(broker) as obs:
        await obs.client.publish("astroiqa/rig1/command", b"pause", qos=1, retain=True)
    with LogWaiter(lambda r: "retained" in r.getMessage()) as waiter:
        async with MqttNotifier(
            settings_for(broker), rig="rig1", on_command=on_command, backoff=FAST
        ) as mqtt:
            await asyncio.wait_for(waiter.seen, 5)
            assert mqtt.stats.unknown_commands == 1
    assert received == []


async def test_handler_errors_are_counted_not_fatal(broker: MosquittoBroker) -> None:
    from astroiqa_indi.errors import GuiderError

    calls: asyncio.Queue[Command] = asyncio.Queue()

    async def on_command(command: Command) -> None:
        await calls.put(command)
        if command is Command.PAUSE:
            raise GuiderError("PHD2 is not guiding")

    async with (
        MqttNotifier(settings_for(broker), rig="rig1", on_command=on_command, backoff=FAST) as mqtt,
        Observer(broker) as obs,
    ):
        await asyncio.wait_for(mqtt.wait_connected(), 5)
        await obs.client.publish("astroiqa/rig1/command", b"pause", qos=1)
        await obs.client.publish("astroiqa/rig1/command", b"resume", qos=1)
        assert await asyncio.wait_for(calls.get(), 5) is Command.PAUSE
        assert await asyncio.wait_for(calls.get(), 5) is Command.RESUME
        assert mqtt.stats.command_errors == 1


async def test_broker_down_at_start_keeps_accepting(idle_broker: MosquittoBroker) -> None:
    # A persistent-session observer, so it receives what is published while it is away.
    observer = {"identifier": "observer-down-at-start", "clean_session": False}
    idle_broker.start()
    async with Observer(idle_broker, "astroiqa/rig1/frame", **observer):
        pass
    await asyncio.to_thread(idle_broker.stop)

    with LogWaiter(lambda r: "cannot connect" in r.getMessage()) as waiter:
        async with MqttNotifier(settings_for(idle_broker), rig="rig1", backoff=FAST) as mqtt:
            await asyncio.wait_for(waiter.seen, 5)
            for i in range(3):
                mqtt.publish_verdict(make_verdict(), frame_name=f"f{i}")
            assert mqtt.state is not NotifierState.CONNECTED
            assert mqtt.stats.connect_failures >= 1
            assert mqtt.last_error is not None and "cannot connect" in mqtt.last_error
            await asyncio.to_thread(idle_broker.start)
            await asyncio.wait_for(mqtt.flush(), 10)
            assert mqtt.stats.dropped_overflow == 0
    async with Observer(idle_broker, **observer) as obs:
        frames = await obs.until(lambda m: payload_json(m)["frame"] == "f2")
    assert unique_frames(frames) == ["f0", "f1", "f2"]


async def test_reentry_and_use_after_close_raise(broker: MosquittoBroker) -> None:
    mqtt = MqttNotifier(settings_for(broker), rig="rig1", backoff=FAST)
    async with mqtt:
        with pytest.raises(RuntimeError, match="twice"):
            await mqtt.__aenter__()
    with pytest.raises(RuntimeError, match="closed"):
        mqtt.publish_state("watching")
    with pytest.raises(RuntimeError, match="closed"):
        await mqtt.flush()


def test_invalid_rig_name_is_refused(broker: MosquittoBroker) -> None:
    with pytest.raises(ValueError, match="rig name"):
        MqttNotifier(settings_for(broker), rig="my rig/+")


async def test_leaving_delivers_what_is_queued(broker: MosquittoBroker) -> None:
    async with Observer(broker, "astroiqa/rig1/frame") as obs:
        async with MqttNotifier(settings_for(broker), rig="rig1", backoff=FAST) as mqtt:
            for i in range(20):
                mqtt.publish_verdict(make_verdict(), frame_name=f"f{i:02d}")
        # Left at once, before the connection was even up: leaving drained the queue.
        assert mqtt.stats.buffered == 0
        frames = await obs.take(20)
    assert [payload_json(m)["frame"] for m in frames] == [f"f{i:02d}" for i in range(20)]
