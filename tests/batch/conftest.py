"""A tiny model trained once per session, and simulated frames to grade.

The shipped model may not exist yet (or change); a model trained here on a few
simulated frames is enough to test the plumbing: labels need not be accurate.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
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
    out = tmp_path_factory.mktemp("batch-model") / "model"
    # In a child process: training under pytest's output capture has been seen to close
    # the captured stderr (IntraSOM's progress bars), which kills the whole session.
    code = (
        "import sys; from pathlib import Path; "
        "from astroiqa_indi.training import TrainingOptions, train_model; "
        "train_model([Path(sys.argv[1])], Path(sys.argv[2]), TrainingOptions("
        "epochs=3, som_rows=3, som_cols=3, som_rough_epochs=2, som_finetune_epochs=2, "
        "som_samples=500, validation_fraction=0.3))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(sky_dataset), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"training the tiny model failed:\n{done.stderr[-3000:]}"
    return out


@pytest.fixture
def tree(tmp_path: Path, sky_frames: list[Path]) -> Tree:
    return build_tree(sky_frames, tmp_path / "frames")
