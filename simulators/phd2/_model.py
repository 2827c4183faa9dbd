"""Value types of the PHD2 simulator: application states, sky conditions, settle requests."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from simulators.phd2._protocol import INVALID_PARAMS, RpcFailure

__all__ = ["Event", "GuideConditions", "GuiderState", "SettleSpec"]

Event = tuple[str, dict[str, Any]]
"""An event before serialisation: its name and its own attributes, in wire order."""


class GuiderState(enum.StrEnum):
    """PHD2's ``AppState`` names."""

    STOPPED = "Stopped"
    SELECTED = "Selected"
    CALIBRATING = "Calibrating"
    GUIDING = "Guiding"
    LOST_LOCK = "LostLock"
    PAUSED = "Paused"
    LOOPING = "Looping"


@dataclass(frozen=True, slots=True)
class GuideConditions:
    """What the sky and the mount do to guiding right now.

    Attributes
    ----------
    rms_arcsec
        Total (RA and Dec combined) RMS guide error, arcseconds; bad tracking or seeing
        makes it larger.
    star_lost
        True while clouds (or anything else) hide the guide star: frames yield
        ``StarLost`` instead of ``GuideStep``.
    """

    rms_arcsec: float
    star_lost: bool = False

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rms_arcsec) and self.rms_arcsec >= 0):
            raise ValueError(f"rms_arcsec must be finite and >= 0, got {self.rms_arcsec}")


@dataclass(frozen=True, slots=True)
class SettleSpec:
    """The ``settle`` object of ``guide`` and ``dither``: pixels, seconds, seconds."""

    pixels: float
    time: float
    timeout: float

    @classmethod
    def parse(cls, value: Any) -> SettleSpec | RpcFailure:
        if not isinstance(value, dict):
            return RpcFailure(INVALID_PARAMS, "expected settle object param")
        numbers = {}
        for key in ("pixels", "time", "timeout"):
            item = value.get(key)
            if isinstance(item, bool) or not isinstance(item, int | float):
                return RpcFailure(INVALID_PARAMS, "invalid settle params")
            numbers[key] = float(item)
        # PHD2 truncates the two durations to whole seconds.
        return cls(
            numbers["pixels"],
            float(math.floor(numbers["time"])),
            float(math.floor(numbers["timeout"])),
        )
