"""Walks a scenario night on the simulator's clock and keeps the truth log.

The scenario clock starts when the player is built and runs ``time_scale`` times
faster than the wall clock while playing (SIM_SCENARIO PAUSE stops it). A client
writing SIM_CONDITIONS overrides the listed values until the scenario moves to its
next segment; without a scenario the sky stays clear (drawn once from ``seed``)
and an override lasts until the next override.

Every frame the camera finishes appends one JSON line to the truth log: frame
number, times, segment, the label ``label_of`` gives its truth, and the truth.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np

from simulators.sky import RIGS, Conditions, Rig, Scenario, conditions_for, load_scenario

if TYPE_CHECKING:
    from simulators.observatory._frames import ExposureResult

__all__ = ["FIELDS", "ConditionField", "Moment", "ScenarioPlayer"]

_log = logging.getLogger(__name__)

DEFAULT_RIG = "refractor80_asi2600mm"
# Announce a segment change this long after the boundary, so "now" is inside it.
_BOUNDARY_EPSILON_S = 0.01


@dataclass(frozen=True, slots=True)
class ConditionField:
    """One element of SIM_CONDITIONS: INDI name, label, range, step, format."""

    name: str
    label: str
    minimum: float
    maximum: float
    step: float
    format: str


FIELDS: tuple[ConditionField, ...] = (
    ConditionField("SEEING_ARCSEC", "Seeing FWHM (arcsec)", 0.3, 30.0, 0.1, "%.2f"),
    ConditionField("TRAIL_PX", "Drift per exposure (px)", 0.0, 500.0, 0.5, "%.1f"),
    ConditionField("TRAIL_ANGLE_DEG", "Drift angle (deg)", 0.0, 360.0, 1.0, "%.0f"),
    ConditionField("PE_AMPLITUDE_ARCSEC", "Periodic error (arcsec)", 0.0, 120.0, 0.5, "%.1f"),
    ConditionField("TRANSPARENCY", "Transparency (0-1)", 0.0, 1.0, 0.05, "%.2f"),
    ConditionField("SKY_RATIO", "Sky / dark sky", 0.1, 50.0, 0.1, "%.2f"),
    ConditionField("GRADIENT", "Gradient (peak-to-peak)", 0.0, 5.0, 0.01, "%.2f"),
)
_BY_NAME = {f.name: f for f in FIELDS}


@dataclass(frozen=True, slots=True)
class Moment:
    """The scenario at one instant.

    Attributes
    ----------
    conditions
        Conditions for an exposure starting now (overrides applied).
    segment
        Name of the scenario segment (``"clear sky"`` without a scenario).
    elapsed_s
        Scenario time, simulated seconds since the start.
    overridden
        Whether SIM_CONDITIONS overrides are in force.
    """

    conditions: Conditions
    segment: str
    elapsed_s: float
    overridden: bool


class ScenarioPlayer:
    """The scenario clock, SIM_CONDITIONS overrides and the truth log.

    Parameters
    ----------
    rig
        The rig frames are rendered for.
    scenario
        The night to play, or ``None`` for a clear sky.
    time_scale
        Simulated seconds per wall-clock second.
    seed
        Seeds the clear sky drawn when there is no scenario.
    truth_log
        JSON-lines file to append frame records to, or ``None``.
    clock
        Monotonic wall clock, seconds (a seam for tests).
    """

    def __init__(
        self,
        rig: Rig,
        *,
        scenario: Scenario | None = None,
        time_scale: float = 1.0,
        seed: int = 0,
        truth_log: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not time_scale > 0:
            raise ValueError("time_scale must be positive")
        self.rig = rig
        self.scenario = scenario
        self._time_scale = time_scale
        self._clock = clock
        self._clear = conditions_for("good", rig, np.random.default_rng(seed))
        self._started = clock()
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._overrides: dict[str, float] = {}
        self._override_segment: tuple[int, str] | None = None
        self._listeners: list[Callable[[], None]] = []
        self._log: IO[str] | None = None
        if truth_log is not None:
            truth_log.parent.mkdir(parents=True, exist_ok=True)
            self._log = truth_log.open("a", encoding="utf-8")

    @classmethod
    def from_config(
        cls,
        *,
        scenario: Path | None,
        rig: str | None,
        time_scale: float,
        seed: int,
        truth_log: Path | None,
    ) -> ScenarioPlayer:
        """Load the scenario file and pick the rig (``--rig``, the scenario's, or the default)."""
        loaded = load_scenario(scenario) if scenario is not None else None
        name = rig or (loaded.rig if loaded is not None else None) or DEFAULT_RIG
        if name not in RIGS:
            raise ValueError(f"unknown rig {name!r}; known: {', '.join(sorted(RIGS))}")
        return cls(
            RIGS[name],
            scenario=loaded,
            time_scale=time_scale,
            seed=seed,
            truth_log=truth_log,
        )

    fields = FIELDS

    def warm_up(self) -> None:
        """Draw every segment's conditions now (seconds of CPU; run it off the loop).

        The scenario draws a segment's base conditions the first time it is asked
        for them; doing that for all segments up front keeps segment changes from
        stalling the event loop in the middle of a night.
        """
        if self.scenario is not None:
            for segment in self.scenario.segments:
                self.scenario.conditions_at(segment.start_s, self.rig)

    # ------------------------------------------------------------------ clock

    @property
    def playing(self) -> bool:
        """Whether the scenario clock runs."""
        return self._paused_at is None

    def elapsed_s(self) -> float:
        """Scenario time, simulated seconds."""
        now = self._paused_at if self._paused_at is not None else self._clock()
        return (now - self._started - self._paused_total) * self._time_scale

    def pause(self) -> None:
        """Stop the scenario clock (conditions freeze)."""
        if self._paused_at is None:
            self._paused_at = self._clock()
            self._changed()

    def play(self) -> None:
        """Restart the scenario clock."""
        if self._paused_at is not None:
            self._paused_total += self._clock() - self._paused_at
            self._paused_at = None
            self._changed()

    def seek(self, elapsed_s: float) -> None:
        """Jump the scenario clock to ``elapsed_s`` simulated seconds (paused or not)."""
        if not (math.isfinite(elapsed_s) and elapsed_s >= 0):
            raise ValueError(f"scenario time must be >= 0, got {elapsed_s}")
        reference = self._paused_at if self._paused_at is not None else self._clock()
        self._started = reference - self._paused_total - elapsed_s / self._time_scale
        self._changed()

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after play/pause/override (the announcer re-plans)."""
        self._listeners.append(callback)

    def _changed(self) -> None:
        for callback in self._listeners:
            callback()

    def seconds_to_next_change(self) -> float | None:
        """Wall seconds until the next segment starts; ``None`` if never (or paused)."""
        if self.scenario is None or not self.playing:
            return None
        boundary = _next_boundary(self.scenario, self.elapsed_s())
        if boundary is None:
            return None
        return (boundary - self.elapsed_s()) / self._time_scale + _BOUNDARY_EPSILON_S

    # ------------------------------------------------------------------ conditions

    @property
    def description(self) -> str:
        """What is being played, for SIM_STATE and the CLI."""
        if self.scenario is None:
            return f"clear sky on {self.rig.name}"
        return f"{self.scenario.name} on {self.rig.name}"

    def now(self) -> Moment:
        """The conditions and segment right now."""
        t = self.elapsed_s()
        key: tuple[int, str] | None = None
        if self.scenario is None:
            base, segment = self._clear, "clear sky"
        else:
            base, current = self.scenario.conditions_at(t, self.rig)
            segment, key = current.name, _segment_key(self.scenario, t)
        if self._overrides and self._override_segment not in (None, key):
            _log.info("segment %r starts: SIM_CONDITIONS overrides end", segment)
            self._overrides.clear()
        conditions = self._apply(base, self._overrides) if self._overrides else base
        return Moment(conditions, segment, t, bool(self._overrides))

    def values(self, conditions: Conditions) -> dict[str, float]:
        """SIM_CONDITIONS element values describing ``conditions``."""
        scale = self.rig.pixel_scale_arcsec
        return {
            "SEEING_ARCSEC": conditions.seeing_fwhm_arcsec,
            "TRAIL_PX": conditions.drift_px,
            "TRAIL_ANGLE_DEG": conditions.drift_angle_deg % 360.0,
            "PE_AMPLITUDE_ARCSEC": conditions.pe_amplitude_px * scale,
            "TRANSPARENCY": conditions.transparency,
            "SKY_RATIO": conditions.sky_ratio,
            "GRADIENT": conditions.gradient,
        }

    def override(self, values: Mapping[str, float]) -> None:
        """Override SIM_CONDITIONS elements until the next segment.

        Raises
        ------
        ValueError
            An unknown element or a value the renderer cannot take.
        """
        unknown = sorted(set(values) - set(_BY_NAME))
        if unknown:
            raise ValueError(f"SIM_CONDITIONS: unknown element(s) {', '.join(unknown)}")
        merged = {**self._overrides, **values}
        moment = self.now()
        self._apply(moment.conditions, merged)  # validates before anything changes
        self._overrides = merged
        if self.scenario is not None:
            self._override_segment = _segment_key(self.scenario, moment.elapsed_s)
        self._changed()

    def _apply(self, conditions: Conditions, values: Mapping[str, float]) -> Conditions:
        changes: dict[str, float] = {}
        for key, value in values.items():
            if not math.isfinite(value):
                raise ValueError(f"SIM_CONDITIONS.{key} must be finite")
            if key == "SEEING_ARCSEC":
                changes["seeing_fwhm_arcsec"] = value
            elif key == "TRAIL_PX":
                changes["drift_px"] = value
            elif key == "TRAIL_ANGLE_DEG":
                changes["drift_angle_deg"] = value
            elif key == "PE_AMPLITUDE_ARCSEC":
                changes["pe_amplitude_px"] = value / self.rig.pixel_scale_arcsec
            elif key == "TRANSPARENCY":
                changes["transparency"] = value
                if value >= 1.0:
                    changes["cloud_variation"] = 0.0
            elif key == "SKY_RATIO":
                changes["sky_ratio"] = value
            elif key == "GRADIENT":
                changes["gradient"] = value
        return conditions.replace(**changes)

    @staticmethod
    def with_trail(conditions: Conditions, trail_px: float, angle_deg: float) -> Conditions:
        """Conditions with at least ``trail_px`` of drift along the RA axis.

        ``angle_deg`` is relative to the RA axis on the sensor (0: along RA).
        """
        return conditions.replace(
            drift_px=max(conditions.drift_px, trail_px),
            drift_angle_deg=(conditions.ra_angle_deg + angle_deg) % 360.0,
        )

    def status_line(self) -> str:
        """One line for the CLI: scenario, segment, time, overrides."""
        moment = self.now()
        state = "playing" if self.playing else "paused"
        extra = ", SIM_CONDITIONS overridden" if moment.overridden else ""
        return (
            f"{self.description}: {moment.segment!r} at t={moment.elapsed_s:.0f} s ({state}{extra})"
        )

    # ------------------------------------------------------------------ truth log

    def record(
        self,
        *,
        frame: int,
        start: datetime,
        exposure_s: float,
        segment: str,
        elapsed_s: float,
        result: ExposureResult,
        path: str | None,
    ) -> None:
        """Log one finished frame (its truth label and the truth)."""
        _log.info(
            "frame %d (%s, t=%.0f s): %s%s",
            frame,
            segment,
            elapsed_s,
            result.label,
            "" if result.clear else " (ambiguous)",
        )
        if self._log is None:
            return
        entry = {
            "frame": frame,
            "date_obs": start.isoformat(),
            "exposure_s": exposure_s,
            "scenario_time_s": round(elapsed_s, 3),
            "segment": segment,
            "label": result.label,
            "clear": result.clear,
            "format": result.format,
            "file": path,
            "truth": result.truth.to_row() if result.truth is not None else None,
        }
        self._log.write(json.dumps(entry) + "\n")
        self._log.flush()

    def close(self) -> None:
        """Close the truth log."""
        if self._log is not None:
            self._log.close()
            self._log = None


# ---------------------------------------------------------------------- scenario helpers


def _segment_key(scenario: Scenario, t: float) -> tuple[int, str]:
    """(pass, segment index) at ``t``: distinct even when a looped night repeats a name."""
    segment, _ = scenario.segment_at(t)
    passes = int(t // scenario.duration_s) if scenario.loop else 0
    return passes, f"{scenario.segments.index(segment)}:{segment.name}"


def _next_boundary(scenario: Scenario, t: float) -> float | None:
    """Scenario time at which the segment running at ``t`` ends (``None``: never)."""
    total = scenario.duration_s
    if not scenario.loop and t >= total - scenario.segments[-1].duration_s:
        return None
    segment, _ = scenario.segment_at(t)
    pass_start = (t // total) * total if scenario.loop else 0.0
    return pass_start + segment.start_s + segment.duration_s
