"""How far the per-frame metrics alone go: boosted trees next to the network and the cuts.

A check on where the grader's errors come from. Gradient-boosted trees
(scikit-learn's ``HistGradientBoostingClassifier``, installed with the ``train``
extra) learn from the 23 metrics of the same training folders as the shipped model,
with the same hiding of nominal levels, and are scored on the held-out folders
beside the shipped network and its classical cuts. When trees on the metrics miss
the same frames as the network, the missing accuracy is in the metrics (what the
frames show), not in the network.

Run: ``.venv/bin/python -m bench.table_ceiling --train data/train-named data/train-random
--test data/test-clear data/test-boundary [--model DIR] [--jobs 2]``
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def _scores(predicted: np.ndarray, truth: np.ndarray, clear: np.ndarray) -> dict[str, object]:
    from astroiqa_indi.labels import LABELS

    recall = {
        label: round(float(np.mean(predicted[clear & (truth == i)] == i)), 3)
        for i, label in enumerate(LABELS)
        if np.any(clear & (truth == i))
    }
    return {
        "clear": round(float(np.mean(predicted[clear] == truth[clear])), 3),
        "all": round(float(np.mean(predicted == truth)), 3),
        "clear_recall": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", nargs="+", required=True, metavar="DIR")
    parser.add_argument("--test", nargs="+", required=True, metavar="DIR")
    parser.add_argument("--model", default=None, help="model folder (default: shipped)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for feature extraction")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from sklearn.ensemble import HistGradientBoostingClassifier

    from astroiqa_indi.grading import Grader
    from astroiqa_indi.labels import LABELS
    from astroiqa_indi.training import load_features, predict_labels
    from astroiqa_indi.training._train import _drop_nominal

    train = load_features(args.train, workers=args.jobs)
    rng = np.random.default_rng(args.seed)
    trees = HistGradientBoostingClassifier(
        max_iter=400, learning_rate=0.05, class_weight="balanced", random_state=args.seed
    ).fit(_drop_nominal(train.metrics, 0.5, rng), train.labels)
    grader = Grader.load(args.model)
    background = LABELS.index("background_issues")

    for folder in args.test:
        test = load_features([folder], workers=args.jobs)
        no_stars = np.array([s.shape[0] == 0 for s in test.stamps])
        predicted = {
            "trees on metrics": trees.predict(test.metrics),
            f"network {grader.version}": predict_labels(grader, test),
            "classical cuts": grader.cuts.classify(test.metrics),
        }
        row: dict[str, object] = {"data": folder, "frames": len(test)}
        for name, labels in predicted.items():
            labels = np.where(no_stars, background, labels)  # the grader's rule, for all
            row[name] = _scores(labels, test.labels, test.clear)
        print(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
