"""Rig profiles: YAML parsed once, at the edge, into frozen, validated dataclasses.

>>> from astroiqa_indi.config import load_profile
>>> profile = load_profile("profiles/example-rig.yaml")  # doctest: +SKIP
>>> profile.optics.pixel_scale()  # doctest: +SKIP
1.6157...

Any unknown key, wrong type or out-of-range value raises
:class:`astroiqa_indi.errors.ProfileError` naming the file, the line of the key,
the dotted key path and what was expected. Secrets are never stored: the profile
names an environment variable (``mqtt.password_env``) read when connecting.
See ``docs/profiles.md`` for every key.
"""

from __future__ import annotations

from astroiqa_indi.config._loader import default_profile, load_profile, loads_profile
from astroiqa_indi.config._policy import Action, PolicySettings, QualitySettings
from astroiqa_indi.config._profile import Profile
from astroiqa_indi.config._sections import (
    AgentSettings,
    Bayer,
    FrameFlag,
    FramesSettings,
    IndiBackend,
    IndiMode,
    IndiSettings,
    OpticsSettings,
    SequenceSettings,
)
from astroiqa_indi.config._services import MqttSettings, Phd2Settings

__all__ = [
    "Action",
    "AgentSettings",
    "Bayer",
    "FrameFlag",
    "FramesSettings",
    "IndiBackend",
    "IndiMode",
    "IndiSettings",
    "MqttSettings",
    "OpticsSettings",
    "Phd2Settings",
    "PolicySettings",
    "Profile",
    "QualitySettings",
    "SequenceSettings",
    "default_profile",
    "load_profile",
    "loads_profile",
]
