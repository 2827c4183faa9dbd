"""Value types of the notifier: its state, its counters and its reconnection delays."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

__all__ = ["Backoff", "NotifierState", "NotifierStats"]


class NotifierState(enum.Enum):
    """Where a notifier is: ``IDLE`` (not entered), ``CONNECTING``, ``CONNECTED``,
    ``BACKING_OFF`` (waiting before the next attempt; publishing still queues),
    ``CLOSED`` (left; using it raises ``RuntimeError``)."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    BACKING_OFF = "backing_off"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class NotifierStats:
    """Counters of one notifier since it was entered.

    Attributes
    ----------
    published
        Messages the broker acknowledged (QoS 1), discovery and availability included.
    dropped_overflow
        Events (frames, alerts) dropped, oldest first, because the buffer was full.
    reconnects
        Successful connections after the first.
    buffered
        Messages waiting for the broker now.
    connect_failures
        Connection attempts that failed.
    commands
        Valid commands received.
    unknown_commands
        Payloads on the command topic that were not a command, or were retained
        (logged, ignored).
    commands_dropped
        Commands dropped because too many were waiting for the handler.
    command_errors
        Commands whose handler raised an :class:`~astroiqa_indi.errors.AstroIQAError`.
    """

    published: int = 0
    dropped_overflow: int = 0
    reconnects: int = 0
    buffered: int = 0
    connect_failures: int = 0
    commands: int = 0
    unknown_commands: int = 0
    commands_dropped: int = 0
    command_errors: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delay between connection attempts: exponential, capped, with jitter.

    Attempt ``n`` (0 after each successful connection) waits
    ``step / 2 + uniform(0, step / 2)`` seconds with
    ``step = min(max_s, initial_s * factor ** n)``. The random half keeps many
    agents that lost the same broker from knocking on it in step.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"need 0 < initial_s <= max_s, got {self.initial_s}, {self.max_s}")
        if self.factor < 1:
            raise ValueError(f"factor must be >= 1, got {self.factor}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        step = min(self.max_s, self.initial_s * self.factor ** min(attempt, 64))
        return step / 2 + rng.uniform(0.0, step / 2)
