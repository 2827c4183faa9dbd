"""Encoders for the few messages a client sends."""

from __future__ import annotations

import math
from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from astroiqa_indi.indi._types import BlobMode, VectorKind

__all__ = [
    "PROTOCOL_VERSION",
    "encode_enable_blob",
    "encode_get_properties",
    "encode_new_number",
    "encode_new_switch",
    "encode_new_text",
    "encode_ping_reply",
    "encode_ping_request",
]

PROTOCOL_VERSION = "1.7"


def _attrs(**attrs: str | None) -> str:
    return "".join(f" {key}={quoteattr(value)}" for key, value in attrs.items() if value)


def encode_get_properties(
    device: str | None = None, name: str | None = None, *, version: str = PROTOCOL_VERSION
) -> bytes:
    """``<getProperties>`` for everything, one device, or one property."""
    if name and not device:
        raise ValueError("a property name needs a device")
    return f"<getProperties{_attrs(version=version, device=device, name=name)}/>\n".encode()


def encode_enable_blob(mode: BlobMode, device: str | None = None, name: str | None = None) -> bytes:
    """``<enableBLOB>``: the BLOB policy of this connection (all devices when no device)."""
    if name and not device:
        raise ValueError("a property name needs a device")
    attrs = _attrs(device=device, name=name)
    return f"<enableBLOB{attrs}>{BlobMode(mode).value}</enableBLOB>\n".encode()


def _encode_new(kind: VectorKind, device: str, name: str, members: Mapping[str, str]) -> bytes:
    if not device or not name:
        raise ValueError("newVector needs a device and a property name")
    if not members:
        raise ValueError(f"newVector {device}.{name} needs at least one element")
    body = "".join(
        f"  <one{kind.value}{_attrs(name=member)}>{escape(text)}</one{kind.value}>\n"
        for member, text in members.items()
    )
    head = f"<new{kind.value}Vector{_attrs(device=device, name=name)}>\n"
    return f"{head}{body}</new{kind.value}Vector>\n".encode()


def encode_new_text(device: str, name: str, values: Mapping[str, str]) -> bytes:
    """``<newTextVector>`` with the given element values."""
    return _encode_new(VectorKind.TEXT, device, name, {k: str(v) for k, v in values.items()})


def encode_new_number(device: str, name: str, values: Mapping[str, float]) -> bytes:
    """``<newNumberVector>``; values are written with full float precision."""
    members: dict[str, str] = {}
    for member, value in values.items():
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{device}.{name}.{member}: {value!r} is not a finite number")
        members[member] = repr(number)
    return _encode_new(VectorKind.NUMBER, device, name, members)


def encode_new_switch(device: str, name: str, values: Mapping[str, bool]) -> bytes:
    """``<newSwitchVector>``: True is ``On``, False is ``Off``."""
    return _encode_new(
        VectorKind.SWITCH, device, name, {k: "On" if v else "Off" for k, v in values.items()}
    )


def encode_ping_request(uid: str) -> bytes:
    """``<pingRequest uid=…/>`` (INDI 2.x servers and indiserver 1.9 answer it)."""
    return f"<pingRequest uid={quoteattr(uid)}/>\n".encode()


def encode_ping_reply(uid: str) -> bytes:
    """``<pingReply uid=…/>``, the answer to a ``pingRequest``."""
    return f"<pingReply uid={quoteattr(uid)}/>\n".encode()
