"""INDI protocol 1.7: an incremental, I/O-free parser and the few encoders a client needs.

INDI is a stream of top-level XML elements with no root element. :class:`IndiParser`
takes bytes split anywhere (inside a tag, an entity or a base64 payload) and produces
the typed events of :mod:`astroiqa_indi.indi._types`.

Two paths keep large BLOBs cheap:

* ordinary elements (a few hundred bytes) are cut out of the stream by locating their
  closing tag and then parsed by :mod:`xml.etree.ElementTree`;
* ``setBLOBVector`` is streamed: the base64 text of each ``oneBLOB`` goes, chunk by chunk
  and without copying, to a *payload sink*. The default sink collects the text; a client
  can plug in a sink that decodes while the rest is still arriving.

Malformed input never kills the parser: the bad element is skipped, an
:class:`~astroiqa_indi.errors.IndiProtocolError` carrying the offending bytes is queued,
and parsing resumes at the next top-level element. :meth:`IndiParser.next_event` raises
the queued error once, then carries on.
"""

from __future__ import annotations

from astroiqa_indi.errors import IndiProtocolError
from astroiqa_indi.indi._encode import (
    PROTOCOL_VERSION,
    encode_enable_blob,
    encode_get_properties,
    encode_new_number,
    encode_new_switch,
    encode_new_text,
    encode_ping_reply,
    encode_ping_request,
)
from astroiqa_indi.indi._parser import IndiParser
from astroiqa_indi.indi._sinks import BlobHeader, PayloadSink, SinkFactory
from astroiqa_indi.indi._types import IndiEvent
from astroiqa_indi.indi._xmlevents import parse_number

__all__ = [
    "PROTOCOL_VERSION",
    "BlobHeader",
    "IndiParser",
    "PayloadSink",
    "SinkFactory",
    "encode_enable_blob",
    "encode_get_properties",
    "encode_new_number",
    "encode_new_switch",
    "encode_new_text",
    "encode_ping_reply",
    "encode_ping_request",
    "parse_all",
    "parse_number",
]


def parse_all(data: bytes) -> tuple[list[IndiEvent], list[IndiProtocolError]]:
    """Parse a complete stream at once: its events and the errors met on the way."""
    parser = IndiParser()
    parser.feed(data)
    parser.eof()
    events: list[IndiEvent] = []
    errors: list[IndiProtocolError] = []
    while True:
        try:
            event = parser.next_event()
        except IndiProtocolError as exc:
            errors.append(exc)
            continue
        if event is None:
            return events, errors
        events.append(event)
