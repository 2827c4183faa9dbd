"""``astroiqa-indi simulate phd2``: run the PHD2 simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``phd2`` sub-command to the ``simulate`` command's ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "phd2",
        help="run a simulated PHD2 guider (event server, JSON-RPC on TCP)",
        description=(
            "Listen like PHD2's event server: Version/AppState on connect, GuideStep events "
            "at the guide cadence, and the get_app_state/set_paused/guide/dither/... methods."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=4400, help="TCP port (PHD2 uses 4400)")
    parser.add_argument(
        "--cadence",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between guide frames (default: 2)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if not args.cadence > 0:
        raise SystemExit("--cadence must be > 0")
    try:
        asyncio.run(_serve(args.host, args.port, args.cadence))
    except KeyboardInterrupt:
        print("PHD2 simulator stopped")
    return 0


async def _serve(host: str, port: int, cadence_s: float) -> None:
    # Imported here so that `astroiqa-indi --help` does not import numpy.
    from simulators.phd2 import Phd2Simulator

    async with Phd2Simulator(host, port, cadence_s=cadence_s) as sim:
        print(f"PHD2 simulator listening on {sim.host}:{sim.port} (Ctrl-C to stop)", flush=True)
        await sim.serve_forever()
