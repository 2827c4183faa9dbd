"""What both backends share: state, stats, the property model, waiters and BLOB streams.

A backend (native asyncio or pyindi-client) owns the connections and feeds this core
with events on the event loop thread; the core resolves futures and fills BLOB streams.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from astroiqa_indi.errors import IndiConnectionError, IndiError, IndiTimeoutError
from astroiqa_indi.indi._blob import Blob, BlobStream
from astroiqa_indi.indi._model import PropertyModel, PropertyVector
from astroiqa_indi.indi._settings import ReconnectPolicy, check_client_options
from astroiqa_indi.indi._types import (
    IndiEvent,
    Message,
    Permission,
    PropertyState,
    VectorKind,
)

__all__ = ["ClientCore", "ClientState", "ClientStats"]

log = logging.getLogger("astroiqa_indi.indi")
device_log = logging.getLogger("astroiqa_indi.indi.device")


class ClientState(enum.Enum):
    """Life cycle of a client.

    ``IDLE`` → ``CONNECTING`` → ``CONNECTED`` ⇄ ``RECONNECTING`` → ``CLOSED``;
    ``FAILED`` when the client was asked to fail fast and lost the server.
    """

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ClientStats:
    """Counters since the client was entered (a snapshot; ``client.stats`` makes a new one).

    Attributes
    ----------
    blobs_received
        BLOB elements decoded and offered to the streams.
    blobs_dropped
        BLOBs dropped because a subscriber's queue was full (oldest first).
    blobs_ignored
        BLOBs no subscriber wanted: neither kept nor decoded.
    blob_bytes
        Decoded bytes received, summed over ``blobs_received``.
    protocol_errors
        Malformed elements skipped (the connection stayed up).
    reconnects
        Successful connections after the first one.
    """

    state: ClientState
    blobs_received: int = 0
    blobs_dropped: int = 0
    blobs_ignored: int = 0
    blob_bytes: int = 0
    protocol_errors: int = 0
    reconnects: int = 0


_Predicate = Callable[[PropertyVector], bool]


_STABLE_S = 5.0  # a connection that lasted this long resets the backoff (seconds)


class ClientCore:
    """Shared machinery: life cycle, reconnects, model, waiters, BLOB streams.

    Backends implement ``_connect``, ``_close_connections`` and ``_send_new``, and may
    extend ``_background``, ``_watch`` and ``_release``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        blob_queue_size: int,
        connect_timeout: float,
        fail_fast: bool,
        reconnect: ReconnectPolicy | None,
        ping_interval: float | None = None,
        rng: random.Random | None = None,
    ) -> None:
        check_client_options(
            host=host,
            port=port,
            blob_queue_size=blob_queue_size,
            connect_timeout=connect_timeout,
            ping_interval=ping_interval,
        )
        self.host, self.port = host, port
        self._address = f"{host}:{port}"
        self._blob_queue_size = blob_queue_size
        self._connect_timeout = connect_timeout
        self._fail_fast = fail_fast
        self._policy = reconnect or ReconnectPolicy()
        self._ping_interval = ping_interval
        self._rng = rng or random.Random()
        self._tg: asyncio.TaskGroup | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._connected_once = False
        self._state = ClientState.IDLE
        self._failure: IndiConnectionError | None = None
        self._model = PropertyModel()
        self._waiters: dict[
            tuple[str, str], list[tuple[asyncio.Future[PropertyVector], _Predicate]]
        ] = {}
        self._state_waiters: list[tuple[frozenset[ClientState], asyncio.Future[ClientState]]] = []
        self._streams: list[BlobStream] = []
        self._counts = dict.fromkeys(
            (
                "blobs_received",
                "blobs_dropped",
                "blobs_ignored",
                "blob_bytes",
                "protocol_errors",
                "reconnects",
            ),
            0,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(host={self.host!r}, port={self.port}, state={self.state.value})"
        )

    # ------------------------------------------------------------------ life cycle

    async def __aenter__(self) -> Self:
        if self._state is not ClientState.IDLE:
            raise RuntimeError(f"a {type(self).__name__} can be entered once; create a new one")
        self._set_state(ClientState.CONNECTING)
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._tasks = [self._tg.create_task(self._supervise(first), name="indi-supervisor")]
        for name, coro in self._background():
            self._tasks.append(self._tg.create_task(coro, name=name))
        try:
            await first
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    def _background(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        """Extra named tasks a backend runs for the client's lifetime."""
        return []

    async def _shutdown(self) -> None:
        failed = self._state is ClientState.FAILED
        for task in self._tasks:
            task.cancel()
        try:
            if self._tg is not None:
                # Our tasks are cancelled, so this only waits for them to finish; it
                # raises only if one of them crashed (a bug worth seeing). The body's
                # own exception is not passed in, so it is never wrapped in a group.
                await self._tg.__aexit__(None, None, None)
        finally:
            self._tg = None
            self._close_connections()
            self._release()
            self._end_all(self._failure)
            self._set_state(ClientState.FAILED if failed else ClientState.CLOSED)

    def _release(self) -> None:
        """Free backend resources at close (executors, threads)."""

    async def _supervise(self, first: asyncio.Future[None]) -> None:
        """Connect, watch, reconnect with backoff: the client's one long-lived loop."""
        attempt = 0
        while True:
            lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(self._connect_timeout):
                    await self._connect(lost)
            except (OSError, TimeoutError, IndiConnectionError) as exc:
                error = IndiConnectionError(
                    f"cannot connect to INDI server {self._address}: {exc or type(exc).__name__}"
                )
                error.__cause__ = exc
                self._close_connections()
                if self._fail_fast:
                    self._fail(error)
                    if not first.done():
                        first.set_exception(error)
                    return
                log.warning("%s", error)
            else:
                if self._connected_once:
                    self._count("reconnects")
                self._connected_once = True
                self._set_state(ClientState.CONNECTED)
                if not first.done():
                    first.set_result(None)
                since = time.monotonic()
                await self._watch(lost)
                self._close_connections()
                error = IndiConnectionError(f"lost INDI server {self._address}")
                if self._fail_fast:
                    self._fail(error)
                    return
                log.warning("%s; reconnecting", error)
                # A server that accepts and drops us at once must not get a tight loop.
                if time.monotonic() - since > _STABLE_S:
                    attempt = 0
            if not first.done():
                first.set_result(None)  # not failing fast: keep trying in the background
            if self._policy.max_attempts is not None and attempt >= self._policy.max_attempts:
                self._fail(
                    IndiConnectionError(
                        f"gave up on INDI server {self._address} after {attempt} attempts"
                    )
                )
                return
            self._set_state(ClientState.RECONNECTING)
            await asyncio.sleep(self._policy.delay(attempt, self._rng))
            attempt += 1

    async def _connect(self, lost: asyncio.Future[None]) -> None:
        """Open the connection(s); resolve ``lost`` when any of them goes away."""
        raise NotImplementedError

    def _close_connections(self) -> None:
        """Close whatever ``_connect`` opened (idempotent)."""
        raise NotImplementedError

    async def _watch(self, lost: asyncio.Future[None]) -> None:
        """Return when the connection is gone."""
        await lost

    # ------------------------------------------------------------------ inspection

    @property
    def state(self) -> ClientState:
        """Where the client is in its life cycle."""
        return self._state

    @property
    def stats(self) -> ClientStats:
        """A snapshot of the counters."""
        return ClientStats(state=self._state, **self._counts)

    def devices(self) -> tuple[str, ...]:
        """Devices that currently have properties."""
        return self._model.devices()

    def vectors(self, device: str) -> tuple[PropertyVector, ...]:
        """All property vectors of ``device``."""
        return self._model.vectors(device)

    def get_vector(self, device: str, name: str) -> PropertyVector | None:
        """The current snapshot of ``device.name``, or None if not (yet) defined."""
        return self._model.get(device, name)

    # --------------------------------------------------------------- waiting on events

    def _check_usable(self) -> None:
        if self._state is ClientState.IDLE:
            raise RuntimeError(f"use `async with {type(self).__name__}(...)` first")
        if self._state is ClientState.CLOSED:
            raise RuntimeError(f"{type(self).__name__} is closed")
        if self._failure is not None:
            raise self._failure

    async def wait_for(
        self,
        device: str,
        name: str,
        *,
        timeout: float = 10.0,
        state: PropertyState | Iterable[PropertyState] | None = None,
        predicate: _Predicate | None = None,
    ) -> PropertyVector:
        """The vector ``device.name`` once it exists (and is in ``state``, and passes
        ``predicate``); returns at once if it already does.

        Raises
        ------
        IndiTimeoutError
            After ``timeout`` seconds, naming the device and property.
        """
        self._check_usable()
        wanted = _state_predicate(state, predicate)
        current = self._model.get(device, name)
        if current is not None and wanted(current):
            return current
        return await self._wait_update(device, name, wanted, timeout)

    def next_update(
        self, device: str, name: str, predicate: _Predicate
    ) -> asyncio.Future[PropertyVector]:
        """A future for the first update of ``device.name`` from now on that passes
        ``predicate`` (the current value does not count).

        ``predicate`` sees every update in the order the server sent them, so it may
        keep state (Busy, then Ok: an exposure that ran to its end). Registered at
        once: nothing the server sends after this call is missed. Cancel the future
        when it is no longer wanted.
        """
        self._check_usable()
        future = self._register(device, name, predicate)

        def done(future: asyncio.Future[PropertyVector]) -> None:
            self._unregister(future, device, name)
            if not future.cancelled():
                future.exception()  # a client closed meanwhile: nobody need be told

        future.add_done_callback(done)
        return future

    async def _wait_update(
        self, device: str, name: str, wanted: _Predicate, timeout: float
    ) -> PropertyVector:
        future = self._register(device, name, wanted)
        return await self._await_vector(future, device, name, timeout)

    def _register(
        self, device: str, name: str, wanted: _Predicate
    ) -> asyncio.Future[PropertyVector]:
        future: asyncio.Future[PropertyVector] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault((device, name), []).append((future, wanted))
        return future

    async def _await_vector(
        self, future: asyncio.Future[PropertyVector], device: str, name: str, timeout: float
    ) -> PropertyVector:
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            raise IndiTimeoutError(
                f"{device}.{name}: not there after {timeout:g} s (client {self._state.value})",
                device=device,
                prop=name,
            ) from exc
        finally:
            self._unregister(future, device, name)

    def _unregister(self, future: asyncio.Future[PropertyVector], device: str, name: str) -> None:
        waiters = self._waiters.get((device, name), [])
        waiters[:] = [w for w in waiters if w[0] is not future]
        if not waiters:
            self._waiters.pop((device, name), None)

    async def wait_for_state(self, *states: ClientState, timeout: float = 10.0) -> ClientState:
        """Wait until the client is in one of ``states``; returns that state.

        Raises
        ------
        IndiTimeoutError
            After ``timeout`` seconds.
        """
        wanted = frozenset(states)
        if not wanted:
            raise ValueError("name at least one state")
        if self._state in wanted:
            return self._state
        future: asyncio.Future[ClientState] = asyncio.get_running_loop().create_future()
        entry = (wanted, future)
        self._state_waiters.append(entry)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            names = ", ".join(sorted(s.value for s in wanted))
            raise IndiTimeoutError(
                f"client still {self._state.value} after {timeout:g} s (waited for {names})"
            ) from exc
        finally:
            if entry in self._state_waiters:
                self._state_waiters.remove(entry)

    # --------------------------------------------------------------------- commands

    async def set_number(
        self,
        device: str,
        name: str,
        values: Mapping[str, float],
        *,
        wait: bool = False,
        timeout: float = 10.0,
    ) -> PropertyVector | None:
        """Send ``newNumberVector``; with ``wait``, return the vector once it leaves Busy.

        The vector must be defined by the server within ``timeout`` seconds.
        """
        return await self._set(VectorKind.NUMBER, device, name, dict(values), wait, timeout)

    async def set_switch(
        self,
        device: str,
        name: str,
        values: Mapping[str, bool],
        *,
        wait: bool = False,
        timeout: float = 10.0,
    ) -> PropertyVector | None:
        """Send ``newSwitchVector`` (True = On); see :meth:`set_number`."""
        return await self._set(VectorKind.SWITCH, device, name, dict(values), wait, timeout)

    async def set_text(
        self,
        device: str,
        name: str,
        values: Mapping[str, str],
        *,
        wait: bool = False,
        timeout: float = 10.0,
    ) -> PropertyVector | None:
        """Send ``newTextVector``; see :meth:`set_number`."""
        return await self._set(VectorKind.TEXT, device, name, dict(values), wait, timeout)

    async def _set(
        self,
        kind: VectorKind,
        device: str,
        name: str,
        values: dict[str, float] | dict[str, bool] | dict[str, str],
        wait: bool,
        timeout: float,
    ) -> PropertyVector | None:
        vector = await self.wait_for(device, name, timeout=timeout)
        if vector.kind is not kind:
            raise ValueError(f"{device}.{name} is a {vector.kind.value} vector, not {kind.value}")
        if vector.perm is Permission.RO:
            raise ValueError(f"{device}.{name} is read-only")
        unknown = sorted(set(values) - set(vector.names))
        if unknown:
            raise ValueError(f"{device}.{name} has no element(s) {unknown}; has {vector.names}")
        # Register before sending so the server's answer cannot slip past us.
        future = self._register(device, name, _not_busy) if wait else None
        try:
            self._send_new(kind, device, name, values)
        except BaseException:
            if future is not None:
                future.cancel()
                self._unregister(future, device, name)
            raise
        if future is None:
            return None
        result = await self._await_vector(future, device, name, timeout)
        if result.state is PropertyState.ALERT:
            raise IndiError(f"{device}.{name} went to Alert: {result.message or 'no message'}")
        return result

    def _send_new(
        self,
        kind: VectorKind,
        device: str,
        name: str,
        values: dict[str, float] | dict[str, bool] | dict[str, str],
    ) -> None:
        raise NotImplementedError

    # --------------------------------------------------------------------- BLOBs

    def blobs(
        self,
        device: str | None = None,
        property: str | None = "CCD1",
        *,
        maxsize: int | None = None,
    ) -> BlobStream:
        """Subscribe to decoded BLOBs of ``device`` (any if None) and ``property``.

        The stream collects from this call on; iterate it with ``async for``. Its queue
        holds ``maxsize`` BLOBs (default: the client's ``blob_queue_size``); when full,
        the oldest is dropped and counted in ``stats.blobs_dropped``.
        """
        self._check_usable()
        stream = BlobStream(
            device=device,
            prop=property,
            maxsize=maxsize or self._blob_queue_size,
            on_drop=self._on_blob_dropped,
            on_close=self._on_stream_closed,
        )
        self._streams.append(stream)
        return stream

    def _wants_blob(self, device: str, prop: str) -> bool:
        return any(s.wants(device, prop) for s in self._streams)

    def _deliver_blob(self, blob: Blob) -> None:
        self._counts["blobs_received"] += 1
        self._counts["blob_bytes"] += len(blob.data)
        for stream in self._streams:
            if stream.wants(blob.device, blob.property):
                stream.put(blob)

    def _on_blob_dropped(self, stream: BlobStream, blob: Blob) -> None:
        self._counts["blobs_dropped"] += 1
        log.warning(
            "BLOB queue full: dropped %s.%s from %s (%d dropped by this stream, %d in total)",
            blob.device,
            blob.property,
            blob.received_at.isoformat(timespec="milliseconds"),
            stream.dropped,
            self._counts["blobs_dropped"],
        )

    def _on_stream_closed(self, stream: BlobStream) -> None:
        if stream in self._streams:
            self._streams.remove(stream)

    # ------------------------------------------------------------- event handling

    def _count(self, counter: str, n: int = 1) -> None:
        self._counts[counter] += n

    def _handle_event(self, event: IndiEvent) -> None:
        """Apply one event (on the loop thread): model, waiters, device messages."""
        if isinstance(event, Message):
            device_log.info("%s: %s", event.device or "indiserver", event.message)
            return
        vector = self._model.apply(event)
        if vector is None:
            return
        message = getattr(event, "message", "")
        if message:
            device_log.info("%s.%s: %s", vector.device, vector.name, message)
        waiters = self._waiters.get((vector.device, vector.name))
        if not waiters:
            return
        for future, wanted in list(waiters):
            if future.done():
                continue
            try:
                passes = wanted(vector)
            except Exception as exc:  # noqa: BLE001  (a caller's predicate: its error is theirs)
                future.set_exception(exc)
                continue
            if passes:
                future.set_result(vector)

    def _set_state(self, state: ClientState) -> None:
        if state is self._state:
            return
        log.info("INDI client %s -> %s", self._state.value, state.value)
        self._state = state
        for wanted, future in list(self._state_waiters):
            if state in wanted and not future.done():
                future.set_result(state)

    def _fail(self, error: IndiConnectionError) -> None:
        """Fail fast: every pending and future call raises ``error``."""
        self._failure = error
        self._set_state(ClientState.FAILED)
        self._end_all(error)

    def _end_all(self, error: BaseException | None) -> None:
        for waiters in self._waiters.values():
            for future, _ in waiters:
                if not future.done():
                    future.set_exception(error or IndiConnectionError("client closed"))
        for stream in list(self._streams):
            stream.finish(error)
        self._streams.clear()
        for _, state_future in self._state_waiters:
            if not state_future.done():
                state_future.set_result(self._state)


def _not_busy(vector: PropertyVector) -> bool:
    return vector.state is not PropertyState.BUSY


def _state_predicate(
    state: PropertyState | Iterable[PropertyState] | None, predicate: _Predicate | None
) -> _Predicate:
    states: frozenset[PropertyState] | None
    if state is None:
        states = None
    elif isinstance(state, PropertyState):
        states = frozenset([state])
    else:
        states = frozenset(state)

    def wanted(vector: PropertyVector) -> bool:
        if states is not None and vector.state not in states:
            return False
        return predicate is None or predicate(vector)

    return wanted
