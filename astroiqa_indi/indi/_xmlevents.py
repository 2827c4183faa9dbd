"""From one complete XML element to a typed INDI event (used by the stream parser)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping

from astroiqa_indi.errors import IndiProtocolError
from astroiqa_indi.indi._types import (
    BlobElement,
    DefVector,
    DelProperty,
    Element,
    IndiEvent,
    LightElement,
    Message,
    NewVector,
    NumberElement,
    Permission,
    PingReply,
    PingRequest,
    PropertyState,
    SetVector,
    SwitchElement,
    SwitchRule,
    TextElement,
    VectorKind,
)

__all__ = [
    "CONTEXT",
    "build_event",
    "float_attr",
    "int_attr",
    "parse_number",
    "required",
    "start_tag_attrs",
    "state_attr",
    "xml_element",
]

CONTEXT = 200  # bytes of offending input kept in an IndiProtocolError

_KINDS = {kind.value: kind for kind in VectorKind}
_VECTOR_TAG = re.compile(r"(def|set|new)(Text|Number|Switch|Light|BLOB)Vector")
_SEXAGESIMAL = re.compile(
    r"([+-]?)(\d+(?:\.\d*)?)(?:[:\s]+(\d+(?:\.\d*)?))?(?:[:\s]+(\d+(?:\.\d*)?))?"
)


def xml_element(raw: bytes) -> ET.Element:
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            # Old drivers send Latin-1 labels (a degree sign): keep the element.
            try:
                return ET.fromstring(raw.decode("latin-1").encode("utf-8"))
            except ET.ParseError:
                pass
        raise IndiProtocolError(f"malformed XML ({exc})", context=raw) from exc


def start_tag_attrs(raw: bytes) -> dict[str, str]:
    closed = raw if raw.endswith(b"/>") else raw[:-1] + b"/>"
    return dict(xml_element(closed).attrib)


def required(attrs: Mapping[str, str], key: str, raw: bytes) -> str:
    value = attrs.get(key, "")
    if not value:
        raise IndiProtocolError(f"missing attribute {key!r}", context=raw)
    return value


def int_attr(attrs: Mapping[str, str], key: str, raw: bytes, *, default: int | None) -> int | None:
    text = attrs.get(key)
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise IndiProtocolError(f"attribute {key}={text!r} is not an integer", context=raw) from exc
    if value < 0:
        raise IndiProtocolError(f"attribute {key}={text!r} is negative", context=raw)
    return value


def float_attr(attrs: Mapping[str, str], key: str, raw: bytes) -> float | None:
    text = attrs.get(key)
    if text is None or not text.strip():
        return None
    try:
        return float(text)
    except ValueError as exc:
        raise IndiProtocolError(f"attribute {key}={text!r} is not a number", context=raw) from exc


_STATES = {s.value.lower(): s for s in PropertyState}
_PERMS = {p.value: p for p in Permission}
_RULES = {r.value.lower(): r for r in SwitchRule}


def state_attr(attrs: Mapping[str, str], raw: bytes) -> PropertyState | None:
    text = attrs.get("state")
    if text is None:
        return None
    return _parse_state(text, raw)


def _parse_state(text: str, raw: bytes) -> PropertyState:
    try:
        return _STATES[text.strip().lower()]
    except KeyError:
        raise IndiProtocolError(f"unknown state {text!r}", context=raw) from None


def parse_number(text: str) -> float:
    """An INDI number: decimal, or sexagesimal ``D:M:S`` / ``D M S`` (as ``f_scansexa``).

    Raises
    ------
    ValueError
        When ``text`` is neither.
    """
    s = text.strip()
    try:
        return float(s)
    except ValueError:
        pass
    m = _SEXAGESIMAL.fullmatch(s)
    if m is None:
        raise ValueError(f"not an INDI number: {text!r}")
    sign, deg, minutes, seconds = m.groups()
    value = float(deg) + float(minutes or 0) / 60.0 + float(seconds or 0) / 3600.0
    return -value if sign == "-" else value


def _element(kind: VectorKind, child: ET.Element, *, definition: bool, raw: bytes) -> Element:
    attrs = child.attrib
    name = required(attrs, "name", raw)
    label = attrs.get("label", name) if definition else ""
    text = (child.text or "").strip()
    if kind is VectorKind.TEXT:
        return TextElement(name=name, value=text, label=label)
    if kind is VectorKind.NUMBER:
        try:
            value = parse_number(text)
            if not definition:
                return NumberElement(name=name, value=value)
            minimum = parse_number(attrs.get("min") or "0")
            maximum = parse_number(attrs.get("max") or "0")
            step = parse_number(attrs.get("step") or "0")
            return NumberElement(
                name=name,
                value=value,
                label=label,
                format=attrs.get("format", "%g"),
                minimum=minimum,
                maximum=maximum,
                step=step,
            )
        except ValueError as exc:
            raise IndiProtocolError(f"number {name!r}: {exc}", context=raw) from exc
    if kind is VectorKind.SWITCH:
        lowered = text.lower()
        if lowered not in ("on", "off"):
            raise IndiProtocolError(f"switch {name!r} is {text!r}, not On/Off", context=raw)
        return SwitchElement(name=name, value=lowered == "on", label=label)
    if kind is VectorKind.LIGHT:
        return LightElement(name=name, value=_parse_state(text, raw), label=label)
    return BlobElement(
        name=name,
        label=label,
        format=attrs.get("format", ""),
        size=int_attr(attrs, "size", raw, default=0) or 0,
    )


def build_event(element: ET.Element) -> IndiEvent | None:
    tag, attrs = element.tag, element.attrib
    raw_cache: list[bytes] = []

    def raw() -> bytes:
        if not raw_cache:
            raw_cache.append(ET.tostring(element)[:CONTEXT])
        return raw_cache[0]

    vector = _VECTOR_TAG.fullmatch(tag)
    if vector is not None:
        verb, kind = vector.group(1), _KINDS[vector.group(2)]
        device = required(attrs, "device", raw())
        name = required(attrs, "name", raw())
        child_tag = ("def" if verb == "def" else "one") + kind.value
        elements = tuple(
            _element(kind, child, definition=verb == "def", raw=raw())
            for child in element
            if child.tag == child_tag
        )
        if verb == "new":
            return NewVector(
                kind=kind,
                device=device,
                name=name,
                elements=elements,
                timestamp=attrs.get("timestamp", ""),
            )
        if verb == "set":
            return SetVector(
                kind=kind,
                device=device,
                name=name,
                elements=elements,
                state=state_attr(attrs, raw()),
                timeout=float_attr(attrs, "timeout", raw()),
                timestamp=attrs.get("timestamp", ""),
                message=attrs.get("message", ""),
            )
        # perm is required by the DTD but Lights have none and some drivers forget it.
        perm_text = attrs.get("perm") or "ro"
        perm = _PERMS.get(perm_text.strip().lower())
        if perm is None:
            raise IndiProtocolError(f"unknown perm {perm_text!r}", context=raw())
        rule = None
        if kind is VectorKind.SWITCH:
            rule_text = attrs.get("rule", "AnyOfMany")
            rule = _RULES.get(rule_text.strip().lower())
            if rule is None:
                raise IndiProtocolError(f"unknown switch rule {rule_text!r}", context=raw())
        return DefVector(
            kind=kind,
            device=device,
            name=name,
            elements=elements,
            label=attrs.get("label", name),
            group=attrs.get("group", ""),
            state=state_attr(attrs, raw()) or PropertyState.IDLE,
            perm=perm,
            timeout=float_attr(attrs, "timeout", raw()) or 0.0,
            timestamp=attrs.get("timestamp", ""),
            message=attrs.get("message", ""),
            rule=rule,
        )
    if tag == "delProperty":
        return DelProperty(
            device=required(attrs, "device", raw()),
            name=attrs.get("name") or None,
            timestamp=attrs.get("timestamp", ""),
            message=attrs.get("message", ""),
        )
    if tag == "message":
        return Message(
            message=attrs.get("message", ""),
            device=attrs.get("device") or None,
            timestamp=attrs.get("timestamp", ""),
        )
    if tag == "pingRequest":
        return PingRequest(uid=attrs.get("uid", ""))
    if tag == "pingReply":
        return PingReply(uid=attrs.get("uid", ""))
    return None
