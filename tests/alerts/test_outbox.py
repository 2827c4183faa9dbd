"""The bounded buffer and the reconnection backoff (no broker)."""

from __future__ import annotations

import asyncio
import random

import pytest

from astroiqa_indi.alerts import Backoff, Outbox, OutgoingMessage


def event(i: int) -> OutgoingMessage:
    return OutgoingMessage("a/frame", str(i).encode())


def retained(topic: str, value: str) -> OutgoingMessage:
    return OutgoingMessage(topic, value.encode(), retain=True)


def drain(box: Outbox) -> list[bytes]:
    out = []
    while (message := box.peek()) is not None:
        out.append(message.payload)
        box.done(message)
    return out


def test_overflow_drops_the_oldest_events_and_counts_them() -> None:
    box = Outbox(3)
    for i in range(7):
        box.put(event(i))
    assert (len(box), box.dropped) == (3, 4)
    assert drain(box) == [b"4", b"5", b"6"]


def test_retained_topics_keep_their_last_value_and_go_first() -> None:
    box = Outbox(2)
    box.put(event(0))
    box.put(retained("a/state", "watching"))
    box.put(retained("a/last", "L1"))
    box.put(retained("a/state", "paused"))
    box.put(event(1))
    box.put(event(2))
    assert box.dropped == 1  # retained values never count against the capacity
    assert drain(box) == [b"L1", b"paused", b"1", b"2"]


def test_message_stays_until_done() -> None:
    box = Outbox(5)
    box.put(event(0))
    first = box.peek()
    assert first is not None and box.peek() is first and len(box) == 1
    box.done(first)
    assert box.peek() is None and len(box) == 0


def test_done_after_replacement_or_overflow_forgets_nothing_else() -> None:
    box = Outbox(1)
    box.put(retained("a/state", "old"))
    in_flight = box.peek()
    assert in_flight is not None
    box.put(retained("a/state", "new"))  # replaced while in flight
    box.done(in_flight)
    assert drain(box) == [b"new"]

    box.put(event(0))
    in_flight = box.peek()
    assert in_flight is not None
    box.put(event(1))  # the in-flight event overflowed
    box.done(in_flight)
    assert drain(box) == [b"1"]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Outbox(0)


async def test_waiting_for_messages_and_for_empty() -> None:
    box = Outbox(4)
    getter = asyncio.ensure_future(box.next())
    emptied = asyncio.ensure_future(box.wait_empty())
    await asyncio.sleep(0)
    assert not getter.done() and emptied.done()  # nothing queued: already empty
    box.put(event(1))
    message = await asyncio.wait_for(getter, 1)
    assert message.payload == b"1"
    waiting = asyncio.ensure_future(box.wait_empty())
    await asyncio.sleep(0)
    assert not waiting.done()
    box.done(message)
    await asyncio.wait_for(waiting, 1)


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    backoff = Backoff(initial_s=1.0, max_s=8.0)
    rng = random.Random(42)
    for attempt, step in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (4, 8.0), (10_000, 8.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(200)]
        assert all(step / 2 <= d <= step for d in delays), attempt
        assert max(delays) - min(delays) > step / 4  # jittered, not constant


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    backoff = Backoff()
    a = [backoff.delay(n, random.Random(7)) for n in range(5)]
    b = [backoff.delay(n, random.Random(7)) for n in range(5)]
    assert a == b


@pytest.mark.parametrize(
    "kwargs", [{"initial_s": 0.0}, {"initial_s": 2.0, "max_s": 1.0}, {"factor": 0.5}]
)
def test_backoff_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)
