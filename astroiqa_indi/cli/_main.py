"""``astroiqa-indi`` argument parsing and dispatch.

Each subcommand lives in its own module exposing ``register(subparsers)``.
Those modules import nothing heavy at module level, so ``--help`` stays fast
and never loads TensorFlow.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import sys
from collections.abc import Sequence

from astroiqa_indi import __version__, tune_malloc
from astroiqa_indi.errors import AstroIQAError

# Order is the order shown by --help. A module listed here that does not exist
# yet is skipped, so subcommands arrive one issue at a time.
_SUBCOMMAND_MODULES = (
    "astroiqa_indi.cli._demo",
    "astroiqa_indi.cli._watch",
    "astroiqa_indi.cli._grade",
    "astroiqa_indi.cli._train",
    "astroiqa_indi.cli._evaluate",
    "astroiqa_indi.cli._simulate",
)
# Commands that grade frame after frame in one process (see astroiqa_indi._malloc).
_GRADING_COMMANDS = frozenset({"demo", "watch", "grade", "evaluate"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="astroiqa-indi",
        description=(
            "Grade telescope exposures (good, bad_tracking, very_bad_tracking, bad_seeing, "
            "background_issues) live over INDI or in folders, and act on the verdicts."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    if args.command in _GRADING_COMMANDS:
        tune_malloc()
    for stream in (sys.stdout, sys.stderr):
        # A frame name that is not UTF-8 (a Latin-1 camera share) must not end a night's
        # run: printed as its bytes on disk, as ls and find do, or escaped where the
        # terminal's encoding cannot hold what a reason says.
        if isinstance(stream, io.TextIOWrapper):
            utf8 = stream.encoding.lower().replace("-", "") == "utf8"
            stream.reconfigure(errors="surrogateescape" if utf8 else "backslashreplace")
    try:
        return int(args.func(args) or 0)
    except AstroIQAError as exc:
        print(f"astroiqa-indi: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("astroiqa-indi: interrupted", file=sys.stderr)
        return 130
