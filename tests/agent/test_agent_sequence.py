"""The agent driving the camera itself (sequence mode): how a session ends, an abort
asked for by the profile, and a pause held by a command.

Real parts: our simulated observatory over TCP and the shipped model.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from astroiqa_indi.actions import Phd2Client, SettleParams
from astroiqa_indi.agent import Agent, AgentState, LiveView
from astroiqa_indi.config import Phd2Settings, Profile
from astroiqa_indi.grading import Grader
from astroiqa_indi.indi import IndiClient
from simulators.observatory import Observatory, ObservatoryConfig
from simulators.phd2 import Phd2Simulator
from tests._faults import grade_failing_on
from tests.agent._support import seestar_observatory, sequence_profile, serving

pytestmark = [pytest.mark.network, pytest.mark.slow]


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _config(*, time_scale: float = 50.0, scenario: str | None = None) -> ObservatoryConfig:
    return seestar_observatory(scenario=scenario, time_scale=time_scale)


def _with(profile: Profile, **policy: Any) -> Profile:
    return dataclasses.replace(profile, policy=dataclasses.replace(profile.policy, **policy))


async def _until(condition: Any, timeout: float = 60.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def _counted(profile: Profile, count: int) -> Profile:
    """``count`` frames, observing only (no pause to take probes between them)."""
    sequence = dataclasses.replace(profile.sequence, count=count)
    return _with(dataclasses.replace(profile, sequence=sequence), actions=())


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader.load()


async def test_a_counted_sequence_ends_the_session_once_its_frames_are_graded(
    tmp_path: Path, grader: Grader
) -> None:
    async with serving(_config()) as (observatory, server):
        profile = _counted(sequence_profile(server.port), 3)
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        summary = await asyncio.wait_for(agent.run(), 120)  # no max_frames, no stop()
        assert not observatory.ccd.exposing
    assert summary.frames == 3 and summary.report_csv is not None
    lines = _lines(tmp_path / "journal.jsonl")
    kinds = [r.get("event", r["kind"]) for r in lines]
    assert kinds.index("sequence_done") > max(i for i, k in enumerate(kinds) if k == "frame")


async def test_a_camera_left_saving_locally_is_asked_to_send_its_frames_too(
    tmp_path: Path, grader: Grader
) -> None:
    uploads = tmp_path / "camera-disk"
    config = dataclasses.replace(_config(), upload_dir=uploads)
    async with serving(config) as (observatory, server):
        async with IndiClient(port=server.port, fail_fast=True) as indi:
            # What another program (or last night's session) left behind.
            await indi.set_switch(
                observatory.ccd.name, "UPLOAD_MODE", {"UPLOAD_LOCAL": True}, wait=True
            )
        profile = _counted(sequence_profile(server.port), 2)
        agent = Agent(
            profile, grader=grader, out_dir=tmp_path / "out", view=LiveView(enabled=False)
        )
        # Without frames each exposure would wait out its 121 s timeout.
        summary = await asyncio.wait_for(agent.run(), 60)
    assert summary.frames == 2
    events = [r.get("event") for r in _lines(tmp_path / "out" / "journal.jsonl")]
    assert "upload_mode" in events
    assert len(list(uploads.glob("*.fits"))) == 2  # the camera's own files go on


async def test_a_stop_aborts_the_exposure_under_way_and_keeps_every_frame(
    tmp_path: Path, grader: Grader
) -> None:
    # 20 s exposures in real time: the stop lands while the second one runs.
    async with serving(_config(time_scale=1.0)) as (observatory, server):
        profile = _with(sequence_profile(server.port, exposure_s=20.0), actions=())
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        running = asyncio.create_task(agent.run())
        await _until(lambda: agent.summary.frames >= 1 and observatory.ccd.exposing, 90)
        agent.stop()
        summary = await asyncio.wait_for(running, 60)
        assert not observatory.ccd.exposing  # not left exposing for 20 s
    events = [r.get("event") for r in _lines(tmp_path / "journal.jsonl")]
    assert "exposure_aborted" in events
    saved = sorted((tmp_path / "frames").glob("*.fits"))
    assert len(saved) == summary.frames + events.count("not_graded")


async def test_abort_on_bad_aborts_when_the_policy_pauses(tmp_path: Path, grader: Grader) -> None:
    async with serving(_config(time_scale=5.0, scenario="night-with-faults.yaml")) as (
        observatory,
        server,
    ):
        async with IndiClient(port=server.port, fail_fast=True) as indi:
            # The night's very_bad_tracking segment (120-150 s), then clouds.
            await indi.set_number(observatory.ccd.name, "SIM_TIME", {"ELAPSED_S": 125}, wait=True)
        # The scenario's own 5 s subs: its trails are drawn for them.
        base = _with(
            sequence_profile(server.port, exposure_s=5.0), actions=("alert", "pause_sequence")
        )
        profile = dataclasses.replace(base, indi=dataclasses.replace(base.indi, abort_on_bad=True))
        agent = Agent(
            profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False), max_frames=10
        )
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(agent.run(), 180)
        took = asyncio.get_running_loop().time() - started
    # Ten 1 s exposures and their grading: the aborted one did not stall the sequence
    # (it used to wait two minutes for a frame that never came).
    assert took < 60, took
    lines = _lines(tmp_path / "journal.jsonl")
    pauses = [r for r in lines if r.get("event") == "pause"]
    assert pauses, [r["verdict"]["label"] for r in lines if r["kind"] == "frame"]
    assert "abort_exposure" in pauses[0]["actions"]
    acted = [a for r in lines if r["kind"] == "frame" for a in r["actions"]]
    assert "abort_exposure" in acted  # sent, and the camera took it


@pytest.mark.parametrize("threaded_upload", [False, True], ids=["deaf", "libindi"])
async def test_an_exposure_that_ends_as_the_abort_comes_is_waited_for(
    tmp_path: Path, grader: Grader, threaded_upload: bool
) -> None:
    # The camera reads each frame out for 1.5 s. A pause (here by command) that aborts
    # the exposure during the read-out comes too late: the frame still comes. A
    # driver deaf meanwhile sends it, then answers; libindi answers at once and sends
    # it after. The agent used to count the exposure as aborted and ask for another
    # while the camera was still reading it out, then take the frame for the new
    # one's: one frame ahead of the camera for the rest of the night.
    config = dataclasses.replace(
        _config(time_scale=100.0, scenario=None), readout_s=1.5, threaded_upload=threaded_upload
    )
    async with serving(config) as (observatory, server):
        profile = _with(
            sequence_profile(server.port, exposure_s=5.0),
            actions=("alert", "pause_sequence", "abort_exposure"),
        )
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        running = asyncio.create_task(agent.run())
        await _until(lambda: agent.summary.frames >= 1 and observatory.ccd.reading_out)
        sent = observatory.ccd.frames_sent
        await agent._on_command("pause")  # what the MQTT command topic calls
        await _until(lambda: observatory.ccd.frames_sent >= sent + 3)  # probes go on
        busy = observatory.ccd.busy_exposure_requests
        agent.stop()
        summary = await asyncio.wait_for(running, 60)
    assert busy == 0
    assert summary.action_errors == 0
    lines = _lines(tmp_path / "journal.jsonl")
    assert not [r for r in lines if r.get("event") in ("exposure_error", "action_error")]


async def test_a_pause_by_command_holds_until_a_resume_by_command(
    tmp_path: Path, grader: Grader
) -> None:
    async with serving(_config()) as (_observatory, server):
        profile = _with(
            sequence_profile(server.port), actions=("alert", "pause_sequence"), resume_after_good=2
        )
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        running = asyncio.create_task(agent.run())
        await _until(lambda: agent.summary.frames >= 1)
        await agent._on_command("pause")  # what the MQTT command topic calls
        held = agent.summary.frames
        await _until(lambda: agent.summary.frames >= held + 6)
        assert agent.state is AgentState.PAUSED  # good frames did not resume it
        await agent._on_command("resume")
        assert agent.state is AgentState.WATCHING
        agent.stop()
        await asyncio.wait_for(running, 60)
    lines = _lines(tmp_path / "journal.jsonl")
    events = [r.get("event") for r in lines]
    labels = [r["verdict"]["label"] for r in lines if r["kind"] == "frame"]
    assert labels.count("good") >= 4, labels
    assert "resume_held" in events and "resume" not in events
    # Nor does it tell the phone it is resuming.
    assert not [r for r in lines if r.get("event") == "alert" and "resuming" in r["text"]]


async def test_a_frame_the_grader_fails_on_is_kept_and_the_night_goes_on(
    tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Grader, "grade", grade_failing_on(2))
    async with serving(_config()) as (_observatory, server):
        profile = _counted(sequence_profile(server.port), 4)
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        summary = await asyncio.wait_for(agent.run(), 120)
    assert (summary.frames, summary.frame_errors) == (3, 1)
    assert len(list((tmp_path / "frames").glob("*.fits"))) == 4  # the failed one kept
    texts = [r.get("text", "") for r in _lines(tmp_path / "journal.jsonl")]
    assert any("not graded (a bug)" in t and "data must be finite" in t for t in texts)


async def test_phd2_that_goes_away_is_alerted_and_connected_again(
    tmp_path: Path, grader: Grader
) -> None:

    def events() -> list[dict[str, Any]]:
        return [r for r in _lines(tmp_path / "journal.jsonl") if r["kind"] == "event"]

    async with serving(_config()) as (_observatory, server):
        async with Phd2Simulator(port=0, cadence_s=0.2) as phd2:
            port = phd2.port
            profile = dataclasses.replace(
                sequence_profile(server.port), phd2=Phd2Settings(host="127.0.0.1", port=port)
            )
            agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
            running = asyncio.create_task(agent.run())
            await _until(lambda: agent.summary.frames >= 2)
        # PHD2 quits (a crash, a restart): told once, loudly.
        await _until(lambda: any(e["event"] == "phd2_lost" for e in events()), 30)
        lost = [e for e in events() if e["event"] == "alert" and e["label"] == "phd2"]
        assert len(lost) == 1 and lost[0]["severity"] == "critical"
        async with Phd2Simulator(port=port, cadence_s=0.2):
            await _until(lambda: any(e["event"] == "phd2_connected" for e in events()), 30)
        agent.stop()
        await asyncio.wait_for(running, 60)


async def test_guiding_after_phd2_is_back_is_as_the_session_is(
    tmp_path: Path, grader: Grader
) -> None:
    # Paused by command, PHD2's link drops, the user resumes while it is away: when
    # PHD2 answers again, guiding resumes too, instead of staying paused all night.
    async with _guided_sequence(tmp_path, grader, actions=("alert", "pause_guiding")) as (
        _,
        phd2,
        agent,
    ):
        await agent._on_command("pause")
        await _until(lambda: phd2.app_state == "Paused", 10)
        assert phd2.drop_clients() == 1
        await _until(lambda: "phd2_lost" in _events(tmp_path), 10)
        await agent._on_command("resume")  # PHD2 away: told as an action error
        assert "action_error" in _events(tmp_path)
        await _until(lambda: "phd2_connected" in _events(tmp_path), 30)
        await _until(lambda: phd2.app_state != "Paused", 10)


@contextlib.asynccontextmanager
async def _guided_sequence(
    tmp_path: Path,
    grader: Grader,
    *,
    settle_time_s: float = 10.0,
    actions: tuple[str, ...] = ("alert", "pause_guiding", "pause_sequence"),
) -> AsyncIterator[tuple[Observatory, Phd2Simulator, Agent]]:
    """A sequence under way, PHD2 guiding (0.2 s frames of 1 simulated s), and an
    agent with these policy ``actions``; the agent is stopped on exit."""
    async with (
        serving(_config()) as (observatory, server),
        Phd2Simulator(port=0, cadence_s=0.2, exposure_s=1.0) as phd2,
    ):
        async with Phd2Client("127.0.0.1", phd2.port) as operator:
            await operator.guide(SettleParams(pixels=3.0, time=0.2, timeout=30.0))
        settings = Phd2Settings(
            host="127.0.0.1", port=phd2.port, settle_pixels=3.0, settle_time_s=settle_time_s
        )
        profile = _with(
            dataclasses.replace(sequence_profile(server.port), phd2=settings),
            actions=actions,
        )
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        running = asyncio.create_task(agent.run())
        await _until(lambda: agent.summary.frames >= 1)
        yield observatory, phd2, agent
        agent.stop()
        await asyncio.wait_for(running, 60)


def _events(tmp_path: Path) -> list[str]:
    return [r.get("event", "") for r in _lines(tmp_path / "journal.jsonl")]


async def test_after_guiding_resumes_the_sequence_waits_for_phd2_to_settle(
    tmp_path: Path, grader: Grader
) -> None:
    async with _guided_sequence(tmp_path, grader, settle_time_s=3.0) as (observatory, phd2, agent):
        await agent._on_command("pause")
        await _until(lambda: phd2.app_state == "Paused", 10)
        await agent._on_command("resume")
        # While PHD2 settles (3 simulated s: 0.6 s here), the camera, which takes a
        # frame in 0.02 s, gets no new exposure; the one under way may finish.
        started = observatory.ccd.frames_sent
        async with asyncio.timeout(30):
            while "guiding_settled" not in _events(tmp_path):
                assert observatory.ccd.frames_sent <= started + 1
                await asyncio.sleep(0.02)
        await _until(lambda: observatory.ccd.frames_sent >= started + 3, 30)  # then on
    settled = [r for r in _lines(tmp_path / "journal.jsonl") if r.get("event") == "guiding_settled"]
    assert len(settled) == 1 and settled[0]["seconds"] >= 0.4
    assert phd2.app_state == "Guiding"


async def test_a_pause_while_phd2_settles_does_not_start_a_second_settle(
    tmp_path: Path, grader: Grader
) -> None:
    async with _guided_sequence(tmp_path, grader, settle_time_s=10.0) as (_, _phd2, agent):
        await agent._on_command("pause")
        await agent._on_command("resume")  # PHD2 settles: 10 of its 0.2 s frames
        await asyncio.sleep(0.6)
        await agent._on_command("pause")
        await agent._on_command("resume")  # a second guide call would be refused
        await _until(lambda: "guiding_settled" in _events(tmp_path), 60)
    assert "settle_failed" not in _events(tmp_path)
    assert _events(tmp_path).count("guiding_settled") == 1


async def test_a_frame_still_grading_at_the_stop_deadline_is_kept(
    tmp_path: Path, grader: Grader, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from astroiqa_indi.agent import _agent

    real = Grader.grade
    slow: list[str] = []

    def slow_second(self: Grader, frame: Any, profile: Any = None) -> Any:
        slow.append("x")
        if len(slow) == 2:
            time.sleep(6.0)  # a huge frame on a small computer
        return real(self, frame, profile)

    monkeypatch.setattr(Grader, "grade", slow_second)
    monkeypatch.setattr(_agent, "_FINISH_WITHIN_S", 2.0)
    async with serving(_config()) as (_observatory, server):
        profile = _with(sequence_profile(server.port), actions=())
        agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
        running = asyncio.create_task(agent.run())
        await _until(lambda: len(slow) >= 2)
        agent.stop()
        summary = await asyncio.wait_for(running, 60)
    kept = [r for r in _lines(tmp_path / "journal.jsonl") if r.get("event") == "not_graded"]
    saved = sorted(p.name for p in (tmp_path / "frames").glob("*.fits"))
    assert summary.frames == 1 and kept  # the second was cut short, not lost
    assert len(saved) == summary.frames + len(kept)
    assert kept[0]["frame"] in saved
