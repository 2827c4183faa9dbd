"""Add keywords to one FITS header without touching a byte of pixel data.

The header is edited as raw 80-character cards: every byte before the target header
and every byte after it (the data unit and any further HDUs) is copied verbatim. Going
through an astropy ``HDUList`` would be simpler but may rescale or re-pad data, and
re-tile a compressed ``.fits.fz`` image. astropy is used only to format new cards.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from astropy.io import fits

from astroiqa_indi.errors import FrameError

__all__ = ["HeaderEdit", "find_image_header", "format_cards", "replace_cards", "write_with_header"]

BLOCK = 2880
CARD = 80
_MAX_HDUS = 64  # a frame with more extensions than this is not a camera frame
_END = b"END" + b" " * 77


@dataclass(frozen=True, slots=True)
class HeaderEdit:
    """Where the header to edit sits in the file and what it holds.

    Attributes
    ----------
    start, end
        Byte offsets of the header (``end`` is the first byte after its last block).
    cards
        The 80-byte card images before ``END``.
    """

    start: int
    end: int
    cards: tuple[bytes, ...]


def _keyword(card: bytes) -> str:
    return card[:8].decode("ascii").strip()


def _value(cards: Iterable[bytes], keyword: str) -> str | None:
    for card in cards:
        if _keyword(card) == keyword and card[8:10] == b"= ":
            # Mandatory keywords are fixed-format integers, logicals or short strings.
            return card[10:].split(b"/", 1)[0].strip().decode("ascii").strip("'").strip()
    return None


def _int(cards: tuple[bytes, ...], keyword: str, default: int | None = None) -> int:
    raw = _value(cards, keyword)
    if raw is None:
        if default is None:
            raise FrameError(f"FITS header lacks mandatory {keyword}")
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise FrameError(f"FITS {keyword} is not an integer: {raw!r}") from exc


def _read_header(stream: BinaryIO, start: int) -> HeaderEdit | None:
    """The header starting at ``start``, or ``None`` at end of file."""
    stream.seek(start)
    cards: list[bytes] = []
    offset = start
    while True:
        block = stream.read(BLOCK)
        if not block:
            if offset == start:
                return None
            raise FrameError(f"FITS header at byte {start} has no END card")
        if len(block) < BLOCK:
            raise FrameError(f"FITS file truncated inside the header at byte {start}")
        offset += BLOCK
        for i in range(0, BLOCK, CARD):
            card = block[i : i + CARD]
            try:
                card.decode("ascii")
            except UnicodeDecodeError as exc:
                raise FrameError(f"FITS header at byte {start} is not ASCII") from exc
            if card.rstrip() == b"END":
                return HeaderEdit(start=start, end=offset, cards=tuple(cards))
            cards.append(card)


def _data_bytes(cards: tuple[bytes, ...]) -> int:
    """Size of the data unit following a header, padded to whole blocks (FITS 4.0, 4.4.1)."""
    naxis = _int(cards, "NAXIS")
    if naxis == 0:
        return 0
    dims = [_int(cards, f"NAXIS{i}") for i in range(1, naxis + 1)]
    if _value(cards, "GROUPS") == "T" and dims[0] == 0:
        dims = dims[1:]
    bits = abs(_int(cards, "BITPIX"))
    size = bits // 8 * _int(cards, "GCOUNT", 1) * (_int(cards, "PCOUNT", 0) + math.prod(dims))
    return -(-size // BLOCK) * BLOCK


def _holds_image(cards: tuple[bytes, ...], primary: bool) -> bool:
    if primary:
        return _int(cards, "NAXIS") > 0
    kind = _value(cards, "XTENSION")
    if kind == "IMAGE":
        return _int(cards, "NAXIS") > 0
    # A tile-compressed image (.fits.fz) is a BINTABLE whose header becomes the image's.
    return kind == "BINTABLE" and _value(cards, "ZIMAGE") == "T"


def find_image_header(stream: BinaryIO) -> HeaderEdit:
    """The header of the first HDU holding an image (the primary header if none does).

    Raises
    ------
    FrameError
        The stream is not a FITS file, or its headers are malformed.
    """
    primary = _read_header(stream, 0)
    if primary is None or not primary.cards or not primary.cards[0].startswith(b"SIMPLE  ="):
        raise FrameError("not a FITS file (no SIMPLE card)")
    header = primary
    for index in range(_MAX_HDUS):
        if _holds_image(header.cards, primary=index == 0):
            return header
        following = _read_header(stream, header.end + _data_bytes(header.cards))
        if following is None:
            break
        if _value(following.cards, "XTENSION") is None:
            # Bytes after the last HDU that are not an extension: stop looking.
            break
        header = following
    return primary


def format_cards(cards: Iterable[fits.Card]) -> list[bytes]:
    """80-byte card images (a long string becomes several CONTINUE cards)."""
    images: list[bytes] = []
    for card in cards:
        image = card.image.encode("ascii")
        images += [image[i : i + CARD] for i in range(0, len(image), CARD)]
    return images


def replace_cards(old: tuple[bytes, ...], new: list[bytes], *, drop: frozenset[str]) -> bytes:
    """A complete header: ``old`` minus keywords in ``drop`` (and their CONTINUE cards),
    plus ``new``, then ``END``, padded with spaces to whole blocks."""
    kept: list[bytes] = []
    dropping = False
    for card in old:
        keyword = _keyword(card)
        if keyword == "CONTINUE" and dropping:
            continue
        dropping = keyword in drop
        if not dropping:
            kept.append(card)
    body = b"".join([*kept, *new, _END])
    return body + b" " * (-len(body) % BLOCK)


def write_with_header(source: BinaryIO, edit: HeaderEdit, header: bytes, out: BinaryIO) -> None:
    """Copy ``source`` to ``out`` with the header at ``edit`` replaced by ``header``."""
    source.seek(0)
    remaining = edit.start
    while remaining:
        chunk = source.read(min(remaining, 1 << 20))
        if not chunk:
            raise FrameError("FITS file shrank while it was being flagged")
        out.write(chunk)
        remaining -= len(chunk)
    out.write(header)
    source.seek(edit.end)
    shutil.copyfileobj(source, out, 1 << 20)
