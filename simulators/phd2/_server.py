"""The asyncio layer of the PHD2 simulator: a TCP server that speaks the event-server protocol."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self

from simulators.phd2._engine import GuiderEngine
from simulators.phd2._model import Event, GuideConditions, GuiderState
from simulators.phd2._protocol import (
    METHOD_NOT_FOUND,
    RpcFailure,
    RpcRequest,
    encode_event,
    encode_line,
    encode_response,
    parse_request_line,
)

__all__ = ["Phd2Simulator", "SimulatorState"]

log = logging.getLogger(__name__)

_CLIENT_QUEUE = 1000  # lines buffered per client before it counts as stuck and is dropped


class SimulatorState(enum.Enum):
    """Life cycle of a :class:`Phd2Simulator`."""

    NEW = "new"
    RUNNING = "running"
    CLOSED = "closed"


class _Client:
    """One connected client: its socket and a bounded queue of lines to send."""

    def __init__(self, number: int, writer: asyncio.StreamWriter) -> None:
        self.number = number
        self.writer = writer
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(_CLIENT_QUEUE)

    def send(self, line: bytes) -> bool:
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            return False
        return True


class Phd2Simulator:
    """A PHD2 event server on loopback, guiding a simulated mount.

    Use as ``async with Phd2Simulator(port=0) as sim:`` and connect to ``sim.port``.
    Every connected client gets PHD2's catch-up events (``Version`` ... ``AppState``),
    then every event, and answers to its own requests.

    Parameters
    ----------
    host, port
        Where to listen; ``port=0`` lets the kernel choose (read :attr:`port`).
    cadence_s
        Wall-clock seconds between guide frames (PHD2's exposure loop).
    exposure_s
        Simulated seconds per frame, used for ``Time`` attributes and settling;
        defaults to ``cadence_s``. Tests use a tiny cadence with a realistic exposure.
    pixel_scale
        Guide camera scale, arcsec per pixel, answered by ``get_pixel_scale``.
    conditions
        Called every frame; returns :class:`GuideConditions` (RMS error in arcsec and
        whether the star is lost). ``None``: steady 0.6 arcsec, star always found.
    seed
        Seed of the simulated guide errors.
    calibration_steps
        Frames of calibration the first time ``guide`` runs (0: already calibrated).
    host_name
        The ``Host`` attribute of every event.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        cadence_s: float = 2.0,
        exposure_s: float | None = None,
        pixel_scale: float | None = 1.5,
        conditions: Callable[[], GuideConditions] | None = None,
        seed: int | None = 0,
        calibration_steps: int = 2,
        host_name: str = "phd2-simulator",
    ) -> None:
        if not cadence_s > 0:
            raise ValueError(f"cadence_s must be > 0, got {cadence_s}")
        self.host = host
        self._requested_port = port
        self.cadence_s = float(cadence_s)
        self.host_name = host_name
        self.engine = GuiderEngine(
            pixel_scale=pixel_scale,
            exposure_s=cadence_s if exposure_s is None else exposure_s,
            conditions=conditions,
            seed=seed,
            calibration_steps=calibration_steps,
        )
        self._state = SimulatorState.NEW
        self._server: asyncio.Server | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._clients: dict[int, _Client] = {}
        self._next_client = 0
        self._port: int | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ properties
    @property
    def port(self) -> int:
        """The TCP port actually listened on (valid once started)."""
        if self._port is None:
            raise RuntimeError("Phd2Simulator is not started")
        return self._port

    @property
    def state(self) -> SimulatorState:
        return self._state

    @property
    def app_state(self) -> GuiderState:
        """The guider's current ``AppState``."""
        return self.engine.state

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def drop_clients(self) -> int:
        """Close every client connection while the guider goes on (a network blip
        between the imaging computer and PHD2's); returns how many were dropped."""
        clients = list(self._clients.values())
        for client in clients:
            self._drop(client)
        return len(clients)

    # ------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> Self:
        if self._state is not SimulatorState.NEW:
            raise RuntimeError(f"Phd2Simulator cannot be started twice (state {self._state.value})")
        self._state = SimulatorState.RUNNING
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        try:
            self._server = await asyncio.start_server(
                self._on_connect, self.host, self._requested_port
            )
        except BaseException:
            await self._tg.__aexit__(None, None, None)
            self._state = SimulatorState.CLOSED
            raise
        self._port = int(self._server.sockets[0].getsockname()[1])
        self._spawn(self._tick_loop(), "phd2-sim-ticker")
        return self

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        assert self._tg is not None
        task = self._tg.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = SimulatorState.CLOSED
        assert self._server is not None and self._tg is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for client in list(self._clients.values()):
            client.writer.close()
        # The body's exception is not passed on: TaskGroup would wrap it in an ExceptionGroup.
        await self._tg.__aexit__(None, None, None)
        await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Run until cancelled (the CLI's Ctrl-C)."""
        await asyncio.Event().wait()

    # ---------------------------------------------------------------- events
    def _broadcast(self, events: list[Event]) -> None:
        for name, attrs in events:
            line = encode_event(name, attrs, timestamp=time.time(), host=self.host_name)
            for client in list(self._clients.values()):
                if not client.send(line):
                    log.warning(
                        "PHD2 simulator: client %d is not reading; dropping it", client.number
                    )
                    self._drop(client)

    def _drop(self, client: _Client) -> None:
        if self._clients.pop(client.number, None) is not None:
            client.writer.close()
            with contextlib.suppress(asyncio.QueueFull):
                client.queue.put_nowait(None)

    async def _tick_loop(self) -> None:
        while True:
            # The cadence is the guide camera's exposure loop, not a poll: nothing
            # else can tell us that the next frame is due.
            await asyncio.sleep(self.cadence_s)
            self._broadcast(self.engine.tick())

    # --------------------------------------------------------------- clients
    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._tg is None or self._state is not SimulatorState.RUNNING:
            writer.close()
            return
        self._next_client += 1
        client = _Client(self._next_client, writer)
        for name, attrs in self.engine.catch_up():
            client.send(encode_event(name, attrs, timestamp=time.time(), host=self.host_name))
        self._clients[client.number] = client
        self._spawn(self._write_loop(client), f"phd2-sim-writer-{client.number}")
        self._spawn(self._read_loop(client, reader), f"phd2-sim-reader-{client.number}")

    async def _write_loop(self, client: _Client) -> None:
        try:
            while (line := await client.queue.get()) is not None:
                if client.number not in self._clients:
                    break
                client.writer.write(line)
                await client.writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._drop(client)

    async def _read_loop(self, client: _Client, reader: asyncio.StreamReader) -> None:
        try:
            while client.number in self._clients:
                line = await reader.readline()
                if not line:
                    break
                line = line.strip()
                if line:
                    await self._handle_line(client, line)
        except (ConnectionError, OSError, ValueError):
            # ValueError: a line longer than the StreamReader limit; PHD2 drops such input too.
            pass
        finally:
            self._drop(client)

    async def _handle_line(self, client: _Client, line: bytes) -> None:
        items, is_batch = parse_request_line(line)
        answers: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, RpcRequest):
                answers.append(item)
                continue
            handled = self.engine.call(item.method, item.params)
            if handled is None:
                outcome: Any = RpcFailure(METHOD_NOT_FOUND, "method not found")
            else:
                outcome, events = handled
                # Events caused by a call reach every client before the caller's answer.
                self._broadcast(events)
            if item.has_id:
                answers.append(encode_response(item.id, outcome))
        if answers and client.number in self._clients:
            # Waiting for room applies TCP back-pressure to a client that pipelines
            # requests faster than it reads answers; no answer is ever dropped.
            await client.queue.put(encode_line(answers if is_batch else answers[0]))
