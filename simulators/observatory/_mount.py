"""A minimal equatorial mount with a pulse-guide interface.

Enough of INDI::Telescope for a guider and for KStars: EQUATORIAL_EOD_COORD with
ON_COORD_SET (TRACK/SLEW/SYNC), TELESCOPE_TRACK_STATE, TELESCOPE_ABORT_MOTION,
TELESCOPE_TIMED_GUIDE_NS/WE and GUIDE_RATE. The camera reads :meth:`Mount.status`
at the start of each exposure: a mount that is not tracking (or is slewing) trails
the stars at the sidereal rate.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass

from simulators.observatory._device import MAIN_TAB, AnyVector, Device, Emit, Spawn
from simulators.observatory._properties import (
    Number,
    NumberVector,
    State,
    Switch,
    SwitchRule,
    SwitchVector,
    apply_numbers,
    apply_switches,
)

__all__ = ["Mount", "MountStatus"]

MOTION_TAB = "Motion Control"
GUIDE_TAB = "Guide"
SIDEREAL_ARCSEC_PER_S = 15.041


@dataclass(frozen=True, slots=True)
class MountStatus:
    """What the mount is doing, as the camera sees it.

    Attributes
    ----------
    tracking
        Sidereal tracking on.
    slewing
        A goto is under way.
    ra_hours, dec_deg
        Current pointing (JNow).
    guide_pulses
        Guide pulses completed since connection.
    connected
        A client has connected the mount, so a camera snooping it knows the pointing.
    """

    tracking: bool
    slewing: bool
    ra_hours: float
    dec_deg: float
    guide_pulses: int
    connected: bool = False


class Mount(Device):
    """The simulated mount.

    Parameters
    ----------
    name
        INDI device name.
    emit, spawn
        From the observatory.
    time_scale
        Simulated seconds per wall-clock second (slews and pulses run faster too).
    slew_rate_deg_s
        Goto speed, degrees per simulated second.
    """

    def __init__(
        self,
        name: str,
        *,
        emit: Emit,
        spawn: Spawn,
        time_scale: float = 1.0,
        slew_rate_deg_s: float = 4.0,
    ) -> None:
        super().__init__(
            name, emit=emit, spawn=spawn, interface=1 | 4, driver_name="AstroIQA Mount"
        )
        if time_scale <= 0 or slew_rate_deg_s <= 0:
            raise ValueError("time_scale and slew_rate_deg_s must be positive")
        self._time_scale = time_scale
        self._slew_rate = slew_rate_deg_s
        self._slew: asyncio.Task[None] | None = None
        self._pulses: dict[str, asyncio.Task[None]] = {}
        self.guide_pulses = 0
        self.coords = NumberVector(
            device=name,
            name="EQUATORIAL_EOD_COORD",
            label="Eq. Coordinates",
            group=MAIN_TAB,
            timeout=60,
            state=State.OK,
            elements=[
                Number("RA", "RA (hh:mm:ss)", 5.5, 0, 24, 0, "%010.6m"),
                Number("DEC", "DEC (dd:mm:ss)", 45.0, -90, 90, 0, "%010.6m"),
            ],
        )
        self.coord_set = SwitchVector(
            device=name,
            name="ON_COORD_SET",
            label="On Set",
            group=MAIN_TAB,
            elements=[
                Switch("TRACK", "Track", on=True),
                Switch("SLEW", "Slew"),
                Switch("SYNC", "Sync"),
            ],
        )
        self.track_state = SwitchVector(
            device=name,
            name="TELESCOPE_TRACK_STATE",
            label="Tracking",
            group=MAIN_TAB,
            state=State.BUSY,
            elements=[Switch("TRACK_ON", "On", on=True), Switch("TRACK_OFF", "Off")],
        )
        self.abort = SwitchVector(
            device=name,
            name="TELESCOPE_ABORT_MOTION",
            label="Abort Motion",
            group=MAIN_TAB,
            rule=SwitchRule.AT_MOST_ONE,
            elements=[Switch("ABORT", "Abort")],
        )
        self.guide_ns = NumberVector(
            device=name,
            name="TELESCOPE_TIMED_GUIDE_NS",
            label="Guide N/S",
            group=GUIDE_TAB,
            elements=[
                Number("TIMED_GUIDE_N", "North (ms)", 0, 0, 60000, 100, "%.f"),
                Number("TIMED_GUIDE_S", "South (ms)", 0, 0, 60000, 100, "%.f"),
            ],
        )
        self.guide_we = NumberVector(
            device=name,
            name="TELESCOPE_TIMED_GUIDE_WE",
            label="Guide E/W",
            group=GUIDE_TAB,
            elements=[
                Number("TIMED_GUIDE_W", "West (ms)", 0, 0, 60000, 100, "%.f"),
                Number("TIMED_GUIDE_E", "East (ms)", 0, 0, 60000, 100, "%.f"),
            ],
        )
        self.guide_rate = NumberVector(
            device=name,
            name="GUIDE_RATE",
            label="Guiding Rate",
            group=MOTION_TAB,
            state=State.OK,
            elements=[
                Number("GUIDE_RATE_WE", "W/E Rate", 0.5, 0, 1, 0.1, "%.2f"),
                Number("GUIDE_RATE_NS", "N/S Rate", 0.5, 0, 1, 0.1, "%.2f"),
            ],
        )

    def connected_vectors(self) -> list[AnyVector]:
        return [
            self.coords,
            self.coord_set,
            self.track_state,
            self.abort,
            self.guide_ns,
            self.guide_we,
            self.guide_rate,
        ]

    @property
    def tracking(self) -> bool:
        """Whether sidereal tracking is on."""
        return self.track_state["TRACK_ON"].on

    def status(self) -> MountStatus:
        """A snapshot for the camera."""
        return MountStatus(
            # Hardware keeps tracking whether or not a client is connected to it.
            tracking=self.tracking,
            slewing=self._slew is not None and not self._slew.done(),
            ra_hours=self.coords["RA"].value,
            dec_deg=self.coords["DEC"].value,
            guide_pulses=self.guide_pulses,
            connected=self.connected,
        )

    def on_disconnect(self) -> None:
        for task in (self._slew, *self._pulses.values()):
            if task is not None:
                task.cancel()
        self._pulses.clear()
        self._slew = None

    # ------------------------------------------------------------------ clients

    def on_numbers(self, vector: NumberVector, values: dict[str, float]) -> str | None:
        if vector is self.coords:
            return self._goto(values)
        if vector is self.guide_ns or vector is self.guide_we:
            return self._pulse(vector, values)
        return super().on_numbers(vector, values)

    def on_switches(self, vector: SwitchVector, values: dict[str, bool]) -> str | None:
        if vector is self.abort:
            self._stop_slew()
            for task in self._pulses.values():
                task.cancel()
            self.abort.state = State.OK
            self.send(self.abort, "Mount motion aborted.")
            self.abort["ABORT"].on = False
            self.abort.state = State.IDLE
            return ""
        if vector is self.track_state:
            apply_switches(vector, values)
            vector.state = State.BUSY if self.tracking else State.IDLE
            return "Tracking on." if self.tracking else "Tracking off."
        return super().on_switches(vector, values)

    def _goto(self, values: dict[str, float]) -> str:
        target = {"RA": self.coords["RA"].value, "DEC": self.coords["DEC"].value, **values}
        check = NumberVector(
            device=self.name,
            name=self.coords.name,
            label="",
            group="",
            elements=[Number(n.name, n.label, n.value, n.min, n.max) for n in self.coords],
        )
        apply_numbers(check, target)  # range check before anything moves
        mode = self.coord_set.on_names()[0]
        if mode == "SYNC":
            self._stop_slew()
            apply_numbers(self.coords, target)
            self.coords.state = State.OK
            return "Synced."
        self._stop_slew()
        self.coords.state = State.BUSY
        self._slew = self.spawn(self._run_slew(target["RA"], target["DEC"], mode), "slew")
        return f"Slewing to RA {target['RA']:.4f} h, DEC {target['DEC']:.4f}°."

    def _stop_slew(self) -> None:
        if self._slew is not None and not self._slew.done():
            self._slew.cancel()
            self.coords.state = State.IDLE
            self.send(self.coords, "Slew aborted.")
        self._slew = None

    async def _run_slew(self, ra_h: float, dec_deg: float, mode: str) -> None:
        ra0, dec0 = self.coords["RA"].value, self.coords["DEC"].value
        dra = (ra_h - ra0 + 12) % 24 - 12  # the short way round
        distance = max(abs(dra) * 15, abs(dec_deg - dec0))
        duration = distance / self._slew_rate / self._time_scale
        loop = asyncio.get_running_loop()
        start = loop.time()
        while (elapsed := loop.time() - start) < duration:
            f = elapsed / duration
            self.coords["RA"].value = (ra0 + f * dra) % 24
            self.coords["DEC"].value = dec0 + f * (dec_deg - dec0)
            self.send(self.coords)
            await asyncio.sleep(min(0.5, duration - elapsed))
        self.coords["RA"].value, self.coords["DEC"].value = ra_h % 24, dec_deg
        tracking = mode == "TRACK"
        apply_switches(self.track_state, {"TRACK_ON" if tracking else "TRACK_OFF": True})
        self.track_state.state = State.BUSY if tracking else State.IDLE
        self.coords.state = State.OK
        self.send(self.track_state)
        self.send(self.coords, "Slew complete, tracking." if tracking else "Slew complete.")

    def _pulse(self, vector: NumberVector, values: dict[str, float]) -> str:
        apply_numbers(vector, values)
        durations = {n.name: n.value for n in vector}
        active = [name for name, ms in durations.items() if ms > 0]
        if len(active) > 1:
            for n in vector:
                n.value = 0
            raise ValueError(f"{vector.name}: pulse one direction at a time")
        previous = self._pulses.pop(vector.name, None)
        if previous is not None:
            previous.cancel()
        if not active:
            vector.state = State.IDLE
            return ""
        vector.state = State.BUSY
        ms = durations[active[0]]
        self._pulses[vector.name] = self.spawn(self._run_pulse(vector, ms), f"pulse {active[0]}")
        return f"Guiding {active[0][-1]} for {ms:.0f} ms."

    async def _run_pulse(self, vector: NumberVector, ms: float) -> None:
        await asyncio.sleep(ms / 1000 / self._time_scale)
        for n in vector:
            n.value = 0
        vector.state = State.OK
        self.guide_pulses += 1
        self._pulses.pop(vector.name, None)
        self.send(vector)


def sidereal_trail_px(exposure_s: float, dec_deg: float, pixel_scale_arcsec: float) -> float:
    """Star trail length of an untracked exposure.

    Parameters
    ----------
    exposure_s
        Exposure, seconds.
    dec_deg
        Declination, degrees (trails shorten as cos(dec) towards the pole).
    pixel_scale_arcsec
        Image scale, arcsec per pixel.

    Returns
    -------
    float
        Trail length, pixels.
    """
    if pixel_scale_arcsec <= 0:
        raise ValueError("pixel_scale_arcsec must be positive")
    cos_dec = abs(math.cos(math.radians(dec_deg)))
    return SIDEREAL_ARCSEC_PER_S * exposure_s * cos_dec / pixel_scale_arcsec
