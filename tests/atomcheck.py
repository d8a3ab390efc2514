"""`assert_valid_atom`: the one check every test that produces an Atom feed runs on its bytes.

Three independent readers must agree that the bytes are a good feed:
1. lxml against the RELAX NG grammar of RFC 4287 (tests/data/atom.rng, the RFC's Appendix B
   written out in XML syntax);
2. the RFC's rules the grammar cannot express (its Schematron annotations and the RFC 3339 zone
   requirement): checked here with XPath;
3. feedparser, as a real feed reader would read it: `bozo` must be 0.

It returns feedparser's result so that a test can go on to compare what a reader sees.
Failures raise AssertionError (not `assert`: this module is not rewritten by pytest and must not
vanish under `python -O`) with a message naming the rule and the offending entry.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

import feedparser
from lxml import etree

SCHEMA = Path(__file__).parent / "data" / "atom.rng"
ATOM = "http://www.w3.org/2005/Atom"
_NS = {"a": ATOM}

# RFC 4287 3.3: an RFC 3339 date-time, uppercase T and Z, and the zone is not optional.
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})\Z")


@cache
def _schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


def _fail(rule: str, detail: str) -> NoReturn:
    raise AssertionError(f"invalid Atom ({rule}): {detail}")


def _name(entry: Any) -> str:
    ids = entry.xpath("a:id/text()", namespaces=_NS)
    return f"entry {ids[0]!r}" if ids else "entry without id"


def _check_rfc_rules(feed: Any) -> None:
    """What the grammar does not check: RFC 4287 4.1.1, 4.1.2, 3.3 and the uniqueness of ids."""
    entries = feed.xpath("a:entry", namespaces=_NS)

    # 4.1.1: a feed has an author unless every entry has one (directly or via atom:source).
    if not feed.xpath("a:author", namespaces=_NS):
        for entry in entries:
            if not entry.xpath("a:author | a:source/a:author", namespaces=_NS):
                _fail("4.1.1 author", f"the feed has no atom:author and neither has {_name(entry)}")

    # 4.1.1 / 4.1.2: at most one alternate link per (type, hreflang).
    for owner in [feed, *entries]:
        seen: set[tuple[str, str]] = set()
        for link in owner.xpath("a:link[not(@rel) or @rel='alternate']", namespaces=_NS):
            key = (link.get("type", ""), link.get("hreflang", ""))
            if key in seen:
                where = "the feed" if owner is feed else _name(owner)
                _fail("4.1.1 links", f"{where} has two alternate links with type/hreflang {key}")
            seen.add(key)

    ids: set[str] = set()
    for entry in entries:
        # 4.1.2: an alternate link (a link without rel is one) or a content element.
        if not entry.xpath("a:link[not(@rel) or @rel='alternate'] | a:content", namespaces=_NS):
            _fail("4.1.2 alternate", f"{_name(entry)} has neither an alternate link nor content")
        # 4.1.2: out-of-line content needs a summary.
        if entry.xpath("a:content[@src]", namespaces=_NS) and not entry.xpath(
            "a:summary", namespaces=_NS
        ):
            _fail("4.1.2 summary", f"{_name(entry)} has content with src but no summary")
        entry_id = "".join(entry.xpath("a:id/text()", namespaces=_NS))
        if entry_id in ids:
            _fail("unique id", f"two entries share the atom:id {entry_id!r}")
        ids.add(entry_id)

    # 3.3: every Date construct is RFC 3339 with an explicit offset or Z.
    for date in feed.xpath("//a:updated | //a:published", namespaces=_NS):
        text = date.text or ""
        if not _DATE.fullmatch(text):
            where = _name(date.getparent()) if date.getparent() is not feed else "the feed"
            _fail(
                "3.3 date",
                f"{where}: <{etree.QName(date).localname}> {text!r} is not an "
                "RFC 3339 date-time with a zone offset or Z",
            )


def assert_valid_atom(data: bytes) -> feedparser.FeedParserDict:
    """Assert `data` is an Atom feed document valid by RFC 4287; return feedparser's reading."""
    if not isinstance(data, bytes):
        _fail("bytes", f"expected bytes, got {type(data).__name__}")
    parser = etree.XMLParser(no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        _fail("well-formed", str(e))
    if root.tag != f"{{{ATOM}}}feed":
        _fail("root", f"the root element is {root.tag!r}, not atom:feed")
    schema = _schema()
    if not schema.validate(root):
        _fail("RELAX NG", "; ".join(str(err) for err in schema.error_log))
    _check_rfc_rules(root)

    parsed = feedparser.parse(data)
    if parsed.bozo != 0:
        _fail("feedparser", f"bozo: {parsed.get('bozo_exception')!r}")
    if parsed.version != "atom10":
        _fail("feedparser", f"read as {parsed.version!r}, not atom10")
    return parsed
