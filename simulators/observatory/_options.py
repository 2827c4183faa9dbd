"""Command-line options shared by ``astroiqa-indi simulate observatory`` and the driver.

``indiserver`` starts a driver with no arguments, so every option also has an
environment variable (``ASTROIQA_SIM_*``) that the driver reads as its default.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulators.observatory._observatory import ObservatoryConfig

__all__ = ["ENV_PREFIX", "add_config_arguments", "config_from_args", "parse_size"]

ENV_PREFIX = "ASTROIQA_SIM_"


def parse_size(text: str) -> tuple[int, int]:
    """``"256x192"`` -> ``(256, 192)`` (width, height)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from exc
    if min(width, height) < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return width, height


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _truthy(text: str) -> bool:
    return text.strip().lower() in {"1", "true", "yes", "on"}


def add_config_arguments(
    parser: argparse.ArgumentParser, *, env: Mapping[str, str] | None = None
) -> None:
    """Add the observatory options; defaults come from ``env`` when given.

    Parameters
    ----------
    parser
        Parser (or subparser) to extend.
    env
        Environment to read ``ASTROIQA_SIM_*`` defaults from (the driver passes
        ``os.environ``; the CLI passes nothing so only flags count).
    """
    env = env or {}

    def default(key: str) -> str | None:
        return env.get(ENV_PREFIX + key) or None

    group = parser.add_argument_group("observatory")
    group.add_argument(
        "--scenario",
        type=Path,
        default=default("SCENARIO"),
        metavar="FILE",
        help="scenario YAML to play (default: a clear sky; env ASTROIQA_SIM_SCENARIO)",
    )
    group.add_argument(
        "--rig",
        default=default("RIG"),
        metavar="NAME",
        help="rig from the sky simulator's RIGS (env ASTROIQA_SIM_RIG)",
    )
    size = default("SIZE")
    group.add_argument(
        "--size",
        type=parse_size,
        default=parse_size(size) if size else None,
        metavar="WxH",
        help="sensor size in pixels, e.g. 256x256 (default: the rig's; env ASTROIQA_SIM_SIZE)",
    )
    scale = default("TIME_SCALE")
    group.add_argument(
        "--time-scale",
        type=_positive_float,
        default=_positive_float(scale) if scale else 1.0,
        metavar="X",
        help="simulated seconds per real second (env ASTROIQA_SIM_TIME_SCALE)",
    )
    group.add_argument(
        "--seed",
        type=int,
        default=int(default("SEED") or 0),
        help="random seed of stars and noise (env ASTROIQA_SIM_SEED)",
    )
    group.add_argument(
        "--truth-log",
        type=Path,
        default=default("TRUTH_LOG"),
        metavar="FILE",
        help="append one JSON line of truth per frame (env ASTROIQA_SIM_TRUTH_LOG)",
    )
    group.add_argument(
        "--ccd-name",
        default=default("CCD_NAME") or "AstroIQA CCD",
        help="INDI name of the camera (env ASTROIQA_SIM_CCD_NAME)",
    )
    group.add_argument(
        "--mount-name",
        default=default("MOUNT_NAME") or "AstroIQA Mount",
        help="INDI name of the mount (env ASTROIQA_SIM_MOUNT_NAME)",
    )
    group.add_argument(
        "--auto-connect",
        action="store_true",
        default=_truthy(default("AUTO_CONNECT") or ""),
        help="start with the devices connected (env ASTROIQA_SIM_AUTO_CONNECT=1)",
    )
    group.add_argument(
        "--upload-dir",
        type=Path,
        default=default("UPLOAD_DIR"),
        metavar="DIR",
        help="initial UPLOAD_DIR for local uploads (env ASTROIQA_SIM_UPLOAD_DIR)",
    )
    readout = default("READOUT_S")
    group.add_argument(
        "--readout",
        type=float,
        default=float(readout) if readout else 0.0,
        metavar="SECONDS",
        help="real seconds to read each frame out, deaf to requests meanwhile "
        "(env ASTROIQA_SIM_READOUT_S; default 0)",
    )
    group.add_argument(
        "--threaded-upload",
        action="store_true",
        default=_truthy(default("THREADED_UPLOAD") or ""),
        help="during read-out, answer an abort at once and still send the frame, as "
        "libindi does (env ASTROIQA_SIM_THREADED_UPLOAD=1)",
    )


def config_from_args(args: argparse.Namespace) -> ObservatoryConfig:
    """The :class:`ObservatoryConfig` the parsed options describe."""
    # Imported here so that building the parser (``--help``) stays free of numpy.
    from simulators.observatory._observatory import ObservatoryConfig

    return ObservatoryConfig(
        ccd_name=args.ccd_name,
        mount_name=args.mount_name,
        rig=args.rig,
        size=args.size,
        scenario=Path(args.scenario) if args.scenario else None,
        time_scale=args.time_scale,
        seed=args.seed,
        truth_log=Path(args.truth_log) if args.truth_log else None,
        auto_connect=args.auto_connect,
        upload_dir=Path(args.upload_dir) if args.upload_dir else None,
        readout_s=args.readout,
        threaded_upload=args.threaded_upload,
    )
