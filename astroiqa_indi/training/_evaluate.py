"""Per-exposure evaluation of a model against labelled data, beside the classical cuts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from astroiqa_indi.grading import Grader
from astroiqa_indi.labels import LABELS
from astroiqa_indi.training._dataset import DatasetFeatures, load_features
from astroiqa_indi.training._represent_batch import represent_batch

__all__ = ["Scores", "evaluate_model", "predict_labels", "score"]


@dataclass(frozen=True, slots=True)
class Scores:
    """Accuracy, per-class precision/recall and the confusion matrix (rows: truth)."""

    n: int
    accuracy: float
    precision: dict[str, float]
    recall: dict[str, float]
    confusion: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "precision": self.precision,
            "recall": self.recall,
            "confusion": self.confusion,
            "labels": list(LABELS),
        }


def score(truth: np.ndarray, predicted: np.ndarray) -> Scores:
    k = len(LABELS)
    confusion = np.zeros((k, k), np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(confusion.sum(0) > 0, tp / confusion.sum(0), np.nan)
        recall = np.where(confusion.sum(1) > 0, tp / confusion.sum(1), np.nan)
    return Scores(
        n=int(truth.size),
        accuracy=float(np.mean(truth == predicted)) if truth.size else float("nan"),
        precision={name: float(p) for name, p in zip(LABELS, precision, strict=True)},
        recall={name: float(r) for name, r in zip(LABELS, recall, strict=True)},
        confusion=confusion.tolist(),
    )


def predict_labels(grader: Grader, features: DatasetFeatures) -> np.ndarray:
    """The network's label index for every frame of ``features``, as ``Grader.grade``
    would give it: a frame without usable stars is background_issues by rule."""
    images, tables = represent_batch(features, grader.som)
    labels = np.argmax(grader.predict_batch(images, tables), axis=1)
    no_stars = np.array([s.shape[0] == 0 for s in features.stamps], dtype=bool)
    labels[no_stars] = LABELS.index("background_issues")
    return labels


def evaluate_model(
    data: Sequence[Path | str], *, model_dir: Path | str | None = None, workers: int = 1
) -> dict[str, Any]:
    """Scores of the network and of the classical cuts, on all frames and clear ones."""
    grader = Grader.load(model_dir)
    features = load_features(data, workers=workers)
    network = predict_labels(grader, features)
    baseline = grader.cuts.classify(features.metrics)
    result: dict[str, Any] = {"model_version": grader.version, "data": [str(d) for d in data]}
    for subset, mask in (("clear", features.clear), ("all", np.ones(len(features), bool))):
        truth = features.labels[mask]
        result[subset] = {
            "network": score(truth, network[mask]).to_dict(),
            "baseline": score(truth, baseline[mask]).to_dict(),
        }
    return result
