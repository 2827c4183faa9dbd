"""The live property model: what every device has defined, with its latest values.

The model only ever holds frozen :class:`PropertyVector` snapshots; an update replaces
the snapshot, so a vector handed to a caller never changes under its feet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from astroiqa_indi.indi._types import (
    BlobElement,
    DefVector,
    DelProperty,
    Element,
    IndiEvent,
    LightElement,
    NumberElement,
    Permission,
    PropertyState,
    SetBlobVector,
    SetVector,
    SwitchElement,
    SwitchRule,
    TextElement,
    VectorKind,
)

__all__ = ["PropertyModel", "PropertyVector"]


@dataclass(frozen=True, slots=True)
class PropertyVector:
    """One property vector of one device, as last defined and updated by the server."""

    kind: VectorKind
    device: str
    name: str
    elements: tuple[Element, ...]
    label: str = ""
    group: str = ""
    state: PropertyState = PropertyState.IDLE
    perm: Permission = Permission.RO
    timeout: float = 0.0
    timestamp: str = ""
    message: str = ""
    rule: SwitchRule | None = None

    def __post_init__(self) -> None:
        if not self.device or not self.name:
            raise ValueError("PropertyVector needs a device and a name")
        names = [e.name for e in self.elements]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.device}.{self.name}: duplicate element names {names}")

    @property
    def names(self) -> tuple[str, ...]:
        """Element names, in definition order."""
        return tuple(e.name for e in self.elements)

    def __contains__(self, element: object) -> bool:
        return any(e.name == element for e in self.elements)

    def __iter__(self) -> Iterator[Element]:
        return iter(self.elements)

    def element(self, name: str) -> Element:
        """The element called ``name``; ``KeyError`` if the vector has none."""
        for e in self.elements:
            if e.name == name:
                return e
        raise KeyError(f"{self.device}.{self.name} has no element {name!r}")

    def value(self, name: str) -> str | float | bool | PropertyState:
        """Value of one element (for a BLOB element: its last format)."""
        e = self.element(name)
        return e.format if isinstance(e, BlobElement) else e.value

    @property
    def on_switches(self) -> tuple[str, ...]:
        """Names of the switches that are On (empty for other kinds)."""
        if self.kind is not VectorKind.SWITCH:
            return ()
        return tuple(e.name for e in self.elements if isinstance(e, SwitchElement) and e.value)

    @classmethod
    def from_definition(cls, event: DefVector) -> PropertyVector:
        """The snapshot a ``defXXXVector`` describes."""
        return cls(
            kind=event.kind,
            device=event.device,
            name=event.name,
            elements=event.elements,
            label=event.label,
            group=event.group,
            state=event.state,
            perm=event.perm,
            timeout=event.timeout,
            timestamp=event.timestamp,
            message=event.message,
            rule=event.rule,
        )


def _merge(old: Element, new: Element) -> Element:
    """``old`` (from the definition) with the value a ``setXXXVector`` carried."""
    if isinstance(old, BlobElement) and isinstance(new, BlobElement):
        return dataclasses.replace(old, format=new.format, size=new.size)
    if isinstance(old, TextElement) and isinstance(new, TextElement):
        return dataclasses.replace(old, value=new.value)
    if isinstance(old, NumberElement) and isinstance(new, NumberElement):
        return dataclasses.replace(old, value=new.value)
    if isinstance(old, SwitchElement) and isinstance(new, SwitchElement):
        return dataclasses.replace(old, value=new.value)
    if isinstance(old, LightElement) and isinstance(new, LightElement):
        return dataclasses.replace(old, value=new.value)
    return old


class PropertyModel:
    """Devices → property vectors, kept up to date by :meth:`apply`."""

    def __init__(self) -> None:
        self._devices: dict[str, dict[str, PropertyVector]] = {}

    def apply(self, event: IndiEvent) -> PropertyVector | None:
        """Update the model from one event; the new snapshot, or None if none changed.

        ``set`` messages for vectors never defined are ignored, as the INDI protocol
        asks clients to do.
        """
        if isinstance(event, DefVector):
            vector = PropertyVector.from_definition(event)
            self._devices.setdefault(event.device, {})[event.name] = vector
            return vector
        if isinstance(event, SetVector | SetBlobVector):
            old = self.get(event.device, event.name)
            if old is None:
                return None
            if isinstance(event, SetBlobVector):
                if old.kind is not VectorKind.BLOB:
                    return None
                updates: dict[str, Element] = {
                    b.name: BlobElement(name=b.name, format=b.format, size=b.size)
                    for b in event.blobs
                }
            else:
                if old.kind is not event.kind:
                    return None
                updates = {e.name: e for e in event.elements}
            elements = tuple(
                _merge(e, updates[e.name]) if e.name in updates else e for e in old.elements
            )
            vector = dataclasses.replace(
                old,
                elements=elements,
                state=old.state if event.state is None else event.state,
                timeout=old.timeout if event.timeout is None else event.timeout,
                timestamp=event.timestamp or old.timestamp,
                message=event.message,
            )
            self._devices[event.device][event.name] = vector
            return vector
        if isinstance(event, DelProperty):
            if event.name is None:
                self._devices.pop(event.device, None)
            else:
                vectors = self._devices.get(event.device)
                if vectors is not None:
                    vectors.pop(event.name, None)
                    if not vectors:
                        del self._devices[event.device]
        return None

    def get(self, device: str, name: str) -> PropertyVector | None:
        """The current snapshot of ``device.name``, or None if not defined."""
        return self._devices.get(device, {}).get(name)

    def devices(self) -> tuple[str, ...]:
        """Names of the devices that have at least one property, sorted."""
        return tuple(sorted(self._devices))

    def vectors(self, device: str) -> tuple[PropertyVector, ...]:
        """All vectors of one device, in definition order."""
        return tuple(self._devices.get(device, {}).values())

    def clear(self) -> None:
        """Forget everything (a new connection re-defines it all)."""
        self._devices.clear()

    def __len__(self) -> int:
        return sum(len(v) for v in self._devices.values())
