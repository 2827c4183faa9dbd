"""Command-line entry point: ``astroiqa-indi``."""

from astroiqa_indi.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
