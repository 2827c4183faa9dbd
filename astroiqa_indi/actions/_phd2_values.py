"""Value types and the event subscription of the PHD2 client."""

from __future__ import annotations

import asyncio
import enum
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from astroiqa_indi.actions._phd2_protocol import Phd2Event
from astroiqa_indi.errors import GuiderError

__all__ = ["GuideRms", "Phd2ClientState", "Phd2EventStream", "SettleParams", "population_sigma"]


class Phd2ClientState(enum.Enum):
    """Life cycle of a :class:`Phd2Client`."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"  # PHD2 went away; requests raise GuiderError
    CLOSED = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class SettleParams:
    """When PHD2 should call guiding settled after ``guide`` or ``dither``.

    Attributes
    ----------
    pixels
        Largest guide distance, pixels, that counts as in range.
    time
        Seconds guiding must stay in range.
    timeout
        Seconds before settling counts as failed.
    """

    pixels: float = 1.5
    time: float = 10.0
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pixels) and self.pixels > 0):
            raise ValueError(f"settle pixels must be > 0, got {self.pixels}")
        if not (math.isfinite(self.time) and self.time >= 0):
            raise ValueError(f"settle time must be >= 0 s, got {self.time}")
        if not (math.isfinite(self.timeout) and self.timeout > 0):
            raise ValueError(f"settle timeout must be > 0 s, got {self.timeout}")

    def to_params(self) -> dict[str, float]:
        return {"pixels": self.pixels, "time": self.time, "timeout": self.timeout}


@dataclass(frozen=True, slots=True, kw_only=True)
class GuideRms:
    """Guide error over the last guide steps, as PHD2 computes it.

    PHD2's RMS is the population standard deviation of the raw RA and Dec distances
    (not the root mean square about zero), and the total is their quadrature sum.

    Attributes
    ----------
    ra_px, dec_px, total_px
        Guide camera pixels.
    n_steps
        Guide steps used.
    pixel_scale
        Arcsec per pixel, or ``None`` when PHD2 does not know it.
    """

    ra_px: float
    dec_px: float
    total_px: float
    n_steps: int
    pixel_scale: float | None

    def _arcsec(self, px: float) -> float | None:
        return None if self.pixel_scale is None else px * self.pixel_scale

    @property
    def ra_arcsec(self) -> float | None:
        return self._arcsec(self.ra_px)

    @property
    def dec_arcsec(self) -> float | None:
        return self._arcsec(self.dec_px)

    @property
    def total_arcsec(self) -> float | None:
        return self._arcsec(self.total_px)


def population_sigma(values: Sequence[float]) -> float:
    """Standard deviation of ``values`` about their mean, dividing by n (as PHD2 does)."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


class Phd2EventStream:
    """Events from one :meth:`Phd2Client.events` call, in arrival order.

    Registered when created, so nothing that arrives after :meth:`Phd2Client.events`
    returns is missed. When more than ``maxsize`` events wait unread, the oldest are
    dropped and counted in :attr:`dropped`. Iteration ends when the client closes, or
    raises :class:`GuiderError` when PHD2 went away.
    """

    def __init__(self, maxsize: int, on_close: Callable[[Phd2EventStream], None]) -> None:
        self._on_close = on_close
        self._maxsize = maxsize
        self._queue: deque[Phd2Event] = deque()
        self._ready = asyncio.Event()
        self._ended = False
        self._error: GuiderError | None = None
        self.dropped = 0

    def push(self, event: Phd2Event) -> None:
        """Queue one event (called by the client's reader)."""
        if self._ended:
            return
        if len(self._queue) >= self._maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._ready.set()

    def end(self, error: GuiderError | None) -> None:
        """No more events: iteration stops, or raises ``error`` once the queue is empty."""
        if not self._ended:
            self._ended = True
            self._error = error
            self._ready.set()

    def close(self) -> None:
        """Stop receiving events; iteration ends after those already queued."""
        self._on_close(self)
        self.end(None)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Phd2Event:
        while not self._queue:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
