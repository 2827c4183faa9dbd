"""The I/O-free INDI parser and encoders, on hand-written streams."""

from __future__ import annotations

import base64

import pytest

from astroiqa_indi.errors import IndiProtocolError
from astroiqa_indi.indi import (
    BlobElement,
    BlobMode,
    DefVector,
    DelProperty,
    IndiParser,
    LightElement,
    Message,
    NewVector,
    NumberElement,
    Permission,
    PingReply,
    PingRequest,
    PropertyState,
    SetBlobVector,
    SetVector,
    SwitchElement,
    SwitchRule,
    TextElement,
    VectorKind,
)
from astroiqa_indi.indi.protocol import (
    BlobHeader,
    encode_enable_blob,
    encode_get_properties,
    encode_new_number,
    encode_new_switch,
    encode_new_text,
    encode_ping_reply,
    encode_ping_request,
    parse_all,
    parse_number,
)
from tests.indi._streams import (
    def_number_vector,
    def_switch_vector,
    def_text_vector,
    message,
    set_blob_vector,
    set_number_vector,
)


def test_def_number_vector_carries_every_attribute() -> None:
    events, errors = parse_all(
        def_number_vector("CCD Simulator", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 1.5})
    )
    assert errors == []
    assert events == [
        DefVector(
            kind=VectorKind.NUMBER,
            device="CCD Simulator",
            name="CCD_EXPOSURE",
            elements=(
                NumberElement(
                    name="CCD_EXPOSURE_VALUE",
                    value=1.5,
                    label="Ccd_Exposure_Value",
                    format="%g",
                    minimum=0.0,
                    maximum=3600.0,
                    step=1.0,
                ),
            ),
            label="L",
            group="Main Control",
            state=PropertyState.IDLE,
            perm=Permission.RW,
            timeout=60.0,
            timestamp="2024-05-01T22:00:00",
        )
    ]


def test_switch_text_light_and_small_elements() -> None:
    stream = (
        def_switch_vector("Mount", "CONNECTION", {"CONNECT": False, "DISCONNECT": True})
        + def_text_vector("Mount", "INFO", {"NAME": "a < b & c"})
        + b"<defLightVector device='Mount' name='STATUS' state='Alert' label='S'>"
        b"<defLight name='L1' label='One'>Busy</defLight></defLightVector>"
        + message("Mount", "slewing")
        + b"<delProperty device='Mount' name='INFO'/>\n<delProperty device='Mount'/>"
        + b"<pingRequest uid='42'/><pingReply uid='7'/>"
        + b"<getProperties version='1.7'/>"
    )
    events, errors = parse_all(stream)
    assert errors == []
    switch, text, light, msg, del_one, del_all, ping, pong = events
    assert isinstance(switch, DefVector) and switch.rule is SwitchRule.ONE_OF_MANY
    assert switch.elements == (
        SwitchElement("CONNECT", False, "CONNECT"),
        SwitchElement("DISCONNECT", True, "DISCONNECT"),
    )
    assert isinstance(text, DefVector) and text.perm is Permission.RO
    assert text.elements == (TextElement("NAME", "a < b & c", "NAME"),)
    assert isinstance(light, DefVector) and light.perm is Permission.RO  # lights have no perm
    assert light.state is PropertyState.ALERT
    assert light.elements == (LightElement("L1", PropertyState.BUSY, "One"),)
    assert msg == Message(message="slewing", device="Mount", timestamp="2024-05-01T22:00:02")
    assert del_one == DelProperty(device="Mount", name="INFO")
    assert del_all == DelProperty(device="Mount", name=None)
    assert ping == PingRequest(uid="42")
    assert pong == PingReply(uid="7")


def test_set_vector_without_state_keeps_none() -> None:
    events, errors = parse_all(
        b"<setNumberVector device='F' name='ABS_FOCUS_POSITION'>"
        b"<oneNumber name='FOCUS_ABSOLUTE_POSITION'>36700</oneNumber></setNumberVector>"
    )
    assert errors == []
    assert events == [
        SetVector(
            kind=VectorKind.NUMBER,
            device="F",
            name="ABS_FOCUS_POSITION",
            elements=(NumberElement("FOCUS_ABSOLUTE_POSITION", 36700.0),),
        )
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12.5", 12.5),
        ("  -3e-2 \n", -0.03),
        ("12:30:00", 12.5),
        ("-0:30", -0.5),
        ("+45 15 36", 45.26),
        ("7:06:00.0", 7.1),
    ],
)
def test_numbers_decimal_and_sexagesimal(text: str, value: float) -> None:
    assert parse_number(text) == pytest.approx(value)


def test_not_a_number_is_a_protocol_error_and_parsing_goes_on() -> None:
    stream = (
        b"<setNumberVector device='F' name='P'><oneNumber name='X'>twelve</oneNumber>"
        b"</setNumberVector>" + set_number_vector("F", "P", {"X": 1.0})
    )
    events, errors = parse_all(stream)
    assert len(errors) == 1 and "twelve" in str(errors[0])
    assert [e.name for e in events] == ["P"]  # type: ignore[union-attr]


def test_set_blob_vector_streams_payload_to_the_sink() -> None:
    payload = bytes(range(256)) * 50
    stream = set_blob_vector("CCD Simulator", "CCD1", [("CCD1", payload, ".fits")])
    headers: list[BlobHeader] = []
    chunks: list[bytes] = []

    class Sink:
        def write(self, chunk: bytes) -> None:
            chunks.append(chunk)

        def close(self) -> object:
            return "decoded-later"

        def abort(self) -> None:
            raise AssertionError("not aborted")

    def factory(header: BlobHeader) -> Sink:
        headers.append(header)
        return Sink()

    parser = IndiParser(sink_factory=factory)
    for i in range(0, len(stream), 1000):
        parser.feed(stream[i : i + 1000])
    event = parser.next_event()
    assert isinstance(event, SetBlobVector)
    assert parser.next_event() is None
    (blob,) = event.blobs
    assert (blob.name, blob.format, blob.size, blob.payload) == (
        "CCD1",
        ".fits",
        len(payload),
        "decoded-later",
    )
    assert blob.enclen == len(base64.b64encode(payload))
    assert headers == [
        BlobHeader("CCD Simulator", "CCD1", "CCD1", ".fits", len(payload), blob.enclen)
    ]
    assert base64.b64decode(b"".join(chunks)) == payload
    assert event.state is PropertyState.OK and event.timeout == 60.0


def test_default_sink_keeps_the_base64_text() -> None:
    stream = set_blob_vector("C", "CCD1", [("A", b"one", ".a"), ("B", b"", ".b")])
    events, errors = parse_all(stream)
    assert errors == []
    (event,) = events
    assert isinstance(event, SetBlobVector)
    assert [base64.b64decode(b.payload) for b in event.blobs] == [b"one", b""]  # type: ignore[arg-type]


def test_new_blob_vector_from_another_client_is_reported_without_bytes() -> None:
    stream = (
        b"<newBLOBVector device='CCD' name='UPLOAD'><oneBLOB name='F' size='3' format='.txt'>"
        + base64.b64encode(b"abc")
        + b"</oneBLOB></newBLOBVector>"
    )
    events, errors = parse_all(stream)
    assert errors == []
    assert events == [
        NewVector(
            kind=VectorKind.BLOB,
            device="CCD",
            name="UPLOAD",
            elements=(BlobElement("F", format=".txt", size=3),),
        )
    ]


def test_garbage_between_elements_is_one_error_then_recovery() -> None:
    good = set_number_vector("F", "P", {"X": 2.0})
    events, errors = parse_all(b"\x00\xffjunk<<>>& " + good + b"more junk\n" + good)
    assert len(events) == 2
    assert len(errors) == 2
    assert all(isinstance(e, IndiProtocolError) and e.context for e in errors)


def test_element_cut_short_resyncs_on_the_next_element() -> None:
    cut = def_number_vector("F", "P", {"X": 1.0})[:-40]
    events, errors = parse_all(cut + message("F", "after"))
    assert [type(e) for e in events] == [Message]
    assert len(errors) == 1 and "truncated" in str(errors[0])


def test_a_stray_declaration_opener_does_not_swallow_the_next_element() -> None:
    # Found by test_junk_spliced_into_a_stream_never_crashes: the '>' that closes
    # the message was taken for the end of the '<?', and the message was lost.
    for junk in (b"<?", b"<!", b"<!DOCTYPE"):
        events, errors = parse_all(junk + message("dev", "alive"))
        assert events == [Message(message="alive", device="dev", timestamp=events[0].timestamp)]
        assert len(errors) == 1 and "unterminated" in str(errors[0])
    # Real declarations and comments are still skipped whole.
    events, errors = parse_all(
        b'<?xml version="1.0"?><!DOCTYPE indi><!-- <message device="x"/> -->'
        + message("dev", "alive")
    )
    assert len(events) == 1 and errors == []


def test_blob_cut_short_aborts_the_sink_and_resyncs() -> None:
    aborted: list[str] = []

    class Sink:
        def write(self, chunk: bytes) -> None:
            pass

        def close(self) -> object:
            return None

        def abort(self) -> None:
            aborted.append("yes")

    stream = set_blob_vector("C", "CCD1", [("CCD1", b"x" * 3000, ".fits")])
    parser = IndiParser(sink_factory=lambda header: Sink())
    parser.feed(stream[:2000] + message("C", "hello"))
    with pytest.raises(IndiProtocolError, match="truncated"):
        parser.next_event()
    assert parser.next_event() == Message(
        message="hello", device="C", timestamp="2024-05-01T22:00:02"
    )
    assert aborted == ["yes"]


def test_stream_ending_mid_blob_is_an_error_at_eof() -> None:
    parser = IndiParser()
    stream = set_blob_vector("C", "CCD1", [("CCD1", b"x" * 3000, ".fits")])
    parser.feed(stream[:1500])
    assert parser.in_blob
    assert parser.next_event() is None
    parser.eof()
    with pytest.raises(IndiProtocolError, match="stream ended inside <setBLOBVector>"):
        parser.next_event()
    assert not parser.in_blob


def test_oversized_element_is_dropped() -> None:
    parser = IndiParser(max_element_bytes=1024)
    parser.feed(b"<defTextVector device='a' name='b'><defText name='c'>" + b"x" * 2000)
    with pytest.raises(IndiProtocolError, match="max_element_bytes"):
        parser.next_event()


def test_oversized_blob_is_dropped_but_the_vector_completes() -> None:
    parser = IndiParser(max_blob_bytes=1024)
    parser.feed(set_blob_vector("C", "CCD1", [("CCD1", b"y" * 3000, ".fits")]))
    with pytest.raises(IndiProtocolError, match="max_blob_bytes"):
        parser.next_event()
    event = parser.next_event()
    assert isinstance(event, SetBlobVector) and event.blobs == ()


def test_latin1_labels_from_old_drivers_are_kept() -> None:
    events, errors = parse_all(
        b"<defNumberVector device='M' name='T' perm='ro' state='Ok'>"
        b"<defNumber name='T' label='Temp \xb0C'>1</defNumber></defNumberVector>"
    )
    assert errors == []
    assert events[0].elements[0].label == "Temp \u00b0C"  # type: ignore[union-attr]


def test_missing_device_is_an_error() -> None:
    events, errors = parse_all(b"<setNumberVector name='P'></setNumberVector>")
    assert events == [] and "device" in str(errors[0])


def test_encoders_round_trip_through_the_parser() -> None:
    stream = (
        encode_new_number("CCD Simulator", "CCD_EXPOSURE", {"CCD_EXPOSURE_VALUE": 0.1})
        + encode_new_switch("CCD Simulator", "CONNECTION", {"CONNECT": True, "DISCONNECT": False})
        + encode_new_text("CCD Simulator", "DIR", {"LOCATION": "/tmp/a&b <c>"})
    )
    events, errors = parse_all(stream)
    assert errors == []
    assert [(e.kind, e.elements) for e in events] == [  # type: ignore[union-attr]
        (VectorKind.NUMBER, (NumberElement("CCD_EXPOSURE_VALUE", 0.1),)),
        (
            VectorKind.SWITCH,
            (SwitchElement("CONNECT", True), SwitchElement("DISCONNECT", False)),
        ),
        (VectorKind.TEXT, (TextElement("LOCATION", "/tmp/a&b <c>"),)),
    ]


def test_encoders_write_the_protocol_verbatim() -> None:
    assert encode_get_properties() == b'<getProperties version="1.7"/>\n'
    assert (
        encode_get_properties("CCD", "CCD1")
        == b'<getProperties version="1.7" device="CCD" name="CCD1"/>\n'
    )
    assert encode_enable_blob(BlobMode.ONLY) == b"<enableBLOB>Only</enableBLOB>\n"
    assert (
        encode_enable_blob(BlobMode.NEVER, "CCD", "CCD1")
        == b'<enableBLOB device="CCD" name="CCD1">Never</enableBLOB>\n'
    )
    assert encode_ping_request('a"b') == b"<pingRequest uid='a\"b'/>\n"
    assert encode_ping_reply("1") == b'<pingReply uid="1"/>\n'


def test_encoders_refuse_what_a_driver_would_choke_on() -> None:
    with pytest.raises(ValueError, match="finite"):
        encode_new_number("D", "P", {"X": float("nan")})
    with pytest.raises(ValueError, match="at least one"):
        encode_new_switch("D", "P", {})
    with pytest.raises(ValueError, match="needs a device"):
        encode_get_properties(name="CCD1")


def test_quote_spliced_into_a_blob_start_tag_resyncs() -> None:
    # Found by hypothesis: an unmatched quote used to stall the stream until
    # max_element_bytes, swallowing everything after it.
    stream = set_blob_vector("C", "CCD1", [("CCD1", b"abc", ".fits")])
    at = stream.index(b"state=")
    events, errors = parse_all(stream[:at] + b"'" + stream[at:] + message("C", "after"))
    assert events == [Message(message="after", device="C", timestamp="2024-05-01T22:00:02")]
    assert len(errors) == 1
