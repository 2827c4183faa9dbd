"""Training options small enough for tests (plumbing, not accuracy)."""

from __future__ import annotations

from astroiqa_indi.training import TrainingOptions

TINY_TRAINING = TrainingOptions(
    epochs=3,
    som_rows=3,
    som_cols=3,
    som_rough_epochs=2,
    som_finetune_epochs=2,
    som_samples=500,
    validation_fraction=0.3,
)
