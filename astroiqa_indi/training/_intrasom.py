"""A safe wrapper around IntraSOM, used at training time only.

Importing IntraSOM reconfigures logging (``disable_existing_loggers`` and
``logging.disable``), changes global warning filters, writes ``Results/`` into
the working directory even with ``save=False``, may call ``sys.exit`` on bad
input, and picks too few epochs by default. Everything here undoes or fences
off those side effects; nothing in the runtime path imports this module.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.config
import os
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from astroiqa_indi.errors import ModelError
from astroiqa_indi.grading import SomCodebook

__all__ = ["train_som"]


def _ignore_dict_config(config: Any) -> None:
    """Stands in for ``logging.config.dictConfig`` while IntraSOM is imported."""


@contextlib.contextmanager
def _fenced() -> Iterator[None]:
    """Run IntraSOM in a temporary folder and restore logging and warnings after."""
    manager = logging.root.manager
    saved_disable = manager.disable
    saved_root_level = logging.root.level
    saved_root_handlers = list(logging.root.handlers)
    saved_loggers = {
        name: (lg.disabled, lg.level, list(lg.handlers), lg.propagate)
        for name, lg in manager.loggerDict.items()
        if isinstance(lg, logging.Logger)
    }
    cwd = os.getcwd()
    # IntraSOM's __init__ calls dictConfig, which *closes* every existing handler
    # (closing, e.g., the stream under TensorFlow's absl handler): make it a no-op.
    saved_dict_config = logging.config.dictConfig
    logging.config.dictConfig = _ignore_dict_config
    with (
        tempfile.TemporaryDirectory(prefix="astroiqa-intrasom-") as tmp,
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        os.chdir(tmp)
        try:
            yield
        finally:
            logging.config.dictConfig = saved_dict_config
            os.chdir(cwd)
            logging.disable(saved_disable)
            logging.root.setLevel(saved_root_level)
            logging.root.handlers[:] = saved_root_handlers
            for name, (disabled, level, handlers, propagate) in saved_loggers.items():
                lg = logging.getLogger(name)
                lg.disabled, lg.level, lg.propagate = disabled, level, propagate
                lg.handlers[:] = handlers


def train_som(
    samples: np.ndarray,
    *,
    rows: int,
    cols: int,
    rough_epochs: int,
    finetune_epochs: int,
    seed: int,
    n_jobs: int = 1,
) -> SomCodebook:
    """Train a rectangular planar SOM with IntraSOM and export it for numpy inference.

    Parameters
    ----------
    samples
        (n, dim) training vectors (flattened stamps).
    rows, cols
        Grid shape; node ``k`` is at ``(k // cols, k % cols)``.
    rough_epochs, finetune_epochs
        Explicit epoch counts: IntraSOM's defaults are too short.
    """
    if rough_epochs < 1 or finetune_epochs < 1:
        raise ValueError("epoch counts must be >= 1")
    data = np.asarray(samples, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < rows * cols:
        raise ModelError(f"need at least {rows * cols} samples of shape (n, dim), got {data.shape}")
    mean = data.mean(axis=0)
    std = data.std(axis=0)
    std[std == 0] = 1.0
    np.random.seed(seed)  # IntraSOM's random initialisation uses the global state
    with _fenced():
        try:
            from intrasom import SOMFactory  # training extra only

            som: Any = SOMFactory.build(
                data,
                mapsize=(cols, rows),
                mapshape="planar",
                lattice="rect",
                normalization="var",
                initialization="random",
                neighborhood="gaussian",
                training="batch",
                name="astroiqa",
            )
            radius = max(rows, cols) / 2.0
            som.train(
                n_job=n_jobs,
                save=False,
                summary=False,
                train_rough_len=rough_epochs,
                train_rough_radiusin=radius,
                train_rough_radiusfin=max(radius / 4.0, 1.0),
                train_finetune_len=finetune_epochs,
                train_finetune_radiusin=max(radius / 4.0, 1.0),
                train_finetune_radiusfin=0.5,
                history_plot=False,
            )
            weights = np.asarray(som.codebook.matrix, dtype=np.float64)
        except SystemExit as exc:  # IntraSOM exits on input it dislikes
            raise ModelError(f"IntraSOM refused the training data: {exc}") from exc
        except ImportError as exc:
            raise ModelError(
                "IntraSOM is not installed: pip install 'astroiqa-indi[train]'"
            ) from exc
    if weights.shape != (rows * cols, data.shape[1]):
        raise ModelError(f"unexpected IntraSOM codebook shape {weights.shape}")
    return SomCodebook(
        weights=weights.astype(np.float32),
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        rows=rows,
        cols=cols,
    )
