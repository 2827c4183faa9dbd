"""The result of grading one frame."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from astroiqa_indi.labels import LABELS, Label

__all__ = ["BrightStars", "FrameMetrics", "Verdict"]


def _finite_or_none(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameMetrics:
    """Interpretable measurements of one frame (the classical cuts' inputs).

    Star-shape fields are ``None`` when no usable star was found.

    Attributes
    ----------
    n_sources
        Everything sep detected above threshold.
    n_stars
        Sources kept for shape measurement (unsaturated, unflagged, isolated).
    fwhm_px, fwhm_arcsec
        Median FWHM, from the half-flux radius (FWHM = 2 * r50 for a Gaussian).
    eccentricity
        Median ``sqrt(1 - b**2 / a**2)`` of the kept stars.
    eccentricity_spread
        Interquartile range of the eccentricities.
    elongation
        Median ``a / b``.
    orientation_coherence
        Mean resultant length of ``2 * theta`` (0: random, 1: all aligned).
    position_angle_deg
        Mean orientation of the elongation, degrees from image +x towards +y (0-180);
        the reasons call it PA. Not a sky position angle: the frame's orientation on
        the sky is not known here.
    saturated_fraction
        Fraction of detections flagged or peaking at saturation.
    background, background_rms
        Global sky level and noise, ADU.
    gradient
        Peak-to-peak of the background mesh / median background.
    fwhm_ratio
        ``fwhm_arcsec / max_fwhm_arcsec`` from the profile, or ``None``.
    """

    n_sources: int
    n_stars: int
    fwhm_px: float | None = None
    fwhm_arcsec: float | None = None
    eccentricity: float | None = None
    eccentricity_spread: float | None = None
    elongation: float | None = None
    orientation_coherence: float | None = None
    position_angle_deg: float | None = None
    saturated_fraction: float = 0.0
    background: float = 0.0
    background_rms: float = 0.0
    gradient: float = 0.0
    fwhm_ratio: float | None = None

    def __post_init__(self) -> None:
        # Plain Python scalars only: numpy scalars do not survive json.dumps.
        for name in ("n_sources", "n_stars"):
            object.__setattr__(self, name, int(getattr(self, name)))
        for name in ("saturated_fraction", "background", "background_rms", "gradient"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.n_sources < 0 or self.n_stars < 0 or self.n_stars > max(self.n_sources, 0):
            raise ValueError(f"n_stars={self.n_stars} must be within 0..n_sources={self.n_sources}")
        for name in (
            "fwhm_px",
            "fwhm_arcsec",
            "eccentricity",
            "eccentricity_spread",
            "elongation",
            "orientation_coherence",
            "position_angle_deg",
            "fwhm_ratio",
        ):
            object.__setattr__(self, name, _finite_or_none(getattr(self, name)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class BrightStars:
    """The frame's brightest detections, brightest first: fluxes and saturation.

    Uniform cloud scales every star's flux by the same factor and keeps their order,
    so the same ranks of two frames of one field compare the same stars, without
    matching positions (dithers, flips and crops do not matter). Saturated stars
    are kept in the list, flagged, so that the ranks below them stay aligned.

    Attributes
    ----------
    flux
        Aperture fluxes, ADU above the sky, in decreasing order.
    saturated
        One flag per flux.
    """

    flux: tuple[float, ...] = ()
    saturated: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        flux = tuple(float(f) for f in self.flux)
        saturated = tuple(bool(s) for s in self.saturated)
        if len(flux) != len(saturated):
            raise ValueError("flux and saturated must have the same length")
        if any(a < b for a, b in itertools.pairwise(flux)):
            raise ValueError("flux must be in decreasing order")
        object.__setattr__(self, "flux", flux)
        object.__setattr__(self, "saturated", saturated)

    def __len__(self) -> int:
        return len(self.flux)

    def to_dict(self) -> dict[str, list[float] | list[bool]]:
        return {"flux": list(self.flux), "saturated": list(self.saturated)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What the grader says about one frame.

    Attributes
    ----------
    label
        One of :data:`astroiqa_indi.labels.LABELS`: the most probable label, unless
        the profile's ``quality.max_elongation`` excused a ``bad_tracking`` call
        (then the most probable of the others, and the first reason says so).
    probabilities
        Probability per label, as the network gave them; sums to 1.
    metrics
        The interpretable measurements.
    reasons
        Human-readable sentences explaining the label.
    confident
        False when the frame has too few stars (or the top probability is low)
        for the label to be trusted.
    timings
        Seconds per grading stage.
    source
        Where the frame came from (path or INDI device), if known.
    model_version
        Identifier of the model that produced it (``"rules"`` when no network ran).
    bright_stars
        The brightest detections, for comparing frames of one session
        (:class:`~astroiqa_indi.grading.TransparencyReference`).
    transparency
        Star flux against the session's recent good frames of the same camera
        setup (1: as clear as they were), when a
        :class:`~astroiqa_indi.grading.TransparencyReference` measured it (frames the
        network calls good, with the profile's ``min_transparency`` set); else ``None``.
    """

    label: Label
    probabilities: Mapping[str, float]
    metrics: FrameMetrics
    reasons: tuple[str, ...] = ()
    confident: bool = True
    timings: Mapping[str, float] = field(default_factory=dict)
    source: str | None = None
    model_version: str = "unknown"
    bright_stars: BrightStars = field(default_factory=BrightStars)
    transparency: float | None = None

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label {self.label!r} is not one of {LABELS}")
        unknown = set(self.probabilities) - set(LABELS)
        if unknown:
            raise ValueError(f"probabilities for unknown labels {sorted(unknown)}")
        probs = {name: float(self.probabilities.get(name, 0.0)) for name in LABELS}
        if any(p < 0 or not math.isfinite(p) for p in probs.values()):
            raise ValueError(f"probabilities must be finite and >= 0, got {probs}")
        total = sum(probs.values())
        if not math.isclose(total, 1.0, abs_tol=1e-3):
            raise ValueError(f"probabilities must sum to 1, got {total:.4f}")
        object.__setattr__(self, "probabilities", MappingProxyType(probs))
        object.__setattr__(self, "confident", bool(self.confident))
        object.__setattr__(
            self, "timings", MappingProxyType({k: float(v) for k, v in self.timings.items()})
        )
        object.__setattr__(self, "reasons", tuple(self.reasons))
        if self.transparency is not None and not (
            math.isfinite(self.transparency) and self.transparency >= 0
        ):
            raise ValueError(f"transparency must be finite and >= 0, got {self.transparency}")

    @property
    def is_good(self) -> bool:
        return self.label == "good"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``grade --json`` and MQTT ``frame`` payload)."""
        return {
            "path": self.source,
            "label": self.label,
            "probabilities": dict(self.probabilities),
            "confident": self.confident,
            "metrics": self.metrics.to_dict(),
            "reasons": list(self.reasons),
            "timings": dict(self.timings),
            "model_version": self.model_version,
            "bright_stars": self.bright_stars.to_dict(),
            "transparency": self.transparency,
        }

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Verdict:
        """Rebuild a verdict from :meth:`to_dict` (after JSON or pickling).

        Raises
        ------
        KeyError, TypeError, ValueError
            ``payload`` is not what :meth:`to_dict` writes.
        """
        return cls(
            label=payload["label"],
            probabilities=dict(payload["probabilities"]),
            metrics=FrameMetrics(**payload["metrics"]),
            reasons=tuple(payload.get("reasons", ())),
            confident=bool(payload.get("confident", True)),
            timings=dict(payload.get("timings", {})),
            source=payload.get("path"),
            model_version=str(payload.get("model_version", "unknown")),
            bright_stars=BrightStars(**payload.get("bright_stars", {})),
            transparency=payload.get("transparency"),
        )
