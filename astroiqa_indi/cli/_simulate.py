"""``astroiqa-indi simulate ...``: the simulated observatory's commands.

Each simulator contributes its own sub-commands through a module with
``register(subparsers)``; a module that does not exist yet is skipped.
The simulators are imported here only, never by the rest of the product.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

__all__ = ["register"]

_MODULES = (
    "simulators.sky._cli",
    "simulators.observatory._cli",
    "simulators.phd2._cli",
)


def _help(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return show


def register(subparsers: Any) -> None:
    """Add the ``simulate`` command and its sub-commands."""
    parser = subparsers.add_parser(
        "simulate",
        help="simulated observatory: render labelled frames, previews, INDI and PHD2 simulators",
        description="Simulators for training and demos.",
    )
    parser.set_defaults(func=_help(parser))
    sub = parser.add_subparsers(dest="simulate_command", metavar="WHAT")
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise
            continue
        module.register(sub)
