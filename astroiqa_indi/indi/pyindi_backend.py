"""The same client interface over pyindi-client 2.3 (libindiclient 2.1.2, C++).

Install with ``pip install --no-deps pyindi-client==2.3.0``: the wheel bundles its own
libindiclient, so it needs no Debian ``libindi-dev`` and talks to indiserver 1.9.9;
``--no-deps`` skips a ``dbus-python`` requirement that does not build without system
headers (see ``docs/indi.md``).

libindiclient runs one listener thread per connection and calls our
``newProperty``/``updateProperty``/... overrides on it. Each callback copies what it
needs out of the C++ objects (they change after the callback returns) and posts a
plain event to the event loop with ``loop.call_soon_threadsafe``; all model, waiter and
stream work then happens on the loop, exactly as with the native client.

As in the native client there are two connections: *control* (BLOBs ``Never``) and
*BLOB*. The BLOB connection uses ``Also`` rather than ``Only`` because libindiclient
drops a ``setBLOBVector`` for a property it has not seen defined; its non-BLOB
updates are ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any

import PyIndi

from astroiqa_indi.errors import IndiConnectionError
from astroiqa_indi.indi._blob import Blob
from astroiqa_indi.indi._core import ClientCore
from astroiqa_indi.indi._settings import ReconnectPolicy
from astroiqa_indi.indi._types import (
    BlobElement,
    DefVector,
    DelProperty,
    Element,
    IndiEvent,
    LightElement,
    Message,
    NumberElement,
    Permission,
    PropertyState,
    SetVector,
    SwitchElement,
    SwitchRule,
    TextElement,
    VectorKind,
)

__all__ = ["PyIndiClient"]

log = logging.getLogger("astroiqa_indi.indi")

_KINDS = {
    PyIndi.INDI_NUMBER: VectorKind.NUMBER,
    PyIndi.INDI_SWITCH: VectorKind.SWITCH,
    PyIndi.INDI_TEXT: VectorKind.TEXT,
    PyIndi.INDI_LIGHT: VectorKind.LIGHT,
    PyIndi.INDI_BLOB: VectorKind.BLOB,
}
_TYPED = {
    VectorKind.NUMBER: PyIndi.PropertyNumber,
    VectorKind.SWITCH: PyIndi.PropertySwitch,
    VectorKind.TEXT: PyIndi.PropertyText,
    VectorKind.LIGHT: PyIndi.PropertyLight,
    VectorKind.BLOB: PyIndi.PropertyBlob,
}
_STATES = {
    PyIndi.IPS_IDLE: PropertyState.IDLE,
    PyIndi.IPS_OK: PropertyState.OK,
    PyIndi.IPS_BUSY: PropertyState.BUSY,
    PyIndi.IPS_ALERT: PropertyState.ALERT,
}
_PERMS = {PyIndi.IP_RO: Permission.RO, PyIndi.IP_WO: Permission.WO, PyIndi.IP_RW: Permission.RW}
_RULES = {
    PyIndi.ISR_1OFMANY: SwitchRule.ONE_OF_MANY,
    PyIndi.ISR_ATMOST1: SwitchRule.AT_MOST_ONE,
    PyIndi.ISR_NOFMANY: SwitchRule.ANY_OF_MANY,
}


def _elements(kind: VectorKind, typed: Any, *, definition: bool) -> tuple[Element, ...]:
    out: list[Element] = []
    for w in typed:
        name = w.getName()
        label = w.getLabel() if definition else ""
        if kind is VectorKind.NUMBER:
            if definition:
                out.append(
                    NumberElement(
                        name=name,
                        value=w.getValue(),
                        label=label,
                        format=w.getFormat(),
                        minimum=w.getMin(),
                        maximum=w.getMax(),
                        step=w.getStep(),
                    )
                )
            else:
                out.append(NumberElement(name=name, value=w.getValue()))
        elif kind is VectorKind.SWITCH:
            out.append(SwitchElement(name=name, value=w.getState() == PyIndi.ISS_ON, label=label))
        elif kind is VectorKind.TEXT:
            out.append(TextElement(name=name, value=w.getText() or "", label=label))
        elif kind is VectorKind.LIGHT:
            out.append(LightElement(name=name, value=_STATES[w.getState()], label=label))
        else:
            out.append(BlobElement(name=name, label=label, format=w.getFormat(), size=w.getSize()))
    return tuple(out)


def _event(prop: Any, *, definition: bool) -> IndiEvent | None:
    """Copy a PyIndi property into a DefVector / SetVector (on libindiclient's thread)."""
    kind = _KINDS.get(prop.getType())
    if kind is None:
        return None
    typed = _TYPED[kind](prop)
    elements = _elements(kind, typed, definition=definition)
    state = _STATES.get(typed.getState(), PropertyState.IDLE)
    device, name = typed.getDeviceName(), typed.getName()
    if definition:
        return DefVector(
            kind=kind,
            device=device,
            name=name,
            elements=elements,
            label=typed.getLabel(),
            group=typed.getGroupName(),
            state=state,
            perm=_PERMS.get(typed.getPermission(), Permission.RO),
            timeout=typed.getTimeout(),
            timestamp=typed.getTimestamp() or "",
            rule=_RULES.get(typed.getRule()) if kind is VectorKind.SWITCH else None,
        )
    return SetVector(
        kind=kind,
        device=device,
        name=name,
        elements=elements,
        state=state,
        timeout=typed.getTimeout(),
        timestamp=typed.getTimestamp() or "",
    )


def _guarded(method: Callable[..., None]) -> Callable[..., None]:
    """Keep every Python exception out of libindiclient's thread.

    An exception escaping a SWIG director callback becomes a C++ exception in the
    listener thread, which calls ``std::terminate`` and aborts the whole process. So
    here, and only here, any exception is caught: logged with its traceback and
    counted as a protocol error on the client.
    """

    @functools.wraps(method)
    def wrapper(self: _Bridge, *args: Any) -> None:
        try:
            method(self, *args)
        except BaseException:
            log.exception("pyindi-client callback %s failed", method.__name__)
            owner = getattr(self, "owner", None)
            if owner is not None:
                self.post(owner._count, "protocol_errors")

    return wrapper


class _Bridge(PyIndi.BaseClient):
    """One libindiclient connection whose callbacks are forwarded to the event loop.

    A bridge lives as long as its client and is reconnected in place: destroying one
    while libindiclient's thread may still call it back runs callbacks on a
    half-deallocated object.
    """

    def __init__(self, owner: PyIndiClient, role: str, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self.owner = owner
        self.role = role
        self.loop = loop
        self.generation = 0  # which connection attempt of the client this socket serves

    def post(self, callback: Callable[..., None], *args: object) -> None:
        """Run ``callback(*args)`` on the event loop (from libindiclient's thread)."""
        with contextlib.suppress(RuntimeError):  # loop closed: the client is gone
            self.loop.call_soon_threadsafe(callback, *args)

    @_guarded
    def newDevice(self, device: Any) -> None:
        if self.role == "blob":
            # Device-wide: covers BLOB properties defined later (after CONNECT).
            self.setBLOBMode(PyIndi.B_ALSO, device.getDeviceName(), None)

    @_guarded
    def removeDevice(self, device: Any) -> None:
        if self.role == "control":
            self.post(self.owner._handle_event, DelProperty(device=device.getDeviceName()))

    @_guarded
    def newProperty(self, prop: Any) -> None:
        if self.role == "control":
            event = _event(prop, definition=True)
            if event is not None:
                self.post(self.owner._handle_event, event)

    @_guarded
    def updateProperty(self, prop: Any) -> None:
        if self.role == "blob":
            if prop.getType() == PyIndi.INDI_BLOB:
                self._forward_blobs(prop)
            return
        event = _event(prop, definition=False)
        if event is not None:
            self.post(self.owner._handle_event, event)

    def _forward_blobs(self, prop: Any) -> None:
        received_at = dt.datetime.now(dt.UTC)
        typed = PyIndi.PropertyBlob(prop)
        device, name, timestamp = typed.getDeviceName(), typed.getName(), typed.getTimestamp()
        blobs = []
        for w in typed:
            if w.getBlobLen() <= 0:
                continue
            blobs.append(
                Blob(
                    device=device,
                    property=name,
                    element=w.getName(),
                    format=w.getFormat(),
                    # libindiclient decoded the base64 already; copy before it is reused.
                    data=bytes(w.getblobdata()),
                    size=w.getSize(),
                    received_at=received_at,
                    timestamp=timestamp or "",
                )
            )
        if blobs:
            self.post(self.owner._on_blobs, blobs)

    @_guarded
    def removeProperty(self, prop: Any) -> None:
        if self.role == "control":
            event = DelProperty(device=prop.getDeviceName(), name=prop.getName())
            self.post(self.owner._handle_event, event)

    @_guarded
    def newMessage(self, device: Any, message_id: int) -> None:
        if self.role == "control":
            event = Message(message=device.messageQueue(message_id), device=device.getDeviceName())
            self.post(self.owner._handle_event, event)

    @_guarded
    def serverConnected(self) -> None:
        pass

    @_guarded
    def serverDisconnected(self, exit_code: int) -> None:
        self.post(self.owner._on_disconnected, self.generation, exit_code)


class PyIndiClient(ClientCore):
    """``async with PyIndiClient(host=..., port=...) as indi:`` over pyindi-client.

    Same interface and options as :class:`~astroiqa_indi.indi.IndiClient` (no ``ping``).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7624,
        *,
        blob_queue_size: int = 4,
        connect_timeout: float = 5.0,
        fail_fast: bool = False,
        reconnect: ReconnectPolicy | None = None,
    ) -> None:
        super().__init__(
            host,
            port,
            blob_queue_size=blob_queue_size,
            connect_timeout=connect_timeout,
            fail_fast=fail_fast,
            reconnect=reconnect,
        )
        self._bridges: dict[str, _Bridge] = {}
        self._control: _Bridge | None = None
        self._blob: _Bridge | None = None
        self._generation = 0
        self._lost: asyncio.Future[None] | None = None

    async def _open(self, role: str) -> _Bridge:
        bridge = self._bridges.get(role)
        if bridge is None:
            bridge = _Bridge(self, role, asyncio.get_running_loop())
            bridge.setServer(self.host, self.port)
            bridge.setConnectionTimeout(max(1, int(self._connect_timeout)), 0)
            self._bridges[role] = bridge
        bridge.generation = self._generation
        # connectServer blocks (TCP connect + thread start): keep it off the loop.
        if not await asyncio.to_thread(bridge.connectServer):
            raise IndiConnectionError(f"pyindi-client could not connect ({role})")
        return bridge

    async def _connect(self, lost: asyncio.Future[None]) -> None:
        self._generation += 1
        self._model.clear()
        self._lost = lost
        self._control = await self._open("control")
        self._blob = await self._open("blob")
        log.info("connected to INDI server %s:%d (pyindi-client)", self.host, self.port)

    def _close_connections(self) -> None:
        # Disconnect reports from this generation are ours: ignore them.
        self._generation += 1
        for bridge in self._bridges.values():
            if bridge.isServerConnected():
                bridge.disconnectServer()
        self._control = self._blob = None

    def _on_disconnected(self, generation: int, exit_code: int) -> None:
        if generation != self._generation:
            return  # a connection we closed, or an older one
        log.info("pyindi-client connection closed (exit code %d)", exit_code)
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    def _on_blobs(self, blobs: list[Blob]) -> None:
        for blob in blobs:
            if self._wants_blob(blob.device, blob.property):
                self._deliver_blob(blob)
            else:
                self._count("blobs_ignored")

    def _send_new(
        self,
        kind: VectorKind,
        device: str,
        name: str,
        values: dict[str, float] | dict[str, bool] | dict[str, str],
    ) -> None:
        bridge = self._control
        if bridge is None or not bridge.isServerConnected():
            raise IndiConnectionError(
                f"not connected to INDI server {self.host}:{self.port} ({self._state.value})"
            )
        dev = bridge.getDevice(device)
        if kind is VectorKind.NUMBER:
            prop = dev.getNumber(name)
            for w in prop:
                if w.getName() in values:
                    w.setValue(float(values[w.getName()]))
        elif kind is VectorKind.SWITCH:
            prop = dev.getSwitch(name)
            exclusive = prop.getRule() in (PyIndi.ISR_1OFMANY, PyIndi.ISR_ATMOST1)
            turning_on = any(values.values())
            for w in prop:
                if w.getName() in values:
                    w.setState(PyIndi.ISS_ON if values[w.getName()] else PyIndi.ISS_OFF)
                elif exclusive and turning_on:
                    # libindiclient sends every switch: others must read Off, or the
                    # driver sees two On in a OneOfMany vector and refuses.
                    w.setState(PyIndi.ISS_OFF)
        else:
            prop = dev.getText(name)
            for w in prop:
                if w.getName() in values:
                    w.setText(str(values[w.getName()]))
        bridge.sendNewProperty(prop)
