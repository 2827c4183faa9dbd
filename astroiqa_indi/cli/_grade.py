"""``astroiqa-indi grade``: grade frames and folders, report, and prepare stacking.

The minimal contract holds: ``grade [--profile P] [--json] PATH...`` prints one
verdict per frame (with ``--json`` one ``Verdict.to_dict()`` object per line, and
``{"path", "error"}`` for a file that cannot be read). Everything else is optional:
folders (``--recursive``), parallel workers (``--jobs``, ``--dask``), a resumable CSV
report with a session plot, and acting on the frames (``--move-rejected``,
``--link-accepted``, ``--siril``, ``--accepted-list``, ``--write-keywords``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from astroiqa_indi.labels import LABELS

if TYPE_CHECKING:
    from astroiqa_indi.batch import FrameResult

_INTERRUPTED = 130


def _labels(text: str) -> frozenset[str]:
    labels = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = sorted(labels - set(LABELS))
    if unknown or not labels:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated labels among {', '.join(LABELS)}; got {text!r}"
        )
    return labels


def _jobs(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "grade",
        help="grade frames or folders (parallel, resumable report, stacking lists)",
        description=(
            "Grade FITS/XISF frames and folders and print one verdict per frame. "
            "Calibration frames (IMAGETYP dark, flat, bias) are skipped. With --report, "
            "a CSV report is written frame by frame (and a PNG plot of the session)."
        ),
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="frame files and folders")
    p.add_argument("--profile", metavar="FILE", help="rig profile (pixel scale, FWHM limit)")
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: shipped)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame and line")
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders")
    p.add_argument(
        "-j", "--jobs", type=_jobs, metavar="N", help="worker processes (default: all cores)"
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="grade on a Dask cluster: a scheduler address, or 'local' for a LocalCluster",
    )
    p.add_argument("--report", type=Path, metavar="FILE.csv", help="CSV report, one row a frame")
    p.add_argument(
        "--resume", action="store_true", help="skip frames already in --report and append"
    )
    p.add_argument(
        "--plot", type=Path, metavar="FILE.png", help="session plot (default: next to --report)"
    )
    p.add_argument(
        "--keep",
        type=_labels,
        default=frozenset({"good"}),
        metavar="LABELS",
        help="comma-separated labels to accept (default: good); the rest are rejected",
    )
    act = p.add_mutually_exclusive_group()
    act.add_argument(
        "--move-rejected",
        type=Path,
        metavar="DIR",
        help="move rejected frames into DIR (never overwrites; undo with --undo-moves)",
    )
    act.add_argument(
        "--link-accepted",
        type=Path,
        metavar="DIR",
        help="symbolic links to the accepted frames in DIR, for stacking tools",
    )
    p.add_argument(
        "--siril",
        type=Path,
        metavar="DIR",
        help="write DIR/astroiqa-stack.ssf, a Siril script stacking the accepted frames",
    )
    p.add_argument(
        "--accepted-list", type=Path, metavar="FILE", help="write the accepted frames' paths"
    )
    p.add_argument(
        "--write-keywords",
        action="store_true",
        help="write IQA* FITS keywords into the original files (modifies them)",
    )
    p.add_argument(
        "--undo-moves",
        type=Path,
        metavar="MANIFEST",
        help="move frames listed in a move manifest (or its folder) back, and exit",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no line per frame, summary only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_run, _parser=p)


def _print_frame(result: FrameResult, *, as_json: bool, quiet: bool) -> None:
    name = str(result.path)
    if result.status == "skipped":
        if not quiet and not as_json:
            print(f"{name}: skipped: {result.detail}", file=sys.stderr)
        return
    if result.status == "error":
        if as_json:
            print(json.dumps({"path": name, "error": result.detail}), flush=True)
        elif not quiet:
            print(f"{name}: error: {result.detail}", file=sys.stderr)
        return
    verdict = result.verdict
    assert verdict is not None
    if as_json:
        payload = verdict.to_dict()
        payload["path"] = name
        print(json.dumps(payload), flush=True)
        return
    if quiet:
        return
    m = verdict.metrics
    fwhm = f'{m.fwhm_arcsec:.2f}"' if m.fwhm_arcsec else "-"
    flag = "" if verdict.confident else " (low confidence)"
    print(f"{name}: {verdict.label}{flag}  fwhm={fwhm} stars={m.n_stars}")
    for reason in verdict.reasons:
        print(f"    {reason}")
    for action in result.actions:
        print(f"    -> {action}")


def _undo(target: Path) -> int:
    from astroiqa_indi.actions import MANIFEST_NAME, undo_moves

    manifest = target / MANIFEST_NAME if target.is_dir() else target
    result = undo_moves(manifest)
    for moved, original in result.restored:
        print(f"restored {original} (from {moved})")
    for line, why in result.skipped:
        print(f"left alone: {why}: {line}", file=sys.stderr)
    print(f"{len(result.restored)} frames restored, {len(result.skipped)} left alone")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.undo_moves is not None:
        return _undo(args.undo_moves)
    parser: argparse.ArgumentParser = args._parser
    if not args.paths:
        parser.error("give at least one frame file or folder (or --undo-moves)")
    if args.resume and args.report is None:
        parser.error("--resume needs --report FILE.csv")

    from rich.console import Console

    from astroiqa_indi.batch import BatchOptions, grade_paths, summary_lines, summary_table
    from astroiqa_indi.config import load_profile

    profile = load_profile(args.profile) if args.profile else None
    options = BatchOptions(
        recursive=args.recursive,
        jobs=args.jobs,
        dask=args.dask,
        model_dir=args.model,
        report=args.report,
        resume=args.resume,
        plot=args.plot,
        keep=args.keep,
        move_rejected=args.move_rejected,
        link_accepted=args.link_accepted,
        siril=args.siril,
        accepted_list=args.accepted_list,
        write_keywords=args.write_keywords,
    )
    err = Console(stderr=True)
    # With --json, stdout carries only JSON lines: the summary goes to stderr.
    out = err if args.json else Console()
    try:
        result = grade_paths(
            args.paths,
            options=options,
            profile=profile,
            on_frame=lambda r: _print_frame(r, as_json=args.json, quiet=args.quiet),
            progress=not args.no_progress and err.is_terminal,
            console=err,
        )
    except ImportError as exc:
        if "astroiqa-indi[dask]" not in str(exc):
            raise
        print(f"astroiqa-indi: error: {exc}", file=sys.stderr)
        return 1
    found = result.graded + len(result.errors) + len(result.skipped) + result.already_done
    if not found and not result.interrupted:
        # Frames one folder down, a typo'd extension: say so rather than nothing.
        err.print(
            f"no frames found in {', '.join(args.paths)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )
        for path, why in result.ignored[:10]:
            err.print(
                f"  passed over: {path}: {why}", highlight=False, markup=False, soft_wrap=True
            )
        return 0
    single = len(args.paths) == 1 and result.graded + len(result.errors) <= 1
    if not (single and not result.interrupted and args.report is None):
        # One frame graded on its own needs no summary: its verdict says it all.
        if any(r.label for r in result.records):
            out.print(summary_table(result))
        for line in summary_lines(result):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
    if result.interrupted:
        return _INTERRUPTED
    return 1 if result.errors or result.action_errors else 0
