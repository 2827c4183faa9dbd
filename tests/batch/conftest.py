"""A tiny model trained once per session, and simulated frames to grade.

The shipped model may not exist yet (or change); a model trained here on a few
simulated frames is enough to test the plumbing: labels need not be accurate.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from astroiqa_indi.grading import default_model_dir
from tests.batch._tree import Tree, build_tree


@pytest.fixture(scope="session")
def sky_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from simulators.sky import write_dataset

    return write_dataset(
        tmp_path_factory.mktemp("batch-sky"), per_class=4, seed=21, size=(256, 256)
    )


@pytest.fixture(scope="session")
def sky_frames(sky_dataset: Path) -> list[Path]:
    return sorted((sky_dataset / "frames").glob("*.fits"))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, sky_dataset: Path) -> Path:
    if importlib.util.find_spec("intrasom") is None:
        if (default_model_dir() / "model.json").is_file():
            return default_model_dir()
        pytest.skip("neither IntraSOM (the train extra) nor a shipped model is available")
    from astroiqa_indi.training import train_model
    from tests.training._tiny import TINY_TRAINING

    out = tmp_path_factory.mktemp("batch-model") / "model"
    train_model([sky_dataset], out, TINY_TRAINING)
    return out


@pytest.fixture
def tree(tmp_path: Path, sky_frames: list[Path]) -> Tree:
    return build_tree(sky_frames, tmp_path / "frames")
