"""Property tests: whatever the input, the profile layer answers a Profile or a ProfileError."""

from __future__ import annotations

import dataclasses
import types
from typing import Any, get_args, get_type_hints

import yaml
from hypothesis import given
from hypothesis import strategies as st

from astroiqa_indi.config import Profile, loads_profile
from astroiqa_indi.errors import ProfileError
from astroiqa_indi.labels import LABELS


def _section_class(tp: Any) -> type:
    inner = [arg for arg in get_args(tp) if arg is not types.NoneType]
    return inner[0] if inner else tp


_HINTS = get_type_hints(Profile)
SECTIONS = {
    f.name: _section_class(_HINTS[f.name]) for f in dataclasses.fields(Profile) if f.name != "name"
}
FIELDS = {name: [f.name for f in dataclasses.fields(cls)] for name, cls in SECTIONS.items()}

# Values a real profile would hold, so that many draws get past the type checks
# into the range and cross-field rules, and some build a valid Profile.
PLAUSIBLE_STRINGS = st.sampled_from(
    [
        *LABELS,
        "alert",
        "pause_guiding",
        "passive",
        "sequence",
        "native",
        "RGGB",
        "none",
        "move",
        "header",
        "127.0.0.1",
        "rig-1",
        "MY_VAR",
        "a/b",
        "",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=70000)
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | PLAUSIBLE_STRINGS
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
ANY_KEY = st.sampled_from(["name", *FIELDS]) | st.text(max_size=10)


def _typed(tp: Any) -> st.SearchStrategy[Any]:
    """Values of roughly the annotated type, straddling the valid ranges."""
    args = get_args(tp)
    if type(None) in args:
        return st.none() | _typed(next(arg for arg in args if arg is not type(None)))
    if args and all(isinstance(arg, str) for arg in args):  # a Literal
        return st.sampled_from(args)
    if args:  # tuple[Literal, ...]
        return st.lists(_typed(args[0]) | PLAUSIBLE_STRINGS, max_size=4)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-2, max_value=70000) | st.integers(min_value=0, max_value=9)
    if tp is float:
        return st.floats(min_value=-1, max_value=1000) | st.integers(min_value=-1, max_value=100)
    return PLAUSIBLE_STRINGS | st.text(max_size=8)


def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` about nine times in ten, else ``rare``."""
    return st.integers(min_value=0, max_value=9).flatmap(lambda i: rare if i == 9 else usual)


def _section(name: str) -> st.SearchStrategy[object]:
    cls = SECTIONS[name]
    hints = get_type_hints(cls)
    typed = st.fixed_dictionaries(
        {},
        optional={f.name: _mostly(_typed(hints[f.name]), SCALARS) for f in dataclasses.fields(cls)},
    )
    junk = st.dictionaries(st.sampled_from(FIELDS[name]) | st.text(max_size=6), VALUES, max_size=4)
    # Mostly well-formed sections: one bad section anywhere already decides the outcome.
    return _mostly(typed, junk | VALUES)


NEAR_VALID = st.fixed_dictionaries(
    {},
    optional={"name": st.one_of(PLAUSIBLE_STRINGS, SCALARS), **{n: _section(n) for n in FIELDS}},
)
RANDOM = st.dictionaries(ANY_KEY, VALUES, max_size=6) | VALUES


def _outcome(build: Any) -> Profile | ProfileError:
    try:
        return build()
    except ProfileError as exc:
        return exc


@given(RANDOM | NEAR_VALID)
def test_from_mapping_raises_only_profile_errors(data: Any) -> None:
    result = _outcome(lambda: Profile.from_mapping(data))
    if isinstance(result, Profile):
        assert Profile.from_mapping(result.to_mapping()) == result
    else:
        assert result.detail
        assert result.file is None


@given(RANDOM | NEAR_VALID)
def test_yaml_text_gives_the_same_answer_with_a_line(data: Any) -> None:
    direct = _outcome(lambda: Profile.from_mapping(data, file="fuzz.yaml"))
    text = yaml.safe_dump(data, sort_keys=False)
    via_yaml = _outcome(lambda: loads_profile(text, file="fuzz.yaml"))
    if isinstance(direct, Profile):
        assert via_yaml == direct
    else:
        assert isinstance(via_yaml, ProfileError)
        assert via_yaml.key == direct.key
        assert via_yaml.detail == direct.detail
        assert via_yaml.file == "fuzz.yaml"
        assert via_yaml.line is not None
        assert 1 <= via_yaml.line <= text.count("\n") + 1


# Fragments of YAML syntax, so that draws reach anchors, aliases, merges, tags and flows.
YAMLISH = st.lists(
    st.sampled_from(
        [
            *"ab1:-[]{},&*!|>?'\"#%\n\t ",
            *("  ", "\n  ", "\n- ", "indi", "port", "policy", "actions"),
            *("&x ", "*x", "<<: ", "!!str ", "!!binary ", "!!python/name:os ", "---"),
        ]
    ),
    max_size=40,
).map("".join)


@given(st.text(max_size=200) | st.binary(max_size=200) | YAMLISH)
def test_arbitrary_text_raises_only_profile_errors(source: str | bytes) -> None:
    result = _outcome(lambda: loads_profile(source))
    assert isinstance(result, Profile | ProfileError)
