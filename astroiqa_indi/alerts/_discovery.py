"""Home Assistant MQTT discovery: the retained config messages of one rig (pure).

One device per rig, grouping:

========================  =============  ===========================================
entity                    component      reads
========================  =============  ===========================================
Last label                sensor         ``last`` → ``label`` (all fields as attributes)
FWHM                      sensor         ``last`` → ``fwhm_arcsec`` (arcsec)
Eccentricity              sensor         ``last`` → ``eccentricity``
Star count                sensor         ``last`` → ``n_stars``
Background                sensor         ``last`` → ``background`` (ADU)
Transparency              sensor         ``last`` → ``transparency`` (star flux / session's)
Agent state               sensor         ``state`` (plain text)
Quality problem           binary_sensor  ``last`` → ``problem`` (``ON`` / ``OFF``)
Alert                     event          ``alert`` (``event_type`` = severity)
========================  =============  ===========================================

Field names follow Home Assistant's MQTT discovery documentation (full names, no
abbreviations). A ``None`` metric renders as ``None``, which Home Assistant's MQTT
sensor shows as *unknown*.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from astroiqa_indi.alerts._messages import SEVERITIES, OutgoingMessage
from astroiqa_indi.alerts._topics import Topics

__all__ = ["discovery_messages"]


@dataclass(frozen=True, slots=True)
class _Entity:
    component: str
    object_id: str
    name: str
    extra: tuple[tuple[str, Any], ...]


def _value(key: str) -> str:
    return "{{ value_json.%s }}" % key  # noqa: UP031 (Jinja braces make f-strings unreadable)


def _entities(topics: Topics) -> tuple[_Entity, ...]:
    last = topics.last
    measurement = ("state_class", "measurement")
    return (
        _Entity(
            "sensor",
            "label",
            "Last label",
            (
                ("state_topic", last),
                ("value_template", _value("label")),
                ("json_attributes_topic", last),
                ("icon", "mdi:star-check"),
            ),
        ),
        _Entity(
            "sensor",
            "fwhm",
            "FWHM",
            (
                ("state_topic", last),
                ("value_template", _value("fwhm_arcsec")),
                ("unit_of_measurement", "arcsec"),
                ("suggested_display_precision", 2),
                measurement,
                ("icon", "mdi:blur"),
            ),
        ),
        _Entity(
            "sensor",
            "eccentricity",
            "Eccentricity",
            (
                ("state_topic", last),
                ("value_template", _value("eccentricity")),
                ("suggested_display_precision", 3),
                measurement,
                ("icon", "mdi:ellipse-outline"),
            ),
        ),
        _Entity(
            "sensor",
            "stars",
            "Star count",
            (
                ("state_topic", last),
                ("value_template", _value("n_stars")),
                measurement,
                ("icon", "mdi:star"),
            ),
        ),
        _Entity(
            "sensor",
            "background",
            "Background",
            (
                ("state_topic", last),
                ("value_template", _value("background")),
                ("unit_of_measurement", "ADU"),
                ("suggested_display_precision", 0),
                measurement,
                ("icon", "mdi:weather-night"),
            ),
        ),
        _Entity(
            "sensor",
            "transparency",
            "Transparency",
            (
                ("state_topic", last),
                ("value_template", _value("transparency")),
                ("suggested_display_precision", 2),
                measurement,
                ("icon", "mdi:weather-partly-cloudy"),
            ),
        ),
        _Entity(
            "sensor",
            "state",
            "Agent state",
            (("state_topic", topics.state), ("icon", "mdi:telescope")),
        ),
        _Entity(
            "binary_sensor",
            "problem",
            "Quality problem",
            (
                ("state_topic", last),
                ("value_template", _value("problem")),
                ("payload_on", "ON"),
                ("payload_off", "OFF"),
                ("device_class", "problem"),
            ),
        ),
        _Entity(
            "event",
            "alert",
            "Alert",
            (
                ("state_topic", topics.alert),
                ("event_types", list(SEVERITIES)),
                ("icon", "mdi:bell-alert"),
            ),
        ),
    )


def discovery_messages(topics: Topics, *, sw_version: str) -> tuple[OutgoingMessage, ...]:
    """Retained discovery configs for every entity of the rig's device.

    Parameters
    ----------
    topics
        The rig's topics (node id, state topics, discovery prefix).
    sw_version
        Shown on the device page; the package version.
    """
    device = {
        "identifiers": [topics.node_id],
        "name": f"astroiqa {topics.rig}",
        "manufacturer": "astroiqa-indi",
        "model": "frame quality agent",
        "sw_version": sw_version,
    }
    origin = {"name": "astroiqa-indi", "sw_version": sw_version}
    messages = []
    for entity in _entities(topics):
        config: dict[str, Any] = {
            "name": entity.name,
            "unique_id": f"{topics.node_id}_{entity.object_id}",
            "availability_topic": topics.availability,
            "payload_available": "online",
            "payload_not_available": "offline",
            "qos": 1,
            "device": device,
            "origin": origin,
            **dict(entity.extra),
        }
        messages.append(
            OutgoingMessage(
                topics.discovery(entity.component, entity.object_id),
                json.dumps(config, separators=(",", ":")).encode(),
                retain=True,
            )
        )
    return tuple(messages)
