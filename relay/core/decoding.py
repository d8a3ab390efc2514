"""Bytes to text for pages and feeds: declared charset first, evidence when it lies. Pure, stdlib.

httpx ignores `<meta charset>` and decodes as UTF-8 when the header is silent; Korean boards
send cp949 bytes with a wrong or missing charset, and UTF-8 pages carry damage: one stray
byte, a word pasted from a cp949 page, a last character cut in half, an old article body
stored in cp949. Decoding a whole page as cp949 because of one bad byte turns every title
into mojibake, so decoding here fails small:

1. The candidates, in order: BOM, HTTP header (not the ISO-8859-1 servers default to), the
   `<meta>` charset (or the XML declaration of a feed), then UTF-8 and cp949 as guesses.
   Every Korean label means cp949: real pages hold syllables strict EUC-KR rejects (똠, 햏).
2. The first declared candidate is read unless another decodes with *far* fewer
   undecodable bytes (a cp949 page that says "utf-8"); with nothing declared, the guess
   with fewer errors wins (ties: UTF-8).
3. A page that is not clean in the winning codec is read piece by piece: a word (or run of
   non-ASCII bytes) stays in the winner unless the evidence says it is written in the
   other Korean codec (`_read_utf8`, `_read_cp949`). What neither reads becomes U+FFFD, one
   per bad stretch, so one bad byte costs at most one character, and an article body
   stored in cp949 inside a UTF-8 page (or the reverse) still reads right.

`Decoded` records which codec won, where it came from, how many bytes were replaced and
how many were rescued by the other codec.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

# Every Korean label means cp949 (its superset): strict EUC-KR rejects 똠, 햏, 뷁.
_KOREAN_LABELS = {
    "euc-kr",
    "euckr",
    "euc_kr",
    "ks_c_5601-1987",
    "ks_c_5601",
    "ksc5601",
    "ksc_5601",
    "korean",
    "windows-949",
    "x-windows-949",
    "cp949",
    "ms949",
    "uhc",
    "ks_x_1001",
    "cseuckr",
}
# Servers default to these when nobody configured a charset: they say nothing.
_DISTRUSTED = {
    "iso-8859-1",
    "latin-1",
    "latin1",
    "l1",
    "iso8859-1",
    "windows-1252",
    "cp1252",
    "us-ascii",
    "ascii",
}
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']\s*([A-Za-z0-9_:.\-]+)""", re.I)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# A declared codec is overruled only by one with fewer than 1/_FAR_FEWER of its errors,
# and by at least _MIN_MARGIN bytes: one stray byte never flips a page.
_FAR_FEWER = 8
_MIN_MARGIN = 8
_KOREAN_PAIR = ("utf-8", "cp949")
# A run of non-ASCII bytes; a byte that can lead a cp949 pair takes the next byte with it
# even when that is an ASCII letter (똠 is 0x8C 0x63, "c").
_RUN = re.compile(rb"(?:[\x81-\xfe][\x41-\x5a\x61-\x7a\x80-\xff]|[\x80-\xff])+")
_WINDOW = 4096
_BOUNDARY = re.compile(rb"[\x00-\x40]")  # never a cp949 trail byte or a UTF-8 continuation
_ESCAPED = re.compile("[\udc80-\udcff]")
# The 2,350 syllables of KS X 1001 (cp949 rows 0xB0-0xC8): what real Korean text is made
# of. UTF-8 bytes misread as cp949 come out as Hanja and rare syllables instead.
_COMMON_HANGUL = frozenset(
    bytes([lead, trail]).decode("cp949")
    for lead in range(0xB0, 0xC9)
    for trail in range(0xA1, 0xFF)
)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A page's text and how it was had."""

    text: str
    encoding: str  # the Python codec the page was read with
    source: str  # where it came from: "bom", "header", "meta", "xml", or "utf-8"/"cp949" (guessed)
    replaced: int = 0  # undecodable bytes; each bad stretch shows as one U+FFFD
    rescued: int = 0  # bytes read with the other Korean codec (a cp949 word in a UTF-8 page)
    overruled: str | None = None  # the declared codec the bytes contradicted, if any


@dataclass(frozen=True, slots=True)
class _Candidate:
    source: str
    codec: str
    declared: bool


def normalize_charset(label: str | None) -> str | None:
    """A codec name for a charset label, or None if unknown. Korean labels -> cp949."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _KOREAN_LABELS:
        return "cp949"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def decode_html(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a page: BOM, header, `<meta>` charset, then UTF-8 and cp949 by evidence."""
    return _decode(body, _candidates(body, content_type, _META_CHARSET, "meta"))


def decode_xml(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode a feed: BOM, header, the XML declaration's encoding, then UTF-8 and cp949.

    Gnuboard 4 declares `encoding="euc-kr"` and sends `text/xml` without a charset."""
    return _decode(body, _candidates(body, content_type, _XML_ENCODING, "xml"))


def _candidates(
    body: bytes, content_type: str | None, in_body: re.Pattern[bytes], in_body_source: str
) -> list[_Candidate]:
    found: list[_Candidate] = []
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            found.append(_Candidate("bom", bom_codec, True))
            break
    label = header_charset(content_type)
    header_codec = normalize_charset(label)
    if label and label.strip().strip("\"'").lower() not in _DISTRUSTED and header_codec:
        found.append(_Candidate("header", header_codec, True))
    match = in_body.search(body[:8192])
    body_codec = normalize_charset(match.group(1).decode("ascii", "replace")) if match else None
    if body_codec:
        found.append(_Candidate(in_body_source, body_codec, True))
    found += [_Candidate("utf-8", "utf-8", False), _Candidate("cp949", "cp949", False)]
    unique: list[_Candidate] = []
    for candidate in found:
        if not any(_same(candidate.codec, seen.codec) for seen in unique):
            unique.append(candidate)
    return unique


def _same(a: str, b: str) -> bool:
    return a.replace("-sig", "") == b.replace("-sig", "")


def _decode(body: bytes, candidates: list[_Candidate]) -> Decoded:
    first = candidates[0]
    try:  # the common case: the first candidate reads every byte
        return Decoded(body.decode(first.codec), first.codec, first.source)
    except UnicodeDecodeError:
        pass
    errors = {c.codec: _errors(body, c.codec) for c in candidates}
    winner = first
    for candidate in candidates[1:]:
        if _better(errors[candidate.codec], errors[winner.codec], against_declared=winner.declared):
            winner = candidate
    overruled = first.codec if first.declared and winner is not first else None
    if errors[winner.codec] == 0:
        return Decoded(body.decode(winner.codec), winner.codec, winner.source, 0, 0, overruled)
    if winner.codec not in _KOREAN_PAIR:
        text = body.decode(winner.codec, "replace")
        return Decoded(text, winner.codec, winner.source, errors[winner.codec], 0, overruled)
    read = _read_utf8 if winner.codec == "utf-8" else _read_cp949
    text, replaced, rescued = read(body)
    return Decoded(text, winner.codec, winner.source, replaced, rescued, overruled)


def _better(errors: int, current: int, *, against_declared: bool) -> bool:
    if not against_declared:
        return errors < current
    return errors * _FAR_FEWER < current and current - errors >= _MIN_MARGIN


def _errors(body: bytes, codec: str) -> int:
    """Undecodable bytes: surrogateescape maps each to one lone surrogate, which no clean
    decoding can produce, so counting them counts exactly the bad bytes."""
    try:
        return len(_ESCAPED.findall(body.decode(codec, "surrogateescape")))
    except LookupError:
        return len(body)


def _read_utf8(body: bytes) -> tuple[str, int, int]:
    """A UTF-8 page with damage: (text, replaced, rescued).

    Clean stretches are decoded in bulk; only the word around each error (bytes up to
    0x40 — spaces, tags, digits — are boundaries in both codecs) is looked at. A word moves
    to cp949 only when a third or more of its non-ASCII bytes are unreadable as UTF-8 (a
    cp949 word's are; one stray byte in a UTF-8 word is not) and cp949 reads all of it, as
    Korean.
    """
    pieces: list[str] = []
    replaced = rescued = position = 0
    while position < len(body):
        window = body[position : position + _WINDOW]  # a window each: errors cost no rescans
        try:
            last = position + _WINDOW >= len(body)
            text, consumed = codecs.utf_8_decode(window, "strict", last)
            if consumed == 0:  # only a cut character left in a window: decide it now
                text, consumed = codecs.utf_8_decode(window, "strict", True)
            pieces.append(text)
            position += consumed
            continue
        except UnicodeDecodeError as e:
            bad = position + e.start
        start = bad
        while start > position and body[start - 1] > 0x40:
            start -= 1
        boundary = _BOUNDARY.search(body, bad)
        end = boundary.start() if boundary else len(body)
        pieces.append(body[position:start].decode("utf-8"))
        word = body[start:end]
        errors = _errors(word, "utf-8")
        cp949 = _strict(word, "cp949") if errors * 3 >= _wide_bytes(word) else None
        if cp949 is not None and _reads_as_korean(cp949):
            pieces.append(cp949)
            rescued += len(word)
        else:
            pieces.append(word.decode("utf-8", "replace"))
            replaced += errors
        position = end
    return "".join(pieces), replaced, rescued


def _read_cp949(body: bytes) -> tuple[str, int, int]:
    """A cp949 page with damage or UTF-8 parts: (text, replaced, rescued), run by run.

    cp949 reads most byte pairs, so it cannot be trusted to fail where it is wrong: every
    run is also tried as UTF-8, whose structure bytes rarely have by chance, and moves to
    UTF-8 when that reads it cleanly and finds more common syllables in it.
    """
    pieces: list[str] = []
    replaced = rescued = position = 0
    for match in _RUN.finditer(body):
        pieces.append(body[position : match.start()].decode("ascii"))
        run = match.group()
        position = match.end()
        mine, theirs = _strict(run, "cp949"), _strict(run, "utf-8")
        if theirs is not None and (mine is None or _korean(theirs) > _korean(mine)):
            pieces.append(theirs)
            rescued += len(run)
        elif mine is not None:
            pieces.append(mine)
        else:
            pieces.append(run.decode("cp949", "replace"))
            replaced += _errors(run, "cp949")
    pieces.append(body[position:].decode("ascii"))
    return "".join(pieces), replaced, rescued


def _wide_bytes(word: bytes) -> int:
    return sum(1 for byte in word if byte > 0x7F)


def _strict(run: bytes, codec: str) -> str | None:
    try:
        return run.decode(codec)
    except UnicodeDecodeError:
        return None


def _korean(text: str) -> int:
    return sum(1 for ch in text if ch in _COMMON_HANGUL)


def _reads_as_korean(text: str) -> bool:
    """cp949 accepts many byte pairs; a run only counts as cp949 when at least half of its
    characters are common syllables (UTF-8 misread as cp949 gives mostly Hanja)."""
    wide = sum(1 for ch in text if ord(ch) > 0x7F)
    return wide > 0 and _korean(text) * 2 >= wide
