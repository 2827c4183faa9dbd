"""The incremental INDI stream parser (see :mod:`astroiqa_indi.indi.protocol`)."""

from __future__ import annotations

import collections
import re

from astroiqa_indi.errors import IndiProtocolError
from astroiqa_indi.indi._sinks import (
    BlobHeader,
    DiscardingSink,
    PayloadSink,
    SinkFactory,
    collecting_sink,
)
from astroiqa_indi.indi._types import (
    BlobElement,
    Element,
    EncodedBlob,
    IndiEvent,
    NewVector,
    SetBlobVector,
    VectorKind,
)
from astroiqa_indi.indi._xmlevents import (
    CONTEXT,
    build_event,
    float_attr,
    int_attr,
    required,
    start_tag_attrs,
    state_attr,
    xml_element,
)

__all__ = ["IndiParser"]

_BLOB_VECTORS = frozenset({"setBLOBVector", "newBLOBVector"})
_TOP_LEVEL = frozenset(
    [f"{verb}{kind}Vector" for verb in ("def", "set", "new") for kind in VectorKind]
    + ["delProperty", "message", "getProperties", "enableBLOB", "pingRequest", "pingReply"]
)
# Longest byte sequence the "close or next top-level start" search can match; the
# search restarts this far back so a token split between two feeds is still found.
_LOOKBACK = max(len(tag) for tag in _TOP_LEVEL) + 8

_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")
_TAG_END = re.compile(rb"[>\"']")
_NOT_SPACE = re.compile(rb"\S")
_TOP_ALTERNATION = b"|".join(
    re.escape(t.encode()) for t in sorted(_TOP_LEVEL, key=len, reverse=True)
)
_TOP_START = re.compile(rb"<(?:" + _TOP_ALTERNATION + rb")[\s/>]")
_CLOSE_OR_TOP = re.compile(rb"</([A-Za-z_][\w.:-]*)\s*>|<(?:" + _TOP_ALTERNATION + rb")[\s/>]")


# Parser states.
_OUTSIDE = 0  # between top-level elements
_ELEMENT = 1  # inside an ordinary element, looking for its end
_BLOB_VECTOR = 2  # inside setBLOBVector, between oneBLOB children
_PAYLOAD = 3  # inside the text of a oneBLOB


class IndiParser:
    """Incremental INDI parser: ``feed()`` bytes, then drain ``next_event()``.

    Parameters
    ----------
    sink_factory
        Called with a :class:`BlobHeader` when a ``oneBLOB`` payload starts; the sink
        gets the base64 text. Default: collect it and put the joined text in
        ``EncodedBlob.payload``.
    max_element_bytes
        An ordinary element larger than this (bytes) is dropped as malformed; it bounds
        the memory a broken stream can pin.
    max_blob_bytes
        Largest base64 text accepted for one ``oneBLOB`` (bytes).
    """

    def __init__(
        self,
        *,
        sink_factory: SinkFactory | None = None,
        max_element_bytes: int = 16 * 1024 * 1024,
        max_blob_bytes: int = 4 * 1024**3,
    ) -> None:
        if max_element_bytes < 1024 or max_blob_bytes < 1024:
            raise ValueError("max_element_bytes and max_blob_bytes must be >= 1024")
        self._sink_factory = sink_factory or collecting_sink
        self._max_element = max_element_bytes
        self._max_blob = max_blob_bytes
        self._buf = bytearray()
        self._pos = 0
        self._state = _OUTSIDE
        self._out: collections.deque[IndiEvent | IndiProtocolError] = collections.deque()
        # _ELEMENT: where the element started, its tag, where to resume the end search.
        self._elem_start = 0
        self._elem_tag = ""
        self._search = 0
        self._tag_checked = False
        self._in_junk = False
        # _BLOB_VECTOR / _PAYLOAD
        self._vec_tag = ""
        self._vec_attrs: dict[str, str] = {}
        self._blobs: list[EncodedBlob] = []
        self._blob_header: BlobHeader | None = None
        self._sink: PayloadSink | None = None
        self._blob_bytes = 0
        self._awaiting_blob_close = False
        self.ignored = 0
        """Well-formed elements that are not events (``getProperties``, unknown tags)."""

    # ----------------------------------------------------------------- public API

    def feed(self, data: bytes) -> None:
        """Consume the next bytes of the stream (any split is fine)."""
        if not data:
            return
        if self._state == _PAYLOAD and self._pos == len(self._buf):
            # Fast path for the bulk of a BLOB: hand the chunk to the sink uncopied.
            end = data.find(b"<")
            if end < 0:
                self._payload_write(data)
                return
            if end:
                self._payload_write(data[:end])
            self._payload_done()
            data = data[end:]
        self._buf += data
        self._run()
        self._compact()

    def eof(self) -> None:
        """The stream ended: a partial element becomes an error, sinks are aborted."""
        pending = bytes(self._buf[self._pos : self._pos + CONTEXT])
        if self._state in (_BLOB_VECTOR, _PAYLOAD):
            self._abort_blobs()
            self._error(f"stream ended inside <{self._vec_tag}>", pending)
        elif self._state == _ELEMENT:
            self._error(f"stream ended inside <{self._elem_tag}>", pending)
        elif pending.strip():
            self._error("stream ended inside a tag", pending)
        self._state = _OUTSIDE
        self._buf.clear()
        self._pos = 0

    def next_event(self) -> IndiEvent | None:
        """The next complete event, or ``None`` until more bytes are fed.

        Raises
        ------
        IndiProtocolError
            For a malformed element; the parser has already skipped it, so calling
            ``next_event()`` again continues with the following events.
        """
        if not self._out:
            return None
        item = self._out.popleft()
        if isinstance(item, IndiProtocolError):
            raise item
        return item

    @property
    def in_blob(self) -> bool:
        """True while a ``setBLOBVector`` is partially received."""
        return self._state in (_BLOB_VECTOR, _PAYLOAD)

    # ----------------------------------------------------------------- the machine

    def _run(self) -> None:
        while True:
            if self._state == _OUTSIDE:
                progressed = self._step_outside()
            elif self._state == _ELEMENT:
                progressed = self._step_element()
            elif self._state == _BLOB_VECTOR:
                progressed = self._step_blob_vector()
            else:
                progressed = self._step_payload()
            if not progressed:
                return

    def _compact(self) -> None:
        start = self._elem_start if self._state == _ELEMENT else self._pos
        if start > 0:
            del self._buf[:start]
            self._pos -= start
            if self._state == _ELEMENT:
                self._search -= start
                self._elem_start = 0

    def _error(self, message: str, context: bytes) -> None:
        self._out.append(IndiProtocolError(message, context=context[:CONTEXT]))

    def _garbage(self, start: int, end: int) -> None:
        # One error per run of junk (until the next element starts), whatever the
        # chunking, so random bytes cannot flood the caller with errors.
        if self._in_junk:
            return
        self._in_junk = True
        self._error("text outside any element", bytes(self._buf[start : min(end, start + 200)]))

    def _skip_to_lt(self, start: int) -> int:
        """Index of the next ``<`` at or after ``start``; junk before it is reported."""
        buf = self._buf
        lt = buf.find(b"<", start)
        stop = len(buf) if lt < 0 else lt
        junk = _NOT_SPACE.search(buf, start, stop)
        if junk is not None:
            self._garbage(junk.start(), stop)
        return lt

    def _tag_end(self, start: int) -> int:
        """Index of the ``>`` closing the tag at ``start`` (quote-aware); -1 if incomplete."""
        buf = self._buf
        i = start + 1
        while True:
            m = _TAG_END.search(buf, i)
            if m is None:
                return -1
            if buf[m.start()] == 0x3E:  # '>'
                return m.start()
            close = buf.find(buf[m.start() : m.start() + 1], m.start() + 1)
            if close < 0:
                return -1
            i = close + 1

    def _step_outside(self) -> bool:
        buf = self._buf
        lt = self._skip_to_lt(self._pos)
        if lt < 0:
            self._pos = len(buf)
            return False
        self._pos = lt
        if buf.startswith(b"<?", lt) or buf.startswith(b"<!", lt):
            # XML declaration, comment or doctype: skip to its end.
            comment = buf.startswith(b"<!--", lt)
            closer = b"-->" if comment else b">"
            end = buf.find(closer, lt + 2)
            # A declaration holds no element: an INDI element before its '>' means the
            # '<?' or '<!' was junk, and that '>' closes the element, which must not be
            # swallowed with it.
            top = (
                None
                if comment
                else _TOP_START.search(buf, lt + 2, end + 1 if end >= 0 else len(buf))
            )
            if top is not None:
                self._error("unterminated <? or <! construct", bytes(buf[lt : top.start()]))
                self._pos = top.start()
                return True
            if end < 0:
                top = _TOP_START.search(buf, lt + 2)
                if top is not None:  # never terminated: junk, resync on the element
                    self._error("unterminated <? or <! construct", bytes(buf[lt : top.start()]))
                    self._pos = top.start()
                    return True
                return self._wait_or_give_up(lt, "unterminated <? or <! construct")
            self._pos = end + len(closer)
            return True
        m = _NAME.match(buf, lt)
        if m is None:
            if len(buf) - lt < 2:
                return False
            self._garbage(lt, lt + 1)
            self._pos = lt + 1
            return True
        if m.end() == len(buf):
            return False  # the tag name may continue in the next chunk
        tag = m.group(1).decode("ascii", "replace")
        if tag in _BLOB_VECTORS:
            return self._start_blob_vector(lt, tag)
        self._enter_element(lt, tag)
        return True

    def _enter_element(self, start: int, tag: str) -> None:
        self._in_junk = False
        self._state = _ELEMENT
        self._elem_start = start
        self._elem_tag = tag
        self._tag_checked = False
        self._search = start + 1

    def _start_tag_end(self, lt: int) -> int | None:
        """End (index of ``>``) of the start tag at ``lt``; None while incomplete.

        Returns -1 when the tag is broken (an unmatched quote, a new element inside
        it): the error is queued and ``_pos`` moved to the next element.
        """
        buf = self._buf
        end = self._tag_end(lt)
        top = _TOP_START.search(buf, lt + 1, end if end >= 0 else len(buf))
        if top is not None:
            self._error("start tag cut short by a new element", bytes(buf[lt : top.start()]))
            self._pos = top.start()
            return -1
        if end < 0:
            if len(buf) - lt > self._max_element:
                self._error("unterminated start tag", bytes(buf[lt : lt + CONTEXT]))
                self._pos = lt + 1
                return -1
            return None
        return end

    def _wait_or_give_up(self, start: int, what: str) -> bool:
        if len(self._buf) - start > self._max_element:
            self._error(what, bytes(self._buf[start : start + CONTEXT]))
            self._pos = start + 1
            self._state = _OUTSIDE
            return True
        return False

    def _step_element(self) -> bool:
        buf, start, tag = self._buf, self._elem_start, self._elem_tag
        if not self._tag_checked:
            end = self._tag_end(start)
            if end < 0:
                # The start tag is incomplete; if a new element is already visible the
                # tag was cut short (or is junk with an unmatched quote): resync there.
                top = _TOP_START.search(buf, start + 1)
                if top is not None:
                    self._fail_element(start, top.start(), f"<{tag}> start tag truncated")
                    self._pos = top.start()
                    return True
                return self._wait_or_give_up(start, f"unterminated <{tag}> start tag")
            top = _TOP_START.search(buf, start + 1, end)
            if top is not None:
                self._fail_element(start, top.start(), f"<{tag}> start tag truncated")
                self._pos = top.start()
                return True
            self._tag_checked = True
            if buf[end - 1] == 0x2F:  # '/': a self-closing element ends here
                self._finish_element(start, end + 1)
                return True
            self._search = end + 1
        close_tag = tag.encode()
        search = self._search
        while True:
            m = _CLOSE_OR_TOP.search(buf, search)
            if m is None:
                self._search = max(search, len(buf) - _LOOKBACK)
                if len(buf) - start > self._max_element:
                    self._fail_element(start, len(buf), f"<{tag}> larger than max_element_bytes")
                    self._pos = start + 1
                    return True
                return False
            name = m.group(1)
            if name is None:
                # A new top-level element begins before this one ended: it was cut short.
                self._fail_element(start, m.start(), f"<{tag}> truncated by a new element")
                self._pos = m.start()
                return True
            if name == close_tag:
                self._finish_element(start, m.end())
                return True
            if name.decode("ascii", "replace") in _TOP_LEVEL:
                self._fail_element(start, m.end(), f"<{tag}> closed by </{name.decode()}>")
                self._pos = m.end()
                return True
            search = m.end()

    def _fail_element(self, start: int, stop: int, message: str) -> None:
        self._error(message, bytes(self._buf[start : min(stop, start + CONTEXT)]))
        self._state = _OUTSIDE

    def _finish_element(self, start: int, end: int) -> None:
        raw = bytes(self._buf[start:end])
        self._state = _OUTSIDE
        self._pos = end
        try:
            event = build_event(xml_element(raw))
        except IndiProtocolError as exc:
            self._out.append(exc)
            return
        except ValueError as exc:  # a value type rejected what the XML said
            self._out.append(IndiProtocolError(str(exc), context=raw))
            return
        if event is None:
            self.ignored += 1
        else:
            self._out.append(event)

    # ------------------------------------------------------------- BLOB streaming

    def _start_blob_vector(self, lt: int, tag: str) -> bool:
        end = self._start_tag_end(lt)
        if end is None:
            return False
        if end < 0:
            return True
        raw = bytes(self._buf[lt : end + 1])
        self._pos = end + 1
        if raw.endswith(b"/>"):
            self._enter_element(lt, tag)  # empty vector: the ordinary path handles it
            self._pos = lt
            return True
        try:
            attrs = start_tag_attrs(raw)
            required(attrs, "device", raw)
            required(attrs, "name", raw)
        except IndiProtocolError as exc:
            self._out.append(exc)
            return True
        self._in_junk = False
        self._vec_tag, self._vec_attrs = tag, attrs
        self._blobs = []
        self._awaiting_blob_close = False
        self._state = _BLOB_VECTOR
        return True

    def _step_blob_vector(self) -> bool:
        buf = self._buf
        lt = self._skip_to_lt(self._pos)
        if lt < 0:
            self._pos = len(buf)
            return False
        self._pos = lt
        if buf.startswith(b"</", lt):
            gt = buf.find(b">", lt)
            if gt < 0:
                return self._wait_or_give_up(lt, "unterminated closing tag")
            name = bytes(buf[lt + 2 : gt]).strip().decode("ascii", "replace")
            self._pos = gt + 1
            if name == "oneBLOB" and self._awaiting_blob_close:
                self._close_blob()
                return True
            if name == self._vec_tag and not self._awaiting_blob_close:
                self._emit_blob_vector()
                return True
            self._abort_blobs()
            self._error(f"unexpected </{name}> in <{self._vec_tag}>", bytes(buf[lt : gt + 1]))
            self._state = _OUTSIDE
            return True
        m = _NAME.match(buf, lt)
        if m is None or m.end() == len(buf):
            if m is None and len(buf) - lt >= 2:
                self._garbage(lt, lt + 1)
                self._pos = lt + 1
                return True
            return False
        name = m.group(1).decode("ascii", "replace")
        if name != "oneBLOB" or self._awaiting_blob_close:
            # Most likely the stream was cut and a new element begins: resync on it.
            self._abort_blobs()
            self._error(f"<{self._vec_tag}> truncated by <{name}>", bytes(buf[lt : lt + CONTEXT]))
            self._state = _OUTSIDE
            return True
        end = self._start_tag_end(lt)
        if end is None:
            return False
        if end < 0:
            self._abort_blobs()
            self._state = _OUTSIDE
            return True
        raw = bytes(buf[lt : end + 1])
        self._pos = end + 1
        try:
            attrs = start_tag_attrs(raw)
            header = BlobHeader(
                device=self._vec_attrs["device"],
                vector=self._vec_attrs["name"],
                name=required(attrs, "name", raw),
                format=attrs.get("format", ""),
                size=int_attr(attrs, "size", raw, default=0) or 0,
                enclen=int_attr(attrs, "enclen", raw, default=None),
                attached=attrs.get("attached") == "true",
                length=int_attr(attrs, "len", raw, default=None),
            )
        except IndiProtocolError as exc:
            self._abort_blobs()
            self._out.append(exc)
            self._state = _OUTSIDE
            return True
        self._blob_header = header
        self._blob_bytes = 0
        if self._vec_tag == "newBLOBVector":
            # Another client uploading a BLOB to a device: nobody here wants the bytes.
            self._sink = DiscardingSink()
        else:
            self._sink = self._sink_factory(header)
        if raw.endswith(b"/>"):
            self._close_blob()
        else:
            self._state = _PAYLOAD
        return True

    def _step_payload(self) -> bool:
        buf = self._buf
        lt = buf.find(b"<", self._pos)
        stop = len(buf) if lt < 0 else lt
        if stop > self._pos:
            self._payload_write(bytes(buf[self._pos : stop]))
        self._pos = stop
        if lt < 0:
            return False
        self._payload_done()
        return True

    def _payload_write(self, chunk: bytes) -> None:
        self._blob_bytes += len(chunk)
        if self._sink is None:
            return
        if self._blob_bytes > self._max_blob:
            self._sink.abort()
            self._sink = None
            return
        self._sink.write(chunk)

    def _payload_done(self) -> None:
        """The payload text ended at a ``<``; it counts once ``</oneBLOB>`` follows."""
        self._state = _BLOB_VECTOR
        self._awaiting_blob_close = True

    def _close_blob(self) -> None:
        header = self._blob_header
        assert header is not None
        self._awaiting_blob_close = False
        sink, self._sink = self._sink, None
        if sink is None:
            self._error(
                f"oneBLOB {header.name!r} larger than max_blob_bytes ({self._blob_bytes} bytes)",
                b"",
            )
            return
        self._blobs.append(
            EncodedBlob(
                name=header.name,
                size=header.size,
                format=header.format,
                payload=sink.close(),
                enclen=header.enclen,
                attached=header.attached,
            )
        )

    def _abort_blobs(self) -> None:
        if self._sink is not None:
            self._sink.abort()
            self._sink = None
        self._blobs = []
        self._awaiting_blob_close = False

    def _emit_blob_vector(self) -> None:
        attrs = self._vec_attrs
        self._state = _OUTSIDE
        blobs, self._blobs = tuple(self._blobs), []
        raw = f"<{self._vec_tag} device={attrs.get('device')!r}>".encode()
        try:
            state = state_attr(attrs, raw)
            timeout = float_attr(attrs, "timeout", raw)
        except IndiProtocolError as exc:
            self._out.append(exc)
            return
        if self._vec_tag == "newBLOBVector":
            elements: tuple[Element, ...] = tuple(
                BlobElement(name=b.name, format=b.format, size=b.size) for b in blobs
            )
            self._out.append(
                NewVector(
                    kind=VectorKind.BLOB,
                    device=attrs["device"],
                    name=attrs["name"],
                    elements=elements,
                    timestamp=attrs.get("timestamp", ""),
                )
            )
            return
        self._out.append(
            SetBlobVector(
                device=attrs["device"],
                name=attrs["name"],
                blobs=blobs,
                state=state,
                timeout=timeout,
                timestamp=attrs.get("timestamp", ""),
                message=attrs.get("message", ""),
            )
        )
