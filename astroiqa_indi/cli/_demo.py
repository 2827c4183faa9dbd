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
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astroiqa_indi.config import Phd2Settings

if TYPE_CHECKING:
    from astroiqa_indi.agent import LiveView, Notifier, SessionSummary
    from astroiqa_indi.config import Profile
    from astroiqa_indi.grading import Grader

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
    from astroiqa_indi.config import default_profile
    from astroiqa_indi.grading import Grader

    width, height = (int(v) for v in args.size.lower().split("x"))
    summary = await run_simulated_night(
        default_profile(),
        grader=Grader.load(args.model),
        out=Path(args.out),
        scenario=Path(args.scenario) if args.scenario else None,
        time_scale=args.time_scale,
        size=(width, height),
    )
    return summary.to_dict()


async def run_simulated_night(
    profile: Profile,
    *,
    grader: Grader,
    out: Path,
    scenario: Path | None = None,
    time_scale: float = 5.0,
    size: tuple[int, int] = (640, 480),
    notifier_factory: Callable[[Profile, Callable[[str], Awaitable[None]]], Notifier] | None = None,
    view: LiveView | None = None,
) -> SessionSummary:
    """Play one scenario night on the simulated observatory with the live agent.

    The observatory and the PHD2 simulator listen on free loopback ports; the
    profile's INDI and PHD2 addresses and exposure time are replaced accordingly.
    The truth of every frame goes to ``out/truth.jsonl``.
    """
    import simulators
    from astroiqa_indi.actions import Phd2Client, SettleParams
    from astroiqa_indi.agent import Agent
    from astroiqa_indi.cli._watch import run_agent
    from simulators.observatory import Observatory, ObservatoryConfig, ObservatoryServer
    from simulators.phd2 import GuideConditions, Phd2Simulator
    from simulators.sky import load_scenario

    scenario_path = scenario or Path(simulators.__file__).parent / "scenarios" / (
        "night-with-faults.yaml"
    )
    night = load_scenario(scenario_path)
    out.mkdir(parents=True, exist_ok=True)
    exposure_s = float(night.exposure_s)
    frames = max(1, int(sum(s.duration_s for s in night.segments) // exposure_s))
    config = ObservatoryConfig(
        ccd_name=profile.indi.ccd_device,
        rig=night.rig,
        size=size,
        scenario=scenario_path,
        time_scale=time_scale,
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
            phd2_settings = profile.phd2 or Phd2Settings()
            profile = dataclasses.replace(
                profile,
                indi=dataclasses.replace(
                    profile.indi, host="127.0.0.1", port=server.port, mode="sequence"
                ),
                phd2=dataclasses.replace(phd2_settings, host="127.0.0.1", port=phd2.port),
                sequence=dataclasses.replace(profile.sequence, exposure_s=exposure_s),
            )
            # Start guiding as an imager would before the sequence begins.
            async with Phd2Client("127.0.0.1", phd2.port) as guider:
                await guider.guide(SettleParams(pixels=3.0, time=1.0, timeout=30.0))
            agent = Agent(
                profile,
                grader=grader,
                out_dir=out,
                max_frames=frames,
                notifier_factory=notifier_factory,
                view=view,
            )
            return await run_agent(agent)
