"""Every MQTT topic one agent uses, derived once from the settings and the rig name."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Topics"]

# Home Assistant accepts only these characters in discovery node and object ids,
# and profile rig names are already restricted to them.
_RIG = re.compile(r"[A-Za-z0-9_-]+")
_NOT_ID = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Topics:
    """The topics of one rig.

    Attributes
    ----------
    base
        ``MqttSettings.base_topic``, e.g. ``"astroiqa"``.
    rig
        The profile name; letters, digits, ``_`` and ``-``.
    discovery_prefix
        Home Assistant's discovery prefix, e.g. ``"homeassistant"``.
    """

    base: str
    rig: str
    discovery_prefix: str = "homeassistant"

    def __post_init__(self) -> None:
        if not _RIG.fullmatch(self.rig):
            raise ValueError(f"rig name must be letters, digits, '_' or '-', got {self.rig!r}")
        for name in ("base", "discovery_prefix"):
            value = getattr(self, name)
            if not value or any(c in value for c in "#+\x00") or "//" in value:
                raise ValueError(f"{name} must be a topic prefix without wildcards: {value!r}")
            if value.startswith("/") or value.endswith("/"):
                raise ValueError(f"{name} must not start or end with '/': {value!r}")

    @property
    def root(self) -> str:
        return f"{self.base}/{self.rig}"

    @property
    def frame(self) -> str:
        """One JSON verdict per graded frame (not retained: an event stream)."""
        return f"{self.root}/frame"

    @property
    def last(self) -> str:
        """Retained JSON summary of the latest verdict; Home Assistant's sensors read it."""
        return f"{self.root}/last"

    @property
    def state(self) -> str:
        """Retained agent state: ``watching``, ``paused``, ``stopped``..."""
        return f"{self.root}/state"

    @property
    def alert(self) -> str:
        """One JSON alert per event (text plus machine fields)."""
        return f"{self.root}/alert"

    @property
    def availability(self) -> str:
        """Retained ``online`` / ``offline``; ``offline`` is also the Last Will."""
        return f"{self.root}/availability"

    @property
    def command(self) -> str:
        """Where ``pause``, ``resume`` and ``regrade-last`` arrive."""
        return f"{self.root}/command"

    @property
    def ha_status(self) -> str:
        """Home Assistant's birth/last-will topic; ``online`` asks for discovery again."""
        return f"{self.discovery_prefix}/status"

    @property
    def node_id(self) -> str:
        """Discovery node id: base topic and rig, reduced to ``[A-Za-z0-9_-]``."""
        return _NOT_ID.sub("_", f"{self.base}_{self.rig}")

    def discovery(self, component: str, object_id: str) -> str:
        """``<prefix>/<component>/<node_id>/<object_id>/config``."""
        return f"{self.discovery_prefix}/{component}/{self.node_id}/{object_id}/config"
