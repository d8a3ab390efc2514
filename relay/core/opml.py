"""Every board's feed in one OPML 2.0 file, so a reader subscribes to all of them at once.

Pure: the caller says where each feed is served and what time it is. Feed readers (Feedly,
Inoreader, NetNewsWire, Thunderbird) import `<outline type="rss" xmlUrl=...>` whatever the feed's
format, so Atom feeds are listed with type "rss" too, as the OPML 2.0 spec's subscription lists
do. Titles are scraped text: characters XML cannot carry are dropped (one would make a reader
refuse the whole file) and the rest is escaped by ElementTree, never by hand.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from relay.core.atom import xml_safe

OPML_DOCS = "https://opml.org/spec2.opml"


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One subscription: a board's feed and the board's own page."""

    title: str  # the board's title, shown by the reader
    xml_url: str  # absolute URL of the feed (Atom or JSON)
    html_url: str  # the board's list page
    description: str = ""  # optional, e.g. the board id
    language: str = ""  # optional, e.g. "ko"


def render_opml(feeds: Sequence[OpmlFeed], *, title: str, now: datetime) -> bytes:
    """The OPML document (UTF-8, with an XML declaration) listing `feeds` in the given order.

    `now` (aware) becomes <dateCreated> in RFC 822 form, as OPML 2.0 asks. A feed with an empty
    title is listed under its URL: readers show `text`, and an empty one is an invisible row.
    Raises ValueError for a naive `now`.
    """
    if now.tzinfo is None:
        raise ValueError(f"render_opml: now must be aware, not {now!r}")
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = xml_safe(title).strip()
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    ET.SubElement(head, "docs").text = OPML_DOCS
    body = ET.SubElement(opml, "body")
    for feed in feeds:
        name = " ".join(xml_safe(feed.title).split()) or xml_safe(feed.xml_url)
        attributes = {
            "type": "rss",
            "text": name,
            "title": name,
            "xmlUrl": xml_safe(feed.xml_url),
            "htmlUrl": xml_safe(feed.html_url),
        }
        if feed.description:
            attributes["description"] = xml_safe(feed.description)
        if feed.language:
            attributes["language"] = xml_safe(feed.language)
        ET.SubElement(body, "outline", attributes)
    ET.indent(opml)
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
