"""``astroiqa-indi watch``: the live agent on a real (or simulated) INDI session."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from astroiqa_indi.agent import Notifier
    from astroiqa_indi.config import Profile


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "watch",
        help="grade every exposure of a live INDI session and act on it",
        description=(
            "Connect to INDI, grade every CCD BLOB as it lands, alert over MQTT, pause "
            "PHD2 guiding and flag frames as the profile says. Ctrl-C writes the report."
        ),
    )
    p.add_argument("--profile", required=True, metavar="FILE", help="rig profile (YAML)")
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: shipped)")
    p.add_argument(
        "--out", metavar="DIR", help="session folder (default: profile agent.journal_dir/<time>)"
    )
    p.add_argument("--frames", type=int, metavar="N", help="stop after N graded frames")
    p.set_defaults(func=_run)


def notifier_factory(profile: Profile, on_command: Callable[[str], Awaitable[None]]) -> Notifier:
    """Build the MQTT notifier for a profile with an ``mqtt`` section."""
    from astroiqa_indi.alerts import Command, MqttNotifier

    assert profile.mqtt is not None

    async def command(cmd: Command) -> None:
        await on_command(cmd.value)

    notifier: Notifier = MqttNotifier(profile.mqtt, rig=profile.name, on_command=command)
    return notifier


def session_dir(profile: Profile, out: str | None) -> Path:
    if out:
        return Path(out)
    return Path(profile.agent.journal_dir) / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def reference_file(profile: Profile, out: str | None) -> Path | None:
    """Where the session transparency reference lives: in the session folder with
    ``--out``; else beside the timestamped session folders, one per camera, so that
    a restart (which gets a new folder) finds the one before it."""
    if out:
        return None
    camera = re.sub(r"[^A-Za-z0-9._-]+", "_", profile.indi.ccd_device)
    return Path(profile.agent.journal_dir) / f"transparency-{camera}.json"


async def run_agent(agent: Any) -> Any:
    """Run an agent until it stops by itself or SIGINT/SIGTERM asks it to."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, agent.stop)
    try:
        return await agent.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


def _run(args: argparse.Namespace) -> int:
    from astroiqa_indi.agent import Agent
    from astroiqa_indi.config import load_profile
    from astroiqa_indi.grading import Grader

    profile = load_profile(args.profile)
    grader = Grader.load(args.model)
    agent = Agent(
        profile,
        grader=grader,
        out_dir=session_dir(profile, args.out),
        max_frames=args.frames,
        notifier_factory=notifier_factory,
        reference_file=reference_file(profile, args.out),
    )
    summary = asyncio.run(run_agent(agent))
    print(json.dumps(summary.to_dict(), indent=2))
    return 0
