import json

import numpy as np
import pytest

from astroiqa_indi.grading import FrameMetrics, Verdict
from astroiqa_indi.labels import LABELS


def _metrics(**kw: object) -> FrameMetrics:
    base: dict[str, object] = {"n_sources": 10, "n_stars": 5}
    base.update(kw)
    return FrameMetrics(**base)  # type: ignore[arg-type]


def test_numpy_scalars_become_json_ready() -> None:
    metrics = _metrics(n_sources=np.int64(12), fwhm_px=np.float32(2.5), gradient=np.float64(0.1))
    verdict = Verdict(
        label="good",
        probabilities=dict(zip(LABELS, np.array([0.6, 0.1, 0.1, 0.1, 0.1]), strict=True)),
        metrics=metrics,
        confident=np.bool_(True),  # type: ignore[arg-type]
        timings={"total": np.float64(0.2)},
    )
    text = json.dumps(verdict.to_dict(), allow_nan=False)
    assert json.loads(text)["metrics"]["n_sources"] == 12


def test_non_finite_metrics_become_none() -> None:
    assert _metrics(fwhm_px=float("nan"), elongation=float("inf")).fwhm_px is None


def test_verdict_validates_label_and_probabilities() -> None:
    good = dict.fromkeys(LABELS, 0.2)
    with pytest.raises(ValueError, match="label"):
        Verdict(label="cloudy", probabilities=good, metrics=_metrics())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sum to 1"):
        Verdict(label="good", probabilities={"good": 0.5}, metrics=_metrics())
    with pytest.raises(ValueError, match="n_stars"):
        _metrics(n_sources=2, n_stars=3)
