"""``astroiqa-indi demo``: a scripted night on the simulated observatory, end to end.

Starts, in this process and on free loopback ports, the simulated INDI observatory
playing ``night-with-faults.yaml`` and a PHD2 simulator whose guiding follows the
same night; then runs the live agent with the embedded profile until the night
has played once, and writes the report.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

_DEFAULT_OUT = "demo-output"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the live agent on a simulated night with faults (what `make demo` runs)",
    )
    p.add_argument("--out", default=_DEFAULT_OUT, metavar="DIR", help="session folder")
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: shipped)")
    p.add_argument(
        "--time-scale",
        type=float,
        default=5.0,
        help="simulated seconds per wall-clock second (default 5: the 5-minute night in ~1)",
    )
    p.add_argument("--size", default="640x480", metavar="WxH", help="sensor crop to render")
    p.add_argument("--scenario", metavar="FILE", help="scenario YAML (default: night-with-faults)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    summary = asyncio.run(run_demo(args))
    print(json.dumps(summary, indent=2))
    return 0


async def run_demo(args: argparse.Namespace) -> dict[str, Any]:
    import simulators
    from astroiqa_indi.actions import Phd2Client, SettleParams
    from astroiqa_indi.agent import Agent
    from astroiqa_indi.cli._watch import run_agent
    from astroiqa_indi.config import default_profile
    from astroiqa_indi.grading import Grader
    from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer
    from simulators.phd2 import GuideConditions, Phd2Simulator
    from simulators.sky import load_scenario

    scenario_path = (
        Path(args.scenario)
        if args.scenario
        else Path(simulators.__file__).parent / "scenarios" / "night-with-faults.yaml"
    )
    scenario = load_scenario(scenario_path)
    width, height = (int(v) for v in args.size.lower().split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grader = Grader.load(args.model)
    profile = default_profile()
    exposure_s = float(scenario.exposure_s)
    night_s = sum(segment.duration_s for segment in scenario.segments)
    frames = max(1, int(night_s // exposure_s))
    config = ObservatoryConfig(
        ccd_name=profile.indi.ccd_device,
        rig=scenario.rig,
        size=(width, height),
        scenario=scenario_path,
        time_scale=args.time_scale,
        seed=1,
        truth_log=out / "truth.jsonl",
        auto_connect=True,
    )
    async with Observatory(config) as observatory:

        def guiding() -> GuideConditions:
            # PHD2 feels the same night: tracking faults swell the RMS, clouds hide the star.
            c = observatory.player.now().conditions
            wobble = c.pe_amplitude_px + c.wind_rms_px + c.zigzag_amplitude_px + c.drift_px / 10
            return GuideConditions(rms_arcsec=0.6 + 1.5 * wobble, star_lost=c.transparency < 0.3)

        async with (
            ObservatoryServer(observatory, host="127.0.0.1", port=0) as server,
            Phd2Simulator(port=0, cadence_s=0.5, exposure_s=2.0, conditions=guiding) as phd2,
        ):
            assert profile.phd2 is not None
            profile = dataclasses.replace(
                profile,
                indi=dataclasses.replace(profile.indi, port=server.port),
                phd2=dataclasses.replace(profile.phd2, port=phd2.port),
                sequence=dataclasses.replace(profile.sequence, exposure_s=exposure_s),
            )
            # Start guiding as an imager would before the sequence begins.
            async with Phd2Client("127.0.0.1", phd2.port) as guider:
                await guider.guide(SettleParams(pixels=3.0, time=1.0, timeout=30.0))
            agent = Agent(profile, grader=grader, out_dir=out, max_frames=frames)
            summary = await run_agent(agent)
    return summary.to_dict()
