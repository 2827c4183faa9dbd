"""INDI client: hear about every exposure, fast, without ever falling behind.

>>> async with IndiClient(host="127.0.0.1", port=7624) as indi:   # doctest: +SKIP
...     async for blob in indi.blobs(device="CCD Simulator"):
...         print(blob.format, len(blob.data))

Two backends share one interface (:class:`IndiClient` is the native asyncio one;
``pyindi_backend.PyIndiClient`` wraps pyindi-client). :func:`open_client` picks one
from a profile's ``indi.backend``.
"""

from __future__ import annotations

from astroiqa_indi.errors import IndiError as _IndiError
from astroiqa_indi.indi._blob import Blob, BlobStream
from astroiqa_indi.indi._core import ClientCore, ClientState, ClientStats
from astroiqa_indi.indi._model import PropertyModel, PropertyVector
from astroiqa_indi.indi._settings import BACKENDS, IndiEndpoint, ReconnectPolicy
from astroiqa_indi.indi._types import (
    BlobElement,
    BlobMode,
    DefVector,
    DelProperty,
    Element,
    EncodedBlob,
    IndiEvent,
    LightElement,
    Message,
    NewVector,
    NumberElement,
    Permission,
    PingReply,
    PingRequest,
    PropertyState,
    SetBlobVector,
    SetVector,
    SwitchElement,
    SwitchRule,
    TextElement,
    VectorKind,
)
from astroiqa_indi.indi.client import IndiClient
from astroiqa_indi.indi.protocol import IndiParser

__all__ = [
    "BACKENDS",
    "Blob",
    "BlobElement",
    "BlobMode",
    "BlobStream",
    "ClientCore",
    "ClientState",
    "ClientStats",
    "DefVector",
    "DelProperty",
    "Element",
    "EncodedBlob",
    "IndiClient",
    "IndiEndpoint",
    "IndiEvent",
    "IndiParser",
    "LightElement",
    "Message",
    "NewVector",
    "NumberElement",
    "Permission",
    "PingReply",
    "PingRequest",
    "PropertyModel",
    "PropertyState",
    "PropertyVector",
    "ReconnectPolicy",
    "SetBlobVector",
    "SetVector",
    "SwitchElement",
    "SwitchRule",
    "TextElement",
    "VectorKind",
    "open_client",
]


def open_client(
    settings: IndiEndpoint,
    *,
    blob_queue_size: int = 4,
    connect_timeout: float = 5.0,
    fail_fast: bool = False,
    reconnect: ReconnectPolicy | None = None,
    ping_interval: float | None = None,
) -> ClientCore:
    """A client (not yet entered) for ``settings.backend``: ``"native"`` or ``"pyindi"``.

    ``settings`` is a profile's ``indi`` section, or anything with ``host``, ``port``,
    ``backend`` and ``local_socket``. Use it as
    ``async with open_client(profile.indi) as indi: ...``; both backends have the
    same methods (``wait_for``, ``set_number``, ``blobs``, ...).

    Raises
    ------
    ValueError
        For an unknown backend or invalid options.
    IndiError
        When the ``pyindi`` backend is selected but pyindi-client is not installed.
    """
    if settings.backend not in BACKENDS:
        raise ValueError(f"indi.backend must be one of {BACKENDS}, got {settings.backend!r}")
    if settings.local_socket is not None and settings.backend != "native":
        raise ValueError("indi.local_socket needs indi.backend 'native'")
    if settings.backend == "native":
        return IndiClient(
            settings.host,
            settings.port,
            local_socket=settings.local_socket,
            blob_queue_size=blob_queue_size,
            connect_timeout=connect_timeout,
            fail_fast=fail_fast,
            reconnect=reconnect,
            ping_interval=ping_interval,
        )
    if ping_interval is not None:
        raise ValueError("ping_interval needs indi.backend 'native'")
    try:
        from astroiqa_indi.indi.pyindi_backend import PyIndiClient
    except ImportError as exc:
        raise _IndiError(
            "indi.backend is 'pyindi' but pyindi-client is not installed; "
            "run: pip install --no-deps pyindi-client==2.3.0"
        ) from exc
    return PyIndiClient(
        settings.host,
        settings.port,
        blob_queue_size=blob_queue_size,
        connect_timeout=connect_timeout,
        fail_fast=fail_fast,
        reconnect=reconnect,
    )
