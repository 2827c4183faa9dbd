"""Payload sinks: where the parser sends the base64 text of a streaming ``oneBLOB``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "BlobHeader",
    "CollectingSink",
    "DiscardingSink",
    "PayloadSink",
    "SinkFactory",
    "collecting_sink",
]


@dataclass(frozen=True, slots=True)
class BlobHeader:
    """What is known about a ``oneBLOB`` when its payload starts.

    ``attached`` is True when the bytes do not follow as base64 text but come as a
    shared-memory file descriptor beside the message (indiserver's local socket);
    ``length`` is then their count (the ``len`` attribute).
    """

    device: str
    vector: str
    name: str
    format: str
    size: int
    enclen: int | None
    attached: bool = False
    length: int | None = None


class PayloadSink(Protocol):
    """Receives the base64 text of one ``oneBLOB`` as it streams in."""

    def write(self, chunk: bytes) -> None:
        """Take the next piece of base64 text (line breaks included)."""

    def close(self) -> object:
        """The payload is complete; the return value becomes ``EncodedBlob.payload``."""

    def abort(self) -> None:
        """The payload will never complete (stream cut, malformed XML)."""


SinkFactory = Callable[[BlobHeader], PayloadSink]


class CollectingSink:
    """Default sink: keeps the chunks and joins them once, at the end."""

    __slots__ = ("_chunks",)

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def close(self) -> object:
        data = b"".join(self._chunks)
        self._chunks = []
        return data

    def abort(self) -> None:
        self._chunks = []


class DiscardingSink:
    """For payloads nobody wants (``newBLOBVector`` echoed from other clients)."""

    __slots__ = ()

    def write(self, chunk: bytes) -> None:
        pass

    def close(self) -> object:
        return b""

    def abort(self) -> None:
        pass


def collecting_sink(header: BlobHeader) -> PayloadSink:
    return CollectingSink()
