"""PHD2 event-server messages, client side: one line of bytes in, one typed message out.

Pure functions, no sockets (the asyncio layer is :mod:`astroiqa_indi.actions._phd2`).
Field names and types follow the "Event Message Descriptions" of PHD2's
EventMonitoring wiki page, checked against what PHD2's ``event_server.cpp`` writes.
Where the two disagree the parser accepts both: the wiki's ``GuideStep`` table spells
``DecDistanceRaw``/``DecDistanceGuide``, PHD2 itself sends ``DECDistanceRaw``/
``DECDistanceGuide``.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from astroiqa_indi.errors import GuiderError

__all__ = [
    "AlertEvent",
    "AppStateEvent",
    "CalibrationCompleteEvent",
    "CalibrationFailedEvent",
    "GuideStepEvent",
    "GuidingDitheredEvent",
    "GuidingStoppedEvent",
    "LockPositionLostEvent",
    "LockPositionSetEvent",
    "LoopingExposuresEvent",
    "LoopingExposuresStoppedEvent",
    "OtherEvent",
    "PausedEvent",
    "Phd2AppState",
    "Phd2Event",
    "ResumedEvent",
    "RpcError",
    "RpcResponse",
    "SettleBeginEvent",
    "SettleDoneEvent",
    "SettlingEvent",
    "StarLostEvent",
    "StarSelectedEvent",
    "StartCalibrationEvent",
    "StartGuidingEvent",
    "VersionEvent",
    "encode_request",
    "parse_message",
]


class Phd2AppState(enum.StrEnum):
    """PHD2's application states (the ``AppState`` event and ``get_app_state``)."""

    STOPPED = "Stopped"
    SELECTED = "Selected"
    CALIBRATING = "Calibrating"
    GUIDING = "Guiding"
    LOST_LOCK = "LostLock"
    PAUSED = "Paused"
    LOOPING = "Looping"


# ------------------------------------------------------------------ events
@dataclass(frozen=True, slots=True, kw_only=True)
class Phd2Event:
    """Attributes common to every PHD2 event; subclasses add the event's own."""

    EVENT: ClassVar[str] = ""
    timestamp: float
    host: str = ""
    inst: int = 1

    @property
    def name(self) -> str:
        """The ``Event`` attribute, e.g. ``"GuideStep"``."""
        return self.EVENT


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionEvent(Phd2Event):
    EVENT: ClassVar[str] = "Version"
    phd_version: str
    phd_subver: str
    msg_version: int
    overlap_support: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AppStateEvent(Phd2Event):
    EVENT: ClassVar[str] = "AppState"
    state: Phd2AppState


@dataclass(frozen=True, slots=True, kw_only=True)
class GuideStepEvent(Phd2Event):
    """One guide frame. Distances in guide-camera pixels, durations in milliseconds."""

    EVENT: ClassVar[str] = "GuideStep"
    frame: int
    time: float
    mount: str
    dx: float
    dy: float
    ra_distance_raw: float
    dec_distance_raw: float
    ra_distance_guide: float
    dec_distance_guide: float
    ra_duration_ms: int = 0
    ra_direction: str | None = None
    dec_duration_ms: int = 0
    dec_direction: str | None = None
    star_mass: float | None = None
    snr: float | None = None
    hfd: float | None = None
    avg_dist: float | None = None
    ra_limited: bool = False
    dec_limited: bool = False
    error_code: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class StarLostEvent(Phd2Event):
    EVENT: ClassVar[str] = "StarLost"
    frame: int
    time: float
    star_mass: float | None = None
    snr: float | None = None
    avg_dist: float | None = None
    error_code: int = 0
    status: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SettlingEvent(Phd2Event):
    EVENT: ClassVar[str] = "Settling"
    distance: float
    time: float
    settle_time: float
    star_locked: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleDoneEvent(Phd2Event):
    EVENT: ClassVar[str] = "SettleDone"
    status: int
    error: str = ""
    total_frames: int = 0
    dropped_frames: int = 0

    @property
    def ok(self) -> bool:
        """True when guiding settled (``Status`` 0)."""
        return self.status == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class GuidingDitheredEvent(Phd2Event):
    EVENT: ClassVar[str] = "GuidingDithered"
    dx: float
    dy: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopingExposuresEvent(Phd2Event):
    EVENT: ClassVar[str] = "LoopingExposures"
    frame: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StarSelectedEvent(Phd2Event):
    EVENT: ClassVar[str] = "StarSelected"
    x: float
    y: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LockPositionSetEvent(Phd2Event):
    EVENT: ClassVar[str] = "LockPositionSet"
    x: float
    y: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StartCalibrationEvent(Phd2Event):
    EVENT: ClassVar[str] = "StartCalibration"
    mount: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationCompleteEvent(Phd2Event):
    EVENT: ClassVar[str] = "CalibrationComplete"
    mount: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class CalibrationFailedEvent(Phd2Event):
    EVENT: ClassVar[str] = "CalibrationFailed"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent(Phd2Event):
    EVENT: ClassVar[str] = "Alert"
    msg: str
    type: str = "info"


@dataclass(frozen=True, slots=True, kw_only=True)
class PausedEvent(Phd2Event):
    EVENT: ClassVar[str] = "Paused"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResumedEvent(Phd2Event):
    EVENT: ClassVar[str] = "Resumed"


@dataclass(frozen=True, slots=True, kw_only=True)
class StartGuidingEvent(Phd2Event):
    EVENT: ClassVar[str] = "StartGuiding"


@dataclass(frozen=True, slots=True, kw_only=True)
class GuidingStoppedEvent(Phd2Event):
    EVENT: ClassVar[str] = "GuidingStopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleBeginEvent(Phd2Event):
    EVENT: ClassVar[str] = "SettleBegin"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopingExposuresStoppedEvent(Phd2Event):
    EVENT: ClassVar[str] = "LoopingExposuresStopped"


@dataclass(frozen=True, slots=True, kw_only=True)
class LockPositionLostEvent(Phd2Event):
    EVENT: ClassVar[str] = "LockPositionLost"


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherEvent(Phd2Event):
    """An event this client does not model (``Calibrating``, ``GuideParamChange``...)."""

    event: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    @property
    def name(self) -> str:
        return self.event


# --------------------------------------------------------------- responses
@dataclass(frozen=True, slots=True)
class RpcError:
    """The ``error`` member of a JSON-RPC response."""

    code: int
    message: str


@dataclass(frozen=True, slots=True)
class RpcResponse:
    """A JSON-RPC 2.0 response: ``result`` or ``error``, and the request ``id``."""

    id: Any
    result: Any = None
    error: RpcError | None = None


# ----------------------------------------------------------------- parsing
class _Fields:
    """Typed access to one event's attributes; wrong types raise :class:`GuiderError`."""

    def __init__(self, name: str, obj: Mapping[str, Any]) -> None:
        self.name = name
        self.obj = obj

    def _get(self, keys: tuple[str, ...]) -> Any:
        for key in keys:
            if key in self.obj:
                return self.obj[key]
        return None

    def num(self, *keys: str) -> float:
        value = self.opt_num(*keys)
        if value is None:
            raise GuiderError(f"PHD2 {self.name} event without numeric {keys[0]!r}")
        return value

    def opt_num(self, *keys: str) -> float | None:
        value = self._get(keys)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise GuiderError(f"PHD2 {self.name}.{keys[0]} is not a number: {value!r}")
        return float(value)

    def integer(self, *keys: str, default: int | None = None) -> int:
        value = self.opt_num(*keys)
        if value is None:
            if default is None:
                raise GuiderError(f"PHD2 {self.name} event without integer {keys[0]!r}")
            return default
        if not value.is_integer():
            raise GuiderError(f"PHD2 {self.name}.{keys[0]} is not an integer: {value!r}")
        return int(value)

    def string(self, key: str, default: str = "") -> str:
        value = self.obj.get(key, default)
        if not isinstance(value, str):
            raise GuiderError(f"PHD2 {self.name}.{key} is not a string: {value!r}")
        return value

    def opt_str(self, key: str) -> str | None:
        return self.string(key) if key in self.obj else None

    def boolean(self, key: str, default: bool = False) -> bool:
        value = self.obj.get(key, default)
        if not isinstance(value, bool):
            raise GuiderError(f"PHD2 {self.name}.{key} is not a boolean: {value!r}")
        return value


def _guide_step(f: _Fields, common: dict[str, Any]) -> Phd2Event:
    return GuideStepEvent(
        **common,
        frame=f.integer("Frame"),
        time=f.num("Time"),
        mount=f.string("Mount"),
        dx=f.num("dx"),
        dy=f.num("dy"),
        ra_distance_raw=f.num("RADistanceRaw"),
        dec_distance_raw=f.num("DECDistanceRaw", "DecDistanceRaw"),
        ra_distance_guide=f.opt_num("RADistanceGuide") or 0.0,
        dec_distance_guide=f.opt_num("DECDistanceGuide", "DecDistanceGuide") or 0.0,
        ra_duration_ms=f.integer("RADuration", default=0),
        ra_direction=f.opt_str("RADirection"),
        dec_duration_ms=f.integer("DECDuration", default=0),
        dec_direction=f.opt_str("DECDirection"),
        star_mass=f.opt_num("StarMass"),
        snr=f.opt_num("SNR"),
        hfd=f.opt_num("HFD"),
        avg_dist=f.opt_num("AvgDist"),
        ra_limited=f.boolean("RALimited"),
        dec_limited=f.boolean("DecLimited"),
        error_code=f.integer("ErrorCode", default=0),
    )


def _app_state(f: _Fields, common: dict[str, Any]) -> Phd2Event:
    raw = f.string("State")
    try:
        state = Phd2AppState(raw)
    except ValueError as exc:
        raise GuiderError(f"PHD2 AppState {raw!r} is not a known state") from exc
    return AppStateEvent(**common, state=state)


_Builder = Callable[[_Fields, dict[str, Any]], Phd2Event]

_BUILDERS: dict[str, _Builder] = {
    "Version": lambda f, c: VersionEvent(
        **c,
        phd_version=f.string("PHDVersion"),
        phd_subver=f.string("PHDSubver"),
        msg_version=f.integer("MsgVersion", default=1),
        overlap_support=f.boolean("OverlapSupport"),
    ),
    "AppState": _app_state,
    "GuideStep": _guide_step,
    "StarLost": lambda f, c: StarLostEvent(
        **c,
        frame=f.integer("Frame", default=0),
        time=f.opt_num("Time") or 0.0,
        star_mass=f.opt_num("StarMass"),
        snr=f.opt_num("SNR"),
        avg_dist=f.opt_num("AvgDist"),
        error_code=f.integer("ErrorCode", default=0),
        status=f.string("Status"),
    ),
    "Settling": lambda f, c: SettlingEvent(
        **c,
        distance=f.num("Distance"),
        time=f.num("Time"),
        settle_time=f.num("SettleTime"),
        star_locked=f.boolean("StarLocked", default=True),
    ),
    "SettleDone": lambda f, c: SettleDoneEvent(
        **c,
        status=f.integer("Status"),
        error=f.string("Error"),
        total_frames=f.integer("TotalFrames", default=0),
        dropped_frames=f.integer("DroppedFrames", default=0),
    ),
    "GuidingDithered": lambda f, c: GuidingDitheredEvent(**c, dx=f.num("dx"), dy=f.num("dy")),
    "LoopingExposures": lambda f, c: LoopingExposuresEvent(**c, frame=f.integer("Frame")),
    "StarSelected": lambda f, c: StarSelectedEvent(**c, x=f.num("X"), y=f.num("Y")),
    "LockPositionSet": lambda f, c: LockPositionSetEvent(**c, x=f.num("X"), y=f.num("Y")),
    "StartCalibration": lambda f, c: StartCalibrationEvent(**c, mount=f.string("Mount")),
    "CalibrationComplete": lambda f, c: CalibrationCompleteEvent(**c, mount=f.string("Mount")),
    "CalibrationFailed": lambda f, c: CalibrationFailedEvent(**c, reason=f.string("Reason")),
    "Alert": lambda f, c: AlertEvent(**c, msg=f.string("Msg"), type=f.string("Type", "info")),
    "Paused": lambda f, c: PausedEvent(**c),
    "Resumed": lambda f, c: ResumedEvent(**c),
    "StartGuiding": lambda f, c: StartGuidingEvent(**c),
    "GuidingStopped": lambda f, c: GuidingStoppedEvent(**c),
    "SettleBegin": lambda f, c: SettleBeginEvent(**c),
    "LoopingExposuresStopped": lambda f, c: LoopingExposuresStoppedEvent(**c),
    "LockPositionLost": lambda f, c: LockPositionLostEvent(**c),
}

_COMMON = frozenset({"Event", "Timestamp", "Host", "Inst"})


def _parse_event(obj: Mapping[str, Any]) -> Phd2Event:
    name = obj["Event"]
    if not isinstance(name, str):
        raise GuiderError(f"PHD2 Event attribute is not a string: {name!r}")
    f = _Fields(name, obj)
    common: dict[str, Any] = {
        "timestamp": f.opt_num("Timestamp") or 0.0,
        "host": f.string("Host"),
        "inst": f.integer("Inst", default=1),
    }
    builder = _BUILDERS.get(name)
    if builder is None:
        attributes = {k: v for k, v in obj.items() if k not in _COMMON}
        return OtherEvent(**common, event=name, attributes=attributes)
    return builder(f, common)


def _parse_response(obj: Mapping[str, Any]) -> RpcResponse:
    error = obj.get("error")
    if error is None:
        return RpcResponse(id=obj.get("id"), result=obj.get("result"))
    if not isinstance(error, dict):
        raise GuiderError(f"PHD2 error member is not an object: {error!r}")
    code = error.get("code")
    message = error.get("message", "")
    if isinstance(code, bool) or not isinstance(code, int) or not isinstance(message, str):
        raise GuiderError(f"PHD2 error member is malformed: {error!r}")
    return RpcResponse(id=obj.get("id"), error=RpcError(code=code, message=message))


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-standard JSON constant {token}")


def parse_message(line: bytes) -> Phd2Event | RpcResponse | list[RpcResponse]:
    """Parse one line sent by PHD2.

    Returns
    -------
    Phd2Event | RpcResponse | list[RpcResponse]
        A typed event, a JSON-RPC response, or the array answering a batch request.

    Raises
    ------
    GuiderError
        The line is not JSON, or not an event or a response, or an attribute has the
        wrong type.
    """
    try:
        obj = json.loads(line.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise GuiderError(f"PHD2 sent a line that is not JSON: {line[:120]!r}") from exc
    if isinstance(obj, list):
        if not all(isinstance(item, dict) and "jsonrpc" in item for item in obj):
            raise GuiderError(f"PHD2 sent an array that is not a batch response: {line[:120]!r}")
        return [_parse_response(item) for item in obj]
    if not isinstance(obj, dict):
        raise GuiderError(f"PHD2 sent JSON that is not an object: {line[:120]!r}")
    if "Event" in obj:
        return _parse_event(obj)
    if "jsonrpc" in obj or "result" in obj or "error" in obj:
        return _parse_response(obj)
    raise GuiderError(f"PHD2 sent an object that is neither event nor response: {line[:120]!r}")


def encode_request(
    method: str, params: list[Any] | dict[str, Any] | None, request_id: int
) -> bytes:
    """One JSON-RPC 2.0 request line (CR LF terminated, as PHD2 expects)."""
    if not method:
        raise ValueError("method must be a non-empty string")
    obj: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        obj["params"] = params
    obj["id"] = request_id
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\r\n"
