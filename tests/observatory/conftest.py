"""Fixtures: an in-process observatory served on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer

CCD = "AstroIQA CCD"
MOUNT = "AstroIQA Mount"
# Simulated seconds per wall second: a 10 s exposure takes 0.1 s.
FAST = 100.0


@dataclass
class Served:
    """A running observatory, its server and where its truth log goes."""

    observatory: Observatory
    server: ObservatoryServer
    truth_log: Path

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """Camera + mount (mono rig, 128x128 sensor, time x100, clear sky) on a free port."""
    truth_log = tmp_path / "truth.jsonl"
    config = ObservatoryConfig(
        rig="refractor80_asi2600mm",
        size=(128, 128),
        time_scale=FAST,
        seed=3,
        truth_log=truth_log,
        upload_dir=tmp_path / "uploads",
    )
    async with (
        Observatory(config) as observatory,
        ObservatoryServer(observatory, host="127.0.0.1", port=0) as server,
    ):
        yield Served(observatory, server, truth_log)
