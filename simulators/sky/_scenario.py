"""Night scenarios: a timeline of condition segments for the simulated observatory.

A scenario file (YAML)::

    name: night-with-faults
    description: free text
    exposure_s: 5          # sub length of the simulated camera
    seed: 7                # same seed, same night
    loop: true             # after the last segment start again (default true)
    segments:
      - name: clear
        duration_s: 60
        label: good        # conditions are drawn with conditions_for(label)
      - name: periodic-error
        duration_s: 60
        label: bad_tracking
        set: {trail_fwhm: 1.8, drift_px: 0, wind_rms_px: 0, pe_amplitude_px: 1}
      - name: clouds-rolling-in
        duration_s: 90
        label: background_issues
        ramp: {transparency: [0.9, 0.15]}

``set`` overrides condition fields for the whole segment, ``ramp`` moves a
field linearly from the first to the second value across the segment. Two
rig-independent pseudo-fields are understood by both: ``trail_fwhm`` (scale
the tracking amplitudes so that L = value x FWHM) and ``seeing_max`` (FWHM as
a fraction of the rig's ``max_fwhm_arcsec``). The star field, its density, the
stars' fluxes (electrons), the target and the crop position stay the same for
the whole night; the wind shake changes with every exposure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from astroiqa_indi.labels import LABELS

from ._conditions import Conditions

if TYPE_CHECKING:
    from ._rigs import Rig

__all__ = ["SCENARIO_DIR", "Scenario", "Segment", "load_scenario"]

SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"
"""The scenario files shipped with the simulators (``simulators/scenarios``)."""

_PSEUDO = ("trail_fwhm", "seeing_max")
_NIGHT_FIXED = (
    "field_seed",
    "n_stars",
    "star_slope",
    "faint_snr",
    "crop_x",
    "crop_y",
    "n_galaxies",
    "nebulosity",
    "target_size_px",
    "target_snr",
    "target_ba",
    "target_pa_deg",
)


@dataclass(frozen=True)
class Segment:
    """One stretch of the night.

    Attributes
    ----------
    name
        Shown in logs and in the observatory simulator.
    duration_s
        Length, seconds.
    label
        The label the segment is meant to produce (``label_of`` on the
        rendered truth is authoritative, e.g. in the middle of a ramp).
    start_s
        Start time within the scenario, seconds.
    set
        Constant overrides of condition fields.
    ramp
        ``field -> (start value, end value)`` across the segment.
    """

    name: str
    duration_s: float
    label: str
    start_s: float = 0.0
    set: Mapping[str, float] = field(default_factory=dict)
    ramp: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.duration_s > 0:
            raise ValueError(f"segment {self.name!r}: duration_s must be > 0")
        if self.label not in LABELS:
            raise ValueError(f"segment {self.name!r}: unknown label {self.label!r}")
        names = set(Conditions.field_names()) | set(_PSEUDO)
        for key in (*self.set, *self.ramp):
            if key not in names:
                raise ValueError(f"segment {self.name!r}: unknown condition field {key!r}")

    def values_at(self, frac: float) -> dict[str, float]:
        """Overrides at a fraction ``frac`` (0..1) of the segment."""
        out = dict(self.set)
        for key, (a, b) in self.ramp.items():
            out[key] = a + (b - a) * frac
        return out


@dataclass(frozen=True)
class Scenario:
    """A night as a sequence of segments.

    Attributes
    ----------
    name, description
        Identification.
    segments
        The timeline, in order (``start_s`` filled in).
    exposure_s
        Sub length of the simulated camera, seconds.
    seed
        Seed of the night: same seed, same conditions at the same time.
    loop
        Start over after the last segment (else the last segment lasts forever).
    rig
        Default catalogue rig name, if the scenario suggests one.
    """

    name: str
    segments: tuple[Segment, ...]
    exposure_s: float = 5.0
    seed: int = 0
    loop: bool = True
    description: str = ""
    rig: str | None = None

    def __post_init__(self) -> None:
        if not self.segments:
            raise ValueError("a scenario needs at least one segment")
        if not self.exposure_s > 0:
            raise ValueError("exposure_s must be > 0")

    @property
    def duration_s(self) -> float:
        """Total length of one pass, seconds."""
        return sum(s.duration_s for s in self.segments)

    def segment_at(self, t_seconds: float) -> tuple[Segment, float]:
        """The segment running at ``t_seconds`` and how far into it (0..1)."""
        t = t_seconds % self.duration_s if self.loop else min(t_seconds, self.duration_s - 1e-9)
        for seg in self.segments:
            if t < seg.start_s + seg.duration_s:
                return seg, (t - seg.start_s) / seg.duration_s
        last = self.segments[-1]
        return last, 1.0

    def conditions_at(self, t_seconds: float, rig: Rig) -> tuple[Conditions, Segment]:
        """Conditions of an exposure starting at ``t_seconds`` and its segment."""
        from ._path import tracking_path, trail_length
        from ._render import faint_flux

        seg, frac = self.segment_at(t_seconds)
        index = self.segments.index(seg)
        night = _base(rig, "good", self.seed, 0xA11)
        base = _base(rig, seg.label, self.seed, index)
        changes: dict[str, Any] = {k: getattr(night, k) for k in _NIGHT_FIXED}
        # One star field all night: fluxes in electrons, not relative to the sky noise.
        changes["faint_flux_e"] = night.faint_flux_e or faint_flux(rig, night)
        changes["exposure_s"] = self.exposure_s
        changes["path_seed"] = int(
            np.random.default_rng([self.seed, int(t_seconds * 1000)]).integers(2**31)
        )
        stamp = np.datetime64(night.date_obs[:19]) + np.timedelta64(int(t_seconds * 1000), "ms")
        changes["date_obs"] = str(stamp)
        values = seg.values_at(frac)
        trail_fwhm = values.pop("trail_fwhm", None)
        seeing_max = values.pop("seeing_max", None)
        changes.update(values)
        if seeing_max is not None:
            changes["seeing_fwhm_arcsec"] = seeing_max * rig.max_fwhm_arcsec
        for key in ("n_stars", "n_galaxies", "path_seed", "cloud_seed", "field_seed"):
            if key in changes:
                changes[key] = int(changes[key])
        cond = base.replace(**changes)
        if trail_fwhm is not None:
            fwhm = cond.seeing_fwhm_arcsec / rig.pixel_scale_arcsec
            length = trail_length(tracking_path(cond))
            if length > 0:
                k = trail_fwhm * fwhm / length
                amps = (
                    "drift_px",
                    "pe_amplitude_px",
                    "wind_rms_px",
                    "zigzag_amplitude_px",
                    "jump_px",
                )
                cond = cond.replace(**{a: getattr(cond, a) * k for a in amps})
        return cond, seg


@lru_cache(maxsize=256)
def _base(rig: Rig, label: str, seed: int, index: int) -> Conditions:
    from ._sampling import conditions_for

    return conditions_for(label, rig, np.random.default_rng([seed, index]))


def _parse_segment(raw: Any, start: float, where: str) -> Segment:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: a segment must be a mapping")
    unknown = set(raw) - {"name", "duration_s", "label", "set", "ramp"}
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    ramp_raw = raw.get("ramp") or {}
    ramp: dict[str, tuple[float, float]] = {}
    for key, pair in ramp_raw.items():
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ValueError(f"{where}: ramp {key!r} needs [start, end]")
        ramp[str(key)] = (float(pair[0]), float(pair[1]))
    return Segment(
        name=str(raw.get("name", where)),
        duration_s=float(raw["duration_s"]),
        label=str(raw["label"]),
        start_s=start,
        set={str(k): float(v) for k, v in (raw.get("set") or {}).items()},
        ramp=ramp,
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario YAML file (format in this module's docstring and docs/simulator.md)."""
    import yaml

    p = Path(path)
    data = yaml.safe_load(p.read_text())
    if not isinstance(data, Mapping) or "segments" not in data:
        raise ValueError(f"{p}: a scenario needs a 'segments' list")
    unknown = set(data) - {"name", "description", "exposure_s", "seed", "loop", "segments", "rig"}
    if unknown:
        raise ValueError(f"{p}: unknown keys {sorted(unknown)}")
    segments = []
    start = 0.0
    for i, raw in enumerate(data["segments"]):
        seg = _parse_segment(raw, start, f"{p}: segments[{i}]")
        segments.append(seg)
        start += seg.duration_s
    return Scenario(
        name=str(data.get("name", p.stem)),
        segments=tuple(segments),
        exposure_s=float(data.get("exposure_s", 5.0)),
        seed=int(data.get("seed", 0)),
        loop=bool(data.get("loop", True)),
        description=str(data.get("description", "")),
        rig=str(data["rig"]) if data.get("rig") is not None else None,
    )
