"""A scripted INDI server for fault injection (garbage, cut BLOBs, floods).

Each accepted connection is classified by the client's opening bytes: ``enableBLOB``
before ``getProperties`` marks the BLOB connection, ``getProperties`` alone the
control connection. The test's handler then writes whatever bytes it wants.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class FakeConnection:
    role: str  # "control" or "blob"
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stopped: asyncio.Event
    received: bytearray = field(default_factory=bytearray)

    async def hold(self) -> None:
        """Keep the connection open until the server stops."""
        await self.stopped.wait()

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read_until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Wait for the client to send ``marker``; everything received so far."""
        async with asyncio.timeout(timeout):
            while marker not in self.received:
                chunk = await self.reader.read(65536)
                if not chunk:
                    raise ConnectionError("client went away")
                self.received += chunk
        return bytes(self.received)

    def close(self) -> None:
        self.writer.close()


Handler = Callable[[FakeConnection], Awaitable[None]]


class FakeIndiServer:
    """``async with FakeIndiServer(handler) as server:`` then connect to ``server.port``."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self.connections: list[FakeConnection] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()
        self.port = 0

    async def __aenter__(self) -> FakeIndiServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Stop listening and drop every connection (like a killed indiserver)."""
        if self._server is not None:
            self._server.close()
        self._stopped.set()
        for conn in self.connections:
            conn.writer.transport.abort()
        # Handlers end on their own (hold() returns, reads fail); never cancel them.
        if self._tasks:
            await asyncio.wait(self._tasks)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def restart(self) -> None:
        """Listen again on the same port."""
        self._stopped = asyncio.Event()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    def role(self, role: str) -> list[FakeConnection]:
        return [c for c in self.connections if c.role == role]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            conn = FakeConnection("?", reader, writer, self._stopped)
            try:
                opening = await conn.read_until(b"getProperties")
            except (ConnectionError, TimeoutError):
                writer.transport.abort()
                return
            head = opening[: opening.index(b"getProperties")]
            conn.role = "blob" if b"enableBLOB" in head else "control"
            self.connections.append(conn)
            # The client going away is what these tests provoke.
            with contextlib.suppress(ConnectionError, OSError):
                await self._handler(conn)
            writer.transport.abort()
        finally:
            self._tasks.discard(task)
