"""A Siril script (``.ssf``) that converts, registers and stacks only the accepted frames.

Siril's ``convert`` takes every image of the current folder, so the script works on
a folder holding nothing but links to the accepted frames (``<dir>/lights``). The
script uses commands of Siril 1.2 and later: ``requires``, ``cd``, ``convert``
(which links FITS files rather than copying them), ``register`` (star alignment,
writing the ``r_`` sequence) and ``stack`` (rejection stacking, additive
normalisation with scale, as Siril's own preprocessing scripts do).

Run it with ``siril-cli -d <dir> -s <dir>/astroiqa-stack.ssf``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from astroiqa_indi import __version__
from astroiqa_indi.batch._actions import LinkResult, link_frames, write_text_atomic

__all__ = ["SCRIPT_NAME", "SirilScript", "siril_script_text", "write_siril"]

SCRIPT_NAME: Final = "astroiqa-stack.ssf"
LIGHTS: Final = "lights"
_SEQUENCE: Final = "light"
MIN_FRAMES: Final = 2  # registration needs a reference and one more frame


@dataclass(frozen=True, slots=True)
class SirilScript:
    """The script written (``None`` with fewer than two accepted frames) and the links."""

    script: Path | None
    links: LinkResult


def siril_script_text(
    *, n_frames: int, keep: Sequence[str], debayer: bool, mixed_colour: bool = False
) -> str:
    """The script's text; it is relative to the folder Siril is started in."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"# Written by astroiqa-indi {__version__} on {stamp}.",
        f"# Stacks the {n_frames} frames graded {', '.join(sorted(keep))} (links in {LIGHTS}/).",
        "# No calibration: add -bias=, -dark=, -flat= masters with Siril's calibrate if needed.",
        f"# Run: siril-cli -d <this folder> -s <this folder>/{SCRIPT_NAME}",
    ]
    if mixed_colour:
        lines.append("# WARNING: colour and mono frames are mixed; stack them separately.")
    convert = f"convert {_SEQUENCE} -out=../process"
    if debayer:
        convert += " -debayer"
    lines += [
        "requires 1.2.0",
        f"cd {LIGHTS}",
        convert,
        "cd ../process",
        f"register {_SEQUENCE}",
        f"stack r_{_SEQUENCE} rej 3 3 -norm=addscale -output_norm -out=../accepted_stack",
        "cd ..",
        "close",
    ]
    return "\n".join(lines) + "\n"


def write_siril(
    folder: Path, frames: Sequence[Path], *, keep: Sequence[str], bayer: Sequence[str | None]
) -> SirilScript:
    """Link the accepted frames into ``folder/lights`` and write the script next to it.

    Parameters
    ----------
    folder
        Siril's working folder for this stack (created).
    frames
        The accepted frame files.
    keep
        The accepted labels, for the script's comment.
    bayer
        Bayer pattern per frame (``None``: mono); any pattern adds ``-debayer``.
    """
    links = link_frames(frames, folder / LIGHTS)
    present = len(links.created) + len(links.existing)
    script = folder / SCRIPT_NAME
    if present < MIN_FRAMES:
        return SirilScript(script=None, links=links)
    colour = [b is not None for b in bayer]
    text = siril_script_text(
        n_frames=present,
        keep=keep,
        debayer=any(colour),
        mixed_colour=any(colour) and not all(colour),
    )
    return SirilScript(script=write_text_atomic(script, text), links=links)
