"""The two-input Keras network (representative image + table -> five labels).

Keras is imported inside the functions: ``import astroiqa_indi.grading`` must
stay free of TensorFlow.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from astroiqa_indi.labels import LABELS

__all__ = ["build_network"]


def build_network(
    *,
    image_shape: tuple[int, int],
    table_mean: np.ndarray,
    table_std: np.ndarray,
    cell: int,
    seed: int = 0,
) -> Any:
    """A small CNN on the representative image joined with an MLP on the table.

    The convolution stack ends with a ``cell``-strided layer so that each SOM
    node keeps its own feature vector: node position carries meaning (nearby
    nodes hold similar star shapes), so it is flattened rather than pooled away.
    """
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    h, w = image_shape
    image_in = keras.Input(shape=(h, w, 1), name="image")
    x = layers.Conv2D(16, 3, padding="same", activation="relu")(image_in)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    stride = max(cell // 4, 1)
    x = layers.Conv2D(16, stride, strides=stride, activation="relu")(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    x = layers.Dense(64, activation="relu")(x)

    table_in = keras.Input(shape=(table_mean.size,), name="table")
    t = layers.Normalization(mean=table_mean, variance=np.square(table_std))(table_in)
    t = layers.Dense(96, activation="relu")(t)
    t = layers.Dense(48, activation="relu")(t)

    z = layers.Concatenate()([x, t])
    z = layers.Dense(64, activation="relu")(z)
    z = layers.Dropout(0.2)(z)
    out = layers.Dense(len(LABELS), activation="softmax", name="label")(z)
    model = keras.Model(inputs=[image_in, table_in], outputs=out, name="astroiqa_grader")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model
