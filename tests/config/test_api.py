"""The public surface of astroiqa_indi.config and the shape of its value objects."""

from __future__ import annotations
import __future__

import dataclasses
import pickle
import types

import pytest

import astroiqa_indi.config as config
from astroiqa_indi.config import (
    AgentSettings,
    FramesSettings,
    IndiSettings,
    MqttSettings,
    OpticsSettings,
    Phd2Settings,
    PolicySettings,
    Profile,
    QualitySettings,
    SequenceSettings,
)
from astroiqa_indi.errors import ProfileError

SETTINGS = (
    AgentSettings,
    FramesSettings,
    IndiSettings,
    OpticsSettings,
    Phd2Settings,
    PolicySettings,
    Profile,
    QualitySettings,
    SequenceSettings,
)


def test_all_lists_every_public_name() -> None:
    public = {
        name
        for name, value in vars(config).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }
    assert set(config.__all__) == public
    assert len(config.__all__) == len(set(config.__all__))


@pytest.mark.parametrize("cls", [*SETTINGS, MqttSettings])
def test_settings_are_frozen_slotted_keyword_only(cls: type) -> None:
    params = dataclasses.fields(cls)
    assert params, cls
    assert all(f.kw_only for f in params)
    instance = cls(host="broker") if cls is MqttSettings else cls()
    assert not hasattr(instance, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(instance, params[0].name, getattr(instance, params[0].name))
    with pytest.raises(TypeError):
        cls("positional")


def test_profile_defaults_match_the_schema() -> None:
    profile = Profile()
    assert profile.name == "simulator"
    assert profile.mqtt is None
    assert profile.phd2 is None
    assert profile.indi == IndiSettings(
        host="127.0.0.1",
        port=7624,
        ccd_device="CCD Simulator",
        blob_property="CCD1",
        mode="passive",
        backend="native",
        connect_timeout_s=10.0,
        abort_on_bad=False,
    )
    assert profile.policy.pause_labels == ("very_bad_tracking", "background_issues")
    assert profile.policy.alert_labels == (
        "bad_tracking",
        "very_bad_tracking",
        "bad_seeing",
        "background_issues",
    )
    assert profile.policy.actions == ("alert", "pause_guiding")
    assert (profile.policy.window, profile.policy.pause_after) == (3, 2)
    assert profile.frames == FramesSettings(flag="sidecar", reject_dir=None)
    assert profile.agent == AgentSettings(
        journal_dir="astroiqa-session", workers=1, queue_size=8, live_view=True
    )
    assert MqttSettings(host="h").port == 1883
    assert Phd2Settings().port == 4400


def test_replace_revalidates() -> None:
    with pytest.raises(ProfileError, match=r"indi\.port"):
        dataclasses.replace(IndiSettings(), port=0)


def test_profiles_pickle_for_worker_processes() -> None:
    profile = Profile.from_mapping({"mqtt": {"host": "h"}, "policy": {"actions": ["alert"]}})
    assert pickle.loads(pickle.dumps(profile)) == profile
