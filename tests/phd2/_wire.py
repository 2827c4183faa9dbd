"""Helpers shared by the PHD2 tests: scenario conditions and a raw line connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulators.phd2 import GuideConditions

CADENCE_S = 0.01  # wall clock per guide frame: tests run fast ...
EXPOSURE_S = 2.0  # ... while simulated time (and settling) runs at a realistic 2 s per frame
WAIT_S = 5.0


@dataclass
class Sky:
    """Mutable conditions the simulator reads every frame (the tests' scenario)."""

    rms_arcsec: float = 0.6
    star_lost: bool = False

    def __call__(self) -> GuideConditions:
        return GuideConditions(self.rms_arcsec, star_lost=self.star_lost)


class RawConnection:
    """A bare TCP connection speaking lines, to test the wire format without our client."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.raw_lines: list[bytes] = []

    async def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")
        await self.writer.drain()

    async def recv(self) -> Any:
        async with asyncio.timeout(WAIT_S):
            line = await self.reader.readline()
        assert line, "connection closed"
        self.raw_lines.append(line)
        return json.loads(line)

    async def until(self, predicate: Callable[[Any], bool], limit: int = 500) -> list[Any]:
        """Messages up to and including the first one matching ``predicate``."""
        seen = []
        for _ in range(limit):
            message = await self.recv()
            seen.append(message)
            if predicate(message):
                return seen
        raise AssertionError(f"nothing matched within {limit} messages")

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def is_event(name: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and m.get("Event") == name


def is_response(request_id: Any) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, dict) and "jsonrpc" in m and m.get("id") == request_id
