"""A slew during a session: the next field gets a transparency reference of its own.

Real parts: our simulated observatory over TCP (its star field follows the mount, and
its frames say where the mount points, in J2000) and the shipped model. A sparser or
richer field after a slew must not be read as cloud, or as a clearing.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from astroiqa_indi.agent import Agent, LiveView
from astroiqa_indi.grading import Grader
from astroiqa_indi.indi import IndiClient
from tests.agent._support import seestar_observatory, sequence_profile, serving

pytestmark = [pytest.mark.network, pytest.mark.slow]

_BEFORE = 6  # frames graded before the slew


async def test_a_slew_starts_a_new_reference_and_raises_no_false_cloud(tmp_path: Path) -> None:
    config = seestar_observatory(truth_log=tmp_path / "truth.jsonl")
    out = tmp_path / "session"
    async with serving(config) as (observatory, server):
        # 10 s subs, 0.2 s at this time scale: the sequence cannot run far ahead of the
        # grading (its queue would drop frames) on a busy machine.
        profile = sequence_profile(server.port, exposure_s=10.0)
        async with IndiClient(port=server.port, fail_fast=True) as indi:
            # Clear all along: the scenario's clock stands still in its first minute.
            await indi.set_switch(config.ccd_name, "SIM_SCENARIO", {"PAUSE": True}, wait=True)
        agent = Agent(profile, grader=Grader.load(), out_dir=out, view=LiveView(enabled=False))
        session = asyncio.create_task(agent.run())
        async with asyncio.timeout(120):
            while agent.summary.frames < _BEFORE and not session.done():
                await asyncio.sleep(0.02)
        async with IndiClient(port=server.port, fail_fast=True) as indi:
            mount = config.mount_name
            await indi.set_switch(mount, "ON_COORD_SET", {"TRACK": True}, wait=True)
            # One degree north: three frame widths away, a short slew.
            here = observatory.mount.status()
            north = 1.0 if here.dec_deg < 80 else -1.0
            target = {"RA": here.ra_hours, "DEC": here.dec_deg + north}
            await indi.set_number(mount, "EQUATORIAL_EOD_COORD", target, wait=True)
        # Eight frames exposed after the slew, however far the exposures ran ahead of
        # the grading while it lasted.
        exposed = len((tmp_path / "truth.jsonl").read_text().splitlines())
        async with asyncio.timeout(120):
            while agent.summary.frames < exposed + 8 and not session.done():
                await asyncio.sleep(0.02)
        agent.stop()
        await asyncio.wait_for(session, 60)
        assert agent.summary.dropped == 0

    journal = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    frames = [r["verdict"] for r in journal if r["kind"] == "frame"]
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    stars = [t["truth"]["n_stars"] for t in truth[: len(frames)]]
    # Another part of the sky, another number of stars (frames that began before the
    # slew show the first field).
    old, new = stars[0], stars[-1]
    assert old != new and set(stars) == {old, new}, stars
    # No frame, before or after, is taken for a veil.
    assert not [v for v in frames if v["reasons"] and v["reasons"][0].startswith("stars at ")]
    # Each field is measured against its own good frames from its fourth one on: the
    # new field starts over, whatever the first one's stars were.
    for field in (old, new):
        good = [
            v for v, n in zip(frames, stars, strict=True) if n == field and v["label"] == "good"
        ]
        assert len(good) >= 5, [v["label"] for v in frames]
        assert [v["transparency"] is None for v in good[:4]] == [True, True, True, False]
        assert all(0.7 < v["transparency"] < 1.4 for v in good[3:]), good
