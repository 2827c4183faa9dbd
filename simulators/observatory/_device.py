"""What every simulated INDI device shares: CONNECTION, DRIVER_INFO, emit and dispatch.

A device never touches a socket. It emits :class:`~._routing.Outgoing` messages to
the ``emit`` callback the observatory gives it and starts long work (exposures,
slews, guide pulses) through ``spawn``, which puts the task in the observatory's
TaskGroup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from simulators.observatory import _xml
from simulators.observatory._properties import (
    BlobVector,
    LightVector,
    NumberVector,
    Perm,
    State,
    Switch,
    SwitchVector,
    Text,
    TextVector,
    apply_numbers,
    apply_switches,
    apply_texts,
)
from simulators.observatory._routing import Outgoing

__all__ = ["AnyVector", "Device", "Emit", "NewCommand", "Spawn"]

_log = logging.getLogger(__name__)

AnyVector = NumberVector | SwitchVector | TextVector | LightVector | BlobVector
NewCommand = _xml.NewNumbers | _xml.NewSwitches | _xml.NewTexts | _xml.NewBlobs
Emit = Callable[[Outgoing], None]
Spawn = Callable[[Coroutine[Any, Any, None], str], asyncio.Task[None]]

MAIN_TAB = "Main Control"
OPTIONS_TAB = "Options"
GENERAL_TAB = "General Info"


class Device:
    """Base of the simulated devices.

    Subclasses list the properties that exist only while connected in
    :meth:`connected_vectors` and react to client changes in :meth:`on_numbers`,
    :meth:`on_switches` and :meth:`on_texts`, which return the message to attach to
    the property update (or raise ``ValueError`` to refuse the change).

    Parameters
    ----------
    name
        INDI device name.
    emit
        Receives every message the device sends.
    spawn
        Starts a named background task owned by the observatory.
    driver_name
        ``DRIVER_INFO.DRIVER_NAME``.
    interface
        ``DRIVER_INTERFACE`` bit mask (1 telescope, 2 CCD, 4 guider), which KStars
        uses to decide what a device is.
    """

    def __init__(
        self,
        name: str,
        *,
        emit: Emit,
        spawn: Spawn,
        interface: int,
        driver_name: str,
        driver_exec: str = "indi_astroiqa_observatory",
    ) -> None:
        if not name:
            raise ValueError("a device needs a name")
        self.name = name
        self._emit = emit
        self._spawn = spawn
        self.connection = SwitchVector(
            device=name,
            name="CONNECTION",
            label="Connection",
            group=MAIN_TAB,
            elements=[Switch("CONNECT", "Connect"), Switch("DISCONNECT", "Disconnect", on=True)],
        )
        self.driver_info = TextVector(
            device=name,
            name="DRIVER_INFO",
            label="Driver Info",
            group=GENERAL_TAB,
            perm=Perm.RO,
            state=State.IDLE,
            elements=[
                Text("DRIVER_NAME", "Name", driver_name),
                Text("DRIVER_EXEC", "Exec", driver_exec),
                Text("DRIVER_VERSION", "Version", "1.0"),
                Text("DRIVER_INTERFACE", "Interface", str(interface)),
            ],
        )

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Whether CONNECT is on."""
        return self.connection["CONNECT"].on

    def connected_vectors(self) -> list[AnyVector]:
        """Properties defined only while connected, in definition order."""
        return []

    def vectors(self) -> list[AnyVector]:
        """Properties a client can see right now."""
        base: list[AnyVector] = [self.connection, self.driver_info]
        return base + self.connected_vectors() if self.connected else base

    def find(self, name: str) -> AnyVector | None:
        """The defined property called ``name``, if any."""
        return next((v for v in self.vectors() if v.name == name), None)

    # ------------------------------------------------------------------ emit

    def definitions(self, name: str | None = None) -> list[Outgoing]:
        """``def*`` messages for every defined property, or for ``name`` only."""
        return [
            Outgoing(self.name, v.name, _xml.def_vector(v))
            for v in self.vectors()
            if name is None or v.name == name
        ]

    def send(
        self,
        vector: NumberVector | SwitchVector | TextVector | LightVector,
        message: str | None = None,
    ) -> None:
        """Emit the current values and state of ``vector``."""
        self._emit(
            Outgoing(self.name, vector.name, _xml.set_vector(vector, message=message or None))
        )

    def emit_blob(self, name: str, data: bytes) -> None:
        """Emit an encoded ``setBLOBVector`` (encoded off the loop by the caller)."""
        self._emit(Outgoing(self.name, name, data, is_blob=True))

    def log(self, text: str) -> None:
        """Emit a device ``message`` (clients show it in their log)."""
        _log.info("%s: %s", self.name, text)
        self._emit(Outgoing(self.name, None, _xml.message(self.name, text)))

    # ------------------------------------------------------------------ connect

    def connect(self) -> None:
        """Turn CONNECT on and define the connected-only properties."""
        if self.connected:
            self.send(self.connection)
            return
        apply_switches(self.connection, {"CONNECT": True})
        self.connection.state = State.OK
        self.on_connect()
        self.send(self.connection, f"{self.name} is online.")
        for vector in self.connected_vectors():
            self._emit(Outgoing(self.name, vector.name, _xml.def_vector(vector)))

    def disconnect(self) -> None:
        """Stop activity, delete the connected-only properties, turn DISCONNECT on."""
        if not self.connected:
            self.send(self.connection)
            return
        vectors = self.connected_vectors()
        self.on_disconnect()
        apply_switches(self.connection, {"DISCONNECT": True})
        self.connection.state = State.IDLE
        for vector in vectors:
            self._emit(Outgoing(self.name, vector.name, _xml.del_property(self.name, vector.name)))
        self.send(self.connection, f"{self.name} is offline.")

    def on_connect(self) -> None:
        """Hook run before the connected-only properties are defined."""

    def on_disconnect(self) -> None:
        """Hook run before the connected-only properties are deleted (stop tasks here)."""

    # ------------------------------------------------------------------ dispatch

    def handle(self, command: NewCommand) -> None:
        """Apply a client's ``new*Vector``; refusals go back as Alert plus a message."""
        vector = self.find(command.name)
        if vector is None:
            self.log(f"Unknown property {command.name!r}.")
            return
        if vector.perm is Perm.RO:
            self.log(f"{command.name} is read-only.")
            return
        try:
            if isinstance(command, _xml.NewSwitches) and isinstance(vector, SwitchVector):
                if vector is self.connection:
                    self._on_connection(dict(command.values))
                    return
                message = self.on_switches(vector, dict(command.values))
            elif isinstance(command, _xml.NewNumbers) and isinstance(vector, NumberVector):
                message = self.on_numbers(vector, dict(command.values))
            elif isinstance(command, _xml.NewTexts) and isinstance(vector, TextVector):
                message = self.on_texts(vector, dict(command.values))
            else:
                raise ValueError(f"{command.name} is not a {type(command).__name__[3:-1]} vector")
        except ValueError as exc:
            if not isinstance(vector, BlobVector):
                vector.state = State.ALERT
                self.send(vector, str(exc))
            else:
                self.log(str(exc))
            return
        if message is not None and not isinstance(vector, BlobVector):
            self.send(vector, message)

    def _on_connection(self, values: dict[str, bool]) -> None:
        if values.get("CONNECT") or values.get("DISCONNECT") is False:
            self.connect()
        elif values.get("DISCONNECT") or values.get("CONNECT") is False:
            self.disconnect()
        else:
            raise ValueError("CONNECTION: expected CONNECT or DISCONNECT")

    def on_numbers(self, vector: NumberVector, values: dict[str, float]) -> str | None:
        """Default: store the numbers and answer Ok."""
        apply_numbers(vector, values)
        vector.state = State.OK
        return ""

    def on_switches(self, vector: SwitchVector, values: dict[str, bool]) -> str | None:
        """Default: apply the switch rule and answer Ok."""
        apply_switches(vector, values)
        vector.state = State.OK
        return ""

    def on_texts(self, vector: TextVector, values: dict[str, str]) -> str | None:
        """Default: store the texts and answer Ok."""
        apply_texts(vector, values)
        vector.state = State.OK
        return ""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Start background work owned by the observatory."""
        return self._spawn(coro, f"{self.name}: {name}")
