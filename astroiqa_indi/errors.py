"""The one exception tree of astroiqa-indi.

Every error the package raises on purpose derives from :class:`AstroIQAError`::

    AstroIQAError
    ├── FrameError            bytes or a file that cannot become a Frame
    ├── ProfileError          a YAML profile that is not valid (file, line, key path)
    ├── IndiError
    │   ├── IndiConnectionError   cannot reach, or lost, the INDI server
    │   ├── IndiTimeoutError      a property did not reach the awaited state in time
    │   └── IndiProtocolError     malformed or unexpected INDI XML
    ├── AlertError            MQTT / notification delivery failed in a way the caller must know
    ├── GuiderError           PHD2 refused a request or cannot be reached
    ├── ModelError            a missing, corrupt or incompatible grading model
    └── ReferenceFileError    a saved transparency reference that cannot be read

A frame with no stars is *not* an error: it is a ``Verdict`` whose reasons say so.
"""

from __future__ import annotations

__all__ = [
    "AlertError",
    "AstroIQAError",
    "FrameError",
    "GuiderError",
    "IndiConnectionError",
    "IndiError",
    "IndiProtocolError",
    "IndiTimeoutError",
    "ModelError",
    "ProfileError",
    "ReferenceFileError",
]


class AstroIQAError(Exception):
    """Root of every error raised on purpose by astroiqa-indi."""


class FrameError(AstroIQAError):
    """Bytes or a file could not be decoded into a 2-D image."""


class ProfileError(AstroIQAError):
    """A profile is invalid.

    Parameters
    ----------
    message
        What was expected.
    file
        The YAML file, or ``None`` for a profile built in code.
    line
        1-based line of the offending key in ``file``, when known.
    key
        Dotted key path, e.g. ``"mqtt.port"``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        where = file or "<profile>"
        if line is not None:
            where = f"{where}:{line}"
        prefix = f"{where}: {key}: " if key else f"{where}: "
        super().__init__(prefix + message)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields: rebuild explicitly so errors survive worker processes.
        return (_rebuild_profile_error, (self.detail, self.file, self.line, self.key))


def _rebuild_profile_error(
    message: str, file: str | None, line: int | None, key: str | None
) -> ProfileError:
    return ProfileError(message, file=file, line=line, key=key)


class IndiError(AstroIQAError):
    """Base of INDI errors."""


class IndiConnectionError(IndiError):
    """The INDI server cannot be reached or the connection was lost."""


class IndiTimeoutError(IndiError):
    """A property did not arrive or change state in time.

    The device and property are attached so callers can say what timed out.
    """

    def __init__(self, message: str, *, device: str | None = None, prop: str | None = None) -> None:
        self.device = device
        self.prop = prop
        super().__init__(message)


class IndiProtocolError(IndiError):
    """Malformed or unexpected INDI XML; ``context`` holds the offending bytes (truncated)."""

    def __init__(self, message: str, *, context: bytes = b"") -> None:
        self.context = context[:200]
        super().__init__(f"{message} (near {self.context!r})" if context else message)


class AlertError(AstroIQAError):
    """An alert could not be delivered and the caller asked to know."""


class GuiderError(AstroIQAError):
    """PHD2 refused a request, answered with a JSON-RPC error, or cannot be reached."""


class ModelError(AstroIQAError):
    """The grading model is missing, corrupt or incompatible."""


class ReferenceFileError(AstroIQAError):
    """A session's saved transparency reference cannot be read or is not one.

    Callers start a new reference and say so: the file is a convenience, not data.
    """
