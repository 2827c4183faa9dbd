"""Helpers of the alert tests: an observing MQTT client, verdicts, log waiters."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any, Self

import aiomqtt

from astroiqa_indi.config import MqttSettings
from astroiqa_indi.grading import FrameMetrics, Verdict
from tests._mosquitto import MosquittoBroker

__all__ = [
    "LogWaiter",
    "Observer",
    "make_verdict",
    "payload_json",
    "payload_text",
    "settings_for",
    "unique_frames",
]

NOTIFIER_LOGGER = "astroiqa_indi.alerts._notifier"


def settings_for(broker: MosquittoBroker, **overrides: Any) -> MqttSettings:
    """Settings pointing at ``broker`` (TLS and credentials come from ``overrides``)."""
    values: dict[str, Any] = {"host": broker.host, "port": broker.port, "keepalive_s": 5}
    values.update(overrides)
    return MqttSettings(**values)


def make_verdict(label: str = "bad_tracking", *, fwhm: float | None = 2.5) -> Verdict:
    """A hand-made verdict with easily recognised numbers."""
    probabilities = dict.fromkeys(
        ("good", "bad_tracking", "very_bad_tracking", "bad_seeing", "background_issues"), 0.0
    )
    probabilities[label] = 1.0
    return Verdict(
        label=label,  # type: ignore[arg-type]
        probabilities=probabilities,
        metrics=FrameMetrics(
            n_sources=40,
            n_stars=31,
            fwhm_px=fwhm,
            fwhm_arcsec=fwhm,
            eccentricity=0.62,
            background=1234.5,
            background_rms=12.0,
        ),
        reasons=("stars are elongated",),
        source="/data/m31_0001.fits",
        model_version="rules",
    )


class Observer:
    """A separate aiomqtt client that subscribes (QoS 1) and reads what arrives."""

    def __init__(self, broker: MosquittoBroker, *topics: str, **client_kwargs: Any) -> None:
        self.broker = broker
        self.topics = topics
        self.client_kwargs = client_kwargs
        self._client: aiomqtt.Client | None = None

    async def __aenter__(self) -> Self:
        self._client = aiomqtt.Client(
            self.broker.host, self.broker.port, timeout=5, **self.client_kwargs
        )
        await self._client.__aenter__()
        for topic in self.topics:
            await self._client.subscribe(topic, qos=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._client is not None
        await self._client.__aexit__(None, None, None)

    @property
    def client(self) -> aiomqtt.Client:
        assert self._client is not None
        return self._client

    async def next(self, *, timeout: float = 5.0) -> aiomqtt.Message:
        async with asyncio.timeout(timeout):
            return await anext(self.client.messages)

    async def take(
        self, count: int, *, topic: str | None = None, timeout: float = 5.0
    ) -> list[aiomqtt.Message]:
        """The next ``count`` messages (on ``topic`` only, when given)."""
        out: list[aiomqtt.Message] = []
        async with asyncio.timeout(timeout):
            async for message in self.client.messages:
                if topic is None or message.topic.matches(topic):
                    out.append(message)
                    if len(out) == count:
                        return out
        raise AssertionError("message iteration ended")

    async def until(
        self, stop: Callable[[aiomqtt.Message], bool], *, timeout: float = 5.0
    ) -> list[aiomqtt.Message]:
        """Every message up to and including the first for which ``stop`` is true."""
        out: list[aiomqtt.Message] = []
        async with asyncio.timeout(timeout):
            async for message in self.client.messages:
                out.append(message)
                if stop(message):
                    return out
        raise AssertionError("message iteration ended")


def payload_json(message: aiomqtt.Message) -> Any:
    assert isinstance(message.payload, bytes | bytearray)
    return json.loads(message.payload)


def unique_frames(messages: list[aiomqtt.Message]) -> list[str]:
    """Frame names in order of first arrival.

    QoS 1 is at-least-once, and mosquitto 2.0.11 does resend (DUP) messages to
    persistent-session subscribers while it waits for their PUBACK; a duplicate is
    allowed by the protocol, a gap or a reordering is not.
    """
    names: list[str] = []
    for message in messages:
        name = payload_json(message)["frame"]
        if name not in names:
            names.append(name)
    return names


def payload_text(message: aiomqtt.Message) -> str:
    assert isinstance(message.payload, bytes | bytearray)
    return bytes(message.payload).decode()


class LogWaiter(logging.Handler):
    """Resolves :attr:`seen` with the first log record that ``match`` accepts."""

    def __init__(self, match: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__(level=logging.DEBUG)
        self.match = match
        self.loop = asyncio.get_running_loop()
        self.seen: asyncio.Future[logging.LogRecord] = self.loop.create_future()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self.match(record):
            self.loop.call_soon_threadsafe(self._resolve, record)

    def _resolve(self, record: logging.LogRecord) -> None:
        if not self.seen.done():
            self.seen.set_result(record)

    def __enter__(self) -> Self:
        logger = logging.getLogger(NOTIFIER_LOGGER)
        self._old_level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger(NOTIFIER_LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._old_level)
