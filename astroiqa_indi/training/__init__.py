"""Training and evaluation of the grader (needs the ``train`` extra for IntraSOM)."""

from astroiqa_indi.training._dataset import DatasetFeatures, load_features
from astroiqa_indi.training._evaluate import Scores, evaluate_model, predict_labels, score
from astroiqa_indi.training._train import TrainingOptions, split_by_rig, train_model

__all__ = [
    "DatasetFeatures",
    "Scores",
    "TrainingOptions",
    "evaluate_model",
    "load_features",
    "predict_labels",
    "score",
    "split_by_rig",
    "train_model",
]
