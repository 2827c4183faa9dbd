"""Which device messages each client receives: getProperties interest and enableBLOB.

Pure bookkeeping with no I/O, so it can be tested exhaustively. The rules follow
the INDI 1.7 protocol and what Debian's ``indiserver`` does:

* a client receives nothing until it sends ``getProperties``; one without a device
  subscribes it to everything, one with a device (and name) to that device
  (property) only. Messages from no device (server messages) go to everyone.
* BLOBs are ``Never`` sent until the client asks with ``enableBLOB``. The most
  specific setting wins: (device, property) over device over a client-wide one.
* ``Only`` on a device (or property) also silences every non-BLOB message of it,
  so a client can hold one connection for BLOBs and another for control.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulators.observatory._xml import BlobPolicy, EnableBlob, GetProperties

__all__ = ["ClientFilter", "Outgoing"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One encoded message from a device, with what routing needs to know about it.

    Attributes
    ----------
    device
        Sending device, ``None`` for a server-wide message.
    name
        Property the message is about, ``None`` for device-wide messages.
    data
        The encoded XML.
    is_blob
        ``True`` for ``setBLOBVector`` (subject to ``enableBLOB``).
    """

    device: str | None
    name: str | None
    data: bytes
    is_blob: bool = False

    def __post_init__(self) -> None:
        if self.is_blob and (self.device is None or self.name is None):
            raise ValueError("a BLOB message needs its device and property")


class ClientFilter:
    """The subscriptions and BLOB policy of one client connection."""

    def __init__(self) -> None:
        self._everything = False
        self._interest: set[tuple[str, str | None]] = set()
        self._policies: dict[tuple[str | None, str | None], BlobPolicy] = {}

    def note_get_properties(self, command: GetProperties) -> None:
        """Widen the subscription with what ``command`` asked for."""
        if command.device is None:
            self._everything = True
        else:
            self._interest.add((command.device, command.name))

    def note_enable_blob(self, command: EnableBlob) -> None:
        """Record a BLOB policy; a property-specific one also subscribes to it."""
        if command.device is None and command.name is not None:
            # A property name with no device cannot be matched; treat it as client-wide.
            self._policies[(None, None)] = command.policy
            return
        self._policies[(command.device, command.name)] = command.policy
        if command.device is not None:
            self._interest.add((command.device, command.name))

    def policy(self, device: str, name: str | None) -> BlobPolicy:
        """The policy that applies to ``device``/``name`` (most specific first)."""
        keys: list[tuple[str | None, str | None]] = [(device, None), (None, None)]
        if name is not None:
            keys.insert(0, (device, name))
        for key in keys:
            found = self._policies.get(key)
            if found is not None:
                return found
        return BlobPolicy.NEVER

    def subscribed(self, device: str | None, name: str | None) -> bool:
        """Whether the client asked for messages of ``device``/``name``."""
        if device is None or self._everything:
            return True
        return (device, None) in self._interest or (
            name is not None and (device, name) in self._interest
        )

    def wants(self, message: Outgoing) -> bool:
        """Whether ``message`` goes to this client."""
        if not self.subscribed(message.device, message.name):
            return False
        if message.device is None:
            return True
        policy = self.policy(message.device, message.name)
        if message.is_blob:
            return policy is not BlobPolicy.NEVER
        return policy is not BlobPolicy.ONLY
