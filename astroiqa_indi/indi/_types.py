"""Value types of the INDI protocol: enums, elements and the events the parser produces.

Everything here is a frozen dataclass or an enum, so events can be compared, hashed
(most of them) and passed between the parser, the property model and callers
without anyone mutating them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

__all__ = [
    "BlobElement",
    "BlobMode",
    "DefVector",
    "DelProperty",
    "Element",
    "EncodedBlob",
    "IndiEvent",
    "LightElement",
    "Message",
    "NewVector",
    "NumberElement",
    "Permission",
    "PingReply",
    "PingRequest",
    "PropertyState",
    "SetBlobVector",
    "SetVector",
    "SwitchElement",
    "SwitchRule",
    "TextElement",
    "VectorKind",
]


class PropertyState(enum.StrEnum):
    """State of a property vector (also the value of a Light)."""

    IDLE = "Idle"
    OK = "Ok"
    BUSY = "Busy"
    ALERT = "Alert"


class Permission(enum.StrEnum):
    """Who may write a property vector."""

    RO = "ro"
    WO = "wo"
    RW = "rw"


class SwitchRule(enum.StrEnum):
    """How the switches of a switch vector constrain each other."""

    ONE_OF_MANY = "OneOfMany"
    AT_MOST_ONE = "AtMostOne"
    ANY_OF_MANY = "AnyOfMany"


class VectorKind(enum.StrEnum):
    """The five INDI vector types; the value is the infix of the XML tag names."""

    TEXT = "Text"
    NUMBER = "Number"
    SWITCH = "Switch"
    LIGHT = "Light"
    BLOB = "BLOB"


class BlobMode(enum.StrEnum):
    """``enableBLOB`` policy of one connection: no BLOBs, BLOBs too, or BLOBs only."""

    NEVER = "Never"
    ALSO = "Also"
    ONLY = "Only"


def _check_name(kind: str, name: str) -> None:
    if not name:
        raise ValueError(f"{kind} needs a non-empty name")


@dataclass(frozen=True, slots=True)
class TextElement:
    """One ``Text`` member of a vector."""

    name: str
    value: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        _check_name("TextElement", self.name)


@dataclass(frozen=True, slots=True)
class NumberElement:
    """One ``Number`` member; ``format`` is the printf (or ``%m`` sexagesimal) format."""

    name: str
    value: float = 0.0
    label: str = ""
    format: str = "%g"
    minimum: float = 0.0
    maximum: float = 0.0
    step: float = 0.0

    def __post_init__(self) -> None:
        _check_name("NumberElement", self.name)
        if math.isnan(self.minimum) or math.isnan(self.maximum):
            raise ValueError(f"NumberElement {self.name!r}: minimum and maximum must be numbers")


@dataclass(frozen=True, slots=True)
class SwitchElement:
    """One ``Switch`` member; ``value`` is True for ``On``."""

    name: str
    value: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        _check_name("SwitchElement", self.name)


@dataclass(frozen=True, slots=True)
class LightElement:
    """One ``Light`` member; its value is a state."""

    name: str
    value: PropertyState = PropertyState.IDLE
    label: str = ""

    def __post_init__(self) -> None:
        _check_name("LightElement", self.name)


@dataclass(frozen=True, slots=True)
class BlobElement:
    """One ``BLOB`` member as the model keeps it: its last format and size, never the bytes.

    ``size`` is the announced size in bytes of the *uncompressed* BLOB (INDI's ``size``
    attribute); for ``.z`` or ``.fits.fz`` formats the payload itself is smaller.
    """

    name: str
    label: str = ""
    format: str = ""
    size: int = 0

    def __post_init__(self) -> None:
        _check_name("BlobElement", self.name)
        if self.size < 0:
            raise ValueError(f"BlobElement {self.name!r}: size must be >= 0, got {self.size}")


Element = TextElement | NumberElement | SwitchElement | LightElement | BlobElement


@dataclass(frozen=True, slots=True)
class DefVector:
    """``defXXXVector``: a device defines (or re-defines) a property vector."""

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
            raise ValueError("DefVector needs a device and a name")


@dataclass(frozen=True, slots=True)
class SetVector:
    """``setXXXVector`` (not BLOB): new values and/or state for an existing vector.

    ``state`` and ``timeout`` are ``None`` when the message did not carry them.
    """

    kind: VectorKind
    device: str
    name: str
    elements: tuple[Element, ...]
    state: PropertyState | None = None
    timeout: float | None = None
    timestamp: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if not self.device or not self.name:
            raise ValueError("SetVector needs a device and a name")


@dataclass(frozen=True, slots=True)
class EncodedBlob:
    """One ``oneBLOB`` as it came off the wire.

    ``payload`` is what the parser's payload sink returned for this element: with the
    default sink, the base64 text as ``bytes`` (line breaks included). ``enclen`` is the
    optional length of that text announced by newer servers. ``attached`` BLOBs came
    with no text: their bytes are a shared-memory file descriptor passed beside the
    message, which only a client of indiserver's local socket receives.
    """

    name: str
    size: int
    format: str
    payload: object = field(compare=False, repr=False)
    enclen: int | None = None
    attached: bool = False


@dataclass(frozen=True, slots=True)
class SetBlobVector:
    """``setBLOBVector``: one or more BLOBs, still base64-encoded."""

    device: str
    name: str
    blobs: tuple[EncodedBlob, ...]
    state: PropertyState | None = None
    timeout: float | None = None
    timestamp: str = ""
    message: str = ""

    def __post_init__(self) -> None:
        if not self.device or not self.name:
            raise ValueError("SetBlobVector needs a device and a name")


@dataclass(frozen=True, slots=True)
class NewVector:
    """``newXXXVector`` echoed by indiserver when *another* client changes a property."""

    kind: VectorKind
    device: str
    name: str
    elements: tuple[Element, ...]
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class DelProperty:
    """``delProperty``: one vector (``name``) or the whole device (``name is None``) is gone."""

    device: str
    name: str | None = None
    timestamp: str = ""
    message: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """``message``: free text from a device (or the server when ``device is None``)."""

    message: str
    device: str | None = None
    timestamp: str = ""


@dataclass(frozen=True, slots=True)
class PingRequest:
    """``pingRequest`` (INDI 2.x): the peer waits for a ``pingReply`` with the same uid."""

    uid: str


@dataclass(frozen=True, slots=True)
class PingReply:
    """``pingReply``: the answer to one of our ``pingRequest``."""

    uid: str


IndiEvent = (
    DefVector
    | SetVector
    | SetBlobVector
    | NewVector
    | DelProperty
    | Message
    | PingRequest
    | PingReply
)
