"""A bare INDI connection for tests that need exact control of what a client sends."""

from __future__ import annotations

import asyncio
import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast


@dataclass
class RawClient:
    """Writes raw XML and collects every top-level element the server sends."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    received: list[ET.Element] = field(default_factory=list)
    _parser: ET.XMLPullParser[ET.Element] = field(
        default_factory=lambda: ET.XMLPullParser(("start", "end"))
    )
    _depth: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        client = cls(reader, writer)
        client._parser.feed(b"<stream>")
        client._task = asyncio.create_task(client._read(), name="raw INDI reader")
        return client

    async def _read(self) -> None:
        while data := await self.reader.read(1 << 16):
            self._parser.feed(data)
            for item in self._parser.read_events():
                event, element = cast(tuple[str, object], item)
                assert isinstance(element, ET.Element)
                if event == "start":
                    self._depth += 1
                    continue
                self._depth -= 1
                if self._depth == 1:
                    self.received.append(element)
                    self._changed.set()

    async def send(self, xml: str) -> None:
        self.writer.write(xml.encode())
        await self.writer.drain()

    async def wait(
        self, predicate: Callable[[ET.Element], bool], timeout: float = 10.0
    ) -> ET.Element:
        """The first element (already received or arriving) matching ``predicate``."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for element in self.received[seen:]:
                    if predicate(element):
                        return element
                seen = len(self.received)
                self._changed.clear()
                await self._changed.wait()

    async def wait_eof(self, timeout: float = 5.0) -> None:
        """Until the server closes the connection."""
        assert self._task is not None
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._task)

    def tags(self, name: str | None = None) -> list[str]:
        return [e.tag for e in self.received if name is None or e.get("name") == name]

    async def close(self) -> None:
        self.writer.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._task


def is_(
    tag: str, name: str | None = None, state: str | None = None
) -> Callable[[ET.Element], bool]:
    """Predicate on tag, property name and state."""

    def match(element: ET.Element) -> bool:
        return (
            element.tag == tag
            and (name is None or element.get("name") == name)
            and (state is None or element.get("state") == state)
        )

    return match
