"""``astroiqa-indi simulate frames`` and ``astroiqa-indi simulate preview``.

Imports nothing heavy at module level: the parser is built on every CLI call.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = text.lower().split("x")
        size = (int(w), int(h))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from exc
    if min(size) < 16:
        raise argparse.ArgumentTypeError("size must be at least 16x16")
    return size


def _frames(args: argparse.Namespace) -> int:
    from simulators.sky import RIGS, write_dataset

    rigs = None
    if args.rigs:
        rigs = [name.strip() for name in args.rigs.split(",") if name.strip()]
        unknown = [n for n in rigs if n not in RIGS]
        if unknown:
            raise SystemExit(f"unknown rigs {unknown}; known: {', '.join(RIGS)}")
    out = write_dataset(
        args.out,
        per_class=args.per_class,
        seed=args.seed,
        rigs=rigs,
        random_rigs=args.random_rigs,
        boundary=args.boundary,
        size=args.size,
        workers=args.workers,
        fewest_stars=args.fewest_stars,
    )
    print(f"wrote {args.per_class * 5} frames to {out}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from simulators.sky import write_preview

    out = args.out or Path(args.dataset) / "preview.png"
    write_preview(args.dataset, out, per_label=args.per_label)
    print(f"wrote {out}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``frames`` and ``preview`` to the ``simulate`` sub-subparsers."""
    p = subparsers.add_parser(
        "frames",
        help="render a labelled dataset of FITS frames",
        description="Render PER_CLASS frames of each label into DIR/frames, with DIR/labels.csv "
        "and DIR/profiles/<rig>.yaml. Same seed, same bytes.",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument("--per-class", required=True, type=int, metavar="N")
    p.add_argument("--seed", required=True, type=int, metavar="S")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rigs", metavar="NAMES", help="comma-separated catalogue rig names")
    group.add_argument("--random-rigs", action="store_true", help="a new random rig per frame")
    p.add_argument("--boundary", action="store_true", help="include ambiguous frames (~half)")
    p.add_argument("--size", type=_size, metavar="WxH", help="render crops of this size")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="processes (default 1)")
    p.add_argument(
        "--fewest-stars",
        type=int,
        default=100,
        metavar="N",
        help="lower end of the stars drawn per frame, up to 5000 (default 100; sparser "
        "draws let frames of every label have as few as 6 detectable stars)",
    )
    p.set_defaults(func=_frames)

    q = subparsers.add_parser(
        "preview",
        help="asinh-stretched PNG contact sheet of a dataset, one row per label",
    )
    q.add_argument("dataset", type=Path, metavar="DIR")
    q.add_argument("--out", type=Path, metavar="PNG", help="default: DIR/preview.png")
    q.add_argument("--per-label", type=int, default=6, metavar="N")
    q.set_defaults(func=_preview)
