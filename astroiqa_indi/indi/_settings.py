"""Client options: reconnection backoff, option checks, what a profile must provide."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

__all__ = ["BACKENDS", "IndiEndpoint", "ReconnectPolicy", "check_client_options"]

BACKENDS = ("native", "pyindi")


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter between reconnection attempts.

    Attempt ``n`` (0-based) waits ``min(maximum, initial * factor**n)`` seconds,
    multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` so that several
    clients of one restarted server do not reconnect in lockstep.

    Parameters
    ----------
    initial
        First delay, seconds.
    maximum
        Cap on the delay, seconds.
    factor
        Growth per attempt (>= 1).
    jitter
        Relative spread, in [0, 1).
    max_attempts
        Give up (state ``FAILED``) after this many failed attempts in a row; None
        retries forever.
    """

    initial: float = 0.25
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.25
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial) and self.initial > 0):
            raise ValueError(f"initial must be a positive number of seconds, got {self.initial}")
        if not (math.isfinite(self.maximum) and self.maximum >= self.initial):
            raise ValueError(f"maximum must be >= initial, got {self.maximum}")
        if not (math.isfinite(self.factor) and self.factor >= 1):
            raise ValueError(f"factor must be >= 1, got {self.factor}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1 or None, got {self.max_attempts}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt number ``attempt`` (0-based)."""
        if attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        # Cap the exponent so huge attempt counts cannot overflow a float.
        base = min(self.maximum, self.initial * self.factor ** min(attempt, 64))
        return base * (1 + rng.uniform(-self.jitter, self.jitter))


class IndiEndpoint(Protocol):
    """What :func:`~astroiqa_indi.indi.open_client` needs from a profile's ``indi``
    section (``astroiqa_indi.config.IndiSettings`` has it)."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def backend(self) -> str: ...

    @property
    def local_socket(self) -> str | None: ...


def check_client_options(
    *,
    host: str,
    port: int,
    blob_queue_size: int,
    connect_timeout: float,
    ping_interval: float | None,
) -> None:
    """Raise ``ValueError`` for options no client can work with."""
    if not host:
        raise ValueError("host must not be empty")
    if not 0 < port < 65536:
        raise ValueError(f"port must be in 1..65535, got {port}")
    if blob_queue_size < 1:
        raise ValueError(f"blob_queue_size must be >= 1, got {blob_queue_size}")
    if not (math.isfinite(connect_timeout) and connect_timeout > 0):
        raise ValueError(f"connect_timeout must be > 0, got {connect_timeout}")
    if ping_interval is not None and not ping_interval > 0:
        raise ValueError(f"ping_interval must be > 0 or None, got {ping_interval}")
