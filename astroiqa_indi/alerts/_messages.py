"""Pure message building and command parsing: values in, bytes out, no I/O."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from astroiqa_indi.alerts._topics import Topics
from astroiqa_indi.labels import BAD_LABELS

if TYPE_CHECKING:
    from astroiqa_indi.grading import Verdict

__all__ = [
    "SEVERITIES",
    "Command",
    "OutgoingMessage",
    "alert_message",
    "parse_command",
    "state_message",
    "verdict_messages",
]

SEVERITIES: Final[tuple[str, ...]] = ("info", "warning", "critical")
"""Alert severities; also the Home Assistant event entity's ``event_types``."""

# A command is a word; anything longer is not one of ours and is not worth logging whole.
_MAX_COMMAND_BYTES = 64


class Command(enum.Enum):
    """What can be asked of the agent on ``<base>/<rig>/command``."""

    PAUSE = "pause"
    RESUME = "resume"
    REGRADE_LAST = "regrade-last"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One MQTT publication: topic, payload bytes and retain flag (always QoS 1)."""

    topic: str
    payload: bytes
    retain: bool = False

    def __post_init__(self) -> None:
        if not self.topic or any(c in self.topic for c in "#+\x00"):
            raise ValueError(f"not a publish topic: {self.topic!r}")


def parse_command(payload: bytes) -> Command | None:
    """The command in a payload, or ``None`` when it is not one.

    Surrounding whitespace and letter case are ignored (``b" Pause\\n"`` is
    :attr:`Command.PAUSE`); a JSON string (``b'"pause"'``) is accepted too, since
    Home Assistant's ``mqtt.publish`` action is easily given one.
    """
    if len(payload) > _MAX_COMMAND_BYTES:
        return None
    try:
        text = payload.decode("utf-8").strip().lower()
    except UnicodeDecodeError:
        return None
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    try:
        return Command(text)
    except ValueError:
        return None


def _timestamp(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_default(value: object) -> Any:
    # numpy scalars (np.float32, np.int64) are what callers most often hand us.
    item = getattr(value, "item", None)
    if callable(item):
        return _finite(item())
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _finite(value: Any) -> Any:
    # JSON has no NaN or infinity; a consumer's parser would reject the whole message.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _dumps(obj: Mapping[str, Any]) -> bytes:
    text = json.dumps(_finite(obj), default=_json_default, allow_nan=False, separators=(",", ":"))
    return text.encode()


def verdict_messages(
    verdict: Verdict, *, frame_name: str, topics: Topics, now: datetime
) -> tuple[OutgoingMessage, OutgoingMessage]:
    """The ``frame`` event and the retained ``last`` summary for one verdict.

    ``frame`` carries ``verdict.to_dict()`` plus ``frame``, ``rig`` and ``time``
    (ISO 8601, UTC). ``last`` is a flat object that Home Assistant templates read:
    ``label``, ``problem`` (``"ON"`` for a bad label), ``fwhm_arcsec``,
    ``eccentricity``, ``n_stars``, ``background``, ``transparency`` (``None`` unless
    the profile's ``min_transparency`` measured it), ``confident``, ``frame``, ``time``.
    """
    stamp = _timestamp(now)
    frame = {**verdict.to_dict(), "frame": frame_name, "rig": topics.rig, "time": stamp}
    metrics = verdict.metrics
    last = {
        "frame": frame_name,
        "time": stamp,
        "label": verdict.label,
        "problem": "ON" if verdict.label in BAD_LABELS else "OFF",
        "confident": verdict.confident,
        "fwhm_arcsec": metrics.fwhm_arcsec,
        "eccentricity": metrics.eccentricity,
        "n_stars": metrics.n_stars,
        "background": metrics.background,
        "transparency": verdict.transparency,
        "reasons": list(verdict.reasons),
    }
    return (
        OutgoingMessage(topics.frame, _dumps(frame)),
        OutgoingMessage(topics.last, _dumps(last), retain=True),
    )


def state_message(state: str, *, topics: Topics) -> OutgoingMessage:
    """The retained agent state, as plain text (``watching``, ``paused``...)."""
    text = state.strip()
    if not text or len(text) > 64:
        raise ValueError(f"state must be a short non-empty word, got {state!r}")
    return OutgoingMessage(topics.state, text.encode(), retain=True)


def alert_message(
    text: str,
    *,
    label: str,
    reason: str,
    severity: str,
    fields: Mapping[str, Any],
    topics: Topics,
    now: datetime,
) -> OutgoingMessage:
    """One alert: ``text`` for people, the rest for automations.

    ``event_type`` equals ``severity``: Home Assistant's MQTT event entity requires
    that key and that its value be one of the entity's ``event_types``.

    Raises
    ------
    ValueError
        ``severity`` is not one of :data:`SEVERITIES`.
    TypeError
        A value in ``fields`` cannot be written as JSON.
    """
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    payload = {
        "event_type": severity,
        "text": text,
        "label": label,
        "reason": reason,
        "severity": severity,
        "rig": topics.rig,
        "time": _timestamp(now),
        "fields": dict(fields),
    }
    return OutgoingMessage(topics.alert, _dumps(payload))
