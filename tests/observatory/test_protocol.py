"""Device-side INDI XML: encoders, the incremental client parser, property rules, routing."""

from __future__ import annotations

import base64
import contextlib
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from astroiqa_indi.errors import IndiProtocolError
from simulators.observatory import _xml
from simulators.observatory._properties import (
    Blob,
    BlobVector,
    Light,
    LightVector,
    Number,
    NumberVector,
    State,
    Switch,
    SwitchRule,
    SwitchVector,
    Text,
    TextVector,
    apply_numbers,
    apply_switches,
)
from simulators.observatory._routing import ClientFilter, Outgoing

# INDI names are tokens; values may hold any printable text, including XML specials.
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_ .-]{0,15}", fullmatch=True)
texts = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x2FF, exclude_characters="\x7f"),
    max_size=30,
)
finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _parse(data: bytes) -> ET.Element:
    return ET.fromstring(data)


def _switches(rule: SwitchRule, on: str | None = "A") -> SwitchVector:
    return SwitchVector(
        device="D",
        name="S",
        label="S",
        group="G",
        rule=rule,
        elements=[Switch(n, n, on=n == on) for n in ("A", "B", "C")],
    )


# ----------------------------------------------------------------------------- encoders


@given(device=names, name=names, label=texts, value=finite, text=texts)
def test_def_and_set_vectors_are_well_formed_and_carry_values(
    device: str, name: str, label: str, value: float, text: str
) -> None:
    numbers = NumberVector(
        device=device, name=name, label=label, group="G", elements=[Number("N", label, value)]
    )
    root = _parse(_xml.def_vector(numbers))
    assert root.tag == "defNumberVector"
    assert (root.get("device"), root.get("name"), root.get("label")) == (device, name, label)
    assert float(root[0].text or "") == value
    texts_vector = TextVector(
        device=device, name=name, label="L", group="G", elements=[Text("T", "T", text)]
    )
    root = _parse(_xml.set_vector(texts_vector, message=text))
    assert root.tag == "setTextVector"
    assert (root[0].text or "") == text
    assert root.get("message") == text


def test_switch_light_and_blob_definitions() -> None:
    switches = _switches(SwitchRule.AT_MOST_ONE)
    root = _parse(_xml.def_vector(switches))
    assert (root.get("rule"), root.get("perm")) == ("AtMostOne", "rw")
    assert [(e.get("name"), (e.text or "").strip()) for e in root] == [
        ("A", "On"),
        ("B", "Off"),
        ("C", "Off"),
    ]
    lights = LightVector(
        device="D", name="L", label="L", group="G", elements=[Light("X", "X", State.ALERT)]
    )
    root = _parse(_xml.def_vector(lights))
    assert root.get("perm") is None and root.get("timeout") is None
    assert root[0].text == "Alert"
    blobs = BlobVector(device="D", name="CCD1", label="I", group="G", elements=[Blob("CCD1", "I")])
    assert _parse(_xml.def_vector(blobs))[0].tag == "defBLOB"


@given(payload=st.binary(max_size=3000))
def test_set_blob_base64_round_trips(payload: bytes) -> None:
    vector = BlobVector(device="D", name="CCD1", label="I", group="G", elements=[Blob("CCD1", "I")])
    data = _xml.set_blob(vector, {"CCD1": _xml.BlobPayload(payload, ".fits")})
    root = _parse(data)
    one = root[0]
    assert (one.get("size"), one.get("format")) == (str(len(payload)), ".fits")
    encoded = "".join((one.text or "").split())
    assert base64.b64decode(encoded) == payload
    # Lines stay short (readers that buffer by line must not choke on a 40 MB line).
    assert max(len(line) for line in data.split(b"\n")) < 200


def test_message_del_property_and_ping() -> None:
    root = _parse(_xml.message("D", 'a <b> & "c"'))
    assert (root.tag, root.get("device"), root.get("message")) == ("message", "D", 'a <b> & "c"')
    root = _parse(_xml.del_property("D", "P"))
    assert (root.tag, root.get("name")) == ("delProperty", "P")
    assert _parse(_xml.del_property("D")).get("name") is None
    assert _parse(_xml.ping_reply('x"1')).get("uid") == 'x"1'


# ----------------------------------------------------------------------------- parser


def _new_vector_xml(kind: str, device: str, name: str, values: list[tuple[str, str]]) -> bytes:
    element = ET.Element(f"new{kind}Vector", device=device, name=name)
    for key, value in values:
        child = ET.SubElement(element, f"one{kind}", name=key)
        child.text = value
    return ET.tostring(element)


@given(
    device=names,
    name=names,
    values=st.lists(st.tuples(names, finite), min_size=1, max_size=4),
    text_values=st.lists(st.tuples(names, texts), min_size=1, max_size=3),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
)
def test_parser_is_incremental_and_split_anywhere(
    device: str,
    name: str,
    values: list[tuple[str, float]],
    text_values: list[tuple[str, str]],
    cuts: list[int],
) -> None:
    stream = (
        b'<getProperties version="1.7"/>\n'
        + _new_vector_xml("Number", device, name, [(k, repr(v)) for k, v in values])
        + _new_vector_xml("Text", device, name, text_values)
        + b"<enableBLOB device='D' name='CCD1'>Only</enableBLOB>"
    )
    parser = _xml.ClientParser()
    commands: list[_xml.ClientCommand] = []
    last = 0
    for cut in [*sorted(c % (len(stream) + 1) for c in cuts), len(stream)]:
        commands += parser.feed(stream[last:cut])
        last = cut
    assert commands == [
        _xml.GetProperties(version="1.7"),
        _xml.NewNumbers(device, name, tuple(values)),
        _xml.NewTexts(device, name, tuple((k, v.replace("\r", "\n")) for k, v in text_values)),
        _xml.EnableBlob(_xml.BlobPolicy.ONLY, "D", "CCD1"),
    ]


def test_parser_reports_bad_content_without_giving_up() -> None:
    parser = _xml.ClientParser()
    commands = parser.feed(
        b'<newSwitchVector device="D" name="S"><oneSwitch name="A">Maybe</oneSwitch>'
        b"</newSwitchVector><enableBLOB>Sometimes</enableBLOB>"
        b'<newNumberVector device="D" name="N"><oneNumber name="X">-12:30:36</oneNumber>'
        b'</newNumberVector><pingRequest uid="7"/><setNumberVector device="X" name="Y"/>'
    )
    assert [type(c).__name__ for c in commands] == [
        "Invalid",
        "Invalid",
        "NewNumbers",
        "PingRequest",
        "Ignored",
    ]
    assert isinstance(commands[2], _xml.NewNumbers)
    assert commands[2].values[0] == ("X", pytest.approx(-12.51))
    assert commands[3] == _xml.PingRequest("7")


def test_parser_decodes_blobs_and_rejects_malformed_xml() -> None:
    parser = _xml.ClientParser()
    encoded = base64.encodebytes(b"hello world").decode()
    (command,) = parser.feed(
        f'<newBLOBVector device="D" name="B"><oneBLOB name="F" size="11" format=".txt">'
        f"{encoded}</oneBLOB></newBLOBVector>".encode()
    )
    assert command == _xml.NewBlobs("D", "B", (("F", _xml.BlobPayload(b"hello world", ".txt")),))
    with pytest.raises(IndiProtocolError, match="malformed"):
        parser.feed(b"<newTextVector device='D'></oops>")


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.5", 1.5), ("-0:30", -0.5), ("12 30 36", 12.51), ("+5:06:00", 5.1), ("1e3", 1000.0)],
)
def test_parse_number_decimal_and_sexagesimal(text: str, value: float) -> None:
    assert _xml.parse_number(text) == pytest.approx(value)


def test_parse_number_rejects_words() -> None:
    with pytest.raises(ValueError, match="not a number"):
        _xml.parse_number("twelve")


# ----------------------------------------------------------------------------- rules


def test_one_of_many_switch_rules() -> None:
    vector = _switches(SwitchRule.ONE_OF_MANY)
    apply_switches(vector, {"B": True})
    assert vector.on_names() == ["B"]
    with pytest.raises(ValueError, match="needs one switch on"):
        apply_switches(vector, {"B": False})
    with pytest.raises(ValueError, match="allows one switch on"):
        apply_switches(vector, {"A": True, "C": True})
    with pytest.raises(ValueError, match="unknown element"):
        apply_switches(vector, {"Z": True})
    assert vector.on_names() == ["B"]  # refusals change nothing


def test_at_most_one_and_any_of_many() -> None:
    vector = _switches(SwitchRule.AT_MOST_ONE)
    apply_switches(vector, {"A": False})
    assert vector.on_names() == []
    many = _switches(SwitchRule.ANY_OF_MANY)
    apply_switches(many, {"B": True, "C": True})
    assert many.on_names() == ["A", "B", "C"]


def test_numbers_are_range_checked_all_or_nothing() -> None:
    vector = NumberVector(
        device="D",
        name="N",
        label="N",
        group="G",
        elements=[Number("X", "X", 1, 0, 10), Number("FREE", "F", 0)],
    )
    with pytest.raises(ValueError, match="outside"):
        apply_numbers(vector, {"FREE": 5, "X": 11})
    assert (vector["X"].value, vector["FREE"].value) == (1, 0)
    apply_numbers(vector, {"FREE": -1e9, "X": 10})  # min == max: no range
    assert (vector["X"].value, vector["FREE"].value) == (10, -1e9)


# ----------------------------------------------------------------------------- routing


def _blob(device: str = "CCD", name: str = "CCD1") -> Outgoing:
    return Outgoing(device, name, b"<setBLOBVector/>", is_blob=True)


def _plain(device: str = "CCD", name: str | None = "CCD_EXPOSURE") -> Outgoing:
    return Outgoing(device, name, b"<setNumberVector/>")


def test_client_gets_nothing_before_get_properties_then_no_blobs() -> None:
    f = ClientFilter()
    assert not f.wants(_plain())
    assert f.wants(Outgoing(None, None, b"<message/>"))
    f.note_get_properties(_xml.GetProperties())
    assert f.wants(_plain()) and not f.wants(_blob())


def test_get_properties_for_one_device_or_property() -> None:
    f = ClientFilter()
    f.note_get_properties(_xml.GetProperties(device="Mount", name="EQUATORIAL_EOD_COORD"))
    assert f.wants(_plain("Mount", "EQUATORIAL_EOD_COORD"))
    assert not f.wants(_plain("Mount", "TELESCOPE_TRACK_STATE"))
    assert not f.wants(_plain())
    f.note_get_properties(_xml.GetProperties(device="CCD"))
    assert f.wants(_plain()) and f.wants(_plain("CCD", None))


@pytest.mark.parametrize(
    ("settings", "blob", "plain"),
    [
        ([], False, True),
        ([("CCD", None, "Also")], True, True),
        ([("CCD", None, "Only")], True, False),
        ([(None, None, "Only")], True, False),
        ([("CCD", None, "Also"), ("CCD", "CCD1", "Never")], False, True),
        ([("CCD", None, "Never"), ("CCD", "CCD1", "Also")], True, True),
        ([("Other", None, "Also")], False, True),
        ([(None, None, "Also"), ("CCD", None, "Never")], False, True),
    ],
)
def test_enable_blob_most_specific_setting_wins(
    settings: list[tuple[str | None, str | None, str]], blob: bool, plain: bool
) -> None:
    f = ClientFilter()
    f.note_get_properties(_xml.GetProperties())
    for device, name, policy in settings:
        f.note_enable_blob(_xml.EnableBlob(_xml.BlobPolicy(policy), device, name))
    assert f.wants(_blob()) is blob
    assert f.wants(_plain()) is plain


@given(data=st.binary(max_size=300))
def test_parser_fails_only_with_protocol_errors(data: bytes) -> None:
    parser = _xml.ClientParser()
    with contextlib.suppress(IndiProtocolError):
        parser.feed(data)


def test_our_client_parses_every_message_a_device_sends() -> None:
    from astroiqa_indi.indi.protocol import parse_all

    vectors: list[NumberVector | SwitchVector | TextVector | LightVector] = [
        _switches(SwitchRule.ONE_OF_MANY),
        NumberVector(device="D", name="N", label="N", group="G", elements=[Number("X", "X", 1.5)]),
        TextVector(device="D", name="T", label="T", group="G", elements=[Text("A", "A", "<&>")]),
        LightVector(device="D", name="L", label="L", group="G", elements=[Light("A", "A")]),
    ]
    blob = BlobVector(device="D", name="B", label="B", group="G", elements=[Blob("B", "B")])
    stream = b"".join(
        [
            *(_xml.def_vector(v) for v in [*vectors, blob]),
            *(_xml.set_vector(v, message="m") for v in vectors),
            _xml.set_blob(blob, {"B": _xml.BlobPayload(bytes(range(256)) * 40, ".fits")}),
            _xml.message("D", "hello"),
            _xml.del_property("D", "N"),
            _xml.ping_reply("7"),
        ]
    )
    events, errors = parse_all(stream)
    assert errors == []
    assert [type(e).__name__ for e in events] == [
        *["DefVector"] * 5,
        *["SetVector"] * 4,
        "SetBlobVector",
        "Message",
        "DelProperty",
        "PingReply",
    ]
