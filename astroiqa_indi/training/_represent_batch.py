"""Representative images and tables for many frames at once (training, evaluation)."""

from __future__ import annotations

import numpy as np

from astroiqa_indi.grading import SomCodebook
from astroiqa_indi.grading._represent import CELL_SIZE, mosaic
from astroiqa_indi.training._dataset import DatasetFeatures

__all__ = ["represent_batch"]


def represent_batch(features: DatasetFeatures, som: SomCodebook) -> tuple[np.ndarray, np.ndarray]:
    """:func:`astroiqa_indi.grading.represent` for every frame, from cached uint8 stamps."""
    n = len(features)
    images = np.zeros((n, som.rows * CELL_SIZE, som.cols * CELL_SIZE), np.float32)
    hits = np.zeros((n, som.n_nodes), np.float32)
    for i, raw in enumerate(features.stamps):
        images[i], hits[i] = mosaic(raw.astype(np.float32) / 255.0, som)
    tables = np.concatenate([hits, features.metrics], axis=1).astype(np.float32)
    return images, tables
