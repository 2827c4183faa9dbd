"""``astroiqa-indi grade``: one verdict per frame (the minimal contract)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("grade", help="grade FITS frames and print one verdict each")
    p.add_argument("paths", nargs="+", metavar="PATH", help="frame files")
    p.add_argument("--profile", metavar="FILE", help="rig profile (pixel scale, FWHM limit)")
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: shipped)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from astroiqa_indi.config import load_profile
    from astroiqa_indi.errors import FrameError
    from astroiqa_indi.frames import Frame
    from astroiqa_indi.grading import Grader

    profile = load_profile(args.profile) if args.profile else None
    grader = Grader.load(args.model)
    bayer = profile.optics.bayer if profile else "auto"
    scale = profile.optics.pixel_scale() if profile else None
    failures = 0
    for name in args.paths:
        try:
            frame = Frame.from_path(Path(name), pixel_scale_arcsec=scale, bayer=bayer)
        except FrameError as exc:
            failures += 1
            if args.json:
                print(json.dumps({"path": name, "error": str(exc)}))
            else:
                print(f"{name}: error: {exc}", file=sys.stderr)
            continue
        verdict = grader.grade(frame, profile)
        if args.json:
            payload = verdict.to_dict()
            payload["path"] = name
            print(json.dumps(payload))
        else:
            m = verdict.metrics
            fwhm = f'{m.fwhm_arcsec:.2f}"' if m.fwhm_arcsec else "-"
            flag = "" if verdict.confident else " (low confidence)"
            print(f"{name}: {verdict.label}{flag}  fwhm={fwhm} stars={m.n_stars}")
            for reason in verdict.reasons:
                print(f"    {reason}")
    return 1 if failures else 0
