"""The agent when the disk refuses its frames: grading goes on, the user is told once,
and saving resumes when the disk is back. Real parts: our simulated observatory over
TCP and the shipped model; no mocks (the failure is a real ``NotADirectoryError``,
which even root gets)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from astroiqa_indi.agent import Agent, LiveView
from astroiqa_indi.grading import Grader
from tests.agent._support import seestar_observatory, sequence_profile, serving

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _wait_until(predicate: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_frames_that_cannot_be_saved_are_graded_counted_and_alerted(
    tmp_path: Path,
) -> None:
    out = tmp_path / "session"
    config = seestar_observatory(size=(320, 240))
    async with serving(config) as (_observatory, server):
        profile = sequence_profile(server.port)
        agent = Agent(
            profile,
            grader=Grader.load(),
            out_dir=out,
            max_frames=9,
            view=LiveView(enabled=False),
        )
        session = asyncio.create_task(agent.run())
        frames_dir = out / "frames"
        await _wait_until(lambda: agent.summary.frames >= 3 or session.done())
        # The disk goes away under the agent: its frames folder is now a plain file.
        shutil.rmtree(frames_dir)
        frames_dir.write_text("not a folder")
        await _wait_until(lambda: agent.summary.save_errors >= 3 or session.done())
        frames_dir.unlink()
        frames_dir.mkdir()
        summary = await asyncio.wait_for(session, 120)

    assert summary.frames == 9  # every frame graded, saved or not
    assert summary.save_errors >= 3
    assert summary.frame_errors == 0
    journal = _lines(out / "journal.jsonl")
    events = [r for r in journal if r["kind"] == "event"]
    names = [e["event"] for e in events]
    assert names.count("save_error") == summary.save_errors
    # One alert for the whole failing spell, not one per frame.
    alerts = [e for e in events if e["event"] == "alert" and e["label"] == "save_error"]
    assert len(alerts) == 1 and alerts[0]["severity"] == "critical"
    assert "not being saved" in alerts[0]["text"]
    assert names.index("save_error") < names.index("save_ok")
    frame_lines = [r for r in journal if r["kind"] == "frame"]
    unsaved = [r["frame"] for r in frame_lines if "not_saved" in r["actions"]]
    assert len(unsaved) == summary.save_errors
    saved = sorted(p.name for p in frames_dir.iterdir())
    # Frames after the recovery are on disk, whole; no temporary files are left.
    assert saved and not any(name.startswith(".") for name in saved)
    assert set(saved).isdisjoint(unsaved)
    # Graded and saved, or saved ungraded at the stop (the sequence ran ahead).
    frames_saved = [name for name in saved if name.endswith(".fits")]
    kept = summary.frames - summary.save_errors + names.count("not_graded")
    assert kept >= len(frames_saved)
