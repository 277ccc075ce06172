"""An Atom (RFC 4287) feed of articles, so the topic can be followed in any feed reader."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

ATOM_NS = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:veille:relevant"
# what XML 1.0 cannot hold, not even escaped (its Char production): C0 controls but tab and line
# breaks, lone surrogates, U+FFFE and U+FFFF; ElementTree writes them as they are, and one such
# character in a title made the whole feed unreadable to every feed reader
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(value: str) -> str:
    """``value`` without the characters XML 1.0 cannot hold (an article's stray control
    characters), so that the feed stays well-formed whatever the archive holds."""
    return _NOT_XML.sub("", value)


# RFC 3987: the ASCII an IRI may hold as it is (unreserved, reserved, "%" of an escape); "[" and
# "]" only around an IPv6 host, so not after the authority
_IRI_ASCII = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#@!$&'()*+,;=[]")
_AUTHORITY = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
# bidi formatting characters, which RFC 3987 (4.1) forbids in an IRI
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _iri_char(char: str) -> bool:
    """May ``char`` stand as it is in an IRI (outside an IPv6 host's brackets)?"""
    if char in "[]":
        return False
    if char in _IRI_ASCII:
        return True
    code = ord(char)
    if code < 0xA0 or char in _BIDI or 0xD800 <= code <= 0xF8FF or 0xFDD0 <= code <= 0xFDEF:
        return False  # controls, space, "<>\"{}|\\^`", surrogates, private use, noncharacters
    return (code & 0xFFFE) != 0xFFFE


def iri(value: str) -> str:
    """``value`` (a URL as the archive holds it) as a valid IRI, for an Atom id or href: what an
    IRI cannot hold (a space, a control character, ``"<>{}|\\^```, ``[]`` after the host, a
    "%" not starting an escape, a bidi control) percent-encoded in UTF-8; the rest, accented
    letters included, as it is, so a valid URL keeps its id. A feed reader refused an entry
    with a space in its id or link, or the whole feed (RFC 4287 wants IRIs)."""
    head = _AUTHORITY.match(value)
    host_end = head.end() if head else 0
    fragment = False  # after the first "#", another one is data
    out = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "%" and _ESCAPE.match(value, i):
            out.append(value[i : i + 3])
            i += 3
            continue
        keep = (char in "[]" and i < host_end) or (_iri_char(char) and not (fragment and char == "#"))
        if keep:
            out.append(char)
        else:  # "%" not starting an escape, or a character an IRI cannot hold
            out.append("".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass")))
        fragment = fragment or (char == "#" and i >= host_end)
        i += 1
    return "".join(out)


def _iso(value: datetime, *, utc: bool = True) -> str:
    """RFC 3339, in UTC (``Z``), or with ``utc=False`` on the clock ``value`` holds (a
    publication date on the site's clock, as the export writes it; UTC when it has none)."""
    shown = value.astimezone(UTC) if utc or value.tzinfo is None else value
    return shown.isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(
    articles: Iterable[dict[str, Any]],
    *,
    title: str,
    feed_id: str = FEED_ID,
    self_url: str | None = None,
    generated_at: datetime | None = None,
    subtitle: str | None = None,
) -> bytes:
    """Serialize articles (dicts as :func:`monitors.archive.reads.newest_relevant` returns) as Atom."""
    ET.register_namespace("", ATOM_NS)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: xml_safe(v) for k, v in attrs.items()})
        if text is not None:
            el.text = xml_safe(text)
        return el

    rows = list(articles)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    sub(feed, "id", iri(feed_id))
    sub(feed, "title", title)
    if subtitle:
        sub(feed, "subtitle", subtitle)
    stamps = [r.get("updated_at") or r.get("fetched_at") for r in rows]
    latest = max((s for s in stamps if s is not None), default=None)
    sub(feed, "updated", _iso(latest or generated_at or datetime.now(UTC)))
    sub(feed, "generator", "veille")
    if self_url:
        sub(feed, "link", rel="self", href=iri(self_url), type="application/atom+xml")
    for row in rows:
        entry = sub(feed, "entry")
        sub(entry, "id", iri(row["url"]))
        sub(entry, "title", row.get("title") or row["url"])
        sub(entry, "link", rel="alternate", href=iri(row["url"]), type="text/html")
        updated = row.get("updated_at") or row.get("fetched_at") or latest or datetime.now(UTC)
        sub(entry, "updated", _iso(updated))
        if row.get("published_at"):
            sub(entry, "published", _iso(row["published_at"], utc=False))
        author = sub(entry, "author")
        sub(author, "name", row.get("author") or row["source"])
        summary = row.get("description") or row.get("excerpt")
        if row.get("why"):  # the evidence first: why veille lists this article
            summary = f"Pourquoi : {row['why']}" + (f"\n\n{summary}" if summary else "")
        if summary:
            sub(entry, "summary", summary, type="text")
        for term in (row["source"], row.get("owner"), row.get("family")):
            if term:
                sub(entry, "category", term=term)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
