"""Where the grader's errors on a labelled folder come from, by the truth that caused them.

``astroiqa-indi evaluate`` counts the errors; this says which skies they are. Every
clear frame the network gets wrong is listed with its true parameters
(docs/classes.md), and the clear ``background_issues`` frames are split by the cue
that makes them so: a transparency under 0.5 with no other background rule met
(G <= 0.30, S <= 6, P <= 0.8) is a thin cloud, which dims the stars and nothing else
and which one frame cannot tell from a sparse field (``quality.min_transparency``
catches it against the session); the rest show it in the sky itself. Last, the
double-image cue (``pair_fraction``, the excess of star pairs at one offset) on clear
frames with a jump of the mount against clear frames without one.

Run: ``.venv/bin/python -m bench.misses --data data/test-clear [--model DIR] [--jobs 2]``
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

_SHOWN = (
    "transparency",
    "cloud_variation",
    "sky_ratio",
    "gradient",
    "sky_fill",
    "trail_over_fwhm",
    "jump_px",
    "wind_rms_px",
    "fwhm_arcsec",
    "max_fwhm_arcsec",
    "n_detectable",
)


def _thin_cloud_only(row: dict[str, str]) -> bool:
    from simulators.sky import THRESHOLDS as th

    return (
        float(row["transparency"]) < th.bi_transparency
        and float(row["gradient"]) <= th.bi_gradient
        and float(row["sky_ratio"]) <= th.bi_sky_ratio
        and float(row["sky_fill"]) <= th.bi_sky_fill
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, metavar="DIR")
    parser.add_argument("--model", default=None, help="model folder (default: shipped)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for feature extraction")
    args = parser.parse_args()

    from astroiqa_indi.grading import Grader
    from astroiqa_indi.grading._represent import METRIC_FEATURES
    from astroiqa_indi.labels import LABELS
    from astroiqa_indi.training import load_features, predict_labels

    grader = Grader.load(args.model)
    features = load_features([args.data], workers=args.jobs)
    predicted = predict_labels(grader, features)
    with (Path(args.data) / "labels.csv").open(newline="") as fh:
        truth = {Path(row["file"]).name: row for row in csv.DictReader(fh)}

    print(f"model {grader.version}, {args.data}: clear frames the network gets wrong")
    print("file  truth -> network  " + " ".join(_SHOWN))
    pairs: dict[bool, list[float]] = {True: [], False: []}
    pair_column = METRIC_FEATURES.index("pair_fraction")
    thin = {"caught": 0, "missed": 0}
    other = {"caught": 0, "missed": 0}
    for i, (path, label, clear, guess) in enumerate(
        zip(features.paths, features.labels, features.clear, predicted, strict=True)
    ):
        if not clear:
            continue
        row = truth[Path(path).name]
        pairs[float(row["jump_px"]) > 0].append(float(features.metrics[i, pair_column]))
        if LABELS[label] == "background_issues":
            kind = thin if _thin_cloud_only(row) else other
            kind["caught" if guess == label else "missed"] += 1
        if guess != label:
            values = " ".join(f"{float(row[k]):.3g}" for k in _SHOWN)
            print(f"{Path(path).name}  {LABELS[label]} -> {LABELS[guess]}  {values}")
    for name, kind in (("thin cloud only", thin), ("other sky cues", other)):
        total = kind["caught"] + kind["missed"]
        if total:
            print(
                f"background_issues, {name}: {kind['caught']}/{total} caught "
                f"({kind['caught'] / total:.0%})"
            )
    for jumped, name in ((True, "with a jump"), (False, "without")):
        if pairs[jumped]:
            low, mid, high = np.percentile(pairs[jumped], [0, 50, 100])
            print(
                f"pair_fraction, {len(pairs[jumped])} clear frames {name}: "
                f"min {low:.2f}, median {mid:.2f}, max {high:.2f}"
            )


if __name__ == "__main__":
    main()
