"""Native asyncio INDI client.

Two connections to the server, over TCP or over indiserver's local socket:

* **control**: ``getProperties``; property definitions and updates; our ``newXXXVector``.
  BLOBs stay ``Never`` here, so a 60 MB image never sits in front of a state change.
* **BLOB**: ``enableBLOB Only`` for every device, so it carries nothing but BLOBs,
  including those triggered by other clients (Ekos, N.I.N.A.): passive mode is free.

Both are :class:`asyncio.Protocol` objects that never pause reading: indiserver drops a
client that falls 128 MB behind, so back-pressure is handled *after* the socket, in the
bounded per-subscriber queues of :class:`~astroiqa_indi.indi._blob.BlobStream`.

On the same machine as indiserver, ``local_socket`` connects both through its local
socket instead, where frames arrive as shared memory rather than base64 text
(:mod:`astroiqa_indi.indi._local`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import random
import socket
import time
from collections import deque
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from astroiqa_indi.errors import IndiConnectionError, IndiProtocolError, IndiTimeoutError
from astroiqa_indi.indi._blob import (
    Blob,
    DiscardSink,
    InlineDecodeSink,
    StreamingDecodeSink,
)
from astroiqa_indi.indi._core import ClientCore
from astroiqa_indi.indi._local import FdQueue, SharedMemorySink, open_local_connection
from astroiqa_indi.indi._settings import ReconnectPolicy
from astroiqa_indi.indi._types import (
    BlobMode,
    DefVector,
    EncodedBlob,
    IndiEvent,
    PingReply,
    PingRequest,
    SetBlobVector,
    VectorKind,
)
from astroiqa_indi.indi.protocol import (
    BlobHeader,
    IndiParser,
    PayloadSink,
    encode_enable_blob,
    encode_get_properties,
    encode_new_number,
    encode_new_switch,
    encode_new_text,
    encode_ping_reply,
    encode_ping_request,
)

__all__ = ["IndiClient"]

log = logging.getLogger("astroiqa_indi.indi")


class _Connection(asyncio.Protocol):
    """One connection: feeds its parser and hands events to the client."""

    def __init__(self, name: str, client: IndiClient, lost: asyncio.Future[None]) -> None:
        self.name = name
        self.parser = IndiParser(sink_factory=self._make_sink)
        self._client = client
        self._lost = lost
        self._transport: asyncio.Transport | None = None
        self._fds = FdQueue()

    def _make_sink(self, header: BlobHeader) -> PayloadSink:
        if header.attached:
            return self._client._make_attached_sink(header, self._fds.pop())
        return self._client._make_sink(header)

    def fds_received(self, fds: list[int]) -> None:
        self._fds.extend(fds)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        self._drain()

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.parser.eof()
        self._drain()
        self._fds.close()
        if not self._lost.done():
            self._lost.set_result(None)
        log.info("INDI %s connection closed%s", self.name, f": {exc}" if exc else "")

    def _drain(self) -> None:
        parser, client = self.parser, self._client
        while True:
            try:
                event = parser.next_event()
            except IndiProtocolError as exc:
                client._on_protocol_error(self, exc)
                continue
            if event is None:
                return
            if isinstance(event, PingRequest):
                self.write(encode_ping_reply(event.uid))
                continue
            client._on_event(self, event)

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        if not self.open:
            raise IndiConnectionError(f"INDI {self.name} connection is not open")
        assert self._transport is not None
        self._transport.write(data)

    def close(self) -> None:
        """Close now; a BLOB in flight is abandoned (its decoder is released)."""
        self.parser.eof()
        self._drain()
        self._fds.close()
        if self._transport is not None:
            self._transport.close()


class IndiClient(ClientCore):
    """``async with IndiClient(host=..., port=...) as indi:`` — a live INDI session.

    Parameters
    ----------
    host, port
        The INDI server.
    local_socket
        Path of indiserver's local socket (its ``-u`` option; ``/tmp/indiserver`` by
        default) to connect through instead of ``host``/``port``. Only for a server on
        this machine; frames then arrive as shared memory, not base64 text.
    blobs
        Open the second, BLOB-only connection (default True).
    blob_queue_size
        BLOBs each subscriber may have waiting before the oldest is dropped.
    connect_timeout
        Seconds allowed per connection attempt.
    fail_fast
        Raise :class:`IndiConnectionError` (from ``async with``, pending waits and BLOB
        iterators) instead of reconnecting when the server is unreachable or goes away.
    reconnect
        Backoff policy between reconnection attempts.
    ping_interval
        Seconds between keep-alive pings (a silent, half-open connection is then
        detected); None disables them.
    inline_decode_limit
        BLOBs announced at or below this size (bytes) are decoded on the loop.
    rng
        Random source for the backoff jitter (seed it in tests).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7624,
        *,
        local_socket: str | None = None,
        blobs: bool = True,
        blob_queue_size: int = 4,
        connect_timeout: float = 5.0,
        fail_fast: bool = False,
        reconnect: ReconnectPolicy | None = None,
        ping_interval: float | None = None,
        inline_decode_limit: int = 256 * 1024,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            blob_queue_size=blob_queue_size,
            connect_timeout=connect_timeout,
            fail_fast=fail_fast,
            reconnect=reconnect,
            ping_interval=ping_interval,
            rng=rng,
        )
        if local_socket is not None and not local_socket:
            raise ValueError("local_socket must be a path or None")
        self.local_socket = local_socket
        if local_socket is not None:
            self._address = f"local socket {local_socket}"
        self._use_blob_connection = blobs
        self._inline_limit = inline_decode_limit
        self._control: _Connection | None = None
        self._blob: _Connection | None = None
        self._blob_enabled: set[str] = set()
        self._pending: deque[tuple[SetBlobVector, EncodedBlob, asyncio.Future[bytes], dt.datetime]]
        self._pending = deque()
        self._pending_ready = asyncio.Event()
        self._pings: dict[str, asyncio.Future[None]] = {}
        self._ping_ids = itertools.count(1)
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ------------------------------------------------------------------ life cycle

    def _background(self) -> list[tuple[str, Coroutine[Any, Any, None]]]:
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="indi-base64")
        return [("indi-blob-delivery", self._deliver_blobs())]

    def _release(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        for future in self._pings.values():
            future.cancel()

    def _close_connections(self) -> None:
        for conn in (self._control, self._blob):
            if conn is not None:
                conn.close()
        self._control = self._blob = None

    async def _connect(self, lost: asyncio.Future[None]) -> None:
        self._model.clear()
        self._blob_enabled.clear()
        control = await self._open("control", lost)
        self._control = control
        if self._use_blob_connection:
            blob = await self._open("BLOB", lost)
            self._blob = blob
            # BLOB policy first, so the definitions answering getProperties are filtered.
            blob.write(encode_enable_blob(BlobMode.ONLY) + encode_get_properties())
        control.write(encode_get_properties())
        log.info("connected to INDI server %s", self._address)

    async def _open(self, name: str, lost: asyncio.Future[None]) -> _Connection:
        connection = _Connection(name, self, lost)
        if self.local_socket is not None:
            await open_local_connection(connection, self.local_socket)
        else:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_connection(lambda: connection, self.host, self.port)
            _keep_alive(transport.get_extra_info("socket"))
        return connection

    async def _watch(self, lost: asyncio.Future[None]) -> None:
        """Return when the connection is lost (or stops answering pings)."""
        if self._ping_interval is None:
            await lost
            return
        while not lost.done():
            try:
                async with asyncio.timeout(self._ping_interval):
                    await asyncio.shield(lost)
            except TimeoutError:
                try:
                    await self.ping(timeout=self._ping_interval)
                except (IndiTimeoutError, IndiConnectionError) as exc:
                    log.warning("INDI server stopped answering pings: %s", exc)
                    return

    async def ping(self, *, timeout: float = 5.0) -> float:
        """Round trip of a ``pingRequest`` on the control connection, in seconds.

        Raises
        ------
        IndiTimeoutError
            When no ``pingReply`` arrives in ``timeout`` seconds.
        """
        self._check_usable()
        uid = f"astroiqa-{next(self._ping_ids)}"
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pings[uid] = future
        start = time.perf_counter()
        try:
            self._write_control(encode_ping_request(uid))
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError as exc:
            raise IndiTimeoutError(f"no pingReply in {timeout:g} s") from exc
        finally:
            self._pings.pop(uid, None)
        return time.perf_counter() - start

    # ------------------------------------------------------------------- commands

    def _write_control(self, data: bytes) -> None:
        if self._control is None or not self._control.open:
            raise IndiConnectionError(
                f"not connected to INDI server {self._address} ({self._state.value})"
            )
        self._control.write(data)

    def _send_new(
        self,
        kind: VectorKind,
        device: str,
        name: str,
        values: dict[str, float] | dict[str, bool] | dict[str, str],
    ) -> None:
        if kind is VectorKind.NUMBER:
            data = encode_new_number(device, name, values)  # type: ignore[arg-type]
        elif kind is VectorKind.SWITCH:
            data = encode_new_switch(device, name, values)  # type: ignore[arg-type]
        else:
            data = encode_new_text(device, name, values)  # type: ignore[arg-type]
        self._write_control(data)

    # ------------------------------------------------------------------ incoming

    def _on_protocol_error(self, conn: _Connection, exc: IndiProtocolError) -> None:
        self._count("protocol_errors")
        log.warning("INDI %s connection: skipped malformed input: %s", conn.name, exc)

    def _on_event(self, conn: _Connection, event: IndiEvent) -> None:
        if isinstance(event, PingReply):
            future = self._pings.get(event.uid)
            if future is not None and not future.done():
                future.set_result(None)
            return
        self._handle_event(event)
        if isinstance(event, SetBlobVector):
            self._queue_blobs(event)
        elif (
            isinstance(event, DefVector)
            and event.kind is VectorKind.BLOB
            and event.device not in self._blob_enabled
            and self._blob is not None
            and self._blob.open
        ):
            # Device-less enableBLOB already covers it on indiserver; a per-device one
            # also satisfies servers that follow the DTD (device is #REQUIRED) strictly.
            self._blob_enabled.add(event.device)
            self._blob.write(encode_enable_blob(BlobMode.ONLY, event.device))

    def _make_sink(self, header: BlobHeader) -> PayloadSink:
        if not self._wants_blob(header.device, header.vector):
            self._count("blobs_ignored")
            return DiscardSink()
        assert self._loop is not None and self._executor is not None
        announced = header.enclen if header.enclen is not None else header.size * 4 // 3
        if 0 < announced <= self._inline_limit:
            return InlineDecodeSink(self._loop, self._executor, self._inline_limit)
        return StreamingDecodeSink(self._loop, self._executor)

    def _make_attached_sink(self, header: BlobHeader, fd: int | None) -> PayloadSink:
        wanted = self._wants_blob(header.device, header.vector)
        if not wanted:
            self._count("blobs_ignored")
        assert self._loop is not None and self._executor is not None
        length = header.length if header.length is not None else header.size
        return SharedMemorySink(self._loop, self._executor, fd, length, wanted=wanted)

    def _queue_blobs(self, event: SetBlobVector) -> None:
        received_at = dt.datetime.now(dt.UTC)
        for encoded in event.blobs:
            future = encoded.payload
            if not isinstance(future, asyncio.Future):
                continue  # nobody subscribed: not decoded
            if not self._pending and future.done() and future.exception() is None:
                # Small BLOB decoded inline and nothing ahead of it: no need to wait.
                self._deliver_blob(self._make_blob(event, encoded, future.result(), received_at))
                continue
            self._pending.append((event, encoded, future, received_at))
        # Decoding keeps up with any network; this bound only matters on a starved
        # machine, and then fresh frames beat old ones.
        limit = 4 * self._blob_queue_size + 8
        while len(self._pending) > limit:
            old_event, old, _, _ = self._pending.popleft()
            self._count("blobs_dropped")
            log.warning("BLOB decode backlog: dropped %s.%s", old_event.device, old.name)
        if self._pending:
            self._pending_ready.set()

    @staticmethod
    def _make_blob(
        event: SetBlobVector, encoded: EncodedBlob, data: bytes, received_at: dt.datetime
    ) -> Blob:
        return Blob(
            device=event.device,
            property=event.name,
            element=encoded.name,
            format=encoded.format,
            data=data,
            size=encoded.size,
            received_at=received_at,
            timestamp=event.timestamp,
        )

    async def _deliver_blobs(self) -> None:
        """Await decodes in arrival order and hand the BLOBs to the streams."""
        while True:
            await self._pending_ready.wait()
            while self._pending:
                event, encoded, future, received_at = self._pending.popleft()
                try:
                    data = await future
                except IndiProtocolError as exc:
                    self._on_protocol_error_blob(event, exc)
                    continue
                self._deliver_blob(self._make_blob(event, encoded, data, received_at))
            self._pending_ready.clear()

    def _on_protocol_error_blob(self, event: SetBlobVector, exc: IndiProtocolError) -> None:
        self._count("protocol_errors")
        log.warning("INDI BLOB %s.%s not decodable: %s", event.device, event.name, exc)


# TCP keep-alive: ~60 s idle, then 3 probes 10 s apart.
_KEEPALIVE: Final = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))


def _keep_alive(sock: socket.socket | None) -> None:
    """Have the kernel probe an idle connection, so that a server that vanished (the
    observatory computer lost power, its Wi-Fi dropped) is noticed within about 90 s
    and the client reconnects. Any server version: no protocol support is needed,
    unlike ``pingRequest`` (INDI 2.x; ``ping_interval``)."""
    if sock is None:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _KEEPALIVE:
        if hasattr(socket, name):  # Linux; macOS has TCP_KEEPALIVE for the first
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
