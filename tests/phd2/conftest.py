"""Fixtures: a PHD2 simulator on a free loopback port, and raw line connections to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from simulators.phd2 import Phd2Simulator
from tests.phd2._wire import CADENCE_S, EXPOSURE_S, RawConnection, Sky


@pytest.fixture
def sky() -> Sky:
    return Sky()


@pytest.fixture
async def sim(sky: Sky) -> AsyncIterator[Phd2Simulator]:
    async with Phd2Simulator(
        cadence_s=CADENCE_S,
        exposure_s=EXPOSURE_S,
        conditions=sky,
        calibration_steps=1,
        seed=3,
    ) as simulator:
        yield simulator


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[int], Awaitable[RawConnection]]]:
    opened: list[RawConnection] = []

    async def _connect(port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        conn = RawConnection(reader, writer)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        await conn.close()
