import importlib.util
import logging
import os
import warnings

import numpy as np
import pytest

from astroiqa_indi.errors import ModelError
from astroiqa_indi.training._intrasom import _fenced as fenced_import
from astroiqa_indi.training._intrasom import train_som

# find_spec, not importorskip: importing IntraSOM outside the fence disables logging.
if importlib.util.find_spec("intrasom") is None:
    pytest.skip("IntraSOM (the train extra) is not installed", allow_module_level=True)


@pytest.mark.slow
def test_train_som_separates_clusters_and_leaves_no_trace(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    ours = logging.getLogger("astroiqa.test.sentinel")
    ours.setLevel(logging.INFO)
    filters_before = list(warnings.filters)
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(0, 1, (200, 8)), rng.normal(6, 1, (200, 8))])

    som = train_som(data, rows=3, cols=3, rough_epochs=4, finetune_epochs=4, seed=1)

    bmu = som.best_matching_units(data)
    assert not set(bmu[:200]) & set(bmu[200:]), "the two clusters share a node"
    assert logging.root.manager.disable == logging.NOTSET
    assert not ours.disabled and ours.level == logging.INFO
    assert warnings.filters == filters_before
    assert os.getcwd() == str(tmp_path)
    assert list(tmp_path.iterdir()) == [], "IntraSOM wrote files into the working directory"


def test_train_som_rejects_too_few_samples() -> None:
    with pytest.raises(ModelError, match="at least 16 samples"):
        train_som(np.zeros((5, 3)), rows=4, cols=4, rough_epochs=1, finetune_epochs=1, seed=0)


def test_train_som_turns_intrasom_exit_into_model_error(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with fenced_import():
        import intrasom

    def refuse(*args: object, **kwargs: object) -> None:
        raise SystemExit("Database with missing data, flag 'missing' as True")

    monkeypatch.setattr(intrasom.SOMFactory, "build", staticmethod(refuse))
    with pytest.raises(ModelError, match="refused"):
        train_som(np.ones((20, 2)), rows=2, cols=2, rough_epochs=1, finetune_epochs=1, seed=0)
    assert logging.root.manager.disable == logging.NOTSET


def test_importing_intrasom_closes_no_existing_handler(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A fresh process: IntraSOM's import side effects happen once per interpreter.
    code = """
import io, logging, numpy as np
class ClosingHandler(logging.StreamHandler):
    # Like absl's handler under TensorFlow: closing the handler closes its stream.
    def close(self):
        self.stream.close()
        super().close()

stream = io.StringIO()
handler = ClosingHandler(stream)
logging.getLogger().addHandler(handler)
from astroiqa_indi.training._intrasom import train_som
train_som(np.random.default_rng(0).normal(size=(40, 3)), rows=2, cols=2,
          rough_epochs=1, finetune_epochs=1, seed=0)
assert not stream.closed, "a handler's stream was closed"
assert handler in logging.getLogger().handlers
assert logging.getLogger().manager.disable == logging.NOTSET
logging.getLogger().warning("still logging")
assert "still logging" in stream.getvalue()
print("ok")
"""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
    assert list(tmp_path.iterdir()) == []
