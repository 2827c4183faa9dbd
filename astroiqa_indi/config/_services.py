"""Profile sections about the services we talk to: the MQTT broker and PHD2."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import ClassVar

from astroiqa_indi.config._check import check_range, key_of, validate_fields
from astroiqa_indi.errors import ProfileError

__all__ = ["MqttSettings", "Phd2Settings"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Publish topics: no wildcards, no NUL, no empty levels, no leading or trailing slash.
_TOPIC = re.compile(r"[^/#+\x00]+(/[^/#+\x00]+)*")


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttSettings:
    """The MQTT broker verdicts and alerts are published to.

    Attributes
    ----------
    host
        Broker host name or address (required).
    port
        Broker port, 1..65535 (1883 plain, usually 8883 with TLS).
    tls
        Connect with TLS.
    ca_file
        CA certificate (PEM) to verify the broker with; the system store when ``None``.
        Its existence is checked when connecting, not here.
    username
        User name, or ``None`` for anonymous access.
    password_env
        *Name* of the environment variable holding the password. The password itself
        never appears in a profile; :meth:`password` reads it when connecting.
    base_topic
        Prefix of every topic we publish, e.g. ``astroiqa/<profile name>/frame``.
    client_id
        MQTT client id, or ``None`` to let the client pick one.
    home_assistant
        Publish Home Assistant MQTT discovery messages.
    discovery_prefix
        Home Assistant's discovery prefix.
    buffer_size
        Messages kept while the broker is unreachable; 0..1000000.
    keepalive_s
        MQTT keep-alive interval, seconds; 1..65535.
    """

    _SECTION: ClassVar[str] = "mqtt"
    _PATHS: ClassVar[tuple[str, ...]] = ("ca_file",)

    host: str
    port: int = 1883
    tls: bool = False
    ca_file: str | None = None
    username: str | None = None
    password_env: str | None = None
    base_topic: str = "astroiqa"
    client_id: str | None = None
    home_assistant: bool = True
    discovery_prefix: str = "homeassistant"
    buffer_size: int = 1000
    keepalive_s: int = 30

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "port", ge=1, le=65535)
        if self.password_env is not None and not _ENV_NAME.fullmatch(self.password_env):
            # Do not echo the value: a password pasted here by mistake must not reach a log.
            raise ProfileError(
                "expected the NAME of an environment variable ([A-Za-z_][A-Za-z0-9_]*), "
                "not the password itself",
                key=key_of(self, "password_env"),
            )
        for name in ("base_topic", "discovery_prefix"):
            if not _TOPIC.fullmatch(getattr(self, name)):
                raise ProfileError(
                    "expected an MQTT topic prefix without wildcards (+ #), "
                    f"empty levels or leading/trailing '/', got {getattr(self, name)!r}",
                    key=key_of(self, name),
                )
        check_range(self, "buffer_size", ge=0, le=1_000_000)
        check_range(self, "keepalive_s", ge=1, le=65535)

    def password(self) -> str | None:
        """The broker password, read from the environment now; ``None`` without ``password_env``.

        Raises
        ------
        ProfileError
            ``password_env`` names a variable that is not set.
        """
        if self.password_env is None:
            return None
        try:
            return os.environ[self.password_env]
        except KeyError:
            raise ProfileError(
                f"environment variable {self.password_env} is not set "
                "(it should hold the MQTT password)",
                key=key_of(self, "password_env"),
            ) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Phd2Settings:
    """The PHD2 guider (event server) to pause and resume.

    Attributes
    ----------
    host, port
        PHD2 event server address; port 1..65535 (4400 for PHD2 instance 1).
    enabled
        Talk to PHD2 at all; ``False`` keeps the settings but never connects.
    settle_pixels
        Guide error, pixels (> 0), below which guiding counts as settled after resuming.
    settle_time_s
        Seconds (>= 0) the error must stay below ``settle_pixels``.
    settle_timeout_s
        Seconds to wait for settling before giving up; > 0 and >= ``settle_time_s``.
    """

    _SECTION: ClassVar[str] = "phd2"
    _PATHS: ClassVar[tuple[str, ...]] = ()

    host: str = "127.0.0.1"
    port: int = 4400
    enabled: bool = True
    settle_pixels: float = 1.5
    settle_time_s: float = 10.0
    settle_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        validate_fields(self)
        check_range(self, "port", ge=1, le=65535)
        check_range(self, "settle_pixels", gt=0)
        check_range(self, "settle_time_s", ge=0)
        check_range(
            self,
            "settle_timeout_s",
            gt=0,
            ge=self.settle_time_s,
            what=f"0 < value and value >= settle_time_s ({self.settle_time_s:g})",
        )
