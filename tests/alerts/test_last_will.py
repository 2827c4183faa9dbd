"""The Last Will: Home Assistant must see the agent offline when its process dies."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests._mosquitto import MosquittoBroker
from tests.alerts._support import Observer, payload_text

pytestmark = pytest.mark.network

REPO = Path(__file__).resolve().parents[2]


async def test_killed_agent_is_reported_offline(broker: MosquittoBroker) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.alerts._lwt_child",
        broker.host,
        str(broker.port),
        "doomed",
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 30)
        assert line == b"ready\n", (await child.stderr.read()).decode()  # type: ignore[union-attr]
        async with Observer(broker, "astroiqa/doomed/availability") as obs:
            (online,) = await obs.take(1)
            assert (payload_text(online), online.retain) == ("online", True)
            child.send_signal(signal.SIGKILL)
            await child.wait()
            # The broker sees the socket close without DISCONNECT: it publishes the will.
            (offline,) = await obs.take(1)
            assert payload_text(offline) == "offline"
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    # Retained too: whoever subscribes later also learns that the agent is gone.
    async with Observer(broker, "astroiqa/doomed/availability") as obs:
        (message,) = await obs.take(1)
    assert (payload_text(message), message.retain) == ("offline", True)
