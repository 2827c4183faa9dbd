"""The two-input Keras network (representative image + table -> five labels).

Keras is imported inside the functions: ``import astroiqa_indi.grading`` must
stay free of TensorFlow.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from astroiqa_indi.labels import LABELS

__all__ = ["build_network", "custom_objects"]


@cache
def custom_objects() -> dict[str, Any]:
    """The layers of ours a saved network may hold, for ``keras.saving.load_model``.

    Defined on first use so that Keras is imported only by whoever loads or builds
    a network.
    """
    import keras

    @keras.saving.register_keras_serializable(package="astroiqa")
    class TableColumns(keras.layers.Layer):
        """Columns ``start:stop`` of the table (the SOM hit map, or the metrics)."""

        def __init__(self, start: int, stop: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.start, self.stop = int(start), int(stop)

        def call(self, inputs: Any) -> Any:
            return inputs[:, self.start : self.stop]

        def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int | None, ...]:
            return (input_shape[0], self.stop - self.start)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "start": self.start, "stop": self.stop}

    return {"TableColumns": TableColumns}


def build_network(
    *,
    image_shape: tuple[int, int],
    table_mean: np.ndarray,
    table_std: np.ndarray,
    n_metrics: int,
    cell: int,
    seed: int = 0,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
    label_smoothing: float = 0.1,
) -> Any:
    """Representative image, SOM hit map and metrics, each in its own branch.

    The table is the SOM hit map followed by ``n_metrics`` metrics. The metrics
    carry most of the signal, so they get the wide, batch-normalised branch; the
    hit map and the image are squeezed through 16-unit bottlenecks behind heavy
    dropout. The first shipped network gave them as much room as the metrics and
    graded unseen rigs worse; docs/model-card.md measures the two recipes as wholes.

    The image branch ends with a ``cell``-strided convolution so that each SOM node
    keeps its own features: node position carries meaning (nearby nodes hold
    similar star shapes), so it is flattened rather than pooled away.

    Trained on one-hot labels (label smoothing needs them).
    """
    import keras
    from keras import layers

    columns = custom_objects()["TableColumns"]
    keras.utils.set_random_seed(seed)
    width = int(table_mean.size)
    if not 0 < n_metrics <= width:
        raise ValueError(f"n_metrics {n_metrics} does not fit a table of {width} columns")
    n_hits = width - n_metrics

    table_in = keras.Input(shape=(width,), name="table")
    table = layers.Normalization(mean=table_mean, variance=np.square(table_std))(table_in)
    m = columns(n_hits, width, name="metrics")(table)
    for units in (256, 256):
        m = layers.Dense(units)(m)
        m = layers.BatchNormalization()(m)
        m = layers.Activation("relu")(m)
        m = layers.Dropout(0.4)(m)
    branches = [m]
    if n_hits:
        hits = columns(0, n_hits, name="som_hits")(table)
        hits = layers.Dropout(0.3)(hits)
        hits = layers.Dense(16, activation="relu")(hits)
        branches.append(layers.Dropout(0.5)(hits))

    h, w = image_shape
    image_in = keras.Input(shape=(h, w, 1), name="image")
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(image_in)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    stride = max(cell // 4, 1)
    x = layers.Conv2D(4, stride, strides=stride, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(16, activation="relu")(x)
    branches.append(layers.Dropout(0.5)(x))

    z = layers.Concatenate()(branches)
    z = layers.Dense(64, activation="relu")(z)
    z = layers.Dropout(0.2)(z)
    out = layers.Dense(len(LABELS), activation="softmax", name="label")(z)
    model = keras.Model(inputs=[image_in, table_in], outputs=out, name="astroiqa_grader")
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing),
        metrics=["accuracy"],
    )
    return model
