"""``astroiqa-indi simulate observatory``: says where it listens, what plays, stops on Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import pytest

from astroiqa_indi.indi import IndiClient
from tests._servers import free_port
from tests.observatory.conftest import CCD

pytestmark = [pytest.mark.network, pytest.mark.slow]

NIGHT = Path(__file__).parents[2] / "simulators" / "scenarios" / "night-with-faults.yaml"


async def _line(stream: asyncio.StreamReader, timeout: float = 30.0) -> str:
    return (await asyncio.wait_for(stream.readline(), timeout)).decode().rstrip()


async def test_simulate_observatory_serves_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "astroiqa_indi", "simulate", "observatory"),
        *("--port", str(port), "--size", "64x64", "--scenario", str(NIGHT)),
        *("--rig", "refractor80_asi2600mm", "--time-scale", "100"),
        stdout=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    try:
        lines = [await _line(process.stdout)]
        while "listening on" not in lines[-1]:
            lines.append(await _line(process.stdout))
        assert f"127.0.0.1:{port}" in lines[-1] and "'AstroIQA CCD'" in lines[-1]
        async with IndiClient(port=port, fail_fast=True) as indi:
            state = await indi.wait_for(CCD, "CONNECTION")
            assert state.on_switches == ("DISCONNECT",)
        while not lines[-1].startswith("scenario:"):
            lines.append(await _line(process.stdout))
        assert "night-with-faults on refractor80_asi2600mm" in lines[-1]
        process.send_signal(signal.SIGINT)
        rest = (await asyncio.wait_for(process.stdout.read(), 30)).decode()
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert rest.rstrip().endswith("stopped")
