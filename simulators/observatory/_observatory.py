"""The observatory: a camera and a mount sharing one scenario, owned by one TaskGroup.

Transports (the TCP server, the indiserver driver) sit on top: they subscribe to
the observatory's outgoing messages, ask it for definitions when a client sends
``getProperties`` and hand it the clients' ``new*Vector`` commands.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from simulators.observatory._ccd import Ccd
from simulators.observatory._device import Device, NewCommand
from simulators.observatory._frames import SkyCamera
from simulators.observatory._mount import Mount
from simulators.observatory._routing import Outgoing
from simulators.observatory._scenario_player import ScenarioPlayer

__all__ = ["Observatory", "ObservatoryConfig", "ObservatoryState"]

_log = logging.getLogger(__name__)

Sink = Callable[[Outgoing], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ObservatoryConfig:
    """How to build the simulated observatory.

    Attributes
    ----------
    ccd_name, mount_name
        INDI device names.
    rig
        Name of a rig in ``simulators.sky.RIGS`` (``None``: the sky's default).
    size
        ``(width, height)`` of the simulated sensor in pixels, a crop of the rig's
        field that keeps renders and BLOBs small; ``None`` for the rig's sensor.
    scenario
        A scenario YAML (``simulators/scenarios/*.yaml``); ``None`` keeps the sky
        clear until a client sets SIM_CONDITIONS.
    time_scale
        Simulated seconds per wall-clock second, for exposures, slews, guide
        pulses and the scenario clock.
    seed
        Seeds every frame's noise and stars (frame ``n`` uses ``(seed, n)``).
    truth_log
        JSON-lines file receiving one truth record per frame.
    auto_connect
        Start with both devices connected (real hardware starts disconnected).
    upload_dir
        Initial UPLOAD_DIR of the camera (default: ``$HOME``).
    readout_s
        Wall-clock seconds the camera spends reading a frame out once its shutter
        closes (a USB camera's download, a slow link). Like a driver that reads
        the camera out in its one thread, it answers no request until the frame is
        uploaded: an abort then comes too late, and a new exposure waits.
    threaded_upload
        During read-out, answer an abort at once (Ok, exposure Idle) and still send
        the frame, as libindi does, whose upload runs in a thread of its own. Other
        requests still wait for the upload.
    """

    ccd_name: str = "AstroIQA CCD"
    mount_name: str = "AstroIQA Mount"
    rig: str | None = None
    size: tuple[int, int] | None = None
    scenario: Path | None = None
    time_scale: float = 1.0
    seed: int = 0
    truth_log: Path | None = None
    auto_connect: bool = False
    upload_dir: Path | None = None
    readout_s: float = 0.0
    threaded_upload: bool = False

    def __post_init__(self) -> None:
        if not self.ccd_name or not self.mount_name or self.ccd_name == self.mount_name:
            raise ValueError("ccd_name and mount_name must be distinct and non-empty")
        if self.size is not None and (
            len(self.size) != 2 or min(self.size) < 16 or max(self.size) > 16384
        ):
            raise ValueError(f"size must be (width, height) within 16..16384, got {self.size}")
        if not self.time_scale > 0:
            raise ValueError(f"time_scale must be positive, got {self.time_scale}")
        if self.seed < 0:
            raise ValueError("seed must be non-negative")
        if not 0 <= self.readout_s <= 600:
            raise ValueError(f"readout_s must be within 0..600, got {self.readout_s}")


class ObservatoryState(enum.Enum):
    """Life cycle of an :class:`Observatory`."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class Observatory:
    """The simulated camera and mount, as an async context manager.

    Examples
    --------
    >>> async with Observatory(ObservatoryConfig(size=(256, 256))) as obs:  # doctest: +SKIP
    ...     obs.subscribe(print)
    ...     obs.ccd.connect()
    """

    def __init__(self, config: ObservatoryConfig | None = None) -> None:
        self.config = config or ObservatoryConfig()
        self.state = ObservatoryState.NEW
        self._sinks: list[Sink] = []
        self._listeners: list[Callable[[str], None]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._group: asyncio.TaskGroup | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._poke = asyncio.Event()
        self._player: ScenarioPlayer | None = None
        self._ccd: Ccd | None = None
        self._mount: Mount | None = None

    # ------------------------------------------------------------------ life cycle

    async def __aenter__(self) -> Self:
        if self.state is not ObservatoryState.NEW:
            raise RuntimeError(f"an Observatory can be entered once (it is {self.state.value})")
        cfg = self.config
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sky-render")
        try:
            player = await asyncio.get_running_loop().run_in_executor(
                self._executor, self._prepare_player
            )
        except BaseException:
            self._executor.shutdown(wait=False, cancel_futures=True)
            raise
        player.seek(0.0)  # the night starts now, not when preparation began
        camera = SkyCamera(player.rig, size=cfg.size, seed=cfg.seed, ccd_name=cfg.ccd_name)
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._player = player
        self._mount = Mount(
            cfg.mount_name, emit=self._emit, spawn=self._spawn, time_scale=cfg.time_scale
        )
        self._ccd = Ccd(
            cfg.ccd_name,
            emit=self._emit,
            spawn=self._spawn,
            camera=camera,
            player=player,
            executor=self._executor,
            mount_status=lambda: self._mount.status() if self._mount is not None else None,
            time_scale=cfg.time_scale,
            upload_dir=cfg.upload_dir,
            readout_s=cfg.readout_s,
            threaded_upload=cfg.threaded_upload,
        )
        player.on_change(self._poke.set)
        self.state = ObservatoryState.RUNNING
        if cfg.auto_connect:
            self._mount.connect()
            self._ccd.connect()
        self._spawn(self._announce_segments(), "scenario announcer")
        return self

    def _prepare_player(self) -> ScenarioPlayer:
        cfg = self.config
        player = ScenarioPlayer.from_config(
            scenario=cfg.scenario,
            rig=cfg.rig,
            time_scale=cfg.time_scale,
            seed=cfg.seed,
            truth_log=cfg.truth_log,
        )
        player.warm_up()
        return player

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.state = ObservatoryState.CLOSED
        for task in list(self._tasks):
            task.cancel()
        try:
            assert self._group is not None
            await self._group.__aexit__(exc_type, exc, tb)
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
            if self._player is not None:
                self._player.close()

    def _require_running(self) -> None:
        if self.state is not ObservatoryState.RUNNING:
            raise RuntimeError(f"the Observatory is {self.state.value}; use it inside 'async with'")

    # ------------------------------------------------------------------ parts

    @property
    def ccd(self) -> Ccd:
        """The camera."""
        self._require_running()
        assert self._ccd is not None
        return self._ccd

    @property
    def mount(self) -> Mount:
        """The mount."""
        self._require_running()
        assert self._mount is not None
        return self._mount

    @property
    def player(self) -> ScenarioPlayer:
        """The scenario player."""
        self._require_running()
        assert self._player is not None
        return self._player

    @property
    def devices(self) -> dict[str, Device]:
        """Devices by INDI name."""
        return {self.mount.name: self.mount, self.ccd.name: self.ccd}

    # ------------------------------------------------------------------ transports

    def subscribe(self, sink: Sink) -> Callable[[], None]:
        """Send every outgoing message to ``sink``; returns the unsubscribe function."""
        self._sinks.append(sink)
        return lambda: self._sinks.remove(sink) if sink in self._sinks else None

    def on_scenario(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with a one-line status whenever the scenario moves on."""
        self._listeners.append(listener)

    def definitions(self, device: str | None = None, name: str | None = None) -> list[Outgoing]:
        """``def*`` messages answering ``getProperties`` (all, one device, one property)."""
        return [
            message
            for dev in self.devices.values()
            if device is None or dev.name == device
            for message in dev.definitions(name)
        ]

    def handle(self, command: NewCommand) -> bool:
        """Pass a client's ``new*Vector`` to its device; ``False`` if no such device."""
        self._require_running()
        device = self.devices.get(command.device)
        if device is None:
            return False
        device.handle(command)
        return True

    # ------------------------------------------------------------------ internals

    def _emit(self, message: Outgoing) -> None:
        for sink in list(self._sinks):
            sink(message)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        if self._group is None or self.state is not ObservatoryState.RUNNING:
            coro.close()
            raise RuntimeError("the Observatory is not running")
        task = self._group.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _announce_segments(self) -> None:
        player = self.player
        while True:
            line = player.status_line()
            _log.info("%s", line)
            for listener in self._listeners:
                listener(line)
            self.ccd.announce_scenario()
            self._poke.clear()
            delay = player.seconds_to_next_change()
            try:
                async with asyncio.timeout(delay):
                    await self._poke.wait()
            except TimeoutError:
                pass
