"""Secrets live in the environment; a profile only names the variable."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from astroiqa_indi.config import MqttSettings, load_profile
from astroiqa_indi.errors import ProfileError

SECRET = "hunter2-Correct-Horse"  # a test value, not a credential
PROFILE = """\
name: rig
mqtt:
  host: broker.local
  username: astro
  password_env: RIG_MQTT_PASSWORD
"""


@pytest.fixture
def profile_path(tmp_path: Path) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return path


def test_password_is_read_from_the_named_variable_at_use_time(
    profile_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RIG_MQTT_PASSWORD", raising=False)
    mqtt = load_profile(profile_path).mqtt
    assert mqtt is not None
    # set only after loading: the value is read when asked for, not when parsed
    monkeypatch.setenv("RIG_MQTT_PASSWORD", SECRET)
    assert mqtt.password() == SECRET
    monkeypatch.setenv("RIG_MQTT_PASSWORD", "rotated")
    assert mqtt.password() == "rotated"


def test_unset_variable_is_a_profile_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RIG_MQTT_PASSWORD", raising=False)
    with pytest.raises(ProfileError) as info:
        MqttSettings(host="h", password_env="RIG_MQTT_PASSWORD").password()
    assert info.value.key == "mqtt.password_env"
    assert "RIG_MQTT_PASSWORD is not set" in str(info.value)


def test_no_password_env_means_no_password() -> None:
    assert MqttSettings(host="h").password() is None


def test_secret_never_appears_in_repr_str_mapping_or_logs(
    profile_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RIG_MQTT_PASSWORD", SECRET)
    caplog.set_level(logging.DEBUG)
    profile = load_profile(profile_path)
    assert profile.mqtt is not None
    assert profile.mqtt.password() == SECRET
    logging.getLogger("astroiqa_indi").info("profile %s mqtt %r", profile, profile.mqtt)
    exposed = [
        repr(profile),
        str(profile),
        repr(profile.mqtt),
        str(profile.mqtt),
        repr(profile.to_mapping()),
        yaml.safe_dump(profile.to_mapping()),
        caplog.text,
    ]
    for text in exposed:
        assert SECRET not in text
    assert "RIG_MQTT_PASSWORD" in repr(profile.mqtt)  # the name is fine to show
    assert "loaded profile 'rig'" in caplog.text  # the loader did log, without the secret


def test_password_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_text(f"mqtt:\n  host: h\n  password: {SECRET}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert (info.value.line, info.value.key) == (3, "mqtt.password")
    assert "password_env" in info.value.detail
    assert SECRET not in str(info.value)


def test_password_pasted_into_password_env_is_not_echoed() -> None:
    with pytest.raises(ProfileError) as info:
        MqttSettings(host="h", password_env="pa$$ word")
    assert "pa$$ word" not in str(info.value)
