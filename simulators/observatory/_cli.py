"""``astroiqa-indi simulate observatory``: serve the simulated observatory on TCP."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import TYPE_CHECKING, Any, TextIO

from simulators.observatory._options import add_config_arguments, config_from_args

if TYPE_CHECKING:
    from simulators.observatory._observatory import ObservatoryConfig

__all__ = ["register", "run", "serve"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``observatory`` sub-command to the ``simulate`` command's ``subparsers``."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "observatory",
        help="run a simulated INDI camera + mount (a standalone INDI server)",
        description=(
            "Serve a simulated INDI camera ('AstroIQA CCD') and mount ('AstroIQA Mount') on "
            "TCP, like indiserver would. Frames come from the sky simulator under the "
            "conditions a scenario scripts (or that a client sets in SIM_CONDITIONS). "
            "Point KStars/Ekos, our agent or any INDI client at --host:--port."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=7624, help="TCP port (INDI uses 7624)")
    add_config_arguments(parser)
    parser.set_defaults(func=run)
    files = subparsers.add_parser(
        "night-files",
        help="write a scenario night as FITS files for indi_simulator_ccd's directory mode",
        description=(
            "Render one pass of a scenario into OUT/frame_00001.fits... (name order is time "
            "order, PIXSIZE1 set as INDI 1.9.9 requires) with the truth in OUT/truth.jsonl. "
            "Point the CCD Simulator's CCD_DIRECTORY_LOCATION at OUT and switch "
            "CCD_DIRECTORY_TOGGLE on: each exposure then serves the next file."
        ),
    )
    files.add_argument("--out", required=True, metavar="DIR", help="folder to write")
    files.add_argument(
        "--scenario", metavar="FILE", help="scenario YAML (default: night-with-faults)"
    )
    files.add_argument("--rig", help="catalogue rig (default: the scenario's)")
    files.add_argument("--size", default="640x480", metavar="WxH", help="sensor crop")
    files.add_argument("--seed", type=int, default=1, help="camera noise seed")
    files.add_argument("--count", type=int, help="frames (default: one pass of the night)")
    files.add_argument(
        "--workers", type=int, default=1, help="processes rendering in parallel (same files)"
    )
    files.set_defaults(func=run_night_files)
    return parser


def run_night_files(args: argparse.Namespace) -> int:
    """Write the files and print one line per frame; 1 on bad options."""
    from pathlib import Path

    from simulators.observatory._night_files import write_night_files
    from simulators.sky import SCENARIO_DIR

    scenario = Path(args.scenario) if args.scenario else SCENARIO_DIR / "night-with-faults.yaml"
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
        written = write_night_files(
            scenario,
            args.out,
            rig=args.rig,
            size=(width, height),
            seed=args.seed,
            count=args.count,
            workers=args.workers,
        )
    except (ValueError, OSError) as exc:
        print(f"astroiqa-indi simulate night-files: error: {exc}", file=sys.stderr)
        return 1
    for item in written:
        clear = "" if item.clear else " (near a boundary)"
        print(f"{item.path.name}  {item.segment:<24} {item.label}{clear}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C (or SIGTERM); 0 on a clean stop, 1 on bad options."""
    import yaml

    try:
        config = config_from_args(args)
        asyncio.run(serve(config, host=args.host, port=args.port))
    except (ValueError, OSError, yaml.YAMLError) as exc:
        # A wrong rig, scenario file or busy port: say so without a traceback.
        print(f"astroiqa-indi simulate observatory: error: {exc}", file=sys.stderr)
        return 1
    return 0


async def serve(
    config: ObservatoryConfig, *, host: str, port: int, out: TextIO | None = None
) -> None:
    """Serve ``config`` on ``host:port``, printing progress to ``out``, until a signal.

    Prints where it listens, every scenario change, and ``stopped`` on the way out.
    """
    from simulators.observatory._observatory import Observatory
    from simulators.observatory._server import ObservatoryServer

    stream = out or sys.stdout

    def say(line: str) -> None:
        print(line, file=stream, flush=True)

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM)
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    say(f"preparing {config.scenario or 'a clear sky'} ...")
    try:
        observatory = Observatory(config)
        async with observatory, ObservatoryServer(observatory, host=host, port=port) as server:
            devices = ", ".join(repr(name) for name in observatory.devices)
            say(f"INDI observatory listening on {server.host}:{server.port} (devices {devices})")
            say("Ctrl-C to stop")
            say(f"scenario: {observatory.player.status_line()}")
            observatory.on_scenario(lambda line: say(f"scenario: {line}"))
            await stop.wait()
            say("stopping...")
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)
    say("stopped")
