"""A restarted agent continues its session's transparency reference.

Real parts: our simulated observatory over TCP and the shipped model. Without the
saved reference, a restart would measure the next frames against nothing for three
frames, and then against whatever they showed, a thin cloud included.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from astroiqa_indi.agent import Agent, LiveView
from astroiqa_indi.cli._watch import reference_file
from astroiqa_indi.config import default_profile
from astroiqa_indi.grading import Grader, TransparencyReference, save_reference
from tests.agent._support import seestar_observatory, sequence_profile, serving

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def _session(
    out: Path, grader: Grader, *, frames: int, seed: int, reference: Path
) -> list[dict[str, Any]]:
    """Run the agent for ``frames`` frames of a clear start of night; its journal lines."""
    config = seestar_observatory(seed=seed)
    async with serving(config) as (_observatory, server):
        profile = sequence_profile(server.port)
        assert profile.quality.min_transparency is not None
        agent = Agent(
            profile,
            grader=grader,
            out_dir=out,
            max_frames=frames,
            view=LiveView(enabled=False),
            reference_file=reference,
        )
        await asyncio.wait_for(agent.run(), 120)
    return _lines(out / "journal.jsonl")


async def test_a_restart_continues_the_session_reference(tmp_path: Path) -> None:
    grader = Grader.load()
    # As `astroiqa-indi watch` runs it: a new session folder per start, the reference
    # beside them (one per camera).
    profile = default_profile()
    saved = reference_file(profile, None)
    assert saved is not None and saved.name == "transparency-AstroIQA_CCD.json"
    assert reference_file(profile, "tonight") is None  # --out: in the session folder
    saved = tmp_path / saved.name
    first = await _session(tmp_path / "1", grader, frames=6, seed=3, reference=saved)
    good = [r for r in first if r["kind"] == "frame" and r["verdict"]["label"] == "good"]
    assert len(good) >= 4, [r["verdict"]["label"] for r in first if r["kind"] == "frame"]
    reference = TransparencyReference.from_dict(json.loads(saved.read_text()))
    assert sum(len(v) for v in reference.history.values()) == len(good)

    # The agent restarts minutes later with the same folder: the frames it grades
    # first are measured against the good frames before the restart.
    second = await _session(tmp_path / "2", grader, frames=2, seed=4, reference=saved)
    restored = [r for r in second if r.get("event") == "transparency_reference"]
    assert len(restored) == 1 and restored[0]["frames"] == len(good), restored
    after = [r for r in second if r["kind"] == "frame"]
    assert after and after[0]["verdict"]["label"] == "good", after[0]["verdict"]
    assert after[0]["verdict"]["transparency"] is not None

    # A file from another night (older than an hour) is not used.
    old = time.time() - 2 * 3600
    os.utime(saved, (old, old))
    third = await _session(tmp_path / "3", grader, frames=1, seed=5, reference=saved)
    assert not [r for r in third if r.get("event") == "transparency_reference"]
    frame = next(r for r in third if r["kind"] == "frame")
    assert frame["verdict"]["transparency"] is None


async def test_a_reference_that_cannot_be_saved_is_told_once_and_counted(tmp_path: Path) -> None:
    nowhere = tmp_path / "not-a-folder"
    nowhere.write_text("a file where the folder should be")
    lines = await _session(
        tmp_path / "1", Grader.load(), frames=5, seed=3, reference=nowhere / "transparency.json"
    )
    frames = [r for r in lines if r["kind"] == "frame"]
    assert len(frames) == 5  # grading goes on
    told = [r["text"] for r in lines if r.get("event") == "transparency_reference"]
    # Once when it starts (nothing to restore from there), once when the first save fails.
    assert len(told) == 2, told
    assert "not restored" in told[0] and "not saved" in told[1]
    summary = next(r for r in lines if r["kind"] == "summary")
    assert summary["reference_errors"] >= 1


async def test_paced_saves_still_leave_every_good_frame_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reference that saves slowly is rewritten seldom (here: once during the
    # session); the session's end writes what the pacing held back.
    from astroiqa_indi.agent import _agent
    from astroiqa_indi.grading import SavePacer

    calls: list[int] = []

    def counted(path: Path, reference: TransparencyReference) -> float:
        calls.append(sum(len(v) for v in reference.history.values()))
        return save_reference(path, reference)

    monkeypatch.setattr(_agent, "SavePacer", functools.partial(SavePacer, share=1e-9))
    monkeypatch.setattr(_agent, "save_reference", counted)
    saved = tmp_path / "transparency.json"
    lines = await _session(tmp_path / "1", Grader.load(), frames=6, seed=3, reference=saved)
    good = [r for r in lines if r["kind"] == "frame" and r["verdict"]["label"] == "good"]
    assert len(good) >= 4
    assert calls == [1, len(good)], calls
    reference = TransparencyReference.from_dict(json.loads(saved.read_text()))
    assert sum(len(v) for v in reference.history.values()) == len(good)
