"""``astroiqa-indi train``: SOM then network, from simulated dataset folders."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train the SOM + CNN grader on labelled dataset folders",
        description="Train the SOM (IntraSOM) and the two-input network; split by rig.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="DIR", help="dataset folders")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="model folder to write")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--epochs", type=int, default=200, help="most epochs; early stopping ends sooner"
    )
    p.add_argument("--som-shape", default="8x8", help="SOM grid, ROWSxCOLS (default 8x8)")
    p.add_argument("--som-epochs", default="30,40", help="rough,finetune epochs (default 30,40)")
    p.add_argument("--jobs", type=int, default=1, help="processes for feature extraction")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from astroiqa_indi.training import TrainingOptions, train_model

    rows, cols = (int(v) for v in args.som_shape.lower().split("x"))
    rough, fine = (int(v) for v in args.som_epochs.split(","))
    options = TrainingOptions(
        seed=args.seed,
        epochs=args.epochs,
        som_rows=rows,
        som_cols=cols,
        som_rough_epochs=rough,
        som_finetune_epochs=fine,
        workers=args.jobs,
    )
    meta = train_model(args.data, args.out, options)
    print(json.dumps(meta, indent=2))
    return 0
