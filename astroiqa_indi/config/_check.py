"""Type and range checks shared by the profile dataclasses.

The dataclasses call these from ``__post_init__``, so a settings object built in
code is checked exactly like one read from YAML. Errors carry the dotted key
only; the loader, which alone knows where each key sits in the file, adds the
file name and line (see ``_profile.build_profile``).
"""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Iterable
from typing import Any, Literal, Union, get_args, get_origin

from astroiqa_indi.errors import ProfileError

__all__ = [
    "check_range",
    "check_unique",
    "describe",
    "expected",
    "key_of",
    "validate_fields",
]

_REPR = reprlib.Repr()
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlist = 4
_REPR.maxdict = 4
_REPR.maxlevel = 2

# What YAML calls the Python types a profile can hold: messages speak YAML, not Python.
_YAML_TYPE_NAMES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    tuple: "list",
    dict: "mapping",
}


def key_of(obj: object, name: str) -> str:
    """Dotted key of field ``name`` of a settings object (its class names its section)."""
    section = getattr(type(obj), "_SECTION", "")
    return f"{section}.{name}" if section else name


def describe(value: object) -> str:
    """Short, YAML-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean true" if value else "boolean false"
    kind = _YAML_TYPE_NAMES.get(type(value), type(value).__name__)
    return f"{kind} {_REPR.repr(value)}"


def expected(tp: Any) -> str:
    """Describe what a field annotation accepts, in words for YAML users."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        inner = [arg for arg in get_args(tp) if arg is not type(None)]
        return " or ".join(expected(arg) for arg in inner) + " or null"
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(tp))
    if origin is tuple:
        return f"a list whose items are each {expected(get_args(tp)[0])}"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a finite number"
    if tp is str:
        return "a non-empty string"
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return f"a {tp.__name__}"
    return str(tp)  # pragma: no cover - every schema type is handled above


def _mismatch(tp: Any, value: object, key: str) -> ProfileError:
    return ProfileError(f"expected {expected(tp)}, got {describe(value)}", key=key)


def _coerce(value: object, tp: Any, key: str) -> object:
    """Check ``value`` against annotation ``tp``; return it, normalised."""
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        if value is None:
            return None
        inner = [arg for arg in get_args(tp) if arg is not type(None)]
        # The schema only uses ``X | None``; anything wider would need a real union check.
        assert len(inner) == 1, tp
        if _accepts(value, inner[0]):
            return _coerce(value, inner[0], key)
        raise _mismatch(tp, value, key)
    if origin is Literal:
        if isinstance(value, str) and value in get_args(tp):
            return value
        raise _mismatch(tp, value, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _mismatch(tp, value, key)
        item_tp = get_args(tp)[0]
        return tuple(_coerce(item, item_tp, f"{key}[{i}]") for i, item in enumerate(value))
    if tp is float:
        # Booleans are ints in Python but never numbers in a profile; ints are fine for floats.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _mismatch(tp, value, key)
        try:
            number = float(value)
        except OverflowError:
            raise _mismatch(tp, value, key) from None
        if not math.isfinite(number):
            raise _mismatch(tp, value, key)
        return number
    if _accepts(value, tp):
        return value
    raise _mismatch(tp, value, key)


def _accepts(value: object, tp: Any) -> bool:
    """Shallow type test used to pick the branch of an optional (``X | None``)."""
    origin = get_origin(tp)
    if origin is Literal:
        return isinstance(value, str)
    if origin is tuple:
        return isinstance(value, list | tuple)
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str) and bool(value.strip())
    return isinstance(tp, type) and isinstance(value, tp)


_FIELD_TYPES: dict[type, tuple[tuple[str, Any], ...]] = {}


def _field_types(cls: type) -> tuple[tuple[str, Any], ...]:
    """Resolved annotations of a dataclass's fields (cached: resolution evaluates strings)."""
    cached = _FIELD_TYPES.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = _FIELD_TYPES[cls] = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))
    return cached


def validate_fields(obj: object) -> None:
    """Type-check every field of a frozen dataclass, normalising in place.

    Ints become floats where a float is expected, lists become tuples.
    Frozen dataclasses forbid ``setattr``; normalising during ``__post_init__``
    is the one sanctioned use of ``object.__setattr__``.
    """
    for name, tp in _field_types(type(obj)):
        value = getattr(obj, name)
        normalised = _coerce(value, tp, key_of(obj, name))
        if normalised is not value:
            object.__setattr__(obj, name, normalised)


def check_range(
    obj: object,
    name: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    what: str | None = None,
) -> None:
    """Raise unless field ``name`` (skipped when ``None``) lies within the bounds.

    ``what`` replaces the generated description of the bounds in the message.
    """
    value = getattr(obj, name)
    if value is None:
        return
    ok = (ge is None or value >= ge) and (gt is None or value > gt) and (le is None or value <= le)
    if ok:
        return
    if what is None:
        low = f"{_fmt(ge)} <= " if ge is not None else (f"{_fmt(gt)} < " if gt is not None else "")
        high = f" <= {_fmt(le)}" if le is not None else ""
        what = f"{low}value{high}"
    raise ProfileError(f"out of range: expected {what}, got {value!r}", key=key_of(obj, name))


def _fmt(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else repr(bound)


def check_unique(obj: object, name: str, items: Iterable[str]) -> None:
    """Raise if an item is listed twice in field ``name``."""
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item in seen:
            raise ProfileError(f"{item!r} is listed twice", key=f"{key_of(obj, name)}[{i}]")
        seen.add(item)
