"""``astroiqa-indi evaluate``: per-exposure scores of the model and the classical cuts."""

from __future__ import annotations

import argparse
import json
from typing import Any

from astroiqa_indi.labels import LABELS


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="score the grader and the classical baseline on labelled data",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="dataset folders")
    p.add_argument("--model", metavar="MODEL_DIR", help="model folder (default: shipped)")
    p.add_argument("--jobs", type=int, default=1, help="processes for feature extraction")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_run)


def _table(title: str, scores: dict[str, Any]) -> str:
    lines = [f"{title}: accuracy {scores['accuracy']:.3f} on {scores['n']} frames"]
    lines.append(f"  {'label':<18} {'precision':>9} {'recall':>7}   confusion (rows: truth)")
    for i, name in enumerate(LABELS):
        row = " ".join(f"{v:5d}" for v in scores["confusion"][i])
        lines.append(
            f"  {name:<18} {scores['precision'][name]:9.3f} {scores['recall'][name]:7.3f}   {row}"
        )
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    from astroiqa_indi.training import evaluate_model

    result = evaluate_model(args.data, model_dir=args.model, workers=args.jobs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"model {result['model_version']}")
    for subset in ("clear", "all"):
        for who in ("network", "baseline"):
            print(_table(f"[{subset}] {who}", result[subset][who]))
    return 0
