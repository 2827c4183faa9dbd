"""BLOBs: the value type, the base64 decoders and the bounded per-subscriber stream.

Large payloads are decoded on a worker thread *while they stream in*: the event loop
only hands each received chunk to a queue. The worker decodes chunk-sized pieces
(≈ 256 KiB): ``binascii.a2b_base64`` holds the GIL, so the loop gets it back between
pieces, where one call on 80 MB of text would stall the loop for a quarter second.
When the optional ``pybase64`` package is installed its SIMD decoder is used instead:
3-6x faster, and it releases the GIL while it works.
"""

from __future__ import annotations

import asyncio
import binascii
import builtins
import collections
import datetime as dt
import importlib
import logging
import queue
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from astroiqa_indi.errors import IndiProtocolError

__all__ = ["Blob", "BlobStream", "decode_base64"]

log = logging.getLogger("astroiqa_indi.indi")

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_NOT_B64 = bytes(sorted(set(range(256)) - set(_B64_ALPHABET)))
_B64_CODES = frozenset(_B64_ALPHABET)
_NEWLINE = 0x0A  # b'\n'


@dataclass(frozen=True, slots=True)
class Blob:
    """One decoded BLOB element, as a subscriber receives it.

    Parameters
    ----------
    device, property, element
        Where it came from (``"CCD Simulator"``, ``"CCD1"``, ``"CCD1"``).
    format
        INDI format string, passed through untouched: ``.fits``, ``.fits.fz``,
        ``.fits.z`` (zlib, *not* decompressed here), ``.jpg``, ...
    data
        The decoded payload bytes.
    size
        Size announced by the server, in bytes: the *uncompressed* size, so it equals
        ``len(data)`` only for uncompressed formats.
    received_at
        UTC time the last byte of the BLOB arrived.
    timestamp
        The server's timestamp attribute (ISO 8601 text, may be empty).
    """

    device: str
    property: str
    element: str
    format: str
    data: bytes = field(repr=False)
    size: int
    received_at: dt.datetime
    timestamp: str = ""

    def __post_init__(self) -> None:
        if not self.device or not self.property or not self.element:
            raise ValueError("Blob needs a device, a property and an element name")
        if self.size < 0:
            raise ValueError(f"Blob size must be >= 0, got {self.size}")
        if self.received_at.tzinfo is None:
            raise ValueError("Blob.received_at must be timezone-aware")

    # ``property`` is a field name here, so the decorator is spelled out.
    @builtins.property
    def compressed(self) -> bool:
        """True for formats INDI compresses (``.z`` zlib, ``.fz`` fpack)."""
        return self.format.endswith((".z", ".fz"))


Decoder = Callable[[bytes | memoryview], bytes]


def stdlib_decoder(text: bytes | memoryview) -> bytes:
    """``binascii.a2b_base64``: non-alphabet characters (line breaks) are skipped."""
    return binascii.a2b_base64(text)


def _load_simd_decoder() -> Decoder | None:
    try:
        module = importlib.import_module("pybase64")
    except ImportError:  # optional accelerator; the standard library is the fallback
        return None
    b64decode = module.b64decode

    def simd_decoder(text: bytes | memoryview) -> bytes:
        """pybase64's decoder, with the same semantics as :func:`stdlib_decoder`."""
        return bytes(b64decode(text, validate=False))

    return simd_decoder


SIMD_DECODER: Decoder | None = _load_simd_decoder()
"""pybase64's decoder, or None when pybase64 is not installed."""

DECODER: Decoder = SIMD_DECODER or stdlib_decoder
"""The base64 decoder in use."""


def decode_base64(text: bytes) -> bytes:
    """Decode INDI base64 text (line breaks allowed) in one call.

    Raises
    ------
    IndiProtocolError
        When ``text`` is not valid base64 (e.g. truncated).
    """
    try:
        return DECODER(text)
    except binascii.Error as exc:
        raise IndiProtocolError(f"bad base64 payload ({exc})", context=text[-64:]) from exc


class _Aborted(Exception):
    """The payload was cut off; the worker stops."""


_END = b""  # sentinel for "payload complete" (real chunks are never empty)
_ABORT = None


class _PieceDecoder:
    """Decodes base64 text fed in arbitrary pieces; runs on the worker thread.

    The fast path never copies a piece: the few characters that complete the group
    left over from the previous piece are decoded on their own, the aligned middle is
    decoded through a memoryview, and at most three characters are carried over.
    """

    def __init__(self, decode: Decoder | None = None) -> None:
        self._decode = decode or DECODER
        self._out: list[bytes] = []
        self._carry = b""  # < 4 base64 characters, no whitespace
        self._exact = False  # set once text other than "\n" breaks the fast alignment

    def feed(self, chunk: bytes) -> None:
        if self._exact:
            self._feed_exact(chunk)
            return
        start, head = 0, b""
        if self._carry:
            # Complete the carried group with the next characters of this piece.
            need, grown = 4 - len(self._carry), bytearray(self._carry)
            while need and start < len(chunk):
                if chunk[start] in _B64_CODES:
                    grown.append(chunk[start])
                    need -= 1
                start += 1
            if need:
                self._carry = bytes(grown)
                return
            head = bytes(grown)
        extra = (len(chunk) - start - chunk.count(b"\n", start)) % 4
        cut = len(chunk)
        while extra:
            cut -= 1
            if chunk[cut] != _NEWLINE:
                extra -= 1
        try:
            decoded_head = self._decode(head) if head else b""
            body = self._decode(memoryview(chunk)[start:cut]) if cut > start else b""
        except binascii.Error:
            # Something other than "\n" (CR, spaces) skewed the count: clean and retry.
            self._exact = True
            self._feed_exact(chunk)
            return
        if decoded_head:
            self._out.append(decoded_head)
        if body:
            self._out.append(body)
        # Every decoded segment held a multiple of 4 characters (the decoder raises
        # otherwise), so what is left is exactly the next group's start.
        self._carry = chunk[cut:].translate(None, _NOT_B64)

    def _feed_exact(self, chunk: bytes) -> None:
        piece = self._carry + chunk.translate(None, _NOT_B64)
        cut = len(piece) - len(piece) % 4
        if cut:
            self._out.append(self._decode(memoryview(piece)[:cut]))
        self._carry = piece[cut:]

    def finish(self) -> bytes:
        tail = self._carry.translate(None, _NOT_B64)
        if tail:
            self._out.append(self._decode(tail))
        out, self._out = self._out, []
        return b"".join(out)


def _decode_worker(chunks: queue.SimpleQueue[bytes | None]) -> bytes:
    decoder = _PieceDecoder()
    failure: binascii.Error | None = None
    while True:
        chunk = chunks.get()
        if chunk is _ABORT:
            raise _Aborted
        if chunk == _END:
            break
        if failure is None:
            try:
                decoder.feed(chunk)
            except binascii.Error as exc:
                failure = exc  # keep draining until the payload ends, then report
    try:
        if failure is None:
            return decoder.finish()
    except binascii.Error as exc:
        failure = exc
    raise IndiProtocolError(f"bad base64 payload ({failure})") from failure


class StreamingDecodeSink:
    """Payload sink: decodes on ``executor`` while the base64 text is still arriving.

    ``close()`` returns an :class:`asyncio.Future` of the decoded bytes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        self._chunks: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._future = loop.run_in_executor(executor, _decode_worker, self._chunks)
        self._future.add_done_callback(_consume_abort)

    def write(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def close(self) -> object:
        self._chunks.put(_END)
        return self._future

    def abort(self) -> None:
        self._chunks.put(_ABORT)


class InlineDecodeSink:
    """Payload sink for small BLOBs: decode on the loop at the end (it takes < 1 ms).

    If the payload turns out large after all (no or wrong ``size`` attribute), the
    decode goes to ``executor`` instead.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, executor: Executor, limit: int) -> None:
        self._loop, self._executor, self._limit = loop, executor, limit
        self._chunks: list[bytes] = []
        self._length = 0

    def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._length += len(chunk)

    def close(self) -> object:
        text = b"".join(self._chunks)
        self._chunks = []
        if self._length > self._limit:
            return self._loop.run_in_executor(self._executor, decode_base64, text)
        future: asyncio.Future[bytes] = self._loop.create_future()
        try:
            future.set_result(decode_base64(text))
        except IndiProtocolError as exc:
            future.set_exception(exc)
        return future

    def abort(self) -> None:
        self._chunks = []


class DiscardSink:
    """Payload sink for BLOBs no subscriber wants: nothing is kept or decoded."""

    def write(self, chunk: bytes) -> None:
        pass

    def close(self) -> object:
        return None

    def abort(self) -> None:
        pass


def _consume_abort(future: asyncio.Future[bytes]) -> None:
    # An aborted decode is expected (stream cut): retrieve it so asyncio stays quiet.
    if not future.cancelled():
        future.exception()


class BlobStream:
    """Async iterator over decoded BLOBs for one subscriber, with a bounded queue.

    The queue never blocks the client: when it is full the *oldest* BLOB is dropped
    and counted (``dropped``), so a slow consumer always gets the freshest frames.
    Created by ``client.blobs(...)``; it starts collecting at once, before the first
    ``async for`` step. Iteration ends when the client closes (or raises the client's
    error when it failed fast).
    """

    def __init__(
        self,
        *,
        device: str | None,
        prop: str | None,
        maxsize: int,
        on_drop: Callable[[BlobStream, Blob], None],
        on_close: Callable[[BlobStream], None],
    ) -> None:
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.device = device
        self.property = prop
        self.maxsize = maxsize
        self.dropped = 0
        self._items: collections.deque[Blob] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._end: BaseException | None = None
        self._ended = False
        self._on_drop = on_drop
        self._on_close = on_close

    def wants(self, device: str, prop: str) -> bool:
        """Whether a BLOB of ``device.prop`` belongs in this stream."""
        return (self.device is None or self.device == device) and (
            self.property is None or self.property == prop
        )

    @property
    def pending(self) -> int:
        """BLOBs queued and not yet consumed."""
        return len(self._items)

    def put(self, blob: Blob) -> None:
        """Queue one BLOB, dropping the oldest if full (never blocks)."""
        if self._ended:
            return
        if len(self._items) >= self.maxsize:
            old = self._items.popleft()
            self.dropped += 1
            self._on_drop(self, old)
        self._items.append(blob)
        self._wake()

    def finish(self, error: BaseException | None = None) -> None:
        """No more BLOBs: iteration stops after the queue drains, or raises ``error``."""
        if self._ended:
            return
        self._ended = True
        self._end = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Blob:
        while not self._items:
            if self._ended:
                if self._end is not None:
                    raise self._end
                raise StopAsyncIteration
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()

    async def aclose(self) -> None:
        """Unsubscribe: stop collecting and end the iteration."""
        self._on_close(self)
        self._items.clear()
        self.finish()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return (
            f"BlobStream(device={self.device!r}, property={self.property!r}, "
            f"pending={self.pending}, dropped={self.dropped})"
        )
