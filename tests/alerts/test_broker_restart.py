"""A broker restart mid-session loses nothing beyond the bounded buffer."""

from __future__ import annotations

import asyncio

import pytest

from astroiqa_indi.alerts import Backoff, MqttNotifier
from tests._mosquitto import MosquittoBroker
from tests.alerts._support import (
    LogWaiter,
    Observer,
    make_verdict,
    payload_json,
    settings_for,
    unique_frames,
)

pytestmark = pytest.mark.network

FRAME = "astroiqa/rig1/frame"
# Persistent session (clean_session off): mosquitto queues what the observer misses
# while away, and keeps the session across its own restart (persistence is on).
OBSERVER = {"identifier": "observer-restart", "clean_session": False}


async def test_restart_delivers_the_newest_buffered_frames_in_order(
    broker: MosquittoBroker,
) -> None:
    buffer_size, outage = 4, 10
    settings = settings_for(broker, buffer_size=buffer_size)
    backoff = Backoff(initial_s=0.05, max_s=0.2)
    async with MqttNotifier(settings, rig="rig1", backoff=backoff) as mqtt:
        async with Observer(broker, FRAME, **OBSERVER) as obs:
            mqtt.publish_verdict(make_verdict(), frame_name="before-0")
            mqtt.publish_verdict(make_verdict(), frame_name="before-1")
            received = await obs.until(lambda m: payload_json(m)["frame"] == "before-1")
            assert unique_frames(received) == ["before-0", "before-1"]
        await asyncio.wait_for(mqtt.flush(), 5)
        with LogWaiter(lambda r: "lost the connection" in r.getMessage()) as lost:
            await asyncio.to_thread(broker.stop)
            await asyncio.wait_for(lost.seen, 5)
        for i in range(outage):
            mqtt.publish_verdict(make_verdict(), frame_name=f"down-{i}")
        stats = mqtt.stats
        assert stats.dropped_overflow == outage - buffer_size
        # The events kept, plus the retained "last" summary (coalesced, never dropped).
        assert stats.buffered >= buffer_size

        await asyncio.to_thread(broker.start)  # same port
        await asyncio.wait_for(mqtt.flush(), 10)
        assert mqtt.stats.reconnects == 1
        mqtt.publish_verdict(make_verdict(), frame_name="after")
        await asyncio.wait_for(mqtt.flush(), 5)
        assert mqtt.stats.dropped_overflow == outage - buffer_size

    async with Observer(broker, **OBSERVER) as obs:
        received = await obs.until(lambda m: payload_json(m)["frame"] == "after")
    expected = [f"down-{i}" for i in range(outage - buffer_size, outage)]
    # "before-*" may come again: the broker may resend what it had in flight at the
    # disconnection (at-least-once). The outage frames: the newest, in order, once each.
    names = [n for n in unique_frames(received) if not n.startswith("before-")]
    assert names == [*expected, "after"]
