"""Sitemaps (sitemaps.org and Google News): bytes in, child sitemaps or dated URLs out.

Handles sitemap indexes, gzipped sitemaps (with the size cap applied to the inflated
body) and the ``news:`` extension (``news:publication_date``, ``news:title``).
"""

from __future__ import annotations

import calendar
import contextlib
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from lxml import etree

from monitors.collect.codings import GZIP_MAGIC
from monitors.collect.encoding import plain_text, storable, to_utf8_xml, xml_declaration_first
from monitors.dates import french_date, parse_feed_date, unreal_date, w3c_period

SITEMAP_TYPES = (
    "application/xml",
    "text/xml",
    "application/x-gzip",
    "application/gzip",
    "application/octet-stream",
    "text/plain",
    "text/html",  # some servers label sitemaps as HTML; the parser decides
)


class SitemapError(ValueError):
    """The body is not a sitemap (permanent for this URL)."""


@dataclass(frozen=True)
class SitemapUrl:
    url: str
    lastmod: datetime | None = None
    news_date: datetime | None = None
    news_title: str | None = None
    #: the end of the period lastmod names: "2025-02" is February, changed at some time before
    #: 1 March (W3C datetimes may be a year, a month or a day); lastmod itself when an instant
    lastmod_end: datetime | None = None
    #: a date written for the URL that could not be read, as written with why ("'garbage' (not
    #: a W3C date, YYYY-MM-DD)"), when the URL has no date: said in the poll's warning
    unread_date: str | None = None
    #: a ``news:publication_date`` written and unreadable, as written with why, when a readable
    #: lastmod dates the URL: taken by its lastmod, with no publication date; said in the warning
    unread_news_date: str | None = None

    @property
    def date(self) -> datetime | None:
        """The date that decides whether the URL is recent: the news date, else lastmod. Only
        the news date is a publication date; lastmod dates the page's last change."""
        return self.news_date or self.lastmod

    @property
    def date_end(self) -> datetime | None:
        """The latest instant :attr:`date` may mean (the end of lastmod's month, for one)."""
        return self.news_date or self.lastmod_end or self.lastmod


@dataclass
class ParsedSitemap:
    is_index: bool
    sitemaps: list[SitemapUrl] = field(default_factory=list)  # children of an index
    urls: list[SitemapUrl] = field(default_factory=list)
    cut_short: str | None = None  # why the document was read only in part
    ended_early: bool = False  # cut_short because the body stops inside it (may come whole next time)


def parse_period(value: str | None) -> tuple[datetime, datetime] | None:
    """The period a sitemap date names, first and last instants, aware (None if unreadable):
    a W3C datetime of any precision (``2025``, ``2025-02``, ``2025-02-10``,
    ``2025-02-10T09:30:00+01:00``), without a zone on the local clock (:mod:`monitors.dates`);
    else one instant written as feeds write dates (``Mon, 10 Feb 2025 14:30:00 +0100``, ``lun.,
    10 févr. 2025 ... CET``) or as French sites do (``10/02/2025 14:30``, day first; ``lundi 10
    février 2025 à 14h30``), which some CMSes print in sitemaps too."""
    if not value or not value.strip():
        return None
    text = value.strip()
    period = w3c_period(text)
    if period is not None:
        return period
    instant = french_date(text)
    if instant is None and not text[:4].isdigit():
        # only an RFC 822 date: feedparser's lenient W3C reading would take "2025-02-10T14h30"
        # for UTC midnight
        as_feed = parse_feed_date(text)
        if as_feed is None:
            return None
        try:
            instant = datetime.fromtimestamp(calendar.timegm(as_feed), tz=UTC)
        except (OverflowError, ValueError):
            return None
    return None if instant is None else (instant, instant)


def unread_date(*values: str | None) -> str | None:
    """The first of a URL's written dates (``<lastmod>``, ``news:publication_date``), as
    written with why it is none (:func:`~monitors.dates.unreal_date`'s reason, else "not a W3C
    date", the format sitemaps.org asks for), or None when none is written."""
    text = next((v for v in values if v), None)
    return None if text is None else f"{text!r} ({unreal_date(text) or 'not a W3C date, YYYY-MM-DD'})"


def parse_date(value: str | None) -> datetime | None:
    """The first instant of :func:`parse_period` (a day at its local midnight, a month at its
    first day's), or None."""
    period = parse_period(value)
    return None if period is None else period[0]


#: Compressed bytes given to the inflater at a time: what a member's end leaves over is copied
#: (zlib's ``unused_data``), so a window bounds that copy per member
_GZIP_WINDOW = 16 * 1024
#: Gzip members a sitemap may hold (bgzip writes one per 64 KiB of XML: 800 for 50 MB)
MAX_GZIP_MEMBERS = 10_000


def gunzip(content: bytes, max_bytes: int) -> bytes:
    """Inflate a gzip body, every member of it, refusing to grow past ``max_bytes`` (gzip
    bombs). A gzip file may hold several members, read one after the other (``cat a.gz b.gz``,
    gzip's append mode, bgzip): only the first was read, the sitemap's later URLs lost at every
    poll and the sitemap said "cut short". Bytes after a whole member that start none (padding)
    are ignored, as gzip does; a stream that stops early gives what it holds (the XML says it
    is cut)."""
    out = bytearray()
    view = memoryview(content)
    pos, members = 0, 1
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    while pos < len(view):
        window = view[pos : pos + _GZIP_WINDOW]
        try:
            out += inflater.decompress(window, max_bytes + 1 - len(out))
        except zlib.error as exc:
            raise SitemapError(f"corrupt gzip sitemap: {exc}") from exc
        if len(out) > max_bytes or inflater.unconsumed_tail:
            raise SitemapError(f"gzipped sitemap inflates past the {max_bytes} byte cap")
        if not inflater.eof:
            pos += len(window)
            continue
        pos += len(window) - len(inflater.unused_data)
        if bytes(view[pos : pos + 2]) != GZIP_MAGIC:
            break
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise SitemapError(f"gzipped sitemap of more than {MAX_GZIP_MEMBERS} gzip members")
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    return bytes(out)


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _child_text(el: etree._Element, *path: str, whole: bool = False) -> str | None:
    """Text of the first descendant following local names ``path`` (namespaces ignored); with
    ``whole``, its elements' text too (a title's unescaped ``<b>`` is an element)."""
    current = [el]
    for name in path:
        current = [c for parent in current for c in parent if _local(c.tag) == name]
        if not current:
            return None
    text = str(current[0].xpath("string()")) if whole else current[0].text
    return text.strip() if text and text.strip() else None


def _news_title(el: etree._Element) -> str | None:
    """``news:title`` as a feed's title is read (:func:`~monitors.collect.encoding.plain_text`):
    a CMS escapes it twice (``L&amp;eacute;t&amp;eacute;``) or puts markup in it, which went
    into the article's ``feed_title`` as written."""
    return storable(plain_text(_child_text(el, "news", "title", whole=True)))


def _cut_short(parser: etree.XMLParser) -> str | None:
    """Why the recovering parser stopped before the end, when a limit stopped it: past 256
    nested elements libxml2 gives up on the rest of the document and recovery returns what it
    had, the sitemap's later URLs missing without a word."""
    for error in parser.error_log:
        if error.type_name == "ERR_RESOURCE_LIMIT" or "Excessive depth" in error.message:
            cause = error.message.split(", use XML_PARSE_HUGE")[0].strip()
            return f"sitemap cut short at line {error.line} by a parser limit ({cause}), the rest not read"
    return None


def _end_tag(name: str) -> re.Pattern[bytes]:
    """An end tag of that local name, with or without a namespace prefix."""
    return re.compile(rb"</(?:[\w.-]+:)?" + re.escape(name.encode()) + rb"\s*>")


def _ends_early(xml: bytes, root: str) -> bool:
    """Whether the document never closes its root (no ``</urlset>``): its body ended inside the
    sitemap, whose recovering parse closes what is open and hands back the entries so far."""
    return _end_tag(root).search(xml) is None


def _last_entry_whole(xml: bytes, entry: str) -> bool:
    """Whether a document cut short ends right after an entry's end tag (``</url>``): the
    entry is whole; else it is the one the body ended in, its ``<loc>`` perhaps cut."""
    return re.search(_end_tag(entry).pattern + rb"\s*\Z", xml) is not None


def parse_sitemap(
    content: bytes, content_type: str | None = None, max_bytes: int = 10 << 20, base_url: str | None = None
) -> ParsedSitemap:
    """Parse a sitemap or sitemap index; raise :class:`SitemapError` for anything else.

    A relative ``<loc>`` (sitemaps.org wants them absolute; some CMSes print ``/article.html``)
    is resolved against ``base_url``, the sitemap's own URL."""
    if content.startswith(GZIP_MAGIC):
        content = gunzip(content, max_bytes)
    content = xml_declaration_first(content)
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=False)
    xml = to_utf8_xml(content, content_type)
    try:
        root = etree.fromstring(xml, parser)
    except etree.XMLSyntaxError as exc:
        raise SitemapError(f"not a sitemap: {exc}") from exc
    if root is None or _local(root.tag) not in {"urlset", "sitemapindex"}:
        found = _local(root.tag) if root is not None else "nothing parsable"
        raise SitemapError(f"not a sitemap: root element is {found!r}, not urlset or sitemapindex")
    out = ParsedSitemap(is_index=_local(root.tag) == "sitemapindex", cut_short=_cut_short(parser))
    entries = list(root)
    if out.cut_short is None and _ends_early(xml, _local(root.tag)):
        whole = not entries or _last_entry_whole(xml, _local(entries[-1].tag))
        if not whole:
            entries = entries[:-1]
        out.ended_early = True
        out.cut_short = (
            f"sitemap cut short: it ends before its closing </{_local(root.tag)}>"
            f"{'' if whole else ', inside an entry (dropped: its address may be cut)'}; {len(entries)} read"
        )
    for el in entries:
        name = _local(el.tag)
        loc = _child_text(el, "loc")
        if not loc:
            continue
        if base_url and not loc.startswith(("http://", "https://")):
            with contextlib.suppress(ValueError):  # a loc that is no URL: the store says why it is skipped
                loc = urljoin(base_url, loc)
        written = _child_text(el, "lastmod")
        lastmod, lastmod_end = parse_period(written) or (None, None)
        if name == "sitemap":
            out.sitemaps.append(SitemapUrl(loc, lastmod, lastmod_end=lastmod_end))
        elif name == "url":
            news = _child_text(el, "news", "publication_date")
            news_date = parse_date(news)
            out.urls.append(
                SitemapUrl(
                    loc,
                    lastmod,
                    news_date=news_date,
                    news_title=_news_title(el),
                    lastmod_end=lastmod_end,
                    # a date written and unreadable ("garbage", "2025-02-30") leaves the URL
                    # undated, out of every window: the poll says so, as a feed's bad dates
                    unread_date=unread_date(news, written) if news_date is None and lastmod is None else None,
                    # a news date unreadable beside a readable lastmod: the URL is taken by its
                    # last change, its publication unknown; said too
                    unread_news_date=unread_date(news) if news_date is None and lastmod is not None else None,
                )
            )
    return out
