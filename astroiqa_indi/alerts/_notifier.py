"""``MqttNotifier``: verdicts, state and alerts out; commands in; survives broker outages.

aiomqtt 2.x does not reconnect by itself, so one task owns a loop of connection
attempts with exponential backoff and jitter. Each connection runs two child tasks,
the publisher (drains the :class:`Outbox`) and the listener (commands and Home
Assistant's birth message); when the connection drops, the listener's message
iterator raises, the child tasks end, and the loop starts again. Callers never wait
and never see a broker error: their messages wait in the bounded outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import ssl
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Self

import aiomqtt

from astroiqa_indi import __version__
from astroiqa_indi.alerts._discovery import discovery_messages
from astroiqa_indi.alerts._messages import (
    Command,
    OutgoingMessage,
    alert_message,
    parse_command,
    state_message,
    verdict_messages,
)
from astroiqa_indi.alerts._outbox import Outbox
from astroiqa_indi.alerts._tls import tls_context
from astroiqa_indi.alerts._topics import Topics
from astroiqa_indi.alerts._types import Backoff, NotifierState, NotifierStats
from astroiqa_indi.errors import AstroIQAError

if TYPE_CHECKING:
    from astroiqa_indi.config import MqttSettings
    from astroiqa_indi.grading import Verdict

__all__ = ["MqttNotifier"]

log = logging.getLogger(__name__)

# CONNACK codes for refused credentials: MQTT 3.1.1 (4, 5) and their MQTT 5 reason
# codes (134, 135), which paho reports for either protocol.
_REFUSED_CREDENTIALS = frozenset({4, 5, 134, 135})
# Commands are rare; a flood of them (a retained-message loop, a script gone wrong)
# must not grow memory without bound.
_COMMAND_QUEUE = 32
_DEFAULT_BACKOFF = Backoff()


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode()


def _refused_credentials(exc: aiomqtt.MqttError) -> bool:
    if not isinstance(exc, aiomqtt.MqttCodeError):
        return False
    rc = getattr(exc.rc, "value", exc.rc)
    return rc in _REFUSED_CREDENTIALS


@dataclasses.dataclass(slots=True)
class _Counters:
    published: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    commands: int = 0
    unknown_commands: int = 0
    commands_dropped: int = 0
    command_errors: int = 0


class MqttNotifier:
    """Publish verdicts, state and alerts over MQTT; receive commands.

    >>> async with MqttNotifier(profile.mqtt, rig=profile.name) as mqtt:  # doctest: +SKIP
    ...     mqtt.publish_state("watching")
    ...     mqtt.publish_verdict(verdict, frame_name="m31_0001.fits")

    Entering starts the background tasks and returns at once: the broker may be
    down, the publish methods queue regardless. Leaving waits up to
    ``drain_timeout_s`` for queued messages, publishes ``offline`` on the
    availability topic and disconnects.

    Parameters
    ----------
    settings
        The profile's ``mqtt`` section. The password is read from its environment
        variable when the notifier is entered.
    rig
        The profile name; part of every topic.
    on_command
        Awaited with each :class:`Command` received, one at a time, in order.
        An :class:`~astroiqa_indi.errors.AstroIQAError` it raises is logged and
        counted; anything else ends the notifier.
    backoff
        Delays between connection attempts.
    timeout_s
        Seconds to wait for the broker's CONNACK, SUBACK or PUBACK before treating
        the connection as lost.
    drain_timeout_s
        Seconds leaving waits for queued messages to be delivered.
    """

    def __init__(
        self,
        settings: MqttSettings,
        *,
        rig: str,
        on_command: Callable[[Command], Awaitable[None]] | None = None,
        backoff: Backoff = _DEFAULT_BACKOFF,
        timeout_s: float = 10.0,
        drain_timeout_s: float = 5.0,
    ) -> None:
        if timeout_s <= 0 or drain_timeout_s < 0:
            raise ValueError("timeout_s must be > 0 and drain_timeout_s >= 0")
        self.settings = settings
        self.topics = Topics(
            base=settings.base_topic, rig=rig, discovery_prefix=settings.discovery_prefix
        )
        self.backoff = backoff
        self.timeout_s = timeout_s
        self.drain_timeout_s = drain_timeout_s
        self._on_command = on_command
        # buffer_size 0 still lets one message through: the one being sent.
        self._outbox = Outbox(max(1, settings.buffer_size))
        self._discovery = (
            discovery_messages(self.topics, sw_version=__version__)
            if settings.home_assistant
            else ()
        )
        # Last value of each retained topic we own, asserted again after every
        # connection: a broker restarted without persistence has forgotten them.
        self._retained: dict[str, OutgoingMessage] = {}
        self._state = NotifierState.IDLE
        self._last_error: str | None = None
        self._password: str | None = None
        self._tls: ssl.SSLContext | None = None
        self._rng = random.Random()
        self._closing = asyncio.Event()
        self._connected = asyncio.Event()
        self._commands: asyncio.Queue[Command] = asyncio.Queue(maxsize=_COMMAND_QUEUE)
        self._tg: asyncio.TaskGroup | None = None
        self._connection_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None
        self._counts = _Counters()

    def __repr__(self) -> str:
        s = self.settings
        return f"<MqttNotifier {s.host}:{s.port} {self.topics.root} {self._state.value}>"

    # ------------------------------------------------------------------ public

    @property
    def state(self) -> NotifierState:
        return self._state

    @property
    def last_error(self) -> str | None:
        """Why the last connection attempt failed or the connection dropped; ``None``
        while connected."""
        return self._last_error

    @property
    def stats(self) -> NotifierStats:
        return NotifierStats(
            dropped_overflow=self._outbox.dropped,
            buffered=len(self._outbox),
            **dataclasses.asdict(self._counts),
        )

    def publish_verdict(self, verdict: Verdict, *, frame_name: str) -> None:
        """Queue the ``frame`` JSON and the retained ``last`` summary (sensors)."""
        self._check_open()
        for message in verdict_messages(
            verdict, frame_name=frame_name, topics=self.topics, now=datetime.now(UTC)
        ):
            self._put(message)

    def publish_state(self, state: str) -> None:
        """Queue the retained agent state (``watching``, ``paused``, ``stopped``...)."""
        self._check_open()
        self._put(state_message(state, topics=self.topics))

    def publish_alert(
        self, text: str, *, label: str, reason: str, severity: str, fields: Mapping[str, Any]
    ) -> None:
        """Queue an alert; ``severity`` is ``info``, ``warning`` or ``critical``.

        Raises
        ------
        ValueError
            Unknown severity.
        TypeError
            A value in ``fields`` is not JSON serialisable.
        """
        self._check_open()
        self._put(
            alert_message(
                text,
                label=label,
                reason=reason,
                severity=severity,
                fields=fields,
                topics=self.topics,
                now=datetime.now(UTC),
            )
        )

    async def wait_connected(self) -> None:
        """Return once connected (at once if connected now); bound it with a timeout."""
        self._check_open()
        await self._connected.wait()

    async def flush(self) -> None:
        """Return once every queued message has been acknowledged by the broker.

        While the broker is down this waits for it to come back: bound it with a
        timeout.
        """
        self._check_open()
        await self._outbox.wait_empty()

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        if self._state is not NotifierState.IDLE:
            raise RuntimeError(f"MqttNotifier cannot be entered twice (state {self._state.value})")
        s = self.settings
        # Fail now, not at 3 a.m.: a missing variable or CA file will not fix itself.
        self._password = s.password()
        self._tls = tls_context(s.ca_file) if s.tls else None
        self._set_state(NotifierState.CONNECTING)
        # Queued now, so that flush() also waits for discovery to reach the broker.
        self._requeue_retained()
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        root = self.topics.root
        self._connection_task = self._tg.create_task(
            self._connection_loop(), name=f"mqtt-connection {root}"
        )
        self._dispatch_task = self._tg.create_task(
            self._dispatch_commands(), name=f"mqtt-command-dispatch {root}"
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._tg is None or self._state is NotifierState.CLOSED:
            return
        self._closing.set()
        try:
            if self._connection_task is not None:
                # Connected: draining, then "offline", are each bounded. Connecting to a
                # host that drops packets is bounded only by socket timeouts: give up.
                task = self._connection_task
                bound = self.drain_timeout_s + 2 * self.timeout_s  # drain, "offline", DISCONNECT
                await asyncio.wait([task], timeout=bound)
                if not task.done():
                    task.cancel()
                    await asyncio.wait([task])
            if self._dispatch_task is not None:
                self._dispatch_task.cancel()
            # Not given the body's exception: the TaskGroup would wrap it in an
            # ExceptionGroup, and callers should see their own errors unchanged.
            await self._tg.__aexit__(None, None, None)
        finally:
            self._connected.clear()
            if len(self._outbox):
                log.warning(
                    "MQTT %s closed with %d messages undelivered",
                    self.topics.root,
                    len(self._outbox),
                )
            self._set_state(NotifierState.CLOSED)

    # ------------------------------------------------------------------ internals

    def _check_open(self) -> None:
        if self._state is NotifierState.CLOSED:
            raise RuntimeError("MqttNotifier is closed; use it inside 'async with'")

    def _put(self, message: OutgoingMessage) -> None:
        if message.retain:
            self._retained[message.topic] = message
        self._outbox.put(message)

    def _requeue_retained(self) -> None:
        # Discovery first: Home Assistant must know an entity before its state means anything.
        for message in (*self._discovery, *self._retained.values()):
            self._outbox.put(message)

    def _set_state(self, state: NotifierState) -> None:
        if state is not self._state:
            log.debug("MQTT %s: %s -> %s", self.topics.root, self._state.value, state.value)
            self._state = state

    def _client(self) -> aiomqtt.Client:
        s = self.settings
        return aiomqtt.Client(
            s.host,
            s.port,
            username=s.username,
            password=self._password,
            identifier=s.client_id,
            will=aiomqtt.Will(self.topics.availability, b"offline", qos=1, retain=True),
            keepalive=s.keepalive_s,
            timeout=self.timeout_s,
            tls_context=self._tls,
            logger=logging.getLogger("astroiqa_indi.alerts.paho"),
        )

    async def _connection_loop(self) -> None:
        attempt = 0
        connected_before = False
        # Even when closing already: what is queued deserves one attempt (a session
        # started and stopped quickly, or a broker back just before the end).
        while True:
            self._set_state(NotifierState.CONNECTING)
            established = False
            try:
                async with self._client() as client:
                    established = True
                    if connected_before:
                        self._counts.reconnects += 1
                    connected_before = True
                    attempt = 0
                    await self._session(client)
            except aiomqtt.MqttError as exc:
                self._failed(exc, established=established)
            if self._closing.is_set():
                break
            self._set_state(NotifierState.BACKING_OFF)
            delay = self.backoff.delay(attempt, self._rng)
            attempt += 1
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._closing.wait()
            if self._closing.is_set() and not len(self._outbox):
                break

    def _failed(self, exc: aiomqtt.MqttError, *, established: bool) -> None:
        s = self.settings
        where = f"{s.host}:{s.port}"
        reason = f"{exc} ({exc.__cause__})" if exc.__cause__ is not None else str(exc)
        if established:
            message = f"lost the connection to {where}: {reason}"
        else:
            self._counts.connect_failures += 1
            message = f"cannot connect to {where}: {reason}"
        if _refused_credentials(exc):
            # Name the user and the variable, never the password.
            message += f" (user {s.username!r}, password from ${s.password_env})"
        repeated = message == self._last_error
        self._last_error = message
        if repeated:
            log.debug("MQTT: %s", message)
        elif _refused_credentials(exc):
            log.error("MQTT: %s; retrying, messages are buffered", message)
        else:
            log.warning(
                "MQTT: %s; retrying, buffering up to %d events", message, self._outbox.capacity
            )

    async def _session(self, client: aiomqtt.Client) -> None:
        topics = self.topics
        await client.subscribe(topics.command, qos=1)
        if self.settings.home_assistant:
            await client.subscribe(topics.ha_status, qos=1)
        await client.publish(topics.availability, b"online", qos=1, retain=True)
        self._counts.published += 1
        self._requeue_retained()
        self._last_error = None
        self._set_state(NotifierState.CONNECTED)
        self._connected.set()
        log.info(
            "MQTT: connected to %s:%d as %s", self.settings.host, self.settings.port, topics.root
        )
        try:
            async with asyncio.TaskGroup() as tg:
                listener = tg.create_task(self._listen(client), name=f"mqtt-listener {topics.root}")
                publisher = tg.create_task(
                    self._publish_loop(client), name=f"mqtt-publisher {topics.root}"
                )
                await self._closing.wait()
                await self._drain()
                publisher.cancel()
                await client.publish(topics.availability, b"offline", qos=1, retain=True)
                self._counts.published += 1
                listener.cancel()
        except* aiomqtt.MqttError as group:
            # One connection, one reason: unwrap it, keeping what caused it.
            first = group.exceptions[0]
            raise first from first.__cause__
        finally:
            self._connected.clear()

    async def _drain(self) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.drain_timeout_s):
                await self._outbox.wait_empty()

    async def _publish_loop(self, client: aiomqtt.Client) -> None:
        while True:
            message = await self._outbox.next()
            await client.publish(message.topic, message.payload, qos=1, retain=message.retain)
            self._outbox.done(message)
            self._counts.published += 1

    async def _listen(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = _payload_bytes(message.payload)
            if message.topic.matches(self.topics.command):
                self._command(payload, retained=message.retain)
            elif message.topic.matches(self.topics.ha_status) and payload.strip() == b"online":
                log.info("MQTT: Home Assistant is online; publishing discovery again")
                self._requeue_retained()

    def _command(self, payload: bytes, *, retained: bool) -> None:
        if retained:
            # A retained command would be replayed at every reconnection: pausing a
            # session hours after someone asked once. Refuse it.
            self._counts.unknown_commands += 1
            log.warning("MQTT: ignoring a retained message on %s", self.topics.command)
            return
        command = parse_command(payload)
        if command is None:
            self._counts.unknown_commands += 1
            log.warning("MQTT: unknown command %r on %s", payload[:64], self.topics.command)
            return
        try:
            self._commands.put_nowait(command)
        except asyncio.QueueFull:
            self._counts.commands_dropped += 1
            log.warning("MQTT: command %s dropped, %d still pending", command.value, _COMMAND_QUEUE)
            return
        self._counts.commands += 1

    async def _dispatch_commands(self) -> None:
        while True:
            command = await self._commands.get()
            if self._on_command is None:
                log.info("MQTT: command %s received; nothing handles commands", command.value)
                continue
            try:
                await self._on_command(command)
            except AstroIQAError as exc:
                self._counts.command_errors += 1
                log.error("MQTT: command %s failed: %s", command.value, exc)
