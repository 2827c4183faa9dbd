"""The agent against Debian's indiserver 1.9.9 and its CCD simulator.

``indi_simulator_ccd`` cannot trail stars or cloud the sky, so the scripted night
reaches it as labelled files in its directory mode (one file per exposure, in name
order): the frames travel the real INDI path (driver, indiserver, BLOB connection)
while the truth stays in ``truth.jsonl``. PHD2 is our simulator; MQTT a real
mosquitto.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any, Literal

import aiomqtt
import pytest

from astroiqa_indi.actions import PausedEvent, Phd2Client, ResumedEvent, SettleParams
from astroiqa_indi.agent import Agent, LiveView
from astroiqa_indi.cli._watch import notifier_factory, run_agent
from astroiqa_indi.config import (
    MqttSettings,
    OpticsSettings,
    Phd2Settings,
    Profile,
    default_profile,
)
from astroiqa_indi.grading import Grader
from astroiqa_indi.indi import IndiClient
from simulators.observatory import write_night_files
from simulators.phd2 import Phd2Simulator
from tests.indi._support import CCD, IndiServer, serve_directory, start_exposure

pytestmark = [pytest.mark.network, pytest.mark.slow]

# A short night: clear, the mount's periodic error gone very bad, clouds, clear again.
NIGHT = """
name: short-night-with-faults
rig: seestar_s50
exposure_s: 4
seed: 20240607
loop: false
segments:
  - {name: clear, duration_s: 16, label: good}
  - name: periodic-error-worse
    duration_s: 16
    label: very_bad_tracking
    set: {drift_px: 0, wind_rms_px: 0, zigzag_amplitude_px: 0, jump_px: 0,
          pe_amplitude_px: 1, pe_period_s: 30, trail_fwhm: 5.0}
  - name: clouds
    duration_s: 12
    label: background_issues
    set: {cloud_variation: 0.6, cloud_glow: 0.4, cloud_scale: 0.4, transparency: 0.15}
  - {name: clear-again, duration_s: 20, label: good}
"""


@pytest.fixture(scope="module")
def grader() -> Grader:
    return Grader.load()


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    root = tmp_path_factory.mktemp("night")
    scenario = root / "night.yaml"
    scenario.write_text(NIGHT)
    folder = root / "frames"
    write_night_files(scenario, folder, size=(480, 360), seed=3)
    truth = [json.loads(line) for line in (folder / "truth.jsonl").read_text().splitlines()]
    return folder, truth


def _profile(
    server: IndiServer,
    *,
    mode: Literal["passive", "sequence"],
    phd2_port: int | None = None,
    local_socket: bool = False,
) -> Profile:
    base = default_profile()
    indi = dataclasses.replace(base.indi, port=server.port, ccd_device=CCD, mode=mode)
    if local_socket:
        indi = dataclasses.replace(indi, local_socket=server.unix_socket)
    return dataclasses.replace(
        base,
        indi=indi,
        # The driver writes its own header (no BAYERPAT, its own pixel size): the
        # profile states the rig, as it must for any such camera.
        optics=OpticsSettings(focal_length_mm=250, pixel_size_um=2.9, bayer="GRBG"),
        phd2=(
            Phd2Settings(host="127.0.0.1", port=phd2_port)
            if phd2_port is not None
            else Phd2Settings(enabled=False)
        ),
        sequence=dataclasses.replace(base.sequence, exposure_s=0.2, count=0),
    )


async def _serve_directory(server: IndiServer, folder: Path) -> None:
    """What the operator does once in Ekos: switch the camera to the folder."""
    async with IndiClient(port=server.port, blobs=False) as indi:
        await serve_directory(indi, folder)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_sequence_through_indiserver_pauses_guiding_and_resumes(
    tmp_path: Path,
    grader: Grader,
    private_indi_server: IndiServer,
    night: tuple[Path, list[dict[str, Any]]],
    mosquitto_broker: Any,
) -> None:
    folder, truth = night
    await _serve_directory(private_indi_server, folder)
    guider_events: list[str] = []
    received: list[str] = []

    async def observe_mqtt(ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto_broker.port) as client:
            await client.subscribe("iqa-dir/#", qos=1)
            ready.set()
            async for message in client.messages:
                received.append(message.topic.value)

    async with (
        Phd2Simulator(port=0, cadence_s=0.2, exposure_s=1.0) as phd2,
        Phd2Client("127.0.0.1", phd2.port) as guider,
    ):
        await guider.guide(SettleParams(pixels=3.0, time=0.5, timeout=30.0))

        async def observe_phd2() -> None:
            async for event in guider.events():
                if isinstance(event, PausedEvent | ResumedEvent):
                    guider_events.append(type(event).__name__)

        profile = dataclasses.replace(
            _profile(private_indi_server, mode="sequence", phd2_port=phd2.port),
            mqtt=MqttSettings(host="127.0.0.1", port=mosquitto_broker.port, base_topic="iqa-dir"),
        )
        ready = asyncio.Event()
        watchers = [
            asyncio.create_task(observe_phd2()),
            asyncio.create_task(observe_mqtt(ready)),
        ]
        await asyncio.wait_for(ready.wait(), 10)
        try:
            agent = Agent(
                profile,
                grader=grader,
                out_dir=tmp_path / "session",
                max_frames=len(truth),
                notifier_factory=notifier_factory,
                view=LiveView(enabled=False),
            )
            summary = await asyncio.wait_for(run_agent(agent), 240)
            await asyncio.sleep(0.5)  # the last QoS 1 verdict and PHD2 event
        finally:
            for task in watchers:
                task.cancel()
        final_state = await guider.get_app_state()

    journal = _lines(tmp_path / "session" / "journal.jsonl")
    frames = [r for r in journal if r["kind"] == "frame"]
    assert summary.frames == len(frames) == len(truth)
    assert summary.frame_errors == summary.dropped == summary.action_errors == 0
    # The driver serves the files in name order: frame i is truth line i.
    labels = [f["verdict"]["label"] for f in frames]
    clear = [(got, t["label"]) for got, t in zip(labels, truth, strict=True) if t["clear"]]
    agreement = sum(a == b for a, b in clear) / len(clear)
    assert agreement >= 0.8, list(zip(labels, [t["label"] for t in truth], strict=True))

    # Guiding paused within the policy's window (2 of 3) after the fault began, and
    # resumed after the sky cleared; PHD2 itself said so.
    pause_at = next(f["index"] for f in frames if "pause_guiding" in f["actions"])
    resume_at = next(f["index"] for f in frames if "resume:pause_guiding" in f["actions"])
    first_fault = next(t["frame"] for t in truth if t["label"] != "good")
    assert first_fault < pause_at <= first_fault + profile.policy.window, (pause_at, labels)
    last_fault = max(t["frame"] for t in truth if t["label"] != "good")
    assert last_fault < resume_at <= last_fault + profile.policy.resume_after_good + 1
    assert guider_events[:2] == ["PausedEvent", "ResumedEvent"], guider_events
    assert final_state.value == "Guiding"

    assert received.count("iqa-dir/simulator/frame") == len(frames)
    assert "iqa-dir/simulator/alert" in received


async def test_passive_mode_grades_exposures_another_client_takes(
    tmp_path: Path,
    grader: Grader,
    private_indi_server: IndiServer,
    night: tuple[Path, list[dict[str, Any]]],
) -> None:
    folder, truth = night
    await _serve_directory(private_indi_server, folder)
    # An agent on the indiserver machine: frames come over the local socket.
    profile = _profile(private_indi_server, mode="passive", local_socket=True)
    count = 5
    agent = Agent(
        profile,
        grader=grader,
        out_dir=tmp_path / "session",
        max_frames=count,
        view=LiveView(enabled=False),
    )
    session = asyncio.create_task(run_agent(agent))
    # "Ekos": its own connection, exposing one frame after another.
    async with IndiClient(port=private_indi_server.port) as ekos:
        stream = ekos.blobs(device=CCD)
        while agent.state.value == "idle":
            await asyncio.sleep(0.05)
        for _ in range(count):
            await start_exposure(ekos, 0.2)
            await asyncio.wait_for(anext(stream), 30)
        summary = await asyncio.wait_for(session, 60)
    journal = _lines(tmp_path / "session" / "journal.jsonl")
    frames = [r for r in journal if r["kind"] == "frame"]
    assert summary.frames == len(frames) == count
    assert [f["verdict"]["label"] for f in frames[:3]] == [t["label"] for t in truth[:3]]
    # Passive: the agent neither connected the camera nor asked for an exposure.
    events = [r["event"] for r in journal if r["kind"] == "event"]
    assert "camera_connected" not in events and "exposure_error" not in events
    assert len(list((tmp_path / "session" / "frames").glob("*.fits"))) == count


async def test_sequence_connects_the_camera_and_grades_its_star_field(
    tmp_path: Path, grader: Grader, private_indi_server: IndiServer
) -> None:
    # Nobody has connected the CCD Simulator: in sequence mode the agent does.
    base = _profile(private_indi_server, mode="sequence")
    profile = dataclasses.replace(
        base,
        optics=OpticsSettings(focal_length_mm=900, pixel_size_um=5.2, bayer="none"),
        # Long enough for the driver's faint gsc stars to rise above its noise.
        sequence=dataclasses.replace(base.sequence, exposure_s=2.0),
    )
    agent = Agent(
        profile, grader=grader, out_dir=tmp_path, max_frames=2, view=LiveView(enabled=False)
    )
    summary = await asyncio.wait_for(run_agent(agent), 120)
    journal = _lines(tmp_path / "journal.jsonl")
    events = [r["event"] for r in journal if r["kind"] == "event"]
    assert "camera_connected" in events
    frames = [r for r in journal if r["kind"] == "frame"]
    assert summary.frames == len(frames) == 2
    # The gsc shim's stars reached the grader through the driver.
    assert all(f["verdict"]["metrics"]["n_stars"] > 20 for f in frames), [
        (f["verdict"]["metrics"]["n_stars"], f["verdict"]["label"], f["verdict"]["reasons"])
        for f in frames
    ]


async def test_sequence_goes_on_after_indiserver_restarts(
    private_indi_server: IndiServer, grader: Grader, tmp_path: Path
) -> None:
    # The observatory computer's indiserver is restarted mid-night: its drivers come
    # back switched off, and the exposure under way never delivers its frame.
    import signal

    profile = _profile(private_indi_server, mode="sequence")
    agent = Agent(profile, grader=grader, out_dir=tmp_path, view=LiveView(enabled=False))
    running = asyncio.create_task(agent.run())

    async def until(count: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while agent.summary.frames < count and not running.done():
                await asyncio.sleep(0.05)

    try:
        await until(2, 60)
        private_indi_server.stop(signal.SIGKILL)
        private_indi_server.start()
        before = agent.summary.frames
        await until(before + 2, 120)
        assert agent.summary.frames >= before + 2
    finally:
        agent.stop()
        await asyncio.wait_for(running, 60)
    events = [r.get("event") for r in _lines(tmp_path / "journal.jsonl")]
    assert events.count("camera_connected") >= 2, events  # at start, and after the restart
