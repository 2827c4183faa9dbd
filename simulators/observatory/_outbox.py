"""A bounded outgoing byte queue in front of one stream writer.

Devices emit synchronously (from the event loop) and must never wait for a slow
reader; each connection gets an :class:`Outbox` whose task writes and drains. A
reader that falls more than ``limit`` bytes behind is dropped, as ``indiserver -m``
does, so one stalled client cannot make the simulator hoard frames.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import logging

__all__ = ["Outbox", "OutboxState"]

_log = logging.getLogger(__name__)


class OutboxState(enum.Enum):
    """Life cycle of an outbox."""

    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Outbox:
    """Queue bytes for ``writer`` and write them in order from :meth:`run`.

    Parameters
    ----------
    writer
        The stream to write to; :meth:`run` closes it when done.
    name
        For log messages (peer address, ``"stdout"``).
    limit
        Bytes that may wait unsent before the peer counts as stalled.
    """

    def __init__(self, writer: asyncio.StreamWriter, *, name: str, limit: int) -> None:
        if limit <= 0:
            raise ValueError("limit must be positive")
        self._writer = writer
        self._name = name
        self._limit = limit
        self._queue: collections.deque[bytes] = collections.deque()
        self._pending = 0
        self._wakeup = asyncio.Event()
        self.state = OutboxState.OPEN
        self.overflowed = False

    @property
    def pending(self) -> int:
        """Bytes queued and not yet handed to the transport."""
        return self._pending

    def put(self, data: bytes) -> None:
        """Queue ``data``; silently ignored once closing (the peer is going away)."""
        if self.state is not OutboxState.OPEN:
            return
        if self._pending + len(data) > self._limit:
            _log.warning("%s: %d bytes behind, dropping the connection", self._name, self._pending)
            self.overflowed = True
            self.close()
            return
        self._queue.append(data)
        self._pending += len(data)
        self._wakeup.set()

    def close(self) -> None:
        """Stop accepting data; :meth:`run` flushes what is queued, then returns."""
        if self.state is OutboxState.OPEN:
            self.state = OutboxState.CLOSING
            if self.overflowed:
                self._queue.clear()
                self._pending = 0
                # run() may sit in drain() forever on a stalled peer: cut it loose.
                if not self._writer.transport.is_closing():
                    self._writer.transport.abort()
            self._wakeup.set()

    async def run(self) -> None:
        """Write queued data until closed; always closes the writer on the way out."""
        graceful = False
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self._queue:
                    data = self._queue.popleft()
                    self._pending -= len(data)
                    self._writer.write(data)
                    await self._writer.drain()
                if self.state is not OutboxState.OPEN:
                    graceful = not self.overflowed
                    break
        except (ConnectionError, BrokenPipeError) as exc:
            _log.info("%s: peer went away (%s)", self._name, exc)
        finally:
            self.state = OutboxState.CLOSED
            self._queue.clear()
            self._pending = 0
            transport = self._writer.transport
            if graceful:
                self._writer.close()
            elif not transport.is_closing():
                # A stalled or vanished peer would keep close() waiting for a flush.
                transport.abort()
