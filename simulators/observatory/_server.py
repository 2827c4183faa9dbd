"""The observatory as a standalone INDI server on TCP (what ``indiserver`` would be).

Each connection gets its own parser, :class:`~._routing.ClientFilter` and
:class:`~._outbox.Outbox`, so clients with different ``getProperties`` and
``enableBLOB`` choices (our agent, KStars) share one observatory.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from types import TracebackType
from typing import Self

from astroiqa_indi.errors import IndiProtocolError
from simulators.observatory import _xml
from simulators.observatory._observatory import Observatory
from simulators.observatory._outbox import Outbox, OutboxState
from simulators.observatory._routing import ClientFilter, Outgoing

__all__ = ["ObservatoryServer", "ServerState"]

_log = logging.getLogger(__name__)

# indiserver drops a client 128 MB behind (-m); frames here are far smaller.
DEFAULT_QUEUE_LIMIT = 128 * 1024 * 1024
READ_CHUNK = 256 * 1024
SHUTDOWN_GRACE_S = 2.0


class ServerState(enum.Enum):
    """Life cycle of an :class:`ObservatoryServer`."""

    NEW = "new"
    SERVING = "serving"
    CLOSED = "closed"


class _Client:
    """One connected client: its filter and outbox."""

    def __init__(self, writer: asyncio.StreamWriter, *, limit: int) -> None:
        peer = writer.get_extra_info("peername")
        self.name = f"client {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "client"
        self.filter = ClientFilter()
        self.outbox = Outbox(writer, name=self.name, limit=limit)

    def offer(self, message: Outgoing) -> None:
        if self.filter.wants(message):
            self.outbox.put(message.data)


class ObservatoryServer:
    """Serve an entered :class:`Observatory` to INDI clients over TCP.

    Parameters
    ----------
    observatory
        Already inside its ``async with``.
    host, port
        Where to listen; port 0 lets the kernel choose (see :attr:`port`).
    queue_limit
        Bytes a client may fall behind before it is disconnected.

    Examples
    --------
    >>> async with Observatory() as obs, ObservatoryServer(obs, port=7624) as server:
    ...     await server.serve_forever()  # doctest: +SKIP
    """

    def __init__(
        self,
        observatory: Observatory,
        *,
        host: str = "127.0.0.1",
        port: int = 7624,
        queue_limit: int = DEFAULT_QUEUE_LIMIT,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be 0..65535, got {port}")
        self._observatory = observatory
        self._host = host
        self._port = port
        self._queue_limit = queue_limit
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._group: asyncio.TaskGroup | None = None
        self._readers: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.Task[None]] = set()
        self._unsubscribe: object = None
        self.state = ServerState.NEW

    @property
    def port(self) -> int:
        """The port actually listened on."""
        if self._server is None:
            raise RuntimeError("the server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    @property
    def client_count(self) -> int:
        """Clients connected now."""
        return len(self._clients)

    async def __aenter__(self) -> Self:
        if self.state is not ServerState.NEW:
            raise RuntimeError(
                f"an ObservatoryServer can be entered once (it is {self.state.value})"
            )
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        try:
            self._server = await asyncio.start_server(
                self._on_connect, self._host, self._port, limit=READ_CHUNK
            )
        except OSError:
            await self._group.__aexit__(None, None, None)
            raise
        self._unsubscribe = self._observatory.subscribe(self._broadcast)
        self.state = ServerState.SERVING
        _log.info("INDI server listening on %s:%d", self._host, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.state = ServerState.CLOSED
        if callable(self._unsubscribe):
            self._unsubscribe()
        assert self._server is not None and self._group is not None
        self._server.close()
        for client in list(self._clients):
            client.outbox.close()
        for task in self._readers:
            task.cancel()
        if self._writers:
            # Let queued messages (a last BLOB) flush, but never wait on a stalled peer.
            _, late = await asyncio.wait(self._writers, timeout=SHUTDOWN_GRACE_S)
            for task in late:
                task.cancel()
        await self._group.__aexit__(exc_type, exc, tb)
        await self._server.wait_closed()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        if self.state is not ServerState.SERVING:
            raise RuntimeError("serve_forever() needs the server entered with 'async with'")
        assert self._server is not None
        await self._server.serve_forever()

    def _broadcast(self, message: Outgoing) -> None:
        for client in self._clients:
            client.offer(message)

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.state is not ServerState.SERVING or self._group is None:
            writer.close()
            return
        client = _Client(writer, limit=self._queue_limit)
        self._clients.add(client)
        _log.info("%s connected (%d now)", client.name, len(self._clients))
        for tasks, coro, role in (
            (self._writers, client.outbox.run(), "writer"),
            (self._readers, self._serve(client, reader), "reader"),
        ):
            task = self._group.create_task(coro, name=f"{client.name} {role}")
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    async def _serve(self, client: _Client, reader: asyncio.StreamReader) -> None:
        parser = _xml.ClientParser()
        try:
            while client.outbox.state is OutboxState.OPEN and (
                data := await reader.read(READ_CHUNK)
            ):
                for command in parser.feed(data):
                    self._dispatch(client, command)
        except IndiProtocolError as exc:
            _log.warning("%s: %s; closing", client.name, exc)
        except ConnectionError as exc:
            _log.info("%s: %s", client.name, exc)
        finally:
            self._clients.discard(client)
            client.outbox.close()
            _log.info("%s disconnected (%d left)", client.name, len(self._clients))

    def _dispatch(self, client: _Client, command: _xml.ClientCommand) -> None:
        match command:
            case _xml.GetProperties(device=device, name=name):
                client.filter.note_get_properties(command)
                for message in self._observatory.definitions(device, name):
                    client.offer(message)
            case _xml.EnableBlob():
                client.filter.note_enable_blob(command)
            case _xml.NewNumbers() | _xml.NewSwitches() | _xml.NewTexts() | _xml.NewBlobs():
                if not self._observatory.handle(command):
                    text = f"No device {command.device!r} here."
                    client.outbox.put(_xml.message(None, text))
            case _xml.PingRequest(uid=uid):
                client.outbox.put(_xml.ping_reply(uid))
            case _xml.Invalid(tag=tag, reason=reason, device=device):
                client.outbox.put(_xml.message(device, f"Bad <{tag}>: {reason}"))
            case _:
                pass
