"""Device side of the INDI XML protocol (version 1.7): pure encoders and a parser.

Encoders turn the vectors of ``_properties`` into ``def*``/``set*`` messages,
``message`` and ``delProperty``. :class:`ClientParser` is incremental: feed it bytes
as they arrive (split anywhere) and it returns the complete client commands
(``getProperties``, ``enableBLOB``, ``new*Vector``, ping). No I/O happens here.
"""

from __future__ import annotations

import base64
import binascii
import enum
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from astroiqa_indi.errors import IndiProtocolError
from simulators.observatory._properties import (
    BlobVector,
    LightVector,
    NumberVector,
    SwitchVector,
    TextVector,
    Vector,
)

__all__ = [
    "BlobPayload",
    "BlobPolicy",
    "ClientCommand",
    "ClientParser",
    "EnableBlob",
    "GetProperties",
    "Ignored",
    "Invalid",
    "NewBlobs",
    "NewNumbers",
    "NewSwitches",
    "NewTexts",
    "PingReply",
    "PingRequest",
    "def_vector",
    "del_property",
    "message",
    "parse_number",
    "ping_reply",
    "set_blob",
    "set_vector",
    "timestamp",
]

AnyVector = NumberVector | SwitchVector | TextVector | LightVector | BlobVector


# ----------------------------------------------------------------------------- encoders


def timestamp(now: datetime | None = None) -> str:
    """INDI timestamp: UTC, ISO 8601 without zone, millisecond precision."""
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def _attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _text(value: str) -> str:
    # Escaping CR keeps it through XML's line-end normalisation.
    return (
        value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")
    )


def _attrs(**attrs: str | None) -> str:
    return "".join(f' {key}="{_attr(value)}"' for key, value in attrs.items() if value is not None)


def _number(value: float) -> str:
    # Shortest round-tripping form; INDI readers use strtod, which takes it.
    return repr(float(value)) if math.isfinite(value) else "0"


def _header(
    tag: str, vector: Vector, *, ts: str | None, msg: str | None, define: bool, **extra: str | None
) -> str:
    common: dict[str, str | None] = {"device": vector.device, "name": vector.name}
    if define:
        common.update(label=vector.label, group=vector.group)
    common["state"] = str(vector.state)
    if not isinstance(vector, LightVector):
        if define:
            common["perm"] = str(vector.perm)
        common["timeout"] = _number(vector.timeout)
    common.update(extra)
    common["timestamp"] = ts or timestamp()
    common["message"] = msg
    return f"<{tag}{_attrs(**common)}>\n"


def _kind(vector: AnyVector) -> str:
    if isinstance(vector, NumberVector):
        return "Number"
    if isinstance(vector, SwitchVector):
        return "Switch"
    if isinstance(vector, TextVector):
        return "Text"
    if isinstance(vector, LightVector):
        return "Light"
    return "BLOB"


def def_vector(vector: AnyVector, *, message: str | None = None, ts: str | None = None) -> bytes:
    """``def<Kind>Vector`` defining ``vector`` with its current values."""
    kind = _kind(vector)
    extra: dict[str, str | None] = {}
    if isinstance(vector, SwitchVector):
        extra["rule"] = str(vector.rule)
    parts = [_header(f"def{kind}Vector", vector, ts=ts, msg=message, define=True, **extra)]
    if isinstance(vector, NumberVector):
        for n in vector:
            attrs = _attrs(
                name=n.name,
                label=n.label,
                format=n.format,
                min=_number(n.min),
                max=_number(n.max),
                step=_number(n.step),
            )
            parts.append(f"  <defNumber{attrs}>{_number(n.value)}</defNumber>\n")
    elif isinstance(vector, SwitchVector):
        for s in vector:
            parts.append(f"  <defSwitch{_attrs(name=s.name, label=s.label)}>")
            parts.append(f"{'On' if s.on else 'Off'}</defSwitch>\n")
    elif isinstance(vector, TextVector):
        for t in vector:
            parts.append(f"  <defText{_attrs(name=t.name, label=t.label)}>{_text(t.value)}")
            parts.append("</defText>\n")
    elif isinstance(vector, LightVector):
        for li in vector:
            parts.append(f"  <defLight{_attrs(name=li.name, label=li.label)}>{li.state}")
            parts.append("</defLight>\n")
    else:
        for b in vector:
            parts.append(f"  <defBLOB{_attrs(name=b.name, label=b.label)}/>\n")
    parts.append(f"</def{kind}Vector>\n")
    return "".join(parts).encode()


def set_vector(
    vector: NumberVector | SwitchVector | TextVector | LightVector,
    *,
    message: str | None = None,
    ts: str | None = None,
) -> bytes:
    """``set<Kind>Vector`` carrying every element's current value and the state."""
    kind = _kind(vector)
    parts = [_header(f"set{kind}Vector", vector, ts=ts, msg=message, define=False)]
    if isinstance(vector, NumberVector):
        parts.extend(
            f"  <oneNumber{_attrs(name=n.name)}>{_number(n.value)}</oneNumber>\n" for n in vector
        )
    elif isinstance(vector, SwitchVector):
        parts.extend(
            f"  <oneSwitch{_attrs(name=s.name)}>{'On' if s.on else 'Off'}</oneSwitch>\n"
            for s in vector
        )
    elif isinstance(vector, TextVector):
        parts.extend(
            f"  <oneText{_attrs(name=t.name)}>{_text(t.value)}</oneText>\n" for t in vector
        )
    else:
        parts.extend(f"  <oneLight{_attrs(name=li.name)}>{li.state}</oneLight>\n" for li in vector)
    parts.append(f"</set{kind}Vector>\n")
    return "".join(parts).encode()


@dataclass(frozen=True, slots=True)
class BlobPayload:
    """The bytes of one BLOB element and their INDI format (``.fits``, ``.fits.fz``)."""

    data: bytes
    format: str

    def __post_init__(self) -> None:
        if not self.format.startswith("."):
            raise ValueError(f"a BLOB format starts with a dot, got {self.format!r}")


def set_blob(
    vector: BlobVector,
    payloads: Mapping[str, BlobPayload],
    *,
    message: str | None = None,
    ts: str | None = None,
) -> bytes:
    """``setBLOBVector`` with each payload base64-encoded in 76-character lines.

    Line breaks keep every line short for readers that buffer per line; INDI
    decoders skip whitespace inside base64.
    """
    head = _header("setBLOBVector", vector, ts=ts, msg=message, define=False).encode()
    parts = [head]
    for name, payload in payloads.items():
        if name not in vector:
            raise ValueError(f"{vector.name}: unknown BLOB element {name!r}")
        encoded = base64.encodebytes(payload.data)
        attrs = _attrs(name=name, size=str(len(payload.data)), format=payload.format)
        parts.extend((f"  <oneBLOB{attrs}>\n".encode(), encoded, b"  </oneBLOB>\n"))
    parts.append(b"</setBLOBVector>\n")
    return b"".join(parts)


def message(device: str | None, text: str, *, ts: str | None = None) -> bytes:
    """A ``message`` from ``device`` (or from the server when ``None``)."""
    return (
        f"<message{_attrs(device=device, timestamp=ts or timestamp(), message=text)}/>\n".encode()
    )


def ping_reply(uid: str) -> bytes:
    """``pingReply`` answering a ``pingRequest`` with ``uid``."""
    return f"<pingReply{_attrs(uid=uid)}/>\n".encode()


def del_property(device: str, name: str | None = None, *, message: str | None = None) -> bytes:
    """``delProperty`` for one property, or the whole device when ``name`` is ``None``."""
    attrs = _attrs(device=device, name=name, timestamp=timestamp(), message=message)
    return f"<delProperty{attrs}/>\n".encode()


# ----------------------------------------------------------------------------- commands


class BlobPolicy(enum.StrEnum):
    """``enableBLOB`` values: never send BLOBs, send them too, or send only them."""

    NEVER = "Never"
    ALSO = "Also"
    ONLY = "Only"


@dataclass(frozen=True, slots=True)
class GetProperties:
    """``getProperties``: every device, one device, or one property."""

    device: str | None = None
    name: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class EnableBlob:
    """``enableBLOB``; ``device``/``name`` ``None`` widen the scope."""

    policy: BlobPolicy
    device: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class NewNumbers:
    """``newNumberVector``; values in the order sent."""

    device: str
    name: str
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class NewSwitches:
    """``newSwitchVector``; ``True`` means On."""

    device: str
    name: str
    values: tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class NewTexts:
    """``newTextVector``."""

    device: str
    name: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class NewBlobs:
    """``newBLOBVector``; payloads already base64-decoded."""

    device: str
    name: str
    values: tuple[tuple[str, BlobPayload], ...]


@dataclass(frozen=True, slots=True)
class PingRequest:
    """``pingRequest``: the peer wants a ``pingReply`` with the same uid."""

    uid: str


@dataclass(frozen=True, slots=True)
class PingReply:
    """``pingReply`` to a ping we (or indiserver) sent."""

    uid: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Well-formed XML that a device has no use for (``set*`` snoops, unknown tags)."""

    tag: str


@dataclass(frozen=True, slots=True)
class Invalid:
    """A well-formed element whose content is wrong; answer with a message, keep going."""

    tag: str
    reason: str
    device: str | None = None


ClientCommand = (
    GetProperties
    | EnableBlob
    | NewNumbers
    | NewSwitches
    | NewTexts
    | NewBlobs
    | PingRequest
    | PingReply
    | Ignored
    | Invalid
)

_SEXAGESIMAL = re.compile(
    r"^\s*([+-]?)(\d+(?:\.\d*)?)(?:[:\s]+(\d+(?:\.\d*)?))?(?:[:\s]+(\d+(?:\.\d*)?))?\s*$"
)


def parse_number(text: str) -> float:
    """A decimal or sexagesimal (``-12:30:36``, ``12 30``) INDI number.

    Raises
    ------
    ValueError
        When ``text`` is neither.
    """
    try:
        return float(text)
    except ValueError:
        pass
    match = _SEXAGESIMAL.match(text)
    if match is None:
        raise ValueError(f"not a number: {text!r}")
    sign, degrees, minutes, seconds = match.groups()
    value = float(degrees) + float(minutes or 0) / 60 + float(seconds or 0) / 3600
    return -value if sign == "-" else value


def _one_values(element: ET.Element, child_tag: str) -> Iterable[tuple[str, str]]:
    for child in element:
        if child.tag != child_tag:
            raise ValueError(f"<{element.tag}> may not contain <{child.tag}>")
        name = child.get("name")
        if not name:
            raise ValueError(f"<{child_tag}> without a name")
        yield name, child.text or ""


def _switch_value(text: str) -> bool:
    stripped = text.strip()
    if stripped not in ("On", "Off"):
        raise ValueError(f"switch value must be On or Off, got {stripped!r}")
    return stripped == "On"


def _blob_value(element: ET.Element, text: str) -> BlobPayload:
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"bad base64: {exc}") from exc
    return BlobPayload(data=data, format=element.get("format") or ".bin")


def _command(element: ET.Element) -> ClientCommand:
    tag = element.tag
    device, name = element.get("device") or None, element.get("name") or None
    if tag == "getProperties":
        return GetProperties(device=device, name=name, version=element.get("version"))
    if tag == "enableBLOB":
        text = (element.text or "").strip()
        try:
            policy = BlobPolicy(text)
        except ValueError:
            return Invalid(tag, f"enableBLOB must be Never, Also or Only, got {text!r}", device)
        return EnableBlob(policy=policy, device=device, name=name)
    if tag in ("pingRequest", "pingReply"):
        uid = element.get("uid") or ""
        return PingRequest(uid) if tag == "pingRequest" else PingReply(uid)
    if not tag.startswith("new"):
        return Ignored(tag)
    if device is None or name is None:
        return Invalid(tag, "new*Vector needs device and name", device)
    try:
        if tag == "newNumberVector":
            numbers = tuple((n, parse_number(v)) for n, v in _one_values(element, "oneNumber"))
            return NewNumbers(device, name, numbers)
        if tag == "newSwitchVector":
            switches = tuple((n, _switch_value(v)) for n, v in _one_values(element, "oneSwitch"))
            return NewSwitches(device, name, switches)
        if tag == "newTextVector":
            return NewTexts(device, name, tuple(_one_values(element, "oneText")))
        if tag == "newBLOBVector":
            blobs = tuple(
                (child.get("name") or "", _blob_value(child, child.text or "")) for child in element
            )
            return NewBlobs(device, name, blobs)
    except ValueError as exc:
        return Invalid(tag, f"{name}: {exc}", device)
    return Ignored(tag)


class ClientParser:
    """Incremental parser of the XML stream a client (or indiserver) sends a device.

    INDI is a sequence of top-level elements with no document root, so the parser
    is primed with a synthetic root and reports each child when its end tag arrives.

    Raises
    ------
    IndiProtocolError
        From :meth:`feed`, when the bytes are not well-formed XML. The stream cannot
        be resynchronised after that; close the connection.
    """

    def __init__(self) -> None:
        self._parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start", "end"))
        self._parser.feed(b"<indi>")
        self._depth = 0
        self._root: ET.Element | None = None

    def feed(self, data: bytes) -> list[ClientCommand]:
        """Parse ``data`` and return the commands it completed, in order."""
        try:
            self._parser.feed(data)
            events = list(self._parser.read_events())
        except ET.ParseError as exc:
            raise IndiProtocolError(f"malformed INDI XML: {exc}", context=data) from exc
        commands: list[ClientCommand] = []
        for item in events:
            event, element = cast(tuple[str, object], item)
            assert isinstance(element, ET.Element)  # start/end events carry elements
            if event == "start":
                if self._depth == 0:
                    self._root = element
                self._depth += 1
                continue
            self._depth -= 1
            if self._depth == 1:
                commands.append(_command(element))
                # Drop the finished element so a long session does not grow the tree.
                if self._root is not None:
                    self._root.remove(element)
        return commands
