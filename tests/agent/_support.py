"""What the agent tests against our simulated observatory share."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from astroiqa_indi.config import Phd2Settings, Profile, default_profile
from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer
from simulators.sky import SCENARIO_DIR


def sequence_profile(port: int, *, exposure_s: float = 1.0) -> Profile:
    """The default profile, driving the camera on ``127.0.0.1:port`` itself (sequence
    mode, ``exposure_s`` subs), without PHD2."""
    base = default_profile()
    return dataclasses.replace(
        base,
        indi=dataclasses.replace(base.indi, host="127.0.0.1", port=port, mode="sequence"),
        phd2=Phd2Settings(enabled=False),
        sequence=dataclasses.replace(base.sequence, exposure_s=exposure_s),
    )


def seestar_observatory(
    *,
    size: tuple[int, int] = (480, 360),
    scenario: str | None = "night-with-faults.yaml",
    time_scale: float = 50.0,
    seed: int = 3,
    truth_log: Path | None = None,
) -> ObservatoryConfig:
    """The simulated observatory of the agent tests: a Seestar-like camera, switched on,
    rendering ``scenario`` (a file in simulators/scenarios; ``None``: a clear sky)."""
    return ObservatoryConfig(
        rig="seestar_s50",
        size=size,
        scenario=SCENARIO_DIR / scenario if scenario else None,
        time_scale=time_scale,
        seed=seed,
        auto_connect=True,
        truth_log=truth_log,
    )


@asynccontextmanager
async def serving(
    config: ObservatoryConfig,
) -> AsyncIterator[tuple[Observatory, ObservatoryServer]]:
    """The observatory and its INDI server on a free loopback port."""
    async with (
        Observatory(config) as observatory,
        ObservatoryServer(observatory, host="127.0.0.1", port=0) as server,
    ):
        yield observatory, server
