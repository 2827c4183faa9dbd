"""The simulated camera: the INDI::CCD properties a client uses, frames from the sky.

An exposure samples the scenario (and the mount) when it starts, renders on the
observatory's executor while CCD_EXPOSURE counts down (Busy, about once a second),
then uploads: a ``setBLOBVector`` on CCD1 and/or a file in UPLOAD_SETTINGS' folder,
and finally CCD_EXPOSURE goes Ok, in the order libindi uses. CCD_ABORT_EXPOSURE
cancels it (CCD_EXPOSURE Idle, value 0, as libindi does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from astroiqa_indi.errors import AstroIQAError
from simulators.observatory import _xml
from simulators.observatory._device import (
    GENERAL_TAB,
    MAIN_TAB,
    OPTIONS_TAB,
    AnyVector,
    Device,
    Emit,
    NewCommand,
    Spawn,
)
from simulators.observatory._frames import (
    ExposureRequest,
    ExposureResult,
    SkyCamera,
    SkyFields,
    next_upload_path,
)
from simulators.observatory._mount import MountStatus, sidereal_trail_px
from simulators.observatory._properties import (
    Blob,
    BlobVector,
    Number,
    NumberVector,
    Perm,
    State,
    Switch,
    SwitchRule,
    SwitchVector,
    Text,
    TextVector,
    apply_numbers,
    apply_switches,
)
from simulators.observatory._scenario_player import ScenarioPlayer

__all__ = ["Ccd"]

_log = logging.getLogger(__name__)

IMAGE_SETTINGS_TAB = "Image Settings"
IMAGE_INFO_TAB = "Image Info"
SIMULATION_TAB = "Simulation"
# Longest trail an untracked mount adds; beyond this every star is a streak anyway.
MAX_MOUNT_TRAIL_PX = 120.0


class Ccd(Device):
    """The simulated camera.

    Parameters
    ----------
    name
        INDI device name.
    emit, spawn
        From the observatory.
    camera
        Renders frames (runs on ``executor``).
    player
        The scenario: conditions now, SIM_CONDITIONS overrides, truth log.
    executor
        Where rendering and encoding run, off the event loop.
    mount_status
        Snapshot of the mount at exposure start, or ``None`` without a mount.
    time_scale
        Simulated seconds per wall-clock second (exposures finish sooner).
    upload_dir
        Initial UPLOAD_DIR for UPLOAD_LOCAL/UPLOAD_BOTH.
    """

    def __init__(
        self,
        name: str,
        *,
        emit: Emit,
        spawn: Spawn,
        camera: SkyCamera,
        player: ScenarioPlayer,
        executor: concurrent.futures.Executor,
        mount_status: Callable[[], MountStatus | None],
        time_scale: float = 1.0,
        upload_dir: Path | None = None,
        readout_s: float = 0.0,
        threaded_upload: bool = False,
    ) -> None:
        super().__init__(name, emit=emit, spawn=spawn, interface=2, driver_name="AstroIQA CCD")
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._camera = camera
        self._fields = SkyFields(
            min(camera.width, camera.height) * camera.pixel_scale_arcsec / 3600
        )
        self._player = player
        self._executor = executor
        self._mount_status = mount_status
        self._time_scale = time_scale
        self._exposure_task: asyncio.Task[None] | None = None
        self._readout_s = readout_s
        self._threaded_upload = threaded_upload
        # Requests that came while a frame was read out, answered once it is uploaded.
        self._held: list[NewCommand] | None = None
        self.frames_sent = 0
        # CCD_EXPOSURE requests that came while an exposure was under way (exposing or
        # read out): a client that sends one has lost track of its own exposure.
        self.busy_exposure_requests = 0
        w, h = camera.width, camera.height
        self.exposure = NumberVector(
            device=name,
            name="CCD_EXPOSURE",
            label="Expose",
            group=MAIN_TAB,
            timeout=60,
            elements=[Number("CCD_EXPOSURE_VALUE", "Duration (s)", 1, 0.001, 3600, 1, "%5.2f")],
        )
        self.abort = SwitchVector(
            device=name,
            name="CCD_ABORT_EXPOSURE",
            label="Abort",
            group=MAIN_TAB,
            rule=SwitchRule.AT_MOST_ONE,
            elements=[Switch("ABORT", "Abort")],
        )
        self.frame = NumberVector(
            device=name,
            name="CCD_FRAME",
            label="Frame",
            group=IMAGE_SETTINGS_TAB,
            state=State.OK,
            elements=[
                Number("X", "Left", 0, 0, w - 1, 1, "%4.0f"),
                Number("Y", "Top", 0, 0, h - 1, 1, "%4.0f"),
                Number("WIDTH", "Width", w, 1, w, 1, "%4.0f"),
                Number("HEIGHT", "Height", h, 1, h, 1, "%4.0f"),
            ],
        )
        self.binning = NumberVector(
            device=name,
            name="CCD_BINNING",
            label="Binning",
            group=IMAGE_SETTINGS_TAB,
            state=State.OK,
            elements=[
                Number("HOR_BIN", "X", 1, 1, 4, 1, "%2.0f"),
                Number("VER_BIN", "Y", 1, 1, 4, 1, "%2.0f"),
            ],
        )
        self.frame_type = SwitchVector(
            device=name,
            name="CCD_FRAME_TYPE",
            label="Type",
            group=IMAGE_SETTINGS_TAB,
            state=State.OK,
            elements=[
                Switch("FRAME_LIGHT", "Light", on=True),
                Switch("FRAME_BIAS", "Bias"),
                Switch("FRAME_DARK", "Dark"),
                Switch("FRAME_FLAT", "Flat"),
            ],
        )
        self.info = NumberVector(
            device=name,
            name="CCD_INFO",
            label="CCD Information",
            group=IMAGE_INFO_TAB,
            perm=Perm.RO,
            state=State.OK,
            elements=[
                Number("CCD_MAX_X", "Max. Width", w, 1, 16000, 0, "%.f"),
                Number("CCD_MAX_Y", "Max. Height", h, 1, 16000, 0, "%.f"),
                Number("CCD_PIXEL_SIZE", "Pixel size (um)", camera.pixel_size_um, 1, 40, 0, "%.2f"),
                Number("CCD_PIXEL_SIZE_X", "Pixel size X", camera.pixel_size_um, 1, 40, 0, "%.2f"),
                Number("CCD_PIXEL_SIZE_Y", "Pixel size Y", camera.pixel_size_um, 1, 40, 0, "%.2f"),
                Number(
                    "CCD_BITSPERPIXEL", "Bits per pixel", camera.bits_per_pixel, 8, 64, 0, "%.f"
                ),
            ],
        )
        self.image = BlobVector(
            device=name,
            name="CCD1",
            label="Image Data",
            group=IMAGE_INFO_TAB,
            perm=Perm.RO,
            elements=[Blob("CCD1", "Image")],
        )
        self.upload_mode = SwitchVector(
            device=name,
            name="UPLOAD_MODE",
            label="Upload",
            group=OPTIONS_TAB,
            state=State.OK,
            elements=[
                Switch("UPLOAD_CLIENT", "Client", on=True),
                Switch("UPLOAD_LOCAL", "Local"),
                Switch("UPLOAD_BOTH", "Both"),
            ],
        )
        self.upload_settings = TextVector(
            device=name,
            name="UPLOAD_SETTINGS",
            label="Upload Settings",
            group=OPTIONS_TAB,
            state=State.IDLE,
            elements=[
                Text("UPLOAD_DIR", "Dir", str(upload_dir or Path.home())),
                Text("UPLOAD_PREFIX", "Prefix", "IMAGE_XXX"),
            ],
        )
        self.file_path = TextVector(
            device=name,
            name="CCD_FILE_PATH",
            label="Filename",
            group=IMAGE_INFO_TAB,
            perm=Perm.RO,
            elements=[Text("FILE_PATH", "Path", "")],
        )
        self.compression = SwitchVector(
            device=name,
            name="CCD_COMPRESSION",
            label="Compression",
            group=IMAGE_SETTINGS_TAB,
            state=State.IDLE,
            elements=[
                Switch("INDI_ENABLED", "Enabled"),
                Switch("INDI_DISABLED", "Disabled", on=True),
            ],
        )
        self.fits_header = TextVector(
            device=name,
            name="FITS_HEADER",
            label="FITS Header",
            group=GENERAL_TAB,
            state=State.IDLE,
            elements=[Text("FITS_OBSERVER", "Observer", ""), Text("FITS_OBJECT", "Object", "")],
        )
        self.sim_conditions = NumberVector(
            device=name,
            name="SIM_CONDITIONS",
            label="Sky conditions",
            group=SIMULATION_TAB,
            state=State.IDLE,
            elements=[
                Number(f.name, f.label, 0.0, f.minimum, f.maximum, f.step, f.format)
                for f in player.fields
            ],
        )
        self.sim_scenario = SwitchVector(
            device=name,
            name="SIM_SCENARIO",
            label="Scenario",
            group=SIMULATION_TAB,
            state=State.OK,
            elements=[Switch("PLAY", "Play", on=True), Switch("PAUSE", "Pause")],
        )
        self.sim_state = TextVector(
            device=name,
            name="SIM_STATE",
            label="Scenario state",
            group=SIMULATION_TAB,
            perm=Perm.RO,
            state=State.OK,
            elements=[
                Text("SCENARIO", "Scenario", player.description),
                Text("SEGMENT", "Segment", ""),
            ],
        )
        self.sim_time = NumberVector(
            device=name,
            name="SIM_TIME",
            label="Scenario time",
            group=SIMULATION_TAB,
            state=State.IDLE,
            elements=[Number("ELAPSED_S", "Elapsed (s)", 0.0, 0.0, 1e7, 1.0, "%.0f")],
        )
        self._refresh_simulation()

    def connected_vectors(self) -> list[AnyVector]:
        return [
            self.exposure,
            self.abort,
            self.frame,
            self.binning,
            self.frame_type,
            self.info,
            self.image,
            self.compression,
            self.upload_mode,
            self.upload_settings,
            self.file_path,
            self.fits_header,
            self.sim_conditions,
            self.sim_scenario,
            self.sim_time,
            self.sim_state,
        ]

    @property
    def camera(self) -> SkyCamera:
        """The camera model that renders this device's frames."""
        return self._camera

    @property
    def exposing(self) -> bool:
        """Whether an exposure is under way."""
        return self._exposure_task is not None and not self._exposure_task.done()

    @property
    def reading_out(self) -> bool:
        """Whether a frame is being read out (``readout_s``), requests held meanwhile."""
        return self._held is not None

    def on_disconnect(self) -> None:
        if self.exposing:
            assert self._exposure_task is not None
            self._exposure_task.cancel()
        self.exposure.state = State.IDLE

    # ------------------------------------------------------------------ simulation

    def _refresh_simulation(self) -> bool:
        """Copy the player's state into SIM_*; ``True`` when something changed."""
        moment = self._player.now()
        values = self._player.values(moment.conditions)
        changed = any(abs(self.sim_conditions[k].value - v) > 1e-9 for k, v in values.items())
        for key, value in values.items():
            self.sim_conditions[key].value = value
        # Ok: a client override is in force; Idle: the scenario drives the sky.
        self.sim_conditions.state = State.OK if moment.overridden else State.IDLE
        segment_changed = self.sim_state["SEGMENT"].value != moment.segment
        self.sim_state["SEGMENT"].value = moment.segment
        self.sim_time["ELAPSED_S"].value = round(moment.elapsed_s, 3)
        return changed or segment_changed

    def announce_scenario(self) -> None:
        """Push SIM_CONDITIONS/SIM_STATE to clients (the player's segment changed)."""
        if self._refresh_simulation() and self.connected:
            self.send(self.sim_conditions)
            self.send(self.sim_time)
            self.send(self.sim_state, f"Scenario: {self.sim_state['SEGMENT'].value}")

    # ------------------------------------------------------------------ clients

    def on_numbers(self, vector: NumberVector, values: dict[str, float]) -> str | None:
        if vector is self.exposure:
            apply_numbers(vector, values)
            return self._start_exposure(vector["CCD_EXPOSURE_VALUE"].value)
        if vector is self.frame:
            return self._set_frame(values)
        if vector is self.binning:
            apply_numbers(vector, {k: float(round(v)) for k, v in values.items()})
            vector.state = State.OK
            return ""
        if vector is self.sim_conditions:
            try:
                apply_numbers(vector, values)  # the advertised ranges first
                self._player.override(values)
            finally:
                self._refresh_simulation()  # shows what is really in force
            return "Conditions overridden until the scenario's next segment."
        if vector is self.sim_time:
            self._player.seek(values.get("ELAPSED_S", self._player.elapsed_s()))
            self._refresh_simulation()
            vector.state = State.OK
            self.send(self.sim_conditions)
            self.send(self.sim_state)
            return f"Scenario time set to {vector['ELAPSED_S'].value:.0f} s."
        return super().on_numbers(vector, values)

    def on_switches(self, vector: SwitchVector, values: dict[str, bool]) -> str | None:
        if vector is self.abort:
            return self._abort()
        if vector is self.sim_scenario:
            apply_switches(vector, values)
            playing = vector["PLAY"].on
            self._player.play() if playing else self._player.pause()
            vector.state = State.OK
            return "Scenario playing." if playing else "Scenario paused."
        return super().on_switches(vector, values)

    def _set_frame(self, values: dict[str, float]) -> str:
        merged = {n.name: n.value for n in self.frame} | {
            k: float(round(v)) for k, v in values.items()
        }
        if merged["X"] + merged["WIDTH"] > self._camera.width:
            raise ValueError(f"CCD_FRAME: X + WIDTH exceeds {self._camera.width}")
        if merged["Y"] + merged["HEIGHT"] > self._camera.height:
            raise ValueError(f"CCD_FRAME: Y + HEIGHT exceeds {self._camera.height}")
        apply_numbers(self.frame, merged)
        self.frame.state = State.OK
        return ""

    def _abort(self) -> str:
        # A frame being read out is taken: it comes anyway (only --threaded-upload lets
        # an abort in then, as libindi does).
        if self.exposing and not self.reading_out:
            assert self._exposure_task is not None
            self._exposure_task.cancel()
            self._exposure_task = None
        self.abort["ABORT"].on = False
        self.abort.state = State.OK
        self.exposure["CCD_EXPOSURE_VALUE"].value = 0
        self.exposure.state = State.IDLE
        self.send(self.exposure)
        return "Exposure aborted."

    # ------------------------------------------------------------------ exposure

    def handle(self, command: NewCommand) -> None:
        if command.name == self.exposure.name and self.exposing:
            self.busy_exposure_requests += 1
        if self._held is None:
            super().handle(command)
        elif self._threaded_upload and command.name == self.abort.name:
            super().handle(command)  # answered at once; the frame still comes
        else:
            self._held.append(command)

    def _start_exposure(self, seconds: float) -> str:
        if self.exposing:
            assert self._exposure_task is not None
            self._exposure_task.cancel()
        self.exposure.state = State.BUSY
        self._exposure_task = self.spawn(self._expose(seconds), "exposure")
        return f"Taking a {seconds:g} s exposure."

    def _request(self, seconds: float) -> tuple[ExposureRequest, str, float]:
        moment = self._player.now()
        conditions = moment.conditions
        mount = self._mount_status()
        if mount is not None and mount.connected:
            conditions = self._fields.conditions_at(
                conditions, mount.ra_hours, mount.dec_deg, remember=not mount.slewing
            )
        if mount is not None and (mount.slewing or not mount.tracking):
            trail = sidereal_trail_px(seconds, mount.dec_deg, self._camera.pixel_scale_arcsec)
            if mount.slewing:
                trail = MAX_MOUNT_TRAIL_PX
            # Untracked stars drift along RA: image x on this camera.
            conditions = self._player.with_trail(conditions, min(trail, MAX_MOUNT_TRAIL_PX), 0.0)
        self.frames_sent += 1
        request = ExposureRequest(
            exposure_s=seconds,
            start=datetime.now(UTC),
            conditions=conditions,
            x=int(self.frame["X"].value),
            y=int(self.frame["Y"].value),
            width=int(self.frame["WIDTH"].value),
            height=int(self.frame["HEIGHT"].value),
            bin_x=int(self.binning["HOR_BIN"].value),
            bin_y=int(self.binning["VER_BIN"].value),
            frame_type=self.frame_type.on_names()[0].removeprefix("FRAME_").title(),
            compress=self.compression["INDI_ENABLED"].on,
            observer=self.fits_header["FITS_OBSERVER"].value,
            object_name=self.fits_header["FITS_OBJECT"].value,
            pointing=(
                (mount.ra_hours, mount.dec_deg) if mount is not None and mount.connected else None
            ),
            frame_number=self.frames_sent,
        )
        return request, moment.segment, moment.elapsed_s

    async def _expose(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        request, segment, elapsed = self._request(seconds)
        # Render while the shutter is "open", so the frame is ready when it closes.
        render = loop.run_in_executor(self._executor, self._camera.expose, request)
        try:
            deadline = loop.time() + seconds / self._time_scale
            while (remaining := deadline - loop.time()) > 0:
                await asyncio.sleep(min(1.0, remaining))
                left = max(0.0, deadline - loop.time()) * self._time_scale
                self.exposure["CCD_EXPOSURE_VALUE"].value = round(left, 3)
                self.send(self.exposure)
            result = await render
            if self._readout_s:
                await self._read_out(request, result)
            else:
                await self._upload(request, result)
        except asyncio.CancelledError:
            render.cancel()
            raise
        except (AstroIQAError, ValueError, OSError) as exc:
            _log.exception("%s: exposure failed", self.name)
            self.exposure.state = State.ALERT
            self.send(self.exposure, f"Exposure failed: {exc}")
            return
        self._player.record(
            frame=request.frame_number,
            start=request.start,
            exposure_s=seconds,
            segment=segment,
            elapsed_s=elapsed,
            result=result,
            path=self.file_path["FILE_PATH"].value if self._saves_locally else None,
        )
        self.exposure["CCD_EXPOSURE_VALUE"].value = 0
        self.exposure.state = State.OK
        self.send(self.exposure, "Exposure done.")

    async def _read_out(self, request: ExposureRequest, result: ExposureResult) -> None:
        """Read out and upload, deaf to requests meanwhile (they are answered after)."""
        self._held = []
        try:
            await asyncio.sleep(self._readout_s)
            await self._upload(request, result)
        except asyncio.CancelledError:
            # Disconnected or closing: requests to a camera that is gone go with it.
            self._held = None
            raise
        finally:
            if self._held is not None:
                # After "Exposure done." (sent by the caller once this returns).
                asyncio.get_running_loop().call_soon(self._answer_held)

    def _answer_held(self) -> None:
        # In arrival order; requests that come meanwhile queue behind the held ones.
        while self._held:
            super().handle(self._held.pop(0))
        self._held = None

    @property
    def _saves_locally(self) -> bool:
        return not self.upload_mode["UPLOAD_CLIENT"].on

    async def _upload(self, request: ExposureRequest, result: ExposureResult) -> None:
        loop = asyncio.get_running_loop()
        if self._saves_locally:
            folder = Path(self.upload_settings["UPLOAD_DIR"].value).expanduser()
            prefix = self.upload_settings["UPLOAD_PREFIX"].value
            path = next_upload_path(folder, prefix, result.format)
            await loop.run_in_executor(self._executor, path.write_bytes, result.data)
            self.file_path["FILE_PATH"].value = str(path)
            self.file_path.state = State.OK
            self.send(self.file_path)
        if not self.upload_mode["UPLOAD_LOCAL"].on:
            payload = _xml.BlobPayload(result.data, result.format)
            self.image.state = State.OK
            # base64 of a full frame takes tens of ms: keep it off the loop too.
            encoded = await loop.run_in_executor(
                self._executor, lambda: _xml.set_blob(self.image, {"CCD1": payload})
            )
            self.emit_blob(self.image.name, encoded)
