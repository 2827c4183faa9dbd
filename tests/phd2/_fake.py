"""A tiny scripted PHD2: replays given lines, to feed our client documented or broken input."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self

from tests.phd2 import _doc_examples as doc

APP_STATE_STOPPED = (
    '{"Event":"AppState","Timestamp":1372082668.9,"Host":"AGALASSO","Inst":1,"State":"Stopped"}'
)
GREETING = [doc.VERSION_EVENT, APP_STATE_STOPPED]

Handler = Callable[[dict[str, Any], "FakeConnection"], Awaitable[None]]


class FakeConnection:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def send(self, *lines: str | bytes) -> None:
        for line in lines:
            raw = line.encode() if isinstance(line, str) else line
            self.writer.write(raw if raw.endswith(b"\n") else raw + b"\r\n")
        await self.writer.drain()

    async def answer(self, request: dict[str, Any], documented: str) -> None:
        """Send a documented response line with the id of ``request``."""
        response = json.loads(documented)
        response["id"] = request["id"]
        await self.send(json.dumps(response))

    def close(self) -> None:
        self.writer.close()


async def null_pixel_scale(request: dict[str, Any], conn: FakeConnection) -> bool:
    """PHD2 answers get_pixel_scale with null when it does not know the scale."""
    if request["method"] != "get_pixel_scale":
        return False
    await conn.send(json.dumps({"jsonrpc": "2.0", "result": None, "id": request["id"]}))
    return True


class FakePhd2:
    """Listens on loopback; sends ``greeting`` to each client and passes requests to ``handler``."""

    def __init__(
        self, handler: Handler | None = None, *, greeting: list[str] | None = None
    ) -> None:
        self.handler = handler
        self.greeting = GREETING if greeting is None else greeting
        self.requests: list[dict[str, Any]] = []
        self.answers_pixel_scale = True
        self.connections: list[FakeConnection] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        for conn in self.connections:
            conn.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = FakeConnection(writer)
        self.connections.append(conn)
        try:
            await conn.send(*self.greeting)
            while line := await reader.readline():
                request = json.loads(line)
                self.requests.append(request)
                if self.answers_pixel_scale and await null_pixel_scale(request, conn):
                    continue
                if self.handler is not None:
                    await self.handler(request, conn)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
