"""The :class:`Profile`: one rig's whole configuration, and its mapping <-> object edge."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

from astroiqa_indi.config._check import describe, validate_fields
from astroiqa_indi.config._policy import PolicySettings, QualitySettings
from astroiqa_indi.config._sections import (
    AgentSettings,
    FramesSettings,
    IndiSettings,
    OpticsSettings,
    SequenceSettings,
)
from astroiqa_indi.config._services import MqttSettings, Phd2Settings
from astroiqa_indi.errors import ProfileError

__all__ = ["Profile", "build_profile"]

_NAME = re.compile(r"[A-Za-z0-9_-]+")

_Section = (
    IndiSettings
    | OpticsSettings
    | QualitySettings
    | PolicySettings
    | MqttSettings
    | Phd2Settings
    | FramesSettings
    | SequenceSettings
    | AgentSettings
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Profile:
    """Everything one rig needs: parsed once from YAML, never mutated afterwards.

    Build one with :func:`astroiqa_indi.config.load_profile`,
    :func:`astroiqa_indi.config.default_profile` or :meth:`from_mapping`;
    ``dataclasses.replace`` gives a modified, re-validated copy.

    Attributes
    ----------
    name
        Rig name, used in MQTT topics; letters, digits, ``_`` and ``-``.
    indi, optics, quality, policy, frames, sequence, agent
        Sections; defaults when absent from the YAML.
    mqtt, phd2
        Optional services; ``None`` when absent.
    """

    _SECTION: ClassVar[str] = ""

    name: str = "simulator"
    indi: IndiSettings = field(default_factory=IndiSettings)
    optics: OpticsSettings = field(default_factory=OpticsSettings)
    quality: QualitySettings = field(default_factory=QualitySettings)
    policy: PolicySettings = field(default_factory=PolicySettings)
    mqtt: MqttSettings | None = None
    phd2: Phd2Settings | None = None
    frames: FramesSettings = field(default_factory=FramesSettings)
    sequence: SequenceSettings = field(default_factory=SequenceSettings)
    agent: AgentSettings = field(default_factory=AgentSettings)

    def __post_init__(self) -> None:
        validate_fields(self)
        if not _NAME.fullmatch(self.name):
            raise ProfileError(
                f"expected letters, digits, '_' or '-' only (it is used in MQTT topics), "
                f"got {self.name!r}",
                key="name",
            )
        if self.indi.mode == "passive":
            # Passive mode grades another program's frames and never touches its
            # exposures: aborting one would cut a capture that program is counting on.
            if "abort_exposure" in self.policy.actions:
                raise ProfileError(
                    "abort_exposure needs indi.mode: sequence (in passive mode another "
                    "program owns the exposures)",
                    key="policy.actions",
                )
            if self.indi.abort_on_bad:
                raise ProfileError(
                    "needs indi.mode: sequence (in passive mode another program owns the "
                    "exposures)",
                    key="indi.abort_on_bad",
                )

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, file: str | os.PathLike[str] | None = None
    ) -> Profile:
        """Build a profile from plain data, as ``yaml.safe_load`` returns it.

        Parameters
        ----------
        data
            Mapping of section name to mapping of settings. A section that is
            absent or ``None`` takes its defaults (``mqtt`` and ``phd2``: ``None``).
        file
            Where ``data`` came from. It names the file in errors, and relative
            paths (``mqtt.ca_file``, ``frames.reject_dir``, ``agent.journal_dir``)
            are resolved against its folder. Without it they stay relative.

        Raises
        ------
        ProfileError
            Unknown key, wrong type, out-of-range value or inconsistent settings.
        """
        label = None if file is None else os.fspath(file)
        base_dir = None if label is None else Path(label).absolute().parent
        return build_profile(data, file=label, lines=None, base_dir=base_dir)

    def to_mapping(self) -> dict[str, Any]:
        """Plain data (lists, not tuples) that :meth:`from_mapping` turns back into ``self``.

        Optional sections that are ``None`` are left out. Secrets are never part of a
        profile, so never part of this mapping: only the *name* of ``mqtt.password_env``.
        """
        out: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            section = getattr(self, f.name)
            if f.name == "name" or section is None:
                continue
            out[f.name] = {g.name: _plain(getattr(section, g.name)) for g in fields(section)}
        return out


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


_SECTION_TYPES: dict[str, type[_Section]] = {
    "indi": IndiSettings,
    "optics": OpticsSettings,
    "quality": QualitySettings,
    "policy": PolicySettings,
    "mqtt": MqttSettings,
    "phd2": Phd2Settings,
    "frames": FramesSettings,
    "sequence": SequenceSettings,
    "agent": AgentSettings,
}

# Keys people reach for that must not exist, with the reason instead of "unknown key".
_FORBIDDEN = {
    "mqtt.password": (
        "secrets do not belong in a profile: put the password in an environment "
        "variable and give that variable's name as mqtt.password_env"
    ),
}


def build_profile(
    data: object,
    *,
    file: str | None,
    lines: Mapping[str, int] | None,
    base_dir: Path | None,
) -> Profile:
    """Turn parsed data into a :class:`Profile`, locating any error in the file.

    ``lines`` maps dotted key paths (and ``""`` for the document) to 1-based lines.
    """
    try:
        return _build(data, base_dir)
    except ProfileError as exc:
        if file is None and lines is None:
            raise
        line = _line_of(exc.key, lines) if lines is not None else None
        detail = exc.detail
        if lines is not None and exc.key and exc.key not in lines and "out of range" in detail:
            # A limit set by another key (pause_after <= window): say which value is
            # the culprit when the user never wrote this one.
            detail += "; the file does not set it, so this is its default"
        raise ProfileError(detail, file=file, line=line, key=exc.key) from exc


def _line_of(key: str | None, lines: Mapping[str, int]) -> int | None:
    """Line of ``key``, else of its nearest enclosing key, else of the document."""
    while key:
        if key in lines:
            return lines[key]
        key = key[: max(key.rfind("."), key.rfind("["), 0)]
    return lines.get("")


def _build(data: object, base_dir: Path | None) -> Profile:
    if data is None:
        raise ProfileError("the profile is empty; expected a mapping of sections (indi:, ...)")
    if not isinstance(data, Mapping):
        raise ProfileError(
            f"expected a mapping of sections (indi:, optics:, ...) at the top level, "
            f"got {describe(data)}"
        )
    kwargs = _settings_kwargs(Profile, data, prefix="", base_dir=base_dir)
    for name, cls in _SECTION_TYPES.items():
        raw = kwargs.pop(name, None)
        if raw is not None:
            kwargs[name] = cls(**_settings_kwargs(cls, raw, prefix=name, base_dir=base_dir))
    return Profile(**kwargs)


def _settings_kwargs(
    cls: type[Profile | _Section], raw: object, *, prefix: str, base_dir: Path | None
) -> dict[str, Any]:
    """Check the keys of one mapping against ``cls``'s fields; resolve its path fields."""
    if not isinstance(raw, Mapping):
        raise ProfileError(f"expected a mapping of settings, got {describe(raw)}", key=prefix)
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if not isinstance(key, str):
            raise ProfileError(f"expected a string key, got {describe(key)}", key=path)
        if key not in known:
            raise ProfileError(_FORBIDDEN.get(path) or _unknown(key, known), key=path)
        kwargs[key] = value
    for name, f in known.items():
        if name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
            raise ProfileError("missing required key", key=f"{prefix}.{name}")
    for name in getattr(cls, "_PATHS", ()):
        value = kwargs.get(name)
        if isinstance(value, str) and value.strip():
            kwargs[name] = _resolve(value, base_dir)
    return kwargs


def _unknown(key: str, known: Mapping[str, object]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key; {hint}expected one of: {', '.join(known)}"


def _resolve(value: str, base_dir: Path | None) -> str:
    """Expand ``~``; make a relative path relative to the profile's folder, if known."""
    expanded = os.path.expanduser(value)
    if base_dir is None or os.path.isabs(expanded):
        return expanded
    return os.path.normpath(base_dir / expanded)
