"""indiserver's local socket: BLOBs as shared memory instead of base64 text.

Since INDI 1.9.7, drivers hand indiserver their frames as shared-memory file
descriptors. For a TCP client indiserver then base64-encodes every frame (a third more
bytes, on one core, before the first byte leaves); a client of its local socket
(``indiserver -u PATH``, default ``/tmp/indiserver``, an abstract Unix socket on Linux)
instead gets the same descriptor over ``SCM_RIGHTS`` and an empty
``<oneBLOB ... len="N" attached="true"/>`` in the XML. Nothing is encoded, copied
through the socket or parsed: the frame is read straight from the driver's memory.

asyncio's own transports read with ``recv()``, which makes the kernel discard passed
descriptors, so :class:`FdPassingTransport` reads with ``recvmsg()`` and hands
descriptors to its protocol ahead of the bytes they came with. Descriptors and
attached ``oneBLOB`` elements pair up in arrival order: indiserver sends a message's
descriptors with its first bytes.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import socket
import sys
from concurrent.futures import Executor
from typing import Any, Protocol

from astroiqa_indi.errors import IndiProtocolError

__all__ = [
    "FdPassingTransport",
    "FdQueue",
    "FdReceiver",
    "SharedMemorySink",
    "local_socket_address",
    "open_local_connection",
    "read_shared_memory",
]

log = logging.getLogger("astroiqa_indi.indi")

# indiserver attaches at most 16 descriptors to one message.
_MAX_FDS = 16
_READ_SIZE = 256 * 1024


class FdReceiver(Protocol):
    """What :class:`FdPassingTransport` needs from its protocol beyond asyncio's."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None: ...

    def fds_received(self, fds: list[int]) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> bool | None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


def local_socket_address(path: str) -> str:
    """Where indiserver's ``-u PATH`` listens: Linux uses the abstract namespace."""
    if not path:
        raise ValueError("the local socket path must not be empty")
    return "\0" + path if sys.platform.startswith("linux") else path


async def open_local_connection(protocol: FdReceiver, path: str) -> FdPassingTransport:
    """Connect to indiserver's local socket ``path`` and start reading into ``protocol``."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, local_socket_address(path))
    except BaseException:
        sock.close()
        raise
    return FdPassingTransport(loop, sock, protocol)


class FdPassingTransport(asyncio.Transport):
    """A Unix stream socket transport that also receives passed file descriptors."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: FdReceiver
    ) -> None:
        super().__init__()
        self._loop, self._sock, self._protocol = loop, sock, protocol
        self._fileno = sock.fileno()
        self._outgoing = bytearray()
        self._closing = False
        protocol.connection_made(self)
        loop.add_reader(self._fileno, self._read_ready)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "socket":
            return self._sock
        if name == "peername":
            return self._sock.getpeername() if not self._closing else default
        return default

    def is_closing(self) -> bool:
        return self._closing

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing:
            raise RuntimeError("write() on a closed local INDI connection")
        if not self._outgoing:
            try:
                sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._fail(exc)
                return
            data = memoryview(data)[sent:]
            if not data:
                return
            self._loop.add_writer(self._fileno, self._write_ready)
        self._outgoing += data

    def _write_ready(self) -> None:
        try:
            sent = self._sock.send(self._outgoing)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        del self._outgoing[:sent]
        if not self._outgoing:
            self._loop.remove_writer(self._fileno)

    def _read_ready(self) -> None:
        try:
            data, fds, flags, _ = socket.recv_fds(
                self._sock, _READ_SIZE, _MAX_FDS, socket.MSG_CMSG_CLOEXEC
            )
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._fail(exc)
            return
        if flags & socket.MSG_CTRUNC:
            # More descriptors than room: the kernel closed the rest, so the pairing
            # of attached BLOBs with descriptors is lost from here on.
            for fd in fds:
                os.close(fd)
            self._fail(IndiProtocolError("local INDI socket: passed descriptors truncated"))
            return
        if fds:
            self._protocol.fds_received(fds)
        if data:
            self._protocol.data_received(data)
            return
        self._protocol.eof_received()
        self._shutdown(None)

    def _fail(self, exc: Exception) -> None:
        log.debug("local INDI connection failed: %s", exc)
        self._shutdown(exc)

    def close(self) -> None:
        self._shutdown(None)

    def abort(self) -> None:
        self._shutdown(None)

    def _shutdown(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fileno)
        self._loop.remove_writer(self._fileno)
        self._outgoing.clear()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)


def read_shared_memory(fd: int, length: int) -> bytes:
    """The first ``length`` bytes of shared-memory file ``fd``, which is then closed.

    Raises
    ------
    IndiProtocolError
        When the file holds fewer than ``length`` bytes.
    """
    try:
        available = os.fstat(fd).st_size
        if available < length:
            raise IndiProtocolError(
                f"attached BLOB announces {length} bytes, its shared memory holds {available}"
            )
        parts, done = [], 0
        while done < length:
            part = os.pread(fd, length - done, done)
            if not part:
                raise IndiProtocolError(f"attached BLOB ended after {done} of {length} bytes")
            parts.append(part)
            done += len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


class SharedMemorySink:
    """Payload sink of an attached ``oneBLOB``: its bytes are the descriptor ``fd``.

    ``close()`` returns an :class:`asyncio.Future` of the bytes, read on ``executor``
    (a copy out of the driver's memory, a few milliseconds for a 50 MB frame). With
    ``wanted`` False, or on ``abort()``, the descriptor is only closed. ``fd`` None means
    no descriptor came with the element: ``close()`` then reports a protocol error.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
        fd: int | None,
        length: int,
        *,
        wanted: bool,
    ) -> None:
        self._loop, self._executor = loop, executor
        self._fd, self._length, self._wanted = fd, length, wanted
        self._text = False

    def write(self, chunk: bytes) -> None:
        if chunk.strip():
            self._text = True

    def close(self) -> object:
        fd, self._fd = self._fd, None
        if not self._wanted:
            if fd is not None:
                os.close(fd)
            return None
        if fd is None or self._text:
            if fd is not None:
                os.close(fd)
            future: asyncio.Future[bytes] = self._loop.create_future()
            problem = "came with text as well" if self._text else "came without shared memory"
            future.set_exception(IndiProtocolError(f"attached BLOB {problem}"))
            return future
        return self._loop.run_in_executor(self._executor, read_shared_memory, fd, self._length)

    def abort(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)


class FdQueue:
    """Descriptors received and not yet claimed by an attached ``oneBLOB``."""

    def __init__(self) -> None:
        self._fds: collections.deque[int] = collections.deque()

    def extend(self, fds: list[int]) -> None:
        self._fds.extend(fds)

    def pop(self) -> int | None:
        return self._fds.popleft() if self._fds else None

    def close(self) -> None:
        while self._fds:
            os.close(self._fds.popleft())
