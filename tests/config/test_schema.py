"""Validation of every section: types, ranges, enums and cross-field rules."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from astroiqa_indi.config import (
    FramesSettings,
    MqttSettings,
    OpticsSettings,
    Phd2Settings,
    PolicySettings,
    Profile,
)
from astroiqa_indi.errors import ProfileError


def _error(data: Any) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        Profile.from_mapping(data)
    return info.value


@pytest.mark.parametrize(
    ("data", "key", "fragment"),
    [
        # unknown keys, with a suggestion when one is close
        ({"indy": {}}, "indy", "did you mean 'indi'"),
        ({"indi": {"prot": 1}}, "indi.prot", "did you mean 'port'"),
        ({"agent": {"threads": 2}}, "agent.threads", "unknown key"),
        ({"mqtt": {"host": "h", "password": "x"}}, "mqtt.password", "password_env"),
        ({"indi": {7: 1}}, "indi.7", "expected a string key"),
        # wrong types
        ({"indi": {"port": "7624"}}, "indi.port", "expected an integer, got string '7624'"),
        ({"indi": {"port": True}}, "indi.port", "expected an integer, got boolean true"),
        ({"optics": {"binning": 2.0}}, "optics.binning", "expected an integer"),
        ({"indi": {"connect_timeout_s": False}}, "indi.connect_timeout_s", "finite number"),
        ({"indi": {"abort_on_bad": 1}}, "indi.abort_on_bad", "expected true or false"),
        ({"indi": {"host": ""}}, "indi.host", "non-empty string"),
        ({"indi": []}, "indi", "expected a mapping of settings"),
        ({"policy": {"actions": "alert"}}, "policy.actions", "expected a list"),
        ({"quality": {"nominal_sky_adu": "dark"}}, "quality.nominal_sky_adu", "or null"),
        ({"name": 3}, "name", "non-empty string"),
        ({"mqtt": {"host": "h", "port": 18.83}}, "mqtt.port", "expected an integer"),
        # out of range
        ({"indi": {"port": 0}}, "indi.port", "out of range: expected 1 <= value <= 65535"),
        ({"indi": {"port": 65536}}, "indi.port", "out of range"),
        ({"indi": {"connect_timeout_s": 0}}, "indi.connect_timeout_s", "0 < value"),
        ({"optics": {"binning": 9}}, "optics.binning", "1 <= value <= 8"),
        ({"optics": {"focal_length_mm": -480}}, "optics.focal_length_mm", "out of range"),
        ({"optics": {"pixel_size_um": 0}}, "optics.pixel_size_um", "out of range"),
        ({"quality": {"max_fwhm_arcsec": 0.2}}, "quality.max_fwhm_arcsec", "0.3 <= value <= 60"),
        ({"quality": {"max_fwhm_arcsec": 60.5}}, "quality.max_fwhm_arcsec", "out of range"),
        ({"quality": {"min_stars": 0}}, "quality.min_stars", "out of range"),
        ({"quality": {"max_elongation": 0.9}}, "quality.max_elongation", "1 <= value <= 3"),
        ({"quality": {"max_elongation": 3.5}}, "quality.max_elongation", "out of range"),
        ({"quality": {"min_transparency": 0}}, "quality.min_transparency", "0.05 <= value <= 1"),
        ({"quality": {"min_transparency": 1.5}}, "quality.min_transparency", "out of range"),
        ({"policy": {"window": 0}}, "policy.window", "out of range"),
        ({"policy": {"window": 3, "pause_after": 4}}, "policy.pause_after", "window (3)"),
        ({"policy": {"pause_after": 0}}, "policy.pause_after", "out of range"),
        ({"policy": {"alert_cooldown_s": -1}}, "policy.alert_cooldown_s", "out of range"),
        ({"agent": {"workers": 65}}, "agent.workers", "1 <= value <= 64"),
        ({"agent": {"queue_size": 0}}, "agent.queue_size", "out of range"),
        ({"sequence": {"exposure_s": 0}}, "sequence.exposure_s", "out of range"),
        ({"sequence": {"count": -1}}, "sequence.count", "out of range"),
        ({"mqtt": {"host": "h", "keepalive_s": 0}}, "mqtt.keepalive_s", "out of range"),
        ({"phd2": {"settle_pixels": 0}}, "phd2.settle_pixels", "out of range"),
        ({"indi": {"connect_timeout_s": math.inf}}, "indi.connect_timeout_s", "finite"),
        ({"indi": {"connect_timeout_s": math.nan}}, "indi.connect_timeout_s", "finite"),
        ({"indi": {"connect_timeout_s": 10**400}}, "indi.connect_timeout_s", "finite"),
        # bad enums
        ({"indi": {"mode": "active"}}, "indi.mode", "one of 'passive', 'sequence'"),
        ({"indi": {"backend": "pyindi2"}}, "indi.backend", "'native', 'pyindi'"),
        ({"optics": {"bayer": "rggb"}}, "optics.bayer", "'RGGB'"),
        ({"frames": {"flag": "delete"}}, "frames.flag", "'sidecar', 'move'"),
        ({"policy": {"actions": ["alert", "park"]}}, "policy.actions[1]", "'abort_exposure'"),
        ({"policy": {"pause_labels": ["blurry"]}}, "policy.pause_labels[0]", "one of"),
        ({"policy": {"alert_labels": ["good"]}}, "policy.alert_labels[0]", "not a bad label"),
        # cross-field rules and formats
        ({"policy": {"actions": ["alert", "alert"]}}, "policy.actions[1]", "listed twice"),
        ({"frames": {"flag": "move"}}, "frames.reject_dir", "required when frames.flag"),
        ({"mqtt": {}}, "mqtt.host", "missing required key"),
        ({"mqtt": {"host": "h", "base_topic": "a/#"}}, "mqtt.base_topic", "wildcards"),
        ({"mqtt": {"host": "h", "discovery_prefix": "/ha"}}, "mqtt.discovery_prefix", "topic"),
        ({"mqtt": {"host": "h", "password_env": "my pass"}}, "mqtt.password_env", "NAME"),
        ({"name": "my rig"}, "name", "letters, digits"),
        (
            {"phd2": {"settle_time_s": 30, "settle_timeout_s": 20}},
            "phd2.settle_timeout_s",
            "settle_time_s (30)",
        ),
    ],
)
def test_invalid_values_name_key_and_expectation(data: Any, key: str, fragment: str) -> None:
    exc = _error(data)
    assert exc.key == key
    assert fragment in exc.detail
    assert exc.file is None
    assert exc.line is None


@pytest.mark.parametrize("data", [None, [], "indi", 3, ["indi"]])
def test_top_level_must_be_a_mapping(data: Any) -> None:
    exc = _error(data)
    assert exc.key is None
    assert "expected a mapping of sections" in exc.detail


def test_ints_are_accepted_for_floats_and_stored_as_floats() -> None:
    profile = Profile.from_mapping({"indi": {"connect_timeout_s": 5}, "optics": {"binning": 2}})
    assert profile.indi.connect_timeout_s == 5.0
    assert type(profile.indi.connect_timeout_s) is float
    assert type(profile.optics.binning) is int


def test_lists_become_tuples() -> None:
    policy = PolicySettings(actions=["alert"])  # type: ignore[arg-type]
    assert policy.actions == ("alert",)


def test_empty_policy_lists_mean_observe_only() -> None:
    policy = Profile.from_mapping({"policy": {"actions": [], "pause_labels": []}}).policy
    assert policy.actions == ()
    assert policy.pause_labels == ()


def test_null_section_takes_defaults() -> None:
    profile = Profile.from_mapping({"indi": None, "mqtt": None, "phd2": None})
    assert profile == Profile()


def test_pixel_scale_from_focal_length_and_pixel_size() -> None:
    # 206.265 * 3.76 * 2 / 480 = 3.2314850 (worked by hand)
    optics = OpticsSettings(focal_length_mm=480, pixel_size_um=3.76, binning=2)
    assert optics.pixel_scale() == pytest.approx(3.231485, rel=1e-6)
    assert OpticsSettings(pixel_scale_arcsec=1.5).pixel_scale() == 1.5
    assert OpticsSettings(focal_length_mm=480).pixel_scale() is None
    assert OpticsSettings().pixel_scale() is None


def test_explicit_pixel_scale_wins_when_it_agrees_within_5_percent() -> None:
    derived = 206.265 * 3.76 / 480
    optics = OpticsSettings(
        pixel_scale_arcsec=derived * 1.04, focal_length_mm=480, pixel_size_um=3.76
    )
    assert optics.pixel_scale() == pytest.approx(derived * 1.04)
    with pytest.raises(ProfileError, match=r"disagrees by 6\.0%") as info:
        OpticsSettings(pixel_scale_arcsec=derived * 1.06, focal_length_mm=480, pixel_size_um=3.76)
    assert info.value.key == "optics.pixel_scale_arcsec"


def test_frames_move_with_reject_dir_is_valid() -> None:
    assert FramesSettings(flag="move", reject_dir="rejected").reject_dir == "rejected"


def test_phd2_settle_timeout_may_equal_settle_time() -> None:
    assert Phd2Settings(settle_time_s=20, settle_timeout_s=20).settle_timeout_s == 20.0


def test_mqtt_nested_base_topic_is_valid() -> None:
    assert MqttSettings(host="h", base_topic="home/astro").base_topic == "home/astro"


FULL = {
    "name": "rig-1",
    "indi": {"host": "pi.local", "mode": "sequence", "backend": "pyindi"},
    "optics": {"focal_length_mm": 480, "pixel_size_um": 3.76, "bayer": "RGGB"},
    "quality": {"max_fwhm_arcsec": 3, "nominal_sky_adu": 1200},
    "policy": {"window": 5, "pause_after": 5, "actions": ["abort_exposure"]},
    "mqtt": {"host": "broker", "tls": True, "username": "u", "password_env": "PW"},
    "phd2": {"enabled": False},
    "frames": {"flag": "move", "reject_dir": "/data/rejected"},
    "sequence": {"exposure_s": 120, "count": 30},
    "agent": {"workers": 4},
}


@pytest.mark.parametrize("data", [{}, FULL])
def test_to_mapping_round_trips(data: dict[str, Any]) -> None:
    profile = Profile.from_mapping(data)
    mapping = profile.to_mapping()
    assert Profile.from_mapping(mapping) == profile
    # and it is plain data that YAML can carry
    assert Profile.from_mapping(yaml.safe_load(yaml.safe_dump(mapping))) == profile


def test_to_mapping_leaves_out_absent_optional_sections() -> None:
    mapping = Profile().to_mapping()
    assert "mqtt" not in mapping
    assert "phd2" not in mapping
    assert mapping["policy"]["actions"] == ["alert", "pause_guiding"]


def test_relative_paths_resolve_against_the_file_folder(tmp_path: Path) -> None:
    data = {
        "mqtt": {"host": "h", "ca_file": "certs/ca.pem"},
        "frames": {"flag": "move", "reject_dir": "../rejected"},
        "agent": {"journal_dir": "/abs/journal"},
    }
    profile = Profile.from_mapping(data, file=tmp_path / "rig.yaml")
    assert profile.mqtt is not None
    assert profile.mqtt.ca_file == str(tmp_path / "certs" / "ca.pem")
    assert profile.frames.reject_dir == str(tmp_path.parent / "rejected")
    assert profile.agent.journal_dir == "/abs/journal"
    # without a file, relative paths stay relative (to the working directory at use time)
    assert Profile.from_mapping(data).frames.reject_dir == "../rejected"


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    profile = Profile.from_mapping({"agent": {"journal_dir": "~/sessions"}}, file="x/rig.yaml")
    assert profile.agent.journal_dir == str(tmp_path / "sessions")


def test_errors_from_a_mapping_name_the_file_when_given() -> None:
    with pytest.raises(ProfileError) as info:
        Profile.from_mapping({"indi": {"port": 0}}, file="rig.yaml")
    assert info.value.file == "rig.yaml"
    assert str(info.value).startswith("rig.yaml: indi.port: out of range")
