"""Train the SOM and the network, tune the classical baseline, write a model folder."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from astroiqa_indi import __version__
from astroiqa_indi.errors import ModelError
from astroiqa_indi.grading import METRIC_FEATURES, ClassicalCuts
from astroiqa_indi.grading._represent import CELL_SIZE
from astroiqa_indi.labels import LABELS
from astroiqa_indi.training._dataset import DatasetFeatures, load_features
from astroiqa_indi.training._intrasom import train_som
from astroiqa_indi.training._represent_batch import represent_batch

__all__ = ["TrainingOptions", "split_by_rig", "train_model"]

log = logging.getLogger(__name__)

_IDX = {name: i for i, name in enumerate(METRIC_FEATURES)}


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingOptions:
    """Knobs of one training run (all explicit, all recorded in model.json)."""

    seed: int = 0
    som_rows: int = 8
    som_cols: int = 8
    som_samples: int = 20000
    som_rough_epochs: int = 30
    som_finetune_epochs: int = 40
    epochs: int = 200
    patience: int = 20
    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    batch_size: int = 64
    validation_fraction: float = 0.2
    drop_nominal_fraction: float = 0.5
    table_clip_percentile: float = 1.0
    workers: int = 1

    def __post_init__(self) -> None:
        if not 2 <= self.som_rows <= 16 or not 2 <= self.som_cols <= 16:
            raise ValueError("SOM grid sides must be within 2..16")
        if not 0.0 < self.validation_fraction < 0.9:
            raise ValueError("validation_fraction must be within (0, 0.9)")
        if self.epochs < 1 or self.som_rough_epochs < 1 or self.som_finetune_epochs < 1:
            raise ValueError("epoch counts must be >= 1")
        if self.patience < 1 or self.batch_size < 1:
            raise ValueError("patience and batch_size must be >= 1")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError("label_smoothing must be within [0, 1)")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ValueError("learning_rate must be > 0 and weight_decay >= 0")
        if not 0.0 <= self.table_clip_percentile < 50.0:
            raise ValueError("table_clip_percentile must be within [0, 50)")


def split_by_rig(
    features: DatasetFeatures, *, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, validation) that never put one rig+seed group on both sides.

    Splitting by source or by frame leaks: stars of one exposure (or frames of one
    rig and night) would sit on both sides and inflate the score.
    """
    groups = np.array(
        [f"{r}:{s // 1000}" for r, s in zip(features.rigs, features.seeds, strict=True)]
    )
    unique = np.unique(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    n_val = max(1, round(fraction * unique.size))
    val_groups = set(unique[:n_val].tolist())
    val = np.array([g in val_groups for g in groups])
    if val.all() or not val.any():
        raise ModelError("cannot split by rig: need at least two rig groups")
    return ~val, val


def _drop_nominal(table: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Hide the nominal sky and bias levels from part of the frames, as a profile
    without them would: users often know neither."""
    out = table.copy()
    offset = table.shape[1] - len(METRIC_FEATURES)
    hide = rng.random(table.shape[0]) < fraction
    out[hide, offset + _IDX["has_nominal"]] = 0.0
    out[hide, offset + _IDX["log_sky_ratio"]] = 0.0
    out[hide, offset + _IDX["has_bias"]] = 0.0
    out[hide, offset + _IDX["gradient"]] = out[hide, offset + _IDX["gradient_raw"]]
    return out


def _som_samples(features: DatasetFeatures, n: int, rng: np.random.Generator) -> np.ndarray:
    """Class-balanced sample of stamps, flattened to float in [0, 1]."""
    per_class = max(1, n // len(LABELS))
    chosen = []
    for label in range(len(LABELS)):
        pool = [features.stamps[i] for i in np.flatnonzero(features.labels == label)]
        pool = [p for p in pool if p.shape[0]]
        if not pool:
            continue
        stack = np.concatenate(pool)
        take = rng.choice(stack.shape[0], size=min(per_class, stack.shape[0]), replace=False)
        chosen.append(stack[take])
    if not chosen:
        raise ModelError("no star stamps in the training data")
    return np.concatenate(chosen).reshape(-1, 32 * 32).astype(np.float32) / 255.0


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(len(LABELS), dtype=np.float32)[labels]


def _class_weights(labels: np.ndarray) -> dict[int, float]:
    counts = np.bincount(labels, minlength=len(LABELS)).astype(float)
    total = counts.sum()
    return {i: float(total / (len(LABELS) * c)) if c else 0.0 for i, c in enumerate(counts)}


def _describe(folder: Path) -> dict[str, Any]:
    """What a training folder held: enough to tell whether a rerun used the same data
    (its ``labels.csv`` digest) and to regenerate it (its rigs' seeds)."""
    text = (folder / "labels.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(text.decode())))
    return {
        "path": str(folder),
        "frames": len(rows),
        "seeds": sorted({int(row["seed"]) for row in rows if row.get("seed")}),
        "labels_csv_sha256": hashlib.sha256(text).hexdigest(),
    }


def train_model(
    data: Sequence[Path | str], out_dir: Path | str, options: TrainingOptions = TrainingOptions()
) -> dict[str, Any]:
    """Train on dataset folders and write a model folder; returns its model.json."""
    import keras

    from astroiqa_indi.grading._network import build_network

    started = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(options.seed)
    features = load_features(data, workers=options.workers)
    train_mask, val_mask = split_by_rig(
        features, fraction=options.validation_fraction, seed=options.seed
    )
    train, val = features.subset(train_mask), features.subset(val_mask)
    log.info("training on %d frames, validating on %d (split by rig)", len(train), len(val))

    som = train_som(
        _som_samples(train, options.som_samples, rng),
        rows=options.som_rows,
        cols=options.som_cols,
        rough_epochs=options.som_rough_epochs,
        finetune_epochs=options.som_finetune_epochs,
        seed=options.seed,
    )
    x_img, x_tab = represent_batch(train, som)
    v_img, v_tab = represent_batch(val, som)
    x_tab = _drop_nominal(x_tab, options.drop_nominal_fraction, rng)
    v_tab = _drop_nominal(v_tab, options.drop_nominal_fraction, rng)
    # The table's heavy tails (densities, ratios of rigs unlike any in training) are
    # clipped to the training range: an MLP extrapolates them wildly, a cut does not.
    table_range = None
    if options.table_clip_percentile > 0:
        q = options.table_clip_percentile
        low = np.percentile(x_tab, q, axis=0).astype(np.float32)
        high = np.percentile(x_tab, 100.0 - q, axis=0).astype(np.float32)
        x_tab, v_tab = np.clip(x_tab, low, high), np.clip(v_tab, low, high)
        table_range = {"low": low.tolist(), "high": high.tolist()}
    mean = x_tab.mean(axis=0)
    std = x_tab.std(axis=0)
    std[std < 1e-6] = 1.0

    model = build_network(
        image_shape=x_img.shape[1:3],
        table_mean=mean,
        table_std=std,
        n_metrics=len(METRIC_FEATURES),
        cell=CELL_SIZE,
        seed=options.seed,
        learning_rate=options.learning_rate,
        weight_decay=options.weight_decay,
        label_smoothing=options.label_smoothing,
    )
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=options.patience, restore_best_weights=True
        ),
        # Batch norm and dropout make validation loss noisy; a smaller step once it
        # stalls lets the best epoch settle instead of stopping on a lucky one.
        keras.callbacks.ReduceLROnPlateau(
            monitor="val_loss",
            factor=0.3,
            patience=max(1, options.patience * 2 // 5),
            min_lr=options.learning_rate / 100,
        ),
    ]
    history = model.fit(
        {"image": x_img[..., None], "table": x_tab},
        _one_hot(train.labels),
        validation_data=({"image": v_img[..., None], "table": v_tab}, _one_hot(val.labels)),
        epochs=options.epochs,
        batch_size=options.batch_size,
        class_weight=_class_weights(train.labels),
        callbacks=callbacks,
        verbose=0,
        shuffle=True,
    )
    val_pred = np.argmax(model.predict({"image": v_img[..., None], "table": v_tab}, verbose=0), 1)
    cuts = ClassicalCuts.tune(train.metrics, train.labels)

    som.save(out / "som.npz")
    model.save(out / "network.keras")
    cuts.save(out / "cuts.json")
    meta: dict[str, Any] = {
        "version": f"astroiqa-{__version__}-seed{options.seed}",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels": list(LABELS),
        "metric_features": list(METRIC_FEATURES),
        "som_shape": [options.som_rows, options.som_cols],
        "cell_size": CELL_SIZE,
        "table_range": table_range,
        "options": {k: getattr(options, k) for k in options.__dataclass_fields__},
        "data": [_describe(Path(d)) for d in data],
        "n_train": len(train),
        "n_validation": len(val),
        "train_rigs": sorted(set(train.rigs.tolist())),
        "validation_rigs": sorted(set(val.rigs.tolist())),
        "epochs_run": len(history.history["loss"]),
        "validation_accuracy": float(np.mean(val_pred == val.labels)),
        "baseline_validation_accuracy": float(np.mean(cuts.classify(val.metrics) == val.labels)),
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    return meta
