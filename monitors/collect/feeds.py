"""Feed parsing (RSS 2.0, RSS 1.0/RDF, Atom with feedparser, JSON Feed): bytes in, entries out.

Plain RSS 2.0 feeds go through :mod:`monitors.collect.rss_fast` (lxml with feedparser's own
rules, the same values at a fraction of the CPU), JSON bodies through
:mod:`monitors.collect.json_feed`; everything else through ``feedparser.parse``. All three give
feedparser's shape, made into entries by the same code.
"""

from __future__ import annotations

import calendar
import html
import html.entities
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from monitors.collect.encoding import (
    declared_charsets,
    detect_encoding,
    plain_text,
    storable,
    to_utf8_xml,
    xml_declaration_first,
)
from monitors.collect.json_feed import JsonFeedError, looks_like_json, parse_json_feed
from monitors.collect.rss_fast import parse_rss
from monitors.dates import feed_date_handler, names_no_day, unreal_date  # noqa: F401 - registers the handler with feedparser
from monitors.errors import describe

_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}


# A numeric character reference to no XML character: a lone surrogate, NUL or another C0
# control, U+FFFE/U+FFFF, or beyond U+10FFFF. feedparser's loose parser turns it into a string
# it cannot encode (or calls chr() out of range) and raises, which would lose the whole feed.
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,24}));")
_REPLACEMENT_REF = b"&#xFFFD;"


def _xml_char(code: int) -> bool:
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def replace_bad_char_refs(content: bytes) -> tuple[bytes, int]:
    """The body with each reference to no XML character replaced by U+FFFD's, and how many."""
    if b"&#" not in content:
        return content, 0
    count = 0

    def one(m: re.Match[bytes]) -> bytes:
        nonlocal count
        hexa, dec = m.group(1), m.group(2)
        if _xml_char(int(hexa, 16) if hexa else int(dec)):
            return m.group(0)
        count += 1
        return _REPLACEMENT_REF

    fixed = _CHAR_REF.sub(one, content)
    return (fixed, count) if count else (content, 0)


_NAMED_REF = re.compile(rb"&([A-Za-z][A-Za-z0-9]{1,31});")
_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.S)
_DECLARED = re.compile(rb"<!ENTITY\s+([A-Za-z][A-Za-z0-9]*)")
_XML_NAMES = {b"amp", b"lt", b"gt", b"quot", b"apos"}


def html_entities_as_refs(content: bytes) -> bytes:
    """The body with HTML's named entities (``&eacute;``, ``&nbsp;``, ``&rsquo;``) outside
    CDATA made numeric references, which every XML parser reads. XML knows only five names:
    feedparser read the others through its loose parser (and called the feed malformed), or,
    when a DOCTYPE names an external DTD (RSS 0.91's Netscape one), dropped them without a
    word: "&eacute;t&eacute;" became "t". A name the document declares itself is left."""
    if b"&" not in content or not _NAMED_REF.search(content):
        return content
    declared = set(_DECLARED.findall(content)) | _XML_NAMES

    def one(m: re.Match[bytes]) -> bytes:
        name = m.group(1)
        text = None if name in declared else html.entities.html5.get(name.decode("ascii") + ";")
        if text is None:
            return m.group(0)
        return b"".join(b"&#%d;" % ord(ch) for ch in text)

    parts = _CDATA.split(content)
    return b"".join(part if n % 2 else _NAMED_REF.sub(one, part) for n, part in enumerate(parts))


class FeedError(ValueError):
    """The body is not a feed at all (permanent for this URL), or with ``transient``, a feed
    cut short (a JSON Feed that ends before its document does: try again later)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class FeedEntry:
    url: str
    title: str | None = None
    author: str | None = None
    summary: str | None = None
    published_at: datetime | None = None
    #: ``published_at`` is the item's publication as its feed states it (pubDate, Atom
    #: published, JSON Feed date_published, an RSS item's dc:date without pubDate, a news
    #: sitemap's publication_date), not the date of its last change (Atom updated,
    #: date_modified, dcterms:modified) nor a listing's guess
    published_explicit: bool = False
    language: str | None = None  # the entry's own, when it declares one (a JSON Feed item's)


@dataclass
class ParsedFeed:
    entries: list[FeedEntry] = field(default_factory=list)
    title: str | None = None
    language: str | None = None
    bozo_reason: str | None = None  # set when the feed was malformed but partly readable, or bad dates
    #: the feed itself is malformed (the parser's complaint, JSON Feed problems other than a
    #: date that does not parse, broken character references), not only some entry dates:
    #: its warning opens "malformed feed" or not
    malformed: bool = False
    #: the feed says it is finished and will not update again (a JSON Feed's ``"expired": true``)
    expired: bool = False
    ttl_minutes: int | None = None
    update_period_seconds: int | None = None  # what the feed declares (ttl, sy:updatePeriod)


def _when(parsed: time.struct_time | None) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError):
        return None


def _entry_date(
    raw: dict[str, Any], unreal: list[str] | None = None, updated_published: bool = False
) -> tuple[datetime | None, bool]:
    """The entry's publication date, else its update's, and whether it is the publication's
    (``published``: pubDate, Atom published, JSON Feed date_published; ``updated`` too with
    ``updated_published``, an RSS item's dc:date, :func:`_dc_date_is_publication`); a date
    that names no day (a year or a month alone, :func:`names_no_day`) is none, not the period's
    first day, and so is one that names no real day or time ("2025-13-45T10:00:00Z",
    :func:`unreal_date`), not the day feedparser rolls it into: its text, with why, goes to
    ``unreal``."""
    for key in ("published", "updated"):
        parsed = raw.get(f"{key}_parsed")
        text = raw.get(key)
        if isinstance(text, str) and (why := unreal_date(text)):
            said = f"{text.strip()!r} ({why})"
            if unreal is not None and (key == "published" or raw.get("published") != text):
                # feedparser's entry answers "updated" with a lone "published" (not the other
                # way: an item dated by dc:date or Atom updated alone has no "published"): once
                unreal.append(said)
            continue
        if parsed and not (isinstance(text, str) and names_no_day(text)):
            when = _when(parsed)
            return when, when is not None and (key == "published" or updated_published)
    return None, False


# An element feedparser also reads as an entry's ``updated``: dcterms:modified, atom:updated
# (RSS's own items have neither), and a lastBuildDate inside an item.
_CHANGE_DATE = re.compile(rb"<(?:[\w.-]+:)?(?:modified|updated)[\s/>]")
_ITEM = re.compile(rb"<(?:[\w.-]+:)?item[\s>]")
_LAST_BUILD = re.compile(rb"<(?:[\w.-]+:)?lastbuilddate[\s/>]", re.IGNORECASE)


def _dc_date_is_publication(parsed: dict[str, Any], content: bytes) -> bool:
    """Whether the feed's entries' ``updated`` is their publication date: in an RSS feed (1.0
    RDF, 2.0 and the 0.9x) an item without pubDate has no date but the Dublin Core module's
    dc:date, which DCMI defines as a date in the item's life, typically its creation or its
    being made available (its publication, not a change), and which feedparser reads as
    ``updated``. RSS 1.0 has no date element of its own; SPIP writes its RSS 2.0 items with
    dc:date (the article's date, set when it is published) and no pubDate. Not when the body
    also has an element feedparser reads in the same place (dcterms:modified, atom:updated:
    :data:`_CHANGE_DATE`; an item's lastBuildDate: :data:`_LAST_BUILD`); a pubDate beside a
    dc:date is read first (:func:`_entry_date`); Atom's updated stays a change's date."""
    version = parsed.get("version")
    if not (isinstance(version, str) and version.startswith("rss")) or _CHANGE_DATE.search(content):
        return False
    item = _ITEM.search(content)
    return item is None or _LAST_BUILD.search(content, item.start()) is None


def _parse_fast(content: bytes, headers: dict[str, str]) -> dict[str, Any] | None:
    """The fast path's reading, or None for feedparser: it is only a shortcut, so an input it
    fails on in a way it did not foresee goes to feedparser instead of failing the feed."""
    try:
        return parse_rss(content, headers)
    except Exception:  # noqa: BLE001 - any failure of the shortcut: the reference parser reads it
        return None


def parse_feed(
    content: bytes, base_url: str, content_type: str | None = None, fast: bool = True
) -> ParsedFeed:
    """Parse a feed body; malformed feeds yield what could be read plus the reason, and
    one cut short (:func:`_cut_short`) that yields no entry is a transient :class:`FeedError`.

    ``fast=False`` always uses feedparser (the tests compare both ways)."""
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    content = xml_declaration_first(content)
    encoding = detect_encoding(content, content_type)
    if looks_like_json(content, encoding, content_type):
        return _json_feed(content, encoding, base_url)
    declared = {c.lower().replace("_", "-") for c in declared_charsets(content, content_type)}
    if encoding != "utf-8" or declared - {"utf-8", "utf8"}:
        # A wrong or missing charset label: hand feedparser UTF-8 that says so.
        content = to_utf8_xml(content, content_type)
        mime = (content_type or "application/xml").split(";")[0].strip() or "application/xml"
        headers["content-type"] = f"{mime}; charset=utf-8"
    content = html_entities_as_refs(content)
    parsed = _parse_fast(content, headers) if fast else None
    replaced = 0
    if parsed is None:
        content, replaced = replace_bad_char_refs(content)
        try:
            parsed = feedparser.parse(content, response_headers=headers)
        except Exception as failure:  # noqa: BLE001 - one body the parser chokes on loses only this feed
            raise FeedError(f"the feed parser failed on this body: {describe(failure)}") from None
    bozo = None
    exc = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if parsed.get("bozo"):
        bozo = describe(exc) if exc else "malformed feed"
    if replaced:
        note = f"{replaced} character reference(s) to no character replaced by U+FFFD"
        bozo = f"{bozo}; {note}" if bozo else note
    if not parsed.get("version") and not parsed["entries"]:
        raise FeedError(f"not a feed: {_what_it_is(content) or bozo or 'no RSS/Atom structure found'}")
    feed = _parsed_feed(parsed, base_url, bozo, _dc_date_is_publication(parsed, content))
    if not feed.entries and exc is not None and _cut_short(content):
        # a feed cut short read nothing: an error of this poll, polled again, not a warning
        # that left the user nothing and the run "All good"
        raise FeedError(f"malformed feed, no entry could be read: {describe(exc)}", transient=True)
    return feed


# The feed's root element (RSS 2.0's <rss>, Atom's <feed>, RSS 1.0's <rdf:RDF>), its prefix kept:
# its end tag must be the same name.
_FEED_ROOT = re.compile(rb"<((?:[\w.-]+:)?(?:rss|feed|RDF))[\s/>]")


def _cut_short(content: bytes) -> bool:
    """Whether the body never closes its feed's root element (no ``</rss>``, ``</feed>``,
    ``</rdf:RDF>`` after its start): the transfer ended inside the feed. A whole body that
    is not well-formed for a reason the loose parser reads past (a stray ``&`` in a URL, an
    entity XML does not define, an unclosed ``<br>``, an undeclared prefix) is not: an
    empty channel so written is a quiet feed, not a broken one, as sitemaps are told
    (:func:`monitors.collect.sitemaps.parse_sitemap`)."""
    root = _FEED_ROOT.search(content)
    if root is None:
        return True
    end = re.compile(rb"</" + re.escape(root.group(1)) + rb"\s*>")
    return end.search(content, root.end()) is None


_HTML_START = re.compile(
    rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S
)
_HTML_TITLE = re.compile(rb"<title[^>]*>([^<]{1,200})", re.I)


def _what_it_is(content: bytes) -> str | None:
    """What a body that is no feed is, when it says: an empty body (a server that answered
    200 and wrote nothing) or an HTML page (an error or consent page served as 200), with its
    title, so the error names the cause."""
    if not content.strip():
        return "the body is empty"
    if not _HTML_START.match(content[:4096]):
        return None
    title = _HTML_TITLE.search(content[:65536])
    named = " ".join(title.group(1).decode("utf-8", "replace").split()) if title else ""
    return f"an HTML page ({html.unescape(named)!r})" if named else "an HTML page"


def _json_feed(content: bytes, encoding: str, base_url: str) -> ParsedFeed:
    """A JSON Feed body as a parsed feed; what was left out or ignored is the bozo reason."""
    try:
        parsed, reasons, count, malformed = parse_json_feed(content, encoding, base_url)
    except JsonFeedError as exc:
        if exc.cut:
            raise FeedError(f"JSON Feed cut short: {exc}", transient=True) from None
        raise FeedError(f"not a feed: {exc}") from None
    bozo = None
    if count:
        more = f"; and {count - len(reasons)} more" if count > len(reasons) else ""
        bozo = f"{count} JSON Feed problem(s): " + "; ".join(reasons) + more
    # a date_published "hier" is a bad entry date, as an RSS pubDate naming no day: not malformed
    feed = _parsed_feed(parsed, base_url, bozo, malformed=malformed)
    feed.expired = parsed["feed"].get("expired") is True
    return feed


def bad_dates_note(said: list[str], item: str, items: str, taken: str = "taken as absent") -> str:
    """The warning's words for dates that name no real day or time, ``said`` as
    ``"'2025-13-45' (there is no month 13)"`` once per ``item`` carrying one (a feed's entry, a
    sitemap's URL): each bad date once, with how many carry it (a feed that writes one broken
    date on every item is one cause, not the same text repeated), two named, the rest counted."""
    counts = Counter(said)
    named = [s if n == 1 else f"{s[:-1]}; {n} {items})" for s, n in counts.items()]
    more = f" and {len(named) - 2} more" if len(named) > 2 else ""
    return f"{len(said)} {item} date(s) naming no real day or time, {taken}: " + ", ".join(named[:2]) + more


def _parsed_feed(
    parsed: dict[str, Any],
    base_url: str,
    bozo: str | None,
    updated_published: bool = False,
    malformed: bool = True,
) -> ParsedFeed:
    """feedparser's result (or the same shape) as entries: links resolved against the feed's
    URL, each URL once, strings made storable, dates as aware UTC datetimes (``updated`` is
    the entries' publication with ``updated_published``: :func:`_entry_date`); ``bozo`` is why
    the feed is malformed, or (``malformed`` false) only some of its dates are bad."""
    entries: list[FeedEntry] = []
    seen: set[str] = set()
    unreal: list[str] = []
    for raw in parsed["entries"]:
        link = (
            _original_link(raw)
            or raw.get("link")
            or next((lk.get("href") for lk in raw.get("links", []) if lk.get("href")), None)
        )
        if not link:
            guid = raw.get("id") or ""
            link = guid if guid.startswith(("http://", "https://")) else None
        if not link:
            continue
        try:
            url = urljoin(base_url, link.strip())
        except ValueError:  # "http://[::1/x": kept as written, the store declines it with why
            url = link.strip()
        if url in seen or (not url.startswith(("http://", "https://")) and link == raw.get("id")):
            continue  # an Atom id ("urn:...") standing in for a missing link is no link
        # a javascript:, mailto:, file:, data: or ftp: link stays an entry, as does a malformed
        # one (a JSON Feed id or a FeedBurner origLink "http://[::1/x", which urljoin refuses:
        # it lost the whole feed): the store declines it and records why (fetch_log, kind
        # 'entry', outcome 'skipped')
        seen.add(url)
        published, explicit = _entry_date(raw, unreal, updated_published)
        entries.append(
            FeedEntry(
                url=url,
                title=storable(plain_text(raw.get("title"))),
                author=storable(plain_text(raw.get("author"))),
                summary=storable(raw.get("summary")),
                published_at=published,
                published_explicit=explicit,
                language=storable(raw.get("language")) if isinstance(raw.get("language"), str) else None,
            )
        )
    malformed = malformed and bozo is not None
    if unreal:
        note = bad_dates_note(unreal, "entry", "entries")
        bozo = f"{bozo}; {note}" if bozo else note
    feed = parsed.get("feed", {})
    ttl_minutes = _whole_number(feed.get("ttl"))
    return ParsedFeed(
        entries=entries,
        # the channel's title as its items' are: a person reads it among the feeds suggested
        title=storable(plain_text(feed.get("title"))),
        language=storable(feed.get("language")),
        bozo_reason=bozo,
        malformed=malformed,
        ttl_minutes=ttl_minutes,
        update_period_seconds=_update_period(ttl_minutes, feed),
    )


def _original_link(raw: dict[str, Any]) -> str | None:
    """The article's own URL a FeedBurner feed gives beside its tracking redirect
    (``feedburner:origLink``), when it is an http(s) URL."""
    orig = raw.get("feedburner_origlink")
    if isinstance(orig, str) and orig.strip().startswith(("http://", "https://")):
        return orig.strip()
    return None


def _whole_number(value: object) -> int | None:
    """A channel's count (``<ttl>``, ``sy:updateFrequency``) written in ASCII digits, else None:
    ``str.isdigit`` is true of "²", which ``int`` refuses (the feed was lost: "could not read
    this feed: ValueError")."""
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() else None


def _update_period(ttl_minutes: int | None, feed: dict) -> int | None:
    """Seconds between updates the feed declares: RSS ``<ttl>`` or ``sy:updatePeriod``
    divided by ``sy:updateFrequency``; the longer one when both are given, a year at most
    (a ``<ttl>`` of twenty digits did not fit the source's row: its every poll "could not
    store this poll", its entries lost; the poll interval is a day at most anyway)."""
    periods = []
    if ttl_minutes:
        periods.append(ttl_minutes * 60)
    period = _PERIODS.get(str(feed.get("sy_updateperiod", "")).strip().lower())
    if period:
        periods.append(period // max(1, _whole_number(feed.get("sy_updatefrequency")) or 1))
    return min(max(periods), _PERIODS["yearly"]) if periods else None
