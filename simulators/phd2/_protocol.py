"""PHD2 event-server wire format, server side: bytes in, requests out; values in, bytes out.

No sockets here. The framing and error codes follow PHD2's EventMonitoring wiki page
("Event Notification Message Format", "PHD Server method invocation") and the error
codes PHD2's ``event_server.cpp`` answers with (standard JSON-RPC 2.0 codes plus ``1``
for "PHD2 could not do it").
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_REQUEST_BYTES",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "PHD2_FAILURE",
    "RpcFailure",
    "RpcRequest",
    "RpcResult",
    "encode_event",
    "encode_line",
    "encode_response",
    "named_params",
    "parse_request_line",
]

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32600
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
PHD2_FAILURE: Final = 1
"""PHD2 answers ``code: 1`` when a valid request cannot be carried out."""

MAX_REQUEST_BYTES: Final = 1024
"""PHD2 reads requests into a 1 KiB line buffer and answers longer lines with "too big"."""


@dataclass(frozen=True, slots=True)
class RpcResult:
    """A successful method outcome: ``value`` becomes the ``result`` member."""

    value: Any


@dataclass(frozen=True, slots=True)
class RpcFailure:
    """A failed method outcome: becomes the ``error`` member ``{code, message}``."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """One JSON-RPC request as PHD2 reads it.

    ``params`` is a list (positional) or a dict (named), or ``None`` when omitted.
    ``has_id`` is False for notifications, which get no response.
    """

    method: str
    params: list[Any] | dict[str, Any] | None
    id: Any
    has_id: bool


def _dumps(obj: Any) -> bytes:
    # PHD2 writes compact JSON, one object per line, CR LF terminated.
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\r\n"


def encode_event(
    name: str,
    attributes: Mapping[str, Any],
    *,
    timestamp: float,
    host: str,
    inst: int = 1,
) -> bytes:
    """One event notification line with the common attributes first.

    Parameters
    ----------
    name
        The ``Event`` attribute, e.g. ``"GuideStep"``.
    attributes
        Event-specific attributes, in wire order.
    timestamp
        Seconds since the Unix epoch (PHD2 rounds to milliseconds).
    host, inst
        ``Host`` and 1-based ``Inst`` attributes.
    """
    obj: dict[str, Any] = {
        "Event": name,
        "Timestamp": round(timestamp, 3),
        "Host": host,
        "Inst": inst,
    }
    obj.update(attributes)
    return _dumps(obj)


def encode_response(request_id: Any, outcome: RpcResult | RpcFailure) -> dict[str, Any]:
    """The response object (not yet serialised: batches are serialised as one array)."""
    obj: dict[str, Any] = {"jsonrpc": "2.0"}
    if isinstance(outcome, RpcFailure):
        obj["error"] = {"code": outcome.code, "message": outcome.message}
    else:
        obj["result"] = outcome.value
    obj["id"] = request_id
    return obj


def encode_line(obj: dict[str, Any] | list[dict[str, Any]]) -> bytes:
    """Serialise a response object or batch array as one CR LF terminated line."""
    return _dumps(obj)


def parse_request_line(line: bytes) -> tuple[list[RpcRequest | dict[str, Any]], bool]:
    """Parse one request line.

    Returns
    -------
    items, is_batch
        Each item is an :class:`RpcRequest`, or an already-built error response object
        (an invalid request inside a batch, or the whole line when it is not JSON).
        ``is_batch`` is True for a JSON array, whose answers go back as one array.
    """
    if len(line) > MAX_REQUEST_BYTES:
        return [encode_response(None, RpcFailure(INTERNAL_ERROR, "too big"))], False
    try:
        root = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        failure = RpcFailure(PARSE_ERROR, f"invalid JSON request: {exc}")
        return [encode_response(None, failure)], False
    if isinstance(root, list):
        return [_one_request(item) for item in root], True
    return [_one_request(root)], False


def _one_request(obj: Any) -> RpcRequest | dict[str, Any]:
    if not isinstance(obj, dict) or not isinstance(obj.get("method"), str):
        failure = RpcFailure(INVALID_REQUEST, "invalid request - missing method")
        return encode_response(None, failure)
    params = obj.get("params")
    if params is not None and not isinstance(params, list | dict):
        failure = RpcFailure(INVALID_REQUEST, "invalid request - params must be an array or object")
        return encode_response(None, failure)
    return RpcRequest(method=obj["method"], params=params, id=obj.get("id"), has_id="id" in obj)


def named_params(params: list[Any] | dict[str, Any] | None, names: Sequence[str]) -> dict[str, Any]:
    """Map positional or named params onto ``names``, as PHD2's ``Params`` helper does.

    Positional params are matched to ``names`` in order (extra ones are ignored); named
    params are taken as they are.
    """
    if params is None:
        return {}
    if isinstance(params, list):
        return dict(zip(names, params, strict=False))
    return dict(params)
