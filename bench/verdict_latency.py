"""From the end of an exposure to its MQTT verdict, for a 26 MP frame, through real servers.

Run: ``.venv/bin/python -m bench.verdict_latency [--repeat N] [--size WxH]
[--transport tcp|local|both]``

Parts: Debian's ``indiserver`` with ``indi_simulator_ccd`` in directory mode
serving sky-simulator frames of the ASI2600MM rig (6248x4176 uint16 by default),
a ``mosquitto`` broker, and the live agent in passive mode, all on loopback. The
benchmark plays the capture program: it asks for an exposure, and waits for the
verdict on ``<base>/<rig>/frame``. Latency = verdict received - (exposure asked
+ exposure time): the driver's readout, BLOB transfer, decoding, saving the frame,
grading, flagging and publishing.

Two sessions on the same server, one per way the agent can reach it: ``tcp``
(``indi.host``/``port``: base64 text, as for a remote agent) and ``local``
(``indi.local_socket``: shared memory, for an agent on the indiserver machine).

Baseline (same process, same frames): ``Grader.grade`` alone on the decoded frame,
timed before and after the session. The goal of issue #6 is a median latency <= 1.5x
the baseline median.

Like ``astroiqa-indi watch``, the bench first calls :func:`astroiqa_indi.tune_malloc`
(large blocks from one kept heap); ``--default-malloc`` leaves glibc's defaults, to
show what that setting is worth.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from astroiqa_indi import tune_malloc
from astroiqa_indi.agent import Agent, LiveView
from astroiqa_indi.cli._watch import notifier_factory
from astroiqa_indi.config import (
    MqttSettings,
    OpticsSettings,
    Phd2Settings,
    Profile,
    default_profile,
)
from astroiqa_indi.frames import Frame
from astroiqa_indi.grading import Grader
from astroiqa_indi.indi import IndiClient
from simulators.observatory import write_night_files
from simulators.sky import SCENARIO_DIR
from tests._mosquitto import MosquittoBroker
from tests._servers import find_program
from tests.indi._support import CCD, IndiServer, serve_directory

EXPOSURE_S = 1.0
RIG = "refractor80_asi2600mm"


def _program(name: str) -> str:
    path = find_program(name)
    if path is None:
        sys.exit(f"{name} not found: install indi-bin and mosquitto (see README)")
    return path


_TRANSPORTS = {
    "tcp": "TCP (base64 text)",
    "local": "indiserver's local socket (shared memory)",
}


async def _run(
    size: tuple[int, int], repeat: int, workdir: Path, transports: tuple[str, ...]
) -> None:
    frames_dir = workdir / "frames"
    files = write_night_files(
        SCENARIO_DIR / "night-with-faults.yaml", frames_dir, rig=RIG, size=size, count=3
    )
    grader = Grader.load()
    base = default_profile()
    profile = dataclasses.replace(
        base,
        optics=OpticsSettings(focal_length_mm=480, pixel_size_um=3.76, bayer="none"),
        phd2=Phd2Settings(enabled=False),
    )
    # Baseline: grading alone, on the same frames, after a warm-up.
    decoded = [
        Frame.from_path(f.path, pixel_scale_arcsec=profile.optics.pixel_scale()) for f in files
    ]
    grader.grade(decoded[0], profile)
    alone = _time_grading(grader, decoded, profile, repeat)
    blobs = [f.path.read_bytes() for f in files]
    decode = []
    for n in range(repeat):
        t0 = time.perf_counter()
        Frame.from_bytes(blobs[n % len(blobs)], ".fits", bayer="none")
        decode.append(time.perf_counter() - t0)
    del blobs

    indi = IndiServer(program=_program("indiserver"), home=workdir)
    broker = MosquittoBroker(_program("mosquitto"), workdir / "broker")
    indi.start(new_port_if_taken=True)
    broker.start()
    try:
        profile = dataclasses.replace(
            profile,
            indi=dataclasses.replace(base.indi, port=indi.port, ccd_device=CCD, mode="passive"),
            mqtt=MqttSettings(host="127.0.0.1", port=broker.port, base_topic="bench"),
        )
        sessions = {}
        for transport in transports:
            indi_settings = profile.indi
            if transport == "local":
                indi_settings = dataclasses.replace(indi_settings, local_socket=indi.unix_socket)
            sessions[transport] = await _session(
                dataclasses.replace(profile, indi=indi_settings),
                grader,
                frames_dir,
                workdir / f"session-{transport}",
                repeat,
            )
    finally:
        broker.stop()
        indi.stop()
    alone += _time_grading(grader, decoded, profile, repeat)
    del decoded

    base_s = statistics.median(alone)
    print(
        f"frame {size[0]}x{size[1]} uint16 ({RIG}), exposure {EXPOSURE_S} s, "
        f"median of {repeat} (baseline: {2 * repeat} timings)"
    )
    print(f"  {'baseline: Grader.grade alone':<48} {base_s * 1000:8.0f} ms  (1.00x)")
    decode_s = statistics.median(decode)
    print(
        f"  {'Frame.from_bytes alone, same frames':<48} {decode_s * 1000:8.0f} ms  "
        f"({decode_s / base_s:.2f}x)"
    )
    for transport, (latencies, landed, readouts, inside) in sessions.items():
        print(f"INDI over {_TRANSPORTS[transport]}:")
        _report(base_s, latencies, landed, readouts, inside)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (grader, agent, clients): {peak:.0f} MB")


def _report(
    base_s: float,
    latencies: list[float],
    landed: list[float],
    readouts: list[float],
    inside: list[float],
) -> None:
    median = statistics.median(latencies)
    print(f"  {'(grading inside the agent)':<48} {statistics.median(inside) * 1000:8.0f} ms")
    print(
        f"  {'agent: BLOB landed -> verdict (journal)':<48} "
        f"{statistics.median(landed) * 1000:8.0f} ms  ({statistics.median(landed) / base_s:.2f}x)"
    )
    transport = median - statistics.median(landed)
    print(
        f"  {'(difference: end of exposure -> BLOB landed)':<48} {transport * 1000:8.0f} ms  "
        f"({transport / base_s:.2f}x)"
    )
    readout = statistics.median(readouts)
    print(
        f"  {'  of which the driver, before the first byte':<48} {readout * 1000:8.0f} ms  "
        f"({readout / base_s:.2f}x; CCD_EXPOSURE leaves Busy)"
    )
    print(
        f"  {'end of exposure -> MQTT verdict received':<48} "
        f"{median * 1000:8.0f} ms  ({median / base_s:.2f}x; goal <= 1.5x)"
    )


def _time_grading(
    grader: Grader, frames: list[Frame], profile: Profile, repeat: int
) -> list[float]:
    seconds = []
    for n in range(repeat):
        t0 = time.perf_counter()
        grader.grade(frames[n % len(frames)], profile)
        seconds.append(time.perf_counter() - t0)
    return seconds


async def _session(
    profile: Profile, grader: Grader, frames_dir: Path, workdir: Path, repeat: int
) -> tuple[list[float], list[float], list[float], list[float]]:
    mqtt = profile.mqtt
    assert mqtt is not None
    verdicts: asyncio.Queue[float] = asyncio.Queue()

    async def listen(ready: asyncio.Event) -> None:
        async with aiomqtt.Client(mqtt.host, mqtt.port) as client:
            await client.subscribe(f"{mqtt.base_topic}/+/frame", qos=1)
            ready.set()
            async for _ in client.messages:
                verdicts.put_nowait(time.perf_counter())

    async with IndiClient(port=profile.indi.port, blobs=False) as capture:
        await serve_directory(capture, frames_dir)
        agent = Agent(
            profile,
            grader=grader,
            out_dir=workdir,
            max_frames=repeat + 1,
            notifier_factory=notifier_factory,
            view=LiveView(enabled=False),
        )
        ready = asyncio.Event()
        async with asyncio.TaskGroup() as tg:
            listener = tg.create_task(listen(ready))
            session = tg.create_task(agent.run())
            await asyncio.wait_for(ready.wait(), 10)
            while agent.state.value == "idle":
                await asyncio.sleep(0.05)
            latencies, readouts = [], []
            for n in range(repeat + 1):  # the first frame warms the pipeline up
                asked = time.perf_counter()
                # The driver leaves Busy once the frame is read out and encoded, just
                # before the first byte of its BLOB goes out.
                await capture.set_number(
                    CCD, "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": EXPOSURE_S}, wait=True, timeout=30
                )
                read_out = time.perf_counter()
                received = await asyncio.wait_for(verdicts.get(), 120)
                if n:
                    latencies.append(received - asked - EXPOSURE_S)
                    readouts.append(read_out - asked - EXPOSURE_S)
            await session
            listener.cancel()
    journal = _journal(workdir / "journal.jsonl")
    frames = [line for line in journal if line["kind"] == "frame"][1:]
    landed = [line["timings"]["landed_to_verdict"] for line in frames]
    inside = [line["verdict"]["timings"]["total"] for line in frames]
    return latencies, landed, readouts, inside


def _journal(path: Path) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--size", default="6248x4176", help="WxH")
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (new) and keep it")
    parser.add_argument("--transport", choices=("tcp", "local", "both"), default="both")
    parser.add_argument(
        "--default-malloc", action="store_true", help="do not call astroiqa_indi.tune_malloc"
    )
    args = parser.parse_args()
    malloc = "glibc defaults" if args.default_malloc or not tune_malloc() else "tune_malloc()"
    print(f"allocator: {malloc}")
    width, height = (int(v) for v in args.size.split("x"))
    transports = ("tcp", "local") if args.transport == "both" else (args.transport,)
    if args.keep:
        Path(args.keep).mkdir(parents=True)
        asyncio.run(_run((width, height), args.repeat, Path(args.keep), transports))
        return
    with tempfile.TemporaryDirectory(prefix="astroiqa-latency-") as tmp:
        asyncio.run(_run((width, height), args.repeat, Path(tmp), transports))


if __name__ == "__main__":
    main()
