"""The simulated guider: PHD2's states, methods and per-frame events, with no I/O.

:class:`GuiderEngine` is driven by two inputs, method calls and frame ticks, and answers
with outcomes and event tuples ``(name, attributes)``; the asyncio layer
(:mod:`simulators.phd2._server`) serialises and broadcasts them. Simulated time advances
``exposure_s`` per frame whatever the wall-clock cadence, so settle times (given in
seconds by clients) are reached after a predictable number of frames, in tests as fast
as the cadence allows.

Behaviour follows PHD2 where its documentation or event server says so:

- ``set_paused(true)`` pauses guide output while exposures keep looping; with
  ``"full"`` it also stops exposures. A change emits ``Paused`` or ``Resumed``;
  ``AppState`` is sent only when a client connects, never on a change.
- ``guide`` answers at once and then loops, selects a star, calibrates if needed,
  guides and settles, ending with exactly one ``SettleDone``.
- ``dither`` needs guiding, shifts the lock position (``GuidingDithered``) and settles.
- ``stop_capture`` un-pauses first (``Resumed``), as PHD2 does.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from simulators.phd2._model import Event, GuideConditions, GuiderState, SettleSpec
from simulators.phd2._protocol import (
    INVALID_PARAMS,
    PHD2_FAILURE,
    RpcFailure,
    RpcResult,
    named_params,
)

__all__ = ["GuiderEngine"]

Outcome = RpcResult | RpcFailure

_MOUNT = "Simulator"
_DITHER_DECAY = 0.35  # fraction of a dither offset left after each guide frame
_AVG_DIST_ALPHA = 0.3  # weight of the newest frame in the smoothed AvgDist
_PULSE_MS_PER_PX = 120.0  # guide rate of the simulated mount
_AGGRESSIVENESS = 0.7
_EXPOSURE_DURATIONS_MS = (10, 100, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 10000)


class _Mode(enum.Enum):
    STOPPED = enum.auto()
    LOOPING = enum.auto()
    CALIBRATING = enum.auto()
    GUIDING = enum.auto()


class _Pause(enum.Enum):
    NONE = enum.auto()
    GUIDING = enum.auto()  # guide output paused, exposures keep looping
    FULL = enum.auto()  # exposures stopped too


@dataclass(slots=True)
class _SettleRun:
    op: str  # "guide" or "dither"
    spec: SettleSpec
    started: float  # simulated seconds
    in_range_since: float | None = None
    frames: int = 0
    dropped: int = 0


def _constant_conditions() -> GuideConditions:
    return GuideConditions(rms_arcsec=0.6)


class GuiderEngine:
    """PHD2's guider, simulated.

    Parameters
    ----------
    pixel_scale
        Guide camera scale, arcsec per pixel; ``None`` mimics PHD2 not knowing it.
    exposure_s
        Simulated seconds per guide frame (``Time`` and settle timing advance by it).
    conditions
        Called once per frame; returns the current :class:`GuideConditions`.
    seed
        Seed of the random guide errors and dither offsets.
    calibration_steps
        Frames spent calibrating the first time ``guide`` runs (0 skips calibration).
    connected
        Whether "all equipment" is connected (``guide`` and ``loop`` fail otherwise).
    """

    def __init__(
        self,
        *,
        pixel_scale: float | None = 1.5,
        exposure_s: float = 2.0,
        conditions: Callable[[], GuideConditions] | None = None,
        seed: int | None = 0,
        calibration_steps: int = 2,
        connected: bool = True,
    ) -> None:
        if pixel_scale is not None and not pixel_scale > 0:
            raise ValueError(f"pixel_scale must be > 0 arcsec/px, got {pixel_scale}")
        if not exposure_s > 0:
            raise ValueError(f"exposure_s must be > 0, got {exposure_s}")
        if calibration_steps < 0:
            raise ValueError(f"calibration_steps must be >= 0, got {calibration_steps}")
        self.pixel_scale = pixel_scale
        self.exposure_s = float(exposure_s)
        self.connected = connected
        self._conditions = conditions or _constant_conditions
        self._rng = np.random.default_rng(seed)
        self._calibration_steps = calibration_steps
        self._calibrated = calibration_steps == 0
        self._mode = _Mode.STOPPED
        self._pause = _Pause.NONE
        self._star: tuple[float, float] | None = None
        self._lost = False
        self._now = 0.0  # simulated seconds
        self._loop_frame = 0
        self._guide_frame = 0
        self._guide_started = 0.0
        self._calib_step = 0
        self._pending_guide: SettleSpec | None = None
        self._settle: _SettleRun | None = None
        self._dither = (0.0, 0.0)  # pixels, RA and Dec, still to be corrected
        self._avg_dist = 0.0
        self._methods: dict[str, Callable[[Any], tuple[Outcome, list[Event]]]] = {
            "get_app_state": self._get_app_state,
            "get_paused": lambda _p: (RpcResult(self._pause is not _Pause.NONE), []),
            "set_paused": self._set_paused,
            "loop": self._loop,
            "stop_capture": self._stop_capture,
            "guide": self._guide,
            "dither": self._dither_call,
            "get_pixel_scale": lambda _p: (RpcResult(self.pixel_scale), []),
            "get_connected": lambda _p: (RpcResult(self.connected), []),
            "get_calibrated": lambda _p: (RpcResult(self._calibrated), []),
            "get_exposure": lambda _p: (RpcResult(round(self.exposure_s * 1000)), []),
            "set_exposure": self._set_exposure,
            "get_exposure_durations": lambda _p: (RpcResult(list(_EXPOSURE_DURATIONS_MS)), []),
        }

    # ----------------------------------------------------------------- state
    @property
    def state(self) -> GuiderState:
        """The current ``AppState`` (the answer to ``get_app_state``)."""
        if self._pause is not _Pause.NONE:
            return GuiderState.PAUSED
        if self._mode is _Mode.STOPPED:
            return GuiderState.STOPPED
        if self._mode is _Mode.CALIBRATING:
            return GuiderState.CALIBRATING
        if self._mode is _Mode.GUIDING:
            return GuiderState.LOST_LOCK if self._lost else GuiderState.GUIDING
        return GuiderState.SELECTED if self._star is not None else GuiderState.LOOPING

    @property
    def methods(self) -> frozenset[str]:
        return frozenset(self._methods)

    def catch_up(self) -> list[Event]:
        """The events a newly connected client gets, ``Version`` first, ``AppState`` last."""
        events: list[Event] = [
            (
                "Version",
                {
                    "PHDVersion": "2.6.13",
                    "PHDSubver": "sim",
                    "OverlapSupport": True,
                    "MsgVersion": 1,
                },
            )
        ]
        if self._star is not None:
            x, y = self._star
            events.append(("LockPositionSet", {"X": x, "Y": y}))
            events.append(("StarSelected", {"X": x, "Y": y}))
        if self._calibrated:
            events.append(("CalibrationComplete", {"Mount": _MOUNT}))
        state = self.state
        if state is GuiderState.GUIDING:
            events.append(("StartGuiding", {}))
        elif state is GuiderState.CALIBRATING:
            events.append(("StartCalibration", {"Mount": _MOUNT}))
        elif state is GuiderState.PAUSED:
            events.append(("Paused", {}))
        events.append(("AppState", {"State": state.value}))
        return events

    # --------------------------------------------------------------- methods
    def call(self, method: str, params: Any) -> tuple[Outcome, list[Event]] | None:
        """Run one method; ``None`` when the method does not exist.

        Events come back separately because PHD2 sends the events a call causes
        (``Paused``, ``GuidingDithered``, ``SettleBegin``...) before its response.
        """
        handler = self._methods.get(method)
        return None if handler is None else handler(params)

    def _get_app_state(self, _params: Any) -> tuple[Outcome, list[Event]]:
        return RpcResult(self.state.value), []

    def _set_paused(self, params: Any) -> tuple[Outcome, list[Event]]:
        p = named_params(params, ("paused", "type"))
        paused = p.get("paused")
        if not isinstance(paused, bool):
            return RpcFailure(INVALID_PARAMS, "expected bool param at index 0"), []
        pause = _Pause.NONE
        if paused:
            pause = _Pause.GUIDING
            kind = p.get("type")
            if kind is not None:
                if not isinstance(kind, str):
                    return RpcFailure(INVALID_PARAMS, "expected string param at index 1"), []
                if kind == "full":
                    pause = _Pause.FULL
        events: list[Event] = []
        # Like PHD2, pausing an already paused guider (or resuming a running one) is a
        # no-op that still answers 0 and sends no event.
        if pause is not _Pause.NONE and self._pause is _Pause.NONE:
            self._pause = pause
            events.append(("Paused", {}))
        elif pause is _Pause.NONE and self._pause is not _Pause.NONE:
            self._pause = _Pause.NONE
            events.append(("Resumed", {}))
        return RpcResult(0), events

    def _set_exposure(self, params: Any) -> tuple[Outcome, list[Event]]:
        value = named_params(params, ("exposure",)).get("exposure")
        if isinstance(value, bool) or not isinstance(value, int):
            return RpcFailure(INVALID_PARAMS, "expected exposure param"), []
        if value not in _EXPOSURE_DURATIONS_MS:
            return RpcFailure(PHD2_FAILURE, "could not set exposure duration"), []
        self.exposure_s = value / 1000.0
        return RpcResult(0), []

    def _loop(self, _params: Any) -> tuple[Outcome, list[Event]]:
        if not self.connected:
            return RpcFailure(PHD2_FAILURE, "could not start looping"), []
        events: list[Event] = []
        if self._mode in (_Mode.GUIDING, _Mode.CALIBRATING):
            events += self._abort_settle("guiding stopped")
            events.append(("GuidingStopped", {}))
            self._mode = _Mode.LOOPING
        elif self._mode is _Mode.STOPPED:
            self._start_looping()
        return RpcResult(0), events

    def _stop_capture(self, _params: Any) -> tuple[Outcome, list[Event]]:
        events: list[Event] = []
        if self._pause is not _Pause.NONE:
            self._pause = _Pause.NONE
            events.append(("Resumed", {}))
        events += self._abort_settle("guiding stopped")
        if self._mode in (_Mode.GUIDING, _Mode.CALIBRATING):
            events.append(("GuidingStopped", {}))
        if self._mode is not _Mode.STOPPED:
            events.append(("LoopingExposuresStopped", {}))
        self._mode = _Mode.STOPPED
        self._lost = False
        return RpcResult(0), events

    def _guide(self, params: Any) -> tuple[Outcome, list[Event]]:
        p = named_params(params, ("settle", "recalibrate", "roi"))
        spec = SettleSpec.parse(p.get("settle"))
        if isinstance(spec, RpcFailure):
            return spec, []
        recalibrate = p.get("recalibrate", False)
        if not isinstance(recalibrate, bool):
            return RpcFailure(INVALID_PARAMS, "expected bool value for recalibrate"), []
        roi = p.get("roi")
        if roi is not None and not (
            isinstance(roi, list) and len(roi) == 4 and all(type(v) is int for v in roi)
        ):
            return RpcFailure(INVALID_PARAMS, "invalid ROI param"), []
        if not self.connected:
            return RpcFailure(PHD2_FAILURE, "all equipment must be connected first"), []
        if busy := self._reentrancy("guide"):
            return busy, []
        events: list[Event] = []
        if recalibrate and self._calibration_steps > 0:
            self._calibrated = False
        if self._mode is _Mode.GUIDING and self._calibrated:
            # Already guiding: PHD2 only starts another settling period.
            events += self._begin_settle("guide", spec)
        elif self._mode is _Mode.GUIDING:
            self._mode = _Mode.CALIBRATING
            self._calib_step = 0
            self._pending_guide = spec
            events.append(("StartCalibration", {"Mount": _MOUNT}))
        else:
            if self._mode is _Mode.STOPPED:
                self._start_looping()
            self._pending_guide = spec
        return RpcResult(0), events

    def _dither_call(self, params: Any) -> tuple[Outcome, list[Event]]:
        p = named_params(params, ("amount", "raOnly", "settle"))
        amount = p.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return RpcFailure(INVALID_PARAMS, "expected dither amount param"), []
        ra_only = p.get("raOnly", False)
        if not isinstance(ra_only, bool):
            return RpcFailure(INVALID_PARAMS, "expected dither raOnly param"), []
        spec = SettleSpec.parse(p.get("settle"))
        if isinstance(spec, RpcFailure):
            return spec, []
        if busy := self._reentrancy("dither"):
            return busy, []
        if self._mode is not _Mode.GUIDING:
            return RpcFailure(PHD2_FAILURE, "Dither error"), []
        amount = abs(float(amount))
        dx = float(self._rng.uniform(-amount, amount))
        dy = 0.0 if ra_only else float(self._rng.uniform(-amount, amount))
        self._dither = (self._dither[0] + dx, self._dither[1] + dy)
        events: list[Event] = [("GuidingDithered", {"dx": round(dx, 3), "dy": round(dy, 3)})]
        events += self._begin_settle("dither", spec)
        return RpcResult(0), events

    # ---------------------------------------------------------------- frames
    def tick(self) -> list[Event]:
        """One guide-camera frame: the events it causes (none while stopped or fully paused)."""
        if self._mode is _Mode.STOPPED or self._pause is _Pause.FULL:
            return []
        self._now += self.exposure_s
        conditions = self._conditions()
        if self._mode is _Mode.LOOPING:
            return self._looping_frame()
        if self._mode is _Mode.CALIBRATING:
            return self._calibration_frame()
        return self._guide_frame_events(conditions)

    def _start_looping(self) -> None:
        self._mode = _Mode.LOOPING
        self._loop_frame = 0

    def _looping_frame(self) -> list[Event]:
        self._loop_frame += 1
        events: list[Event] = [("LoopingExposures", {"Frame": self._loop_frame})]
        if self._pending_guide is None or self._pause is not _Pause.NONE:
            return events
        if self._star is None:
            self._star = (
                round(float(self._rng.uniform(100, 500)), 3),
                round(float(self._rng.uniform(100, 400)), 3),
            )
            x, y = self._star
            events.append(("StarSelected", {"X": x, "Y": y}))
            events.append(("LockPositionSet", {"X": x, "Y": y}))
            return events
        if not self._calibrated:
            self._mode = _Mode.CALIBRATING
            self._calib_step = 0
            events.append(("StartCalibration", {"Mount": _MOUNT}))
            return events
        return events + self._start_guiding()

    def _calibration_frame(self) -> list[Event]:
        if self._pause is not _Pause.NONE:
            return []
        self._calib_step += 1
        x, y = self._star or (0.0, 0.0)
        dist = 5.0 * self._calib_step
        events: list[Event] = [
            (
                "Calibrating",
                {
                    "Mount": _MOUNT,
                    "dir": "West",
                    "dist": dist,
                    "dx": dist,
                    "dy": 0.0,
                    "pos": [x + dist, y],
                    "step": self._calib_step,
                    "State": "West calibration",
                },
            )
        ]
        if self._calib_step >= self._calibration_steps:
            self._calibrated = True
            events.append(("CalibrationComplete", {"Mount": _MOUNT}))
            events += self._start_guiding()
        return events

    def _start_guiding(self) -> list[Event]:
        self._mode = _Mode.GUIDING
        self._guide_frame = 0
        self._guide_started = self._now
        self._lost = False
        events: list[Event] = [("StartGuiding", {})]
        spec, self._pending_guide = self._pending_guide, None
        if spec is not None:
            events += self._begin_settle("guide", spec)
        return events

    def _guide_frame_events(self, conditions: GuideConditions) -> list[Event]:
        self._guide_frame += 1
        elapsed = round(self._now - self._guide_started, 3)
        if conditions.star_lost:
            self._lost = True
            events: list[Event] = [
                (
                    "StarLost",
                    {
                        "Frame": self._guide_frame,
                        "Time": elapsed,
                        "StarMass": 0,
                        "SNR": 0.0,
                        "HFD": 0.0,
                        "AvgDist": round(self._avg_dist, 2),
                        "ErrorCode": 1,
                        "Status": "Star lost - low SNR",
                    },
                )
            ]
            return events + self._settle_frame(locked=False, distance=0.0)
        self._lost = False
        if self._pause is not _Pause.NONE:
            # PHD2 skips paused frames: no GuideStep, no correction.
            return []
        scale = self.pixel_scale or 1.0
        sigma_px = conditions.rms_arcsec / scale / math.sqrt(2.0)
        ra = float(self._rng.normal(0.0, sigma_px)) + self._dither[0]
        dec = float(self._rng.normal(0.0, sigma_px)) + self._dither[1]
        self._dither = (self._dither[0] * _DITHER_DECAY, self._dither[1] * _DITHER_DECAY)
        distance = math.hypot(ra, dec)
        self._avg_dist = (1 - _AVG_DIST_ALPHA) * self._avg_dist + _AVG_DIST_ALPHA * distance
        attrs: dict[str, Any] = {
            "Frame": self._guide_frame,
            "Time": elapsed,
            "Mount": _MOUNT,
            "dx": round(ra, 3),
            "dy": round(dec, 3),
            "RADistanceRaw": round(ra, 3),
            "DECDistanceRaw": round(dec, 3),
            "RADistanceGuide": round(ra * _AGGRESSIVENESS, 3),
            "DECDistanceGuide": round(dec * _AGGRESSIVENESS, 3),
        }
        ra_ms = round(abs(ra) * _AGGRESSIVENESS * _PULSE_MS_PER_PX)
        if ra_ms > 0:
            attrs["RADuration"] = ra_ms
            attrs["RADirection"] = "East" if ra > 0 else "West"
        dec_ms = round(abs(dec) * _AGGRESSIVENESS * _PULSE_MS_PER_PX)
        if dec_ms > 0:
            attrs["DECDuration"] = dec_ms
            attrs["DECDirection"] = "South" if dec > 0 else "North"
        attrs.update(
            {
                "StarMass": 25000,
                "SNR": 42.5,
                "HFD": 2.35,
                "AvgDist": round(self._avg_dist, 2),
            }
        )
        return [("GuideStep", attrs), *self._settle_frame(locked=True, distance=distance)]

    # -------------------------------------------------------------- settling
    def _reentrancy(self, op: str) -> RpcFailure | None:
        if self._settle is None and self._pending_guide is None:
            return None
        busy = self._settle.op if self._settle is not None else "guide"
        return RpcFailure(PHD2_FAILURE, f"Cannot initiate {op} while {busy} is in progress")

    def _begin_settle(self, op: str, spec: SettleSpec) -> list[Event]:
        self._settle = _SettleRun(op=op, spec=spec, started=self._now)
        return [("SettleBegin", {})]

    def _settle_frame(self, *, locked: bool, distance: float) -> list[Event]:
        run = self._settle
        if run is None:
            return []
        run.frames += 1
        if not locked:
            run.dropped += 1
        in_range = locked and distance <= run.spec.pixels
        done = False
        if in_range:
            if run.in_range_since is None:
                run.in_range_since = self._now
                done = run.spec.time <= 0
            else:
                done = self._now - run.in_range_since >= run.spec.time
        else:
            run.in_range_since = None
        in_range_for = 0.0 if run.in_range_since is None else self._now - run.in_range_since
        events: list[Event] = [
            (
                "Settling",
                {
                    "Distance": round(distance, 2),
                    "Time": round(in_range_for, 1),
                    "SettleTime": round(run.spec.time, 1),
                    "StarLocked": locked,
                },
            )
        ]
        if done:
            events.append(self._settle_done(None))
        elif self._now - run.started >= run.spec.timeout:
            events.append(self._settle_done("timed-out waiting for guider to settle"))
        return events

    def _settle_done(self, error: str | None) -> Event:
        run = self._settle
        frames, dropped = (run.frames, run.dropped) if run is not None else (0, 0)
        self._settle = None
        attrs: dict[str, Any] = {"Status": 0 if error is None else 1}
        if error is not None:
            attrs["Error"] = error
        attrs.update({"TotalFrames": frames, "DroppedFrames": dropped})
        return ("SettleDone", attrs)

    def _abort_settle(self, reason: str) -> list[Event]:
        if self._settle is None and self._pending_guide is None:
            return []
        self._pending_guide = None
        return [self._settle_done(reason)]
