"""The bounded buffer between the callers (who never wait) and the publisher task."""

from __future__ import annotations

import asyncio
from collections import deque

from astroiqa_indi.alerts._messages import OutgoingMessage

__all__ = ["Outbox"]


class Outbox:
    """Messages waiting for the broker.

    Two kinds are kept apart:

    * **events** (``frame``, ``alert``) in a FIFO of at most ``capacity``; when it is
      full the *oldest* is dropped and counted, because the newest frames say most
      about the sky now;
    * **retained** messages (state, ``last``, availability, discovery) by topic, the
      newest replacing the older: the broker keeps only the last value of a retained
      topic anyway, so the older value is worth nothing. They never overflow (there
      are a dozen topics at most) and go out before the events.

    A message leaves only when :meth:`done` is called after the broker acknowledged
    it, so one in flight when the connection drops is sent again.

    Parameters
    ----------
    capacity
        Maximum number of events kept; at least 1.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._events: deque[OutgoingMessage] = deque()
        self._retained: dict[str, OutgoingMessage] = {}
        self.dropped = 0
        self._ready = asyncio.Event()
        self._empty = asyncio.Event()
        self._empty.set()

    def __len__(self) -> int:
        return len(self._events) + len(self._retained)

    def put(self, message: OutgoingMessage) -> None:
        """Queue ``message``; never blocks."""
        if message.retain:
            # Re-inserting moves the topic to the end: retained values keep their order.
            self._retained.pop(message.topic, None)
            self._retained[message.topic] = message
        else:
            if len(self._events) >= self.capacity:
                self._events.popleft()
                self.dropped += 1
            self._events.append(message)
        self._ready.set()
        self._empty.clear()

    def peek(self) -> OutgoingMessage | None:
        """The next message to send (it stays queued until :meth:`done`)."""
        if self._retained:
            return next(iter(self._retained.values()))
        if self._events:
            return self._events[0]
        return None

    def done(self, message: OutgoingMessage) -> None:
        """Forget ``message``: the broker has it.

        It may have been replaced (retained) or dropped (overflow) while in flight;
        then there is nothing to forget.
        """
        if message.retain:
            if self._retained.get(message.topic) is message:
                del self._retained[message.topic]
        elif self._events and self._events[0] is message:
            self._events.popleft()
        if not self:
            self._ready.clear()
            self._empty.set()

    async def next(self) -> OutgoingMessage:
        """Wait for a message to send."""
        while (message := self.peek()) is None:
            self._ready.clear()
            await self._ready.wait()
        return message

    async def wait_empty(self) -> None:
        """Wait until every queued message has been acknowledged."""
        await self._empty.wait()
