"""Self-organizing-map inference in numpy (the map itself is trained with IntraSOM)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from astroiqa_indi.errors import ModelError

__all__ = ["SomCodebook"]


@dataclass(frozen=True, slots=True)
class SomCodebook:
    """A trained rectangular, planar SOM.

    Attributes
    ----------
    weights
        Codebook in normalised space, shape (rows * cols, dim); node ``k`` sits at
        row ``k // cols``, column ``k % cols``.
    mean, std
        Per-feature normalisation applied to inputs before matching.
    rows, cols
        Grid shape.
    """

    weights: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    rows: int
    cols: int

    def __post_init__(self) -> None:
        n, dim = self.weights.shape
        if n != self.rows * self.cols:
            raise ModelError(f"SOM has {n} nodes, expected {self.rows}x{self.cols}")
        if self.mean.shape != (dim,) or self.std.shape != (dim,):
            raise ModelError("SOM normalisation does not match the codebook dimension")
        if np.any(self.std <= 0) or not np.all(np.isfinite(self.weights)):
            raise ModelError("SOM codebook holds non-finite weights or zero scales")

    @property
    def n_nodes(self) -> int:
        return self.rows * self.cols

    @property
    def dim(self) -> int:
        return int(self.weights.shape[1])

    def best_matching_units(self, samples: np.ndarray) -> np.ndarray:
        """Index of the nearest node (Euclidean, normalised space) of each sample."""
        if samples.shape[0] == 0:
            return np.zeros(0, np.intp)
        z = (samples.reshape(samples.shape[0], -1) - self.mean) / self.std
        # |z - w|^2 = |z|^2 - 2 z.w + |w|^2; |z|^2 does not change the argmin.
        dist = -2.0 * (z @ self.weights.T) + np.sum(self.weights**2, axis=1)[None, :]
        return np.argmin(dist, axis=1)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path,
            weights=self.weights.astype(np.float32),
            mean=self.mean.astype(np.float32),
            std=self.std.astype(np.float32),
            shape=np.array([self.rows, self.cols]),
        )

    @classmethod
    def load(cls, path: Path) -> SomCodebook:
        try:
            with np.load(path) as npz:
                rows, cols = (int(v) for v in npz["shape"])
                return cls(
                    weights=npz["weights"].astype(np.float32),
                    mean=npz["mean"].astype(np.float32),
                    std=npz["std"].astype(np.float32),
                    rows=rows,
                    cols=cols,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot read SOM codebook {path}: {exc}") from exc
