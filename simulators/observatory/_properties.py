"""INDI property vectors as a device holds them.

A device owns mutable vectors (its live state); the encoders in ``_xml`` turn them
into ``def*``/``set*`` messages. Updates coming from clients go through
:func:`apply_numbers`, :func:`apply_switches` and :func:`apply_texts`, which follow
the libindi rules (range checks, switch rules) and raise :class:`ValueError` with a
message fit to send back to the client when a request is refused.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = [
    "Blob",
    "BlobVector",
    "Light",
    "LightVector",
    "Number",
    "NumberVector",
    "Perm",
    "State",
    "Switch",
    "SwitchRule",
    "SwitchVector",
    "Text",
    "TextVector",
    "Vector",
    "apply_numbers",
    "apply_switches",
    "apply_texts",
]


class State(enum.StrEnum):
    """Property state, as spelled on the wire."""

    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


class Perm(enum.StrEnum):
    """Client permission on a property."""

    RO = "ro"
    WO = "wo"
    RW = "rw"


class SwitchRule(enum.StrEnum):
    """How many switches of a vector may be on at once."""

    ONE_OF_MANY = "OneOfMany"
    AT_MOST_ONE = "AtMostOne"
    ANY_OF_MANY = "AnyOfMany"


@dataclass(slots=True)
class Number:
    """One number element. ``min == max`` means no range check (INDI convention)."""

    name: str
    label: str
    value: float
    min: float = 0.0
    max: float = 0.0
    step: float = 0.0
    format: str = "%g"


@dataclass(slots=True)
class Switch:
    """One switch element."""

    name: str
    label: str
    on: bool = False


@dataclass(slots=True)
class Text:
    """One text element."""

    name: str
    label: str
    value: str = ""


@dataclass(slots=True)
class Light:
    """One light element."""

    name: str
    label: str
    state: State = State.IDLE


@dataclass(slots=True)
class Blob:
    """One BLOB element; the payload travels only in ``setBLOBVector`` messages."""

    name: str
    label: str


E = TypeVar("E", Number, Switch, Text, Light, Blob)


@dataclass(slots=True, kw_only=True)
class Vector(Generic[E]):
    """Fields shared by every vector kind."""

    device: str
    name: str
    label: str
    group: str
    elements: list[E]
    state: State = State.IDLE
    perm: Perm = Perm.RW
    timeout: float = 0.0
    _index: dict[str, E] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.name or not self.device:
            raise ValueError("a vector needs a device and a name")
        self._index = {element.name: element for element in self.elements}
        if len(self._index) != len(self.elements):
            raise ValueError(f"{self.name}: duplicate element names")

    def __getitem__(self, name: str) -> E:
        return self._index[name]

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[E]:
        return iter(self.elements)


@dataclass(slots=True, kw_only=True)
class NumberVector(Vector[Number]):
    """A vector of numbers."""


@dataclass(slots=True, kw_only=True)
class SwitchVector(Vector[Switch]):
    """A vector of switches with its rule."""

    rule: SwitchRule = SwitchRule.ONE_OF_MANY

    def on_names(self) -> list[str]:
        """Names of the switches that are on, in definition order."""
        return [s.name for s in self.elements if s.on]


@dataclass(slots=True, kw_only=True)
class TextVector(Vector[Text]):
    """A vector of texts."""


@dataclass(slots=True, kw_only=True)
class LightVector(Vector[Light]):
    """A vector of lights (always read-only for clients)."""

    perm: Perm = Perm.RO


@dataclass(slots=True, kw_only=True)
class BlobVector(Vector[Blob]):
    """A vector of BLOBs."""


def _check_names(vector: Vector[E], names: Iterable[str]) -> None:
    unknown = [n for n in names if n not in vector]
    if unknown:
        raise ValueError(f"{vector.name}: unknown element(s) {', '.join(sorted(unknown))}")


def apply_numbers(vector: NumberVector, values: Mapping[str, float]) -> None:
    """Set numbers after checking every one (all or nothing).

    Raises
    ------
    ValueError
        An unknown element, or a value outside ``[min, max]`` where a range is set.
    """
    _check_names(vector, values)
    for name, value in values.items():
        element = vector[name]
        if element.max > element.min and not element.min <= value <= element.max:
            raise ValueError(
                f"{vector.name}.{name}: {value:g} outside [{element.min:g}, {element.max:g}]"
            )
    for name, value in values.items():
        vector[name].value = float(value)


def apply_texts(vector: TextVector, values: Mapping[str, str]) -> None:
    """Set texts (all or nothing)."""
    _check_names(vector, values)
    for name, value in values.items():
        vector[name].value = value


def apply_switches(vector: SwitchVector, values: Mapping[str, bool]) -> None:
    """Apply switch states following the vector's rule (all or nothing).

    For ``OneOfMany`` and ``AtMostOne`` a client names the switch it turns on; the
    others go off. Turning the only ``On`` switch of a ``OneOfMany`` off is refused,
    as libindi does, because the rule would be broken.

    Raises
    ------
    ValueError
        An unknown element, or a request that breaks the rule.
    """
    _check_names(vector, values)
    if vector.rule is SwitchRule.ANY_OF_MANY:
        for name, on in values.items():
            vector[name].on = on
        return
    turned_on = [name for name, on in values.items() if on]
    if len(turned_on) > 1:
        raise ValueError(f"{vector.name}: {vector.rule} allows one switch on, got {turned_on}")
    if turned_on:
        for switch in vector.elements:
            switch.on = switch.name == turned_on[0]
        return
    # Only "Off" requests: allowed for AtMostOne, pointless-but-harmful for OneOfMany.
    result = {s.name: (s.on and not (s.name in values and not values[s.name])) for s in vector}
    if vector.rule is SwitchRule.ONE_OF_MANY and not any(result.values()):
        raise ValueError(f"{vector.name}: OneOfMany needs one switch on")
    for switch in vector.elements:
        switch.on = result[switch.name]
