"""MQTT and Home Assistant: publish verdicts, state and alerts; receive commands.

>>> async with MqttNotifier(profile.mqtt, rig=profile.name) as mqtt:  # doctest: +SKIP
...     mqtt.publish_state("watching")  # doctest: +SKIP
...     mqtt.publish_verdict(verdict, frame_name="m31_0001.fits")  # doctest: +SKIP

Topics (``<base>/<rig>/...``): ``frame`` (one JSON verdict per frame), ``last``
(retained summary for sensors), ``state`` (retained), ``alert``, ``availability``
(retained ``online``/``offline``, also the Last Will) and ``command`` (``pause``,
``resume``, ``regrade-last``). With ``home_assistant`` on, retained discovery
configs describe one device per rig. The publish methods never wait and never fail
because the broker is down: messages wait in a bounded buffer (oldest events
dropped and counted) and go out after reconnecting. See ``docs/home-assistant.md``.

Importing this package opens no connection.
"""

from __future__ import annotations

from astroiqa_indi.alerts._discovery import discovery_messages
from astroiqa_indi.alerts._messages import (
    SEVERITIES,
    Command,
    OutgoingMessage,
    alert_message,
    parse_command,
    state_message,
    verdict_messages,
)
from astroiqa_indi.alerts._notifier import MqttNotifier
from astroiqa_indi.alerts._outbox import Outbox
from astroiqa_indi.alerts._topics import Topics
from astroiqa_indi.alerts._types import Backoff, NotifierState, NotifierStats

__all__ = [
    "SEVERITIES",
    "Backoff",
    "Command",
    "MqttNotifier",
    "NotifierState",
    "NotifierStats",
    "Outbox",
    "OutgoingMessage",
    "Topics",
    "alert_message",
    "discovery_messages",
    "parse_command",
    "state_message",
    "verdict_messages",
]
