"""Property-based tests of the parser and the base64 decoders."""

from __future__ import annotations

import base64
import binascii
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from astroiqa_indi.errors import IndiProtocolError
from astroiqa_indi.indi import IndiEvent, IndiParser, Message, SetBlobVector
from astroiqa_indi.indi._blob import (
    SIMD_DECODER,
    Decoder,
    _PieceDecoder,
    decode_base64,
    stdlib_decoder,
)
from tests.indi._streams import (
    b64_lines,
    def_blob_vector,
    def_number_vector,
    def_switch_vector,
    def_text_vector,
    message,
    set_blob_vector,
    set_number_vector,
)

names = (
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ_ 0123456789", min_size=1, max_size=12)
    .map(str.strip)
    .filter(bool)
)
texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20
).map(str.strip)
numbers = st.floats(allow_nan=False, allow_infinity=False, width=32)

elements = st.builds(
    lambda kind, dev, name, members, payload, width: {
        "number_def": lambda: def_number_vector(dev, name, {m: v for m, v in members}),
        "number_set": lambda: set_number_vector(dev, name, {m: v for m, v in members}),
        "switch": lambda: def_switch_vector(dev, name, {m: v > 0 for m, v in members}),
        "text": lambda: def_text_vector(dev, name, {m: f"{v}" for m, v in members}),
        "blob_def": lambda: def_blob_vector(dev, name, name),
        "blob": lambda: set_blob_vector(dev, name, [(name, payload, ".fits")], width=width),
        "message": lambda: message(dev, name),
        "ping": lambda: f"<pingRequest uid='{name}'/>".encode(),
    }[kind](),
    st.sampled_from(
        ["number_def", "number_set", "switch", "text", "blob_def", "blob", "message", "ping"]
    ),
    names,
    names,
    st.dictionaries(names, numbers, min_size=1, max_size=3).map(lambda d: sorted(d.items())),
    st.binary(max_size=300),
    st.sampled_from([0, 4, 72, 76]),
)
streams = st.lists(elements, min_size=1, max_size=6).map(lambda parts: b"\n".join(parts))


# Both decoders when pybase64 is installed; the standard library's always.
DECODERS: list[Decoder] = [stdlib_decoder]
if SIMD_DECODER is not None:
    DECODERS.append(SIMD_DECODER)


def _drain(parser: IndiParser) -> tuple[list[IndiEvent], list[str]]:
    events: list[IndiEvent] = []
    errors: list[str] = []
    while True:
        try:
            event = parser.next_event()
        except IndiProtocolError as exc:
            errors.append(str(exc))
            continue
        if event is None:
            return events, errors
        events.append(event)


def _parse(chunks: list[bytes]) -> tuple[list[object], list[str]]:
    parser = IndiParser()
    events: list[IndiEvent] = []
    errors: list[str] = []
    for chunk in chunks:
        parser.feed(chunk)
        more, errs = _drain(parser)
        events += more
        errors += errs
    parser.eof()
    more, errs = _drain(parser)
    # Payloads are excluded from event equality: compare their decoded bytes too.
    comparable: list[object] = []
    for event in events + more:
        comparable.append(event)
        if isinstance(event, SetBlobVector):
            comparable.append([base64.b64decode(b.payload) for b in event.blobs])  # type: ignore[arg-type]
    return comparable, errors + errs


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams, st.lists(st.integers(min_value=0), max_size=40))
def test_any_split_of_a_valid_stream_gives_the_same_events(stream: bytes, cuts: list[int]) -> None:
    whole, errors = _parse([stream])
    assert errors == []
    assert whole  # every generated element is an event
    assert _parse(_split(stream, cuts)) == (whole, [])


@settings(max_examples=60, deadline=None)
@given(streams)
def test_byte_by_byte_feeding_gives_the_same_events(stream: bytes) -> None:
    assert _parse([stream[i : i + 1] for i in range(len(stream))]) == _parse([stream])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.lists(st.integers(min_value=0), max_size=10))
def test_random_bytes_never_crash_the_parser(junk: bytes, cuts: list[int]) -> None:
    parser = IndiParser()
    for chunk in _split(junk, cuts):
        parser.feed(chunk)
        _drain(parser)
    parser.eof()
    _drain(parser)
    # After the junk (and an eof), a valid stream still parses.
    parser.feed(message("dev", "alive"))
    events, _ = _drain(parser)
    assert events[-1:] == [Message(message="alive", device="dev", timestamp="2024-05-01T22:00:02")]


@settings(max_examples=200, deadline=None)
@given(streams, st.binary(max_size=80), st.integers(min_value=0))
def test_junk_spliced_into_a_stream_never_crashes(stream: bytes, junk: bytes, at: int) -> None:
    at %= len(stream) + 1
    parser = IndiParser()
    parser.feed(stream[:at] + junk + stream[at:] + message("dev", "alive"))
    parser.eof()
    events, _ = _drain(parser)
    assert events[-1:] == [Message(message="alive", device="dev", timestamp="2024-05-01T22:00:02")]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([0, 1, 7, 64, 72, 76]), st.data())
def test_piecewise_decoding_matches_whole_decoding(
    data: bytes, width: int, draw: st.DataObject
) -> None:
    newline = draw.draw(st.sampled_from([b"\n", b"\r\n", b" \n ", b"\r", b"\n\n", b"\t"]))
    text = b64_lines(data, width, newline)
    cuts = draw.draw(st.lists(st.integers(min_value=0, max_value=len(text)), max_size=12))
    decoder = _PieceDecoder(draw.draw(st.sampled_from(DECODERS)))
    for piece in _split(text, cuts):
        decoder.feed(piece)
    assert decoder.finish() == data


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=500), st.integers(min_value=1), st.data())
def test_truncated_base64_raises_protocol_error_only(
    data: bytes, cut: int, draw: st.DataObject
) -> None:
    text = b64_lines(data)
    truncated = text[: cut % len(text)]
    try:
        decoded = decode_base64(truncated)
    except IndiProtocolError:
        return
    assert data.startswith(decoded)  # a cut on a 4-character boundary decodes a prefix
    decoder = _PieceDecoder(draw.draw(st.sampled_from(DECODERS)))
    splits = draw.draw(st.lists(st.integers(min_value=0), max_size=5))
    try:
        for piece in _split(truncated, splits):
            decoder.feed(piece)
        assert data.startswith(decoder.finish())
    except binascii.Error:
        pass
