"""Loading profiles from YAML files: line numbers in errors, the shipped profiles."""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
from pathlib import Path

import pytest

from astroiqa_indi.config import default_profile, load_profile, loads_profile
from astroiqa_indi.errors import ProfileError

REPO = Path(__file__).resolve().parents[2]
PROFILES = REPO / "profiles"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rig.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _load_error(tmp_path: Path, text: str) -> ProfileError:
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.file == str(path)
    return info.value


RIG = """\
# a comment line
name: rig

indi:
  host: pi.local
  port: {port}
  mode: {mode}
policy:
  actions:
    - alert
    - {action}
"""


def _rig(port: str = "7624", mode: str = "passive", action: str = "pause_guiding") -> str:
    return RIG.format(port=port, mode=mode, action=action)


def test_valid_file_loads(tmp_path: Path) -> None:
    profile = load_profile(_write(tmp_path, _rig()))
    assert profile.name == "rig"
    assert profile.indi.host == "pi.local"
    assert profile.policy.actions == ("alert", "pause_guiding")


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig() + "mqtt:\n  host: broker\n  hots: x\n")
    assert (exc.line, exc.key) == (14, "mqtt.hots")
    assert "did you mean 'host'" in exc.detail
    assert str(exc) == f"{exc.file}:14: mqtt.hots: {exc.detail}"


def test_wrong_type_names_the_line_of_the_key(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig(port="seventy"))
    assert (exc.line, exc.key) == (6, "indi.port")
    assert "expected an integer, got string 'seventy'" in exc.detail


def test_a_default_out_of_range_of_a_key_the_user_set_says_it_is_the_default(
    tmp_path: Path,
) -> None:
    # window: 1 makes the default pause_after (2) too large; the user never wrote it.
    exc = _load_error(tmp_path, "name: rig\npolicy:\n  window: 1\n")
    assert (exc.line, exc.key) == (2, "policy.pause_after")
    assert "window (1), got 2; the file does not set it, so this is its default" in exc.detail
    written = _load_error(tmp_path, "name: rig\npolicy:\n  window: 1\n  pause_after: 2\n")
    assert (written.line, written.key) == (4, "policy.pause_after")
    assert "default" not in written.detail


def test_boolean_is_not_an_integer(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig(port="yes"))  # YAML 1.1: yes is a boolean
    assert (exc.line, exc.key) == (6, "indi.port")
    assert "got boolean true" in exc.detail


def test_out_of_range(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig(port="99999"))
    assert (exc.line, exc.key) == (6, "indi.port")
    assert "out of range: expected 1 <= value <= 65535, got 99999" in exc.detail


def test_bad_enum(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig(mode="active"))
    assert (exc.line, exc.key) == (7, "indi.mode")
    assert "expected one of 'passive', 'sequence', got string 'active'" in exc.detail


def test_bad_list_item_names_its_own_line(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig(action="park"))
    assert (exc.line, exc.key) == (11, "policy.actions[1]")


def test_aborting_exposures_needs_sequence_mode(tmp_path: Path) -> None:
    # Passive mode grades another program's frames: aborting them is not ours to do.
    exc = _load_error(tmp_path, _rig(action="abort_exposure"))
    assert (exc.line, exc.key) == (9, "policy.actions")
    assert "needs indi.mode: sequence" in exc.detail
    exc = _load_error(
        tmp_path, _rig().replace("  mode: passive\n", "  mode: passive\n  abort_on_bad: true\n")
    )
    assert (exc.line, exc.key) == (8, "indi.abort_on_bad")
    profile = load_profile(_write(tmp_path, _rig(mode="sequence", action="abort_exposure")))
    assert profile.policy.actions == ("alert", "abort_exposure")


def test_pings_need_the_native_backend(tmp_path: Path) -> None:
    pings = "  mode: passive\n  ping_interval_s: 30\n"
    profile = load_profile(_write(tmp_path, _rig().replace("  mode: passive\n", pings)))
    assert profile.indi.ping_interval_s == 30
    exc = _load_error(tmp_path, _rig().replace("  mode: passive\n", pings + "  backend: pyindi\n"))
    assert exc.key == "indi.ping_interval_s" and "native backend only" in exc.detail
    exc = _load_error(tmp_path, _rig().replace("  mode: passive\n", "  ping_interval_s: 0\n"))
    assert (exc.line, exc.key) == (7, "indi.ping_interval_s")


def test_missing_key_points_at_its_section(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, _rig() + "mqtt:\n  port: 1883\n")
    assert (exc.line, exc.key) == (12, "mqtt.host")


def test_yaml_syntax_error(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, "name: rig\nindi:\n  host: [127.0.0.1\n  port: 7624\n")
    assert exc.key is None
    assert exc.line is not None and exc.line >= 3
    assert exc.detail.startswith("invalid YAML: ")


def test_tab_indentation_is_a_syntax_error(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, "indi:\n\thost: x\n")
    assert exc.line == 2
    assert "invalid YAML" in exc.detail


def test_unsafe_tags_are_refused(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, "name: !!python/object/apply:os.system ['true']\n")
    assert exc.line == 1
    assert "invalid YAML" in exc.detail


def test_duplicate_key_is_an_error(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, "indi:\n  port: 1\n  port: 2\n")
    assert (exc.line, exc.key) == (3, "indi.port")
    assert "first given on line 2" in exc.detail


def test_several_documents_are_an_error(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, "name: a\n---\nname: b\n")
    assert exc.line == 2
    assert "single document" in exc.detail


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "rig.yaml"
    path.write_bytes(b"name: rig\nindi: \xff\xfe\xfa\n")
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.line == 2
    assert info.value.detail == "invalid YAML: cannot decode byte #xff as utf-8: invalid start byte"


def test_control_character(tmp_path: Path) -> None:
    exc = _load_error(tmp_path, 'name: rig\nindi:\n  host: "\x07"\n')
    assert exc.line == 3
    assert "unacceptable character #x0007" in exc.detail


@pytest.mark.parametrize(
    ("text", "line"),
    [("- indi\n- optics\n", 1), ("# only a comment\n\n'just a string'\n", 3), ("", None)],
)
def test_non_mapping_top_level(tmp_path: Path, text: str, line: int | None) -> None:
    exc = _load_error(tmp_path, text)
    assert exc.key is None
    assert exc.line == line
    assert "expected a mapping of sections" in exc.detail


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    assert info.value.file == str(path)
    assert str(info.value) == f"{path}: no such file"
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_folder_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="is a folder"):
        load_profile(tmp_path)


def test_merge_keys_are_supported(tmp_path: Path) -> None:
    text = "indi: &pi\n  host: pi.local\nphd2:\n  <<: *pi\n  port: 4401\n"
    profile = load_profile(_write(tmp_path, text))
    assert profile.phd2 is not None
    assert (profile.phd2.host, profile.phd2.port) == ("pi.local", 4401)


def test_merged_bad_value_reports_the_merging_section(tmp_path: Path) -> None:
    # a key that only arrives through the merge has no line of its own: its section's
    exc = _load_error(tmp_path, "indi: &pi\n  host: h\n  mode: passive\nphd2:\n  <<: *pi\n")
    assert (exc.line, exc.key) == (4, "phd2.mode")


def test_relative_paths_resolve_against_the_profile_folder(tmp_path: Path) -> None:
    sub = tmp_path / "rigs"
    sub.mkdir()
    (sub / "rig.yaml").write_text("agent:\n  journal_dir: sessions\n", encoding="utf-8")
    profile = load_profile(sub / "rig.yaml")
    assert profile.agent.journal_dir == str(sub / "sessions")


def test_relative_profile_path_gives_absolute_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "rig.yaml").write_text("agent:\n  journal_dir: sessions\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    profile = load_profile("rig.yaml")
    assert profile.agent.journal_dir == str(tmp_path / "sessions")


def test_loads_profile_without_a_file_uses_a_placeholder_name() -> None:
    with pytest.raises(ProfileError) as info:
        loads_profile("indi:\n  port: 0\n")
    assert str(info.value).startswith("<profile>:2: indi.port: out of range")


def test_default_profile_is_the_simulator() -> None:
    profile = default_profile()
    assert profile is default_profile()  # parsed once
    assert profile.name == "simulator"
    assert (profile.indi.host, profile.indi.port, profile.indi.mode) == (
        "127.0.0.1",
        7624,
        "sequence",
    )
    assert profile.indi.ccd_device == "AstroIQA CCD"
    # The simulated observatory's Seestar-like rig: 206.265 * 2.9 um / 250 mm.
    assert profile.optics.pixel_scale() == pytest.approx(2.3927, rel=1e-3)
    assert profile.quality.max_fwhm_arcsec == 13.0
    assert profile.phd2 is not None
    assert (profile.phd2.host, profile.phd2.port) == ("127.0.0.1", 4400)
    assert profile.mqtt is None
    assert profile.frames.flag == "sidecar"
    # embedded: a relative journal stays relative, never inside the installed package
    assert profile.agent.journal_dir == "astroiqa-session"


def test_embedded_default_is_a_byte_identical_copy_of_profiles_simulator() -> None:
    embedded = importlib.resources.files("astroiqa_indi.config").joinpath("simulator.yaml")
    assert embedded.read_bytes() == (PROFILES / "simulator.yaml").read_bytes()


def test_simulator_file_loads_like_the_default_but_with_resolved_paths() -> None:
    loaded = load_profile(PROFILES / "simulator.yaml")
    assert loaded.agent.journal_dir == str(PROFILES / "astroiqa-session")
    default = default_profile()
    assert dataclasses.replace(loaded, agent=default.agent) == default


def test_example_rig_loads_without_the_password_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ASTROIQA_MQTT_PASSWORD", raising=False)
    profile = load_profile(PROFILES / "example-rig.yaml")
    assert profile.name == "refractor-80"
    assert profile.indi.host == "astroberry.local"
    # 206.265 * 3.76 um / 480 mm = 1.61574 arcsec/px
    assert profile.optics.pixel_scale() == pytest.approx(1.615742, rel=1e-6)
    assert profile.optics.bayer == "RGGB"
    assert profile.mqtt is not None
    assert profile.mqtt.tls
    assert profile.mqtt.username == "astroiqa"
    assert profile.mqtt.password_env == "ASTROIQA_MQTT_PASSWORD"
    assert profile.mqtt.ca_file == os.path.join(PROFILES, "certs", "home-ca.pem")
    assert profile.phd2 is not None
    assert profile.phd2.host == "astroberry.local"
    with pytest.raises(ProfileError, match="ASTROIQA_MQTT_PASSWORD is not set"):
        profile.mqtt.password()
