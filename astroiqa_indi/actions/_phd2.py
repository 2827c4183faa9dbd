"""An asyncio client for PHD2's event server (JSON-RPC 2.0 over TCP, port 4400).

The socket, the reader task and the request futures live here; every byte of the wire
format is in :mod:`astroiqa_indi.actions._phd2_protocol`.

>>> async with Phd2Client("127.0.0.1", 4400) as phd2:  # doctest: +SKIP
...     await phd2.pause()          # guide output off, exposures keep looping
...     await phd2.resume()
...     print(phd2.rms())           # running guide RMS, arcsec
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from types import TracebackType
from typing import Any, Final, Self

from astroiqa_indi.actions._phd2_protocol import (
    AppStateEvent,
    GuideStepEvent,
    LoopingExposuresEvent,
    LoopingExposuresStoppedEvent,
    PausedEvent,
    Phd2AppState,
    Phd2Event,
    RpcResponse,
    SettleBeginEvent,
    SettleDoneEvent,
    StarLostEvent,
    StartCalibrationEvent,
    StartGuidingEvent,
    VersionEvent,
    encode_request,
    parse_message,
)
from astroiqa_indi.actions._phd2_values import (
    GuideRms,
    Phd2ClientState,
    Phd2EventStream,
    SettleParams,
    population_sigma,
)
from astroiqa_indi.errors import GuiderError

__all__ = ["GuideRms", "Phd2Client", "Phd2ClientState", "Phd2EventStream", "SettleParams"]

log = logging.getLogger(__name__)

DEFAULT_PORT: Final = 4400
_LINE_LIMIT: Final = 4 * 1024 * 1024  # get_star_image answers carry base64 pixels

# The wiki's AppState section: which events move the application state, and where.
_STATE_AFTER: Final[dict[type[Phd2Event], Phd2AppState]] = {
    GuideStepEvent: Phd2AppState.GUIDING,
    PausedEvent: Phd2AppState.PAUSED,
    StartCalibrationEvent: Phd2AppState.CALIBRATING,
    LoopingExposuresEvent: Phd2AppState.LOOPING,
    LoopingExposuresStoppedEvent: Phd2AppState.STOPPED,
    StarLostEvent: Phd2AppState.LOST_LOCK,
}


class Phd2Client:
    """Talk to PHD2: pause and resume guiding, start guiding, dither, watch events.

    Parameters
    ----------
    host, port
        Where PHD2 listens (port 4400 for its first instance, 4401 for the second...).
    connect_timeout
        Seconds to connect and receive PHD2's catch-up events (``Version`` ... ``AppState``).
    request_timeout
        Seconds to wait for the answer to one method call.
    rms_window
        Number of most recent guide steps in :meth:`rms`.
    settle_grace
        Seconds added to the settle timeout when :meth:`guide` waits for ``SettleDone``:
        PHD2 may first have to find a star and calibrate, which its own timeout excludes.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
        rms_window: int = 50,
        settle_grace: float = 180.0,
    ) -> None:
        if connect_timeout <= 0 or request_timeout <= 0 or settle_grace < 0:
            raise ValueError("timeouts must be > 0 s (settle_grace >= 0 s)")
        if rms_window < 2:
            raise ValueError(f"rms_window must be >= 2 steps, got {rms_window}")
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.settle_grace = settle_grace
        self._state = Phd2ClientState.IDLE
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tg: asyncio.TaskGroup | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[RpcResponse]] = {}
        self._ready: asyncio.Future[None] | None = None
        self._settle_waiter: asyncio.Future[SettleDoneEvent] | None = None
        self._streams: list[Phd2EventStream] = []
        self._steps: deque[tuple[float, float]] = deque(maxlen=rms_window)
        self._settling = False
        self._app_state: Phd2AppState | None = None
        self._version: VersionEvent | None = None
        self._pixel_scale: float | None = None
        self.protocol_errors = 0

    # ------------------------------------------------------------ properties
    @property
    def state(self) -> Phd2ClientState:
        return self._state

    @property
    def app_state(self) -> Phd2AppState | None:
        """PHD2's state as last reported or implied by events (``None`` before connecting)."""
        return self._app_state

    @property
    def version(self) -> VersionEvent | None:
        return self._version

    @property
    def pixel_scale(self) -> float | None:
        """Guide camera arcsec per pixel, read at connect; ``None`` when PHD2 does not know."""
        return self._pixel_scale

    def rms(self) -> GuideRms | None:
        """RMS guide error over the last ``rms_window`` steps; ``None`` before two steps.

        Steps taken while settling (after a dither) are left out, as PHD2 leaves
        dithers out of its own statistics.
        """
        if len(self._steps) < 2:
            return None
        ra = population_sigma([s[0] for s in self._steps])
        dec = population_sigma([s[1] for s in self._steps])
        return GuideRms(
            ra_px=ra,
            dec_px=dec,
            total_px=math.hypot(ra, dec),
            n_steps=len(self._steps),
            pixel_scale=self._pixel_scale,
        )

    # ------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> Self:
        if self._state is not Phd2ClientState.IDLE:
            raise RuntimeError(f"Phd2Client cannot be entered twice (state {self._state.value})")
        self._state = Phd2ClientState.CONNECTING
        where = f"{self.host}:{self.port}"
        try:
            async with asyncio.timeout(self.connect_timeout):
                self._reader, self._writer = await asyncio.open_connection(
                    self.host, self.port, limit=_LINE_LIMIT
                )
        except (OSError, TimeoutError) as exc:
            self._state = Phd2ClientState.CLOSED
            raise GuiderError(f"cannot reach PHD2 at {where}: {exc or 'timed out'}") from exc
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._ready = asyncio.get_running_loop().create_future()
        self._reader_task = self._tg.create_task(self._read_loop(), name=f"phd2-reader-{where}")
        try:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    await self._ready
            except TimeoutError as exc:
                raise GuiderError(
                    f"PHD2 at {where} sent no Version/AppState within {self.connect_timeout:g} s"
                ) from exc
            self._state = Phd2ClientState.CONNECTED
            try:
                self._pixel_scale = await self.get_pixel_scale()
            except GuiderError as exc:
                if self._state is not Phd2ClientState.CONNECTED:
                    raise
                # Pausing and resuming still work; only the RMS stays in pixels.
                log.warning("PHD2 pixel scale unknown (%s); guide RMS in pixels only", exc)
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

    async def _shutdown(self) -> None:
        self._state = Phd2ClientState.CLOSED
        if self._writer is not None:
            self._writer.close()
        if self._reader_task is not None:
            self._reader_task.cancel()
        if self._tg is not None:
            # Not given the body's exception: the TaskGroup would wrap it in an
            # ExceptionGroup, and callers should see their own GuiderError unchanged.
            await self._tg.__aexit__(None, None, None)
        if self._writer is not None:
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._fail_all(GuiderError("Phd2Client closed"), streams_error=None)

    def _fail_all(self, error: GuiderError, *, streams_error: GuiderError | None) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()
        for waiter in (self._ready, self._settle_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # mark retrieved: nobody may be waiting any more
        for stream in list(self._streams):
            stream.end(streams_error)
        self._streams.clear()

    # ---------------------------------------------------------------- reader
    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "PHD2 closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                line = line.strip()
                if not line:
                    continue
                try:
                    message = parse_message(line)
                except GuiderError as exc:
                    # One bad line from PHD2 should not end the session.
                    self.protocol_errors += 1
                    log.warning("ignoring PHD2 line: %s", exc)
                    continue
                self._dispatch(message)
        except (ConnectionError, OSError, ValueError) as exc:
            # ValueError: StreamReader's line limit was overrun.
            reason = f"connection to PHD2 lost: {exc}"
        if self._state in (Phd2ClientState.CONNECTING, Phd2ClientState.CONNECTED):
            self._state = Phd2ClientState.LOST
            log.warning("PHD2 at %s:%s: %s", self.host, self.port, reason)
            error = GuiderError(f"PHD2 at {self.host}:{self.port}: {reason}")
            self._fail_all(error, streams_error=error)

    def _dispatch(self, message: Phd2Event | RpcResponse | list[RpcResponse]) -> None:
        if isinstance(message, list):
            for response in message:
                self._resolve(response)
        elif isinstance(message, RpcResponse):
            self._resolve(message)
        else:
            self._on_event(message)

    def _resolve(self, response: RpcResponse) -> None:
        future = self._pending.pop(response.id, None) if isinstance(response.id, int) else None
        if future is None:
            log.warning("PHD2 answered unknown request id %r: %r", response.id, response)
        elif not future.done():
            future.set_result(response)

    def _on_event(self, event: Phd2Event) -> None:
        if isinstance(event, VersionEvent):
            self._version = event
        elif isinstance(event, AppStateEvent):
            self._app_state = event.state
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(None)
        elif (implied := _STATE_AFTER.get(type(event))) is not None:
            self._app_state = implied
        if isinstance(event, StartGuidingEvent):
            self._steps.clear()
        elif isinstance(event, SettleBeginEvent):
            self._settling = True
        elif isinstance(event, SettleDoneEvent):
            self._settling = False
            waiter, self._settle_waiter = self._settle_waiter, None
            if waiter is not None and not waiter.done():
                waiter.set_result(event)
        elif isinstance(event, GuideStepEvent) and not self._settling:
            self._steps.append((event.ra_distance_raw, event.dec_distance_raw))
        for stream in list(self._streams):
            stream.push(event)

    # ----------------------------------------------------------- subscribing
    def events(self, *, maxsize: int = 1000) -> Phd2EventStream:
        """Subscribe to PHD2's events from now on (``async for event in client.events()``)."""
        self._require_connected()
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        stream = Phd2EventStream(maxsize, self._unsubscribe)
        self._streams.append(stream)
        return stream

    def _unsubscribe(self, stream: Phd2EventStream) -> None:
        with contextlib.suppress(ValueError):
            self._streams.remove(stream)

    # --------------------------------------------------------------- methods
    def _require_connected(self) -> None:
        if self._state is Phd2ClientState.LOST:
            raise GuiderError(f"PHD2 at {self.host}:{self.port} is no longer connected")
        if self._state is not Phd2ClientState.CONNECTED:
            raise RuntimeError(
                f"Phd2Client is {self._state.value}; use it inside 'async with Phd2Client(...)'"
            )

    async def call(
        self,
        method: str,
        params: list[Any] | dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Invoke one PHD2 method and return its ``result``.

        Raises
        ------
        GuiderError
            PHD2 answered with a JSON-RPC error, did not answer within ``timeout``
            (default ``request_timeout``) seconds, or the connection is gone. The
            message names the method.
        """
        self._require_connected()
        assert self._writer is not None
        limit = self.request_timeout if timeout is None else timeout
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[RpcResponse] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            async with asyncio.timeout(limit):
                async with self._write_lock:
                    self._writer.write(encode_request(method, params, request_id))
                    await self._writer.drain()
                response = await future
        except TimeoutError as exc:
            raise GuiderError(f"PHD2 did not answer {method!r} within {limit:g} s") from exc
        except (ConnectionError, OSError) as exc:
            raise GuiderError(f"cannot send {method!r} to PHD2: {exc}") from exc
        finally:
            self._pending.pop(request_id, None)
        if response.error is not None:
            raise GuiderError(
                f"PHD2 refused {method!r}: {response.error.message} "
                f"(JSON-RPC error {response.error.code})"
            )
        return response.result

    async def get_app_state(self) -> Phd2AppState:
        """Ask PHD2 for its state (and refresh :attr:`app_state`)."""
        raw = await self.call("get_app_state")
        try:
            self._app_state = Phd2AppState(raw)
        except ValueError as exc:
            raise GuiderError(f"PHD2 get_app_state answered unknown state {raw!r}") from exc
        return self._app_state

    async def get_paused(self) -> bool:
        return bool(await self.call("get_paused"))

    async def get_connected(self) -> bool:
        """True when all of PHD2's equipment is connected."""
        return bool(await self.call("get_connected"))

    async def get_pixel_scale(self) -> float | None:
        """Guide camera arcsec per pixel; ``None`` when PHD2 does not know it."""
        value = await self.call("get_pixel_scale")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise GuiderError(f"PHD2 get_pixel_scale answered {value!r}")
        return float(value)

    async def pause(self, *, full: bool = False) -> None:
        """Pause guide output (exposures keep looping); ``full=True`` stops exposures too."""
        await self.call("set_paused", [True, "full"] if full else [True])

    async def resume(self) -> None:
        """Resume guiding after :meth:`pause`."""
        await self.call("set_paused", [False])
        # No event says which state PHD2 returns to, so ask.
        await self.get_app_state()

    async def loop(self) -> None:
        """Start looping exposures, or stop guiding but keep looping."""
        await self.call("loop")

    async def stop_capture(self) -> None:
        """Stop looping and guiding."""
        await self.call("stop_capture")

    async def guide(
        self,
        settle: SettleParams | None = None,
        *,
        recalibrate: bool = False,
        roi: tuple[int, int, int, int] | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> SettleDoneEvent | None:
        """Start guiding (looping, star selection and calibration as needed) and settle.

        With ``wait`` (the default) returns the successful ``SettleDone`` event, after
        at most ``timeout`` seconds (default: the settle timeout plus ``settle_grace``);
        otherwise returns as soon as PHD2 accepts the request.

        Raises
        ------
        GuiderError
            PHD2 refused, did not settle (``SettleDone`` with an error), or timed out.
        """
        settle = settle or SettleParams()
        params: dict[str, Any] = {"settle": settle.to_params(), "recalibrate": recalibrate}
        if roi is not None:
            params["roi"] = list(roi)
        return await self._settling_call("guide", params, settle, wait=wait, timeout=timeout)

    async def dither(
        self,
        amount: float,
        *,
        ra_only: bool = False,
        settle: SettleParams | None = None,
        wait: bool = True,
        timeout: float | None = None,
    ) -> SettleDoneEvent | None:
        """Shift the lock position by up to ``amount`` pixels per axis and settle.

        Same waiting and errors as :meth:`guide`.
        """
        if not (math.isfinite(amount) and amount > 0):
            raise ValueError(f"dither amount must be > 0 px, got {amount}")
        settle = settle or SettleParams()
        params = {"amount": amount, "raOnly": ra_only, "settle": settle.to_params()}
        return await self._settling_call("dither", params, settle, wait=wait, timeout=timeout)

    async def _settling_call(
        self,
        method: str,
        params: dict[str, Any],
        settle: SettleParams,
        *,
        wait: bool,
        timeout: float | None,
    ) -> SettleDoneEvent | None:
        self._require_connected()
        waiter: asyncio.Future[SettleDoneEvent] | None = None
        if wait:
            if self._settle_waiter is not None and not self._settle_waiter.done():
                raise GuiderError(f"cannot start {method}: a guide or dither is still settling")
            # Armed before sending: PHD2 may report SettleDone before its answer.
            waiter = asyncio.get_running_loop().create_future()
            self._settle_waiter = waiter
        try:
            await self.call(method, params)
        except BaseException:
            if waiter is not None and self._settle_waiter is waiter:
                self._settle_waiter = None
            raise
        if waiter is None:
            return None
        limit = settle.timeout + self.settle_grace if timeout is None else timeout
        try:
            async with asyncio.timeout(limit):
                done = await waiter
        except TimeoutError as exc:
            if self._settle_waiter is waiter:
                self._settle_waiter = None
            raise GuiderError(f"PHD2 sent no SettleDone for {method!r} within {limit:g} s") from exc
        if not done.ok:
            raise GuiderError(f"PHD2 {method} did not settle: {done.error or 'unknown error'}")
        return done
