"""The classical baseline: threshold cuts on interpretable metrics.

This is what PixInsight SubframeSelector and Siril users do: reject on FWHM,
eccentricity, star count and background. Thresholds are tuned on the training
split only, by coordinate ascent on accuracy.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from astroiqa_indi.grading._represent import METRIC_FEATURES
from astroiqa_indi.labels import LABELS

__all__ = ["ClassicalCuts"]

_IDX = {name: i for i, name in enumerate(METRIC_FEATURES)}


@dataclass(frozen=True, slots=True)
class ClassicalCuts:
    """Ordered threshold rules (first match wins), the way people write them."""

    min_log_stars: float = 1.0
    max_gradient: float = 0.2
    max_log_sky_ratio: float = 0.6
    max_density_cv: float = 1.0
    very_bad_ecc: float = 0.85
    bad_ecc: float = 0.6
    max_fwhm_ratio: float = 1.05

    def classify(self, metrics: np.ndarray) -> np.ndarray:
        """Label index for each row of metric vectors (``METRIC_FEATURES`` order)."""
        m = np.atleast_2d(metrics)
        out = np.zeros(m.shape[0], np.intp)
        background = (
            (m[:, _IDX["log_n_stars"]] < self.min_log_stars)
            | (m[:, _IDX["gradient"]] > self.max_gradient)
            | (
                (m[:, _IDX["has_nominal"]] > 0)
                & (m[:, _IDX["log_sky_ratio"]] > self.max_log_sky_ratio)
            )
            | (m[:, _IDX["density_cv"]] > self.max_density_cv)
        )
        ecc = m[:, _IDX["eccentricity"]]
        seeing = m[:, _IDX["fwhm_ratio"]] > self.max_fwhm_ratio
        out[:] = LABELS.index("good")
        out[seeing] = LABELS.index("bad_seeing")
        out[ecc > self.bad_ecc] = LABELS.index("bad_tracking")
        out[ecc > self.very_bad_ecc] = LABELS.index("very_bad_tracking")
        out[background] = LABELS.index("background_issues")
        return out

    @classmethod
    def tune(cls, metrics: np.ndarray, labels: np.ndarray, *, rounds: int = 3) -> ClassicalCuts:
        """Thresholds maximising accuracy on (training) metrics and label indices."""
        best = cls()
        best_acc = float(np.mean(best.classify(metrics) == labels))
        for _ in range(rounds):
            for name in asdict(best):
                current = getattr(best, name)
                span = max(abs(current), 0.1)
                for value in np.linspace(current - span, current + span, 41):
                    candidate = replace(best, **{name: float(value)})
                    acc = float(np.mean(candidate.classify(metrics) == labels))
                    if acc > best_acc:
                        best, best_acc = candidate, acc
        return best

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ClassicalCuts:
        return cls(**json.loads(path.read_text()))
