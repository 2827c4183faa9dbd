"""Training and evaluation end to end on a tiny simulated dataset (plumbing, not accuracy)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from astroiqa_indi.errors import ModelError
from astroiqa_indi.grading import METRIC_FEATURES, Grader, GradingContext
from astroiqa_indi.labels import LABELS
from astroiqa_indi.training import (
    evaluate_model,
    load_features,
    split_by_rig,
    train_model,
)
from tests.training._tiny import TINY_TRAINING

# find_spec, not importorskip: importing IntraSOM outside the fence disables logging.
if importlib.util.find_spec("intrasom") is None:
    pytest.skip("IntraSOM (the train extra) is not installed", allow_module_level=True)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulators.sky import write_dataset

    return Path(
        write_dataset(tmp_path_factory.mktemp("tiny"), per_class=4, seed=3, size=(256, 256))
    )


def test_features_are_cached_and_split_by_rig(tiny_dataset: Path) -> None:
    first = load_features([tiny_dataset])
    assert len(first) == 4 * len(LABELS)
    assert list(tiny_dataset.glob("features-*.npz")), "no feature cache written"
    again = load_features([tiny_dataset])
    np.testing.assert_array_equal(first.metrics, again.metrics)
    train, val = split_by_rig(first, fraction=0.3, seed=0)
    assert train.any() and val.any()
    assert not set(first.rigs[train]) & set(first.rigs[val]), "a rig sits on both sides"


def test_train_then_grade_and_evaluate(tiny_dataset: Path, tmp_path: Path) -> None:
    options = TINY_TRAINING
    meta = train_model([tiny_dataset], tmp_path / "model", options)
    for name in ("som.npz", "network.keras", "cuts.json", "model.json"):
        assert (tmp_path / "model" / name).is_file(), name
    assert meta["som_shape"] == [3, 3]
    labels = (Path(tiny_dataset) / "labels.csv").read_bytes()
    (data,) = meta["data"]
    assert data["frames"] == len(labels.decode().splitlines()) - 1
    assert data["labels_csv_sha256"] == hashlib.sha256(labels).hexdigest()
    assert data["seeds"] and all(isinstance(seed, int) for seed in data["seeds"])
    assert set(meta["train_rigs"]).isdisjoint(meta["validation_rigs"])

    grader = Grader.load(tmp_path / "model")
    rng = np.random.default_rng(0)
    verdict = grader.grade_array(
        rng.normal(100, 3, (128, 128)).astype(np.float32),
        GradingContext(pixel_scale_arcsec=1.0, max_fwhm_arcsec=4.0),
    )
    assert verdict.label == "background_issues"
    assert any("no usable stars" in r for r in verdict.reasons)

    result = evaluate_model([tiny_dataset], model_dir=tmp_path / "model")
    for subset in ("clear", "all"):
        for who in ("network", "baseline"):
            scores = result[subset][who]
            assert sum(map(sum, scores["confusion"])) == scores["n"]
    json.dumps(result)

    # The metrics branch reads the metric columns and the hit branch the SOM hits,
    # whatever the grid: a shifted slice would train and grade on the wrong inputs.
    import keras

    from astroiqa_indi.grading._network import custom_objects

    network = keras.saving.load_model(
        tmp_path / "model" / "network.keras", compile=False, custom_objects=custom_objects()
    )
    width = 9 + len(METRIC_FEATURES)
    slices = {
        layer.name: (layer.start, layer.stop) for layer in network.layers if hasattr(layer, "start")
    }
    assert slices == {"metrics": (9, width), "som_hits": (0, 9)}

    # The table range of the training split is recorded and applied at grading time:
    # a table far outside it predicts what its clipped copy predicts.
    table_range = meta["table_range"]
    low, high = (np.asarray(table_range[k], np.float32) for k in ("low", "high"))
    assert low.shape == high.shape == (9 + 23,) and np.all(low <= high)
    image = np.zeros((1, 3 * 16, 3 * 16), np.float32)
    wild = (high + 1000.0 * (np.abs(high) + 1.0))[None, :]
    np.testing.assert_allclose(
        grader.predict_batch(image, wild), grader.predict_batch(image, high[None, :]), atol=1e-6
    )

    # A damaged range is refused when the model loads, not misapplied later.
    bad = dict(meta, table_range={"low": [0.0], "high": [1.0]})
    (tmp_path / "model" / "model.json").write_text(json.dumps(bad))
    with pytest.raises(ModelError, match="table_range"):
        Grader.load(tmp_path / "model")


def test_network_refuses_a_table_without_room_for_the_metrics() -> None:
    from astroiqa_indi.grading._network import build_network

    with pytest.raises(ValueError, match="does not fit"):
        build_network(
            image_shape=(48, 48),
            table_mean=np.zeros(5),
            table_std=np.ones(5),
            n_metrics=len(METRIC_FEATURES),
            cell=16,
        )


@pytest.mark.parametrize(
    "bad",
    [{"label_smoothing": 1.0}, {"learning_rate": 0.0}, {"patience": 0}, {"weight_decay": -1.0}],
)
def test_training_options_are_validated(bad: dict[str, float]) -> None:
    from astroiqa_indi.training import TrainingOptions

    with pytest.raises(ValueError):
        TrainingOptions(**bad)  # type: ignore[arg-type]


def test_missing_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model\.json missing"):
        Grader.load(tmp_path)
