"""Listing pages (a party's "actualités" or "communiqués"): HTML in, article links out.

With a ``link_pattern`` (regular expression searched in the absolute URL) the pattern alone
decides. Without one, a heuristic keeps same-site links that look like articles (a slug of
several words, or a date in the path) outside navigation, header, footer and asides, and
drops section, tag, pagination, account and legal pages.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from courlan.filters import is_not_crawlable, type_filter
from lxml import etree

from monitors.collect.encoding import decode_html
from monitors.collect.feeds import FeedEntry
from monitors.dates import on_local_clock

_CHROME_TAGS = ("nav", "header", "footer", "aside", "form")
_CHROME_ROLES = ("navigation", "banner", "contentinfo", "search", "menu", "menubar")
_CHROME_CLASS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|breadcrumbs?|fil-ariane|footer|header|pagination|pager|"
    r"share|social|sharing|cookies?|newsletter|skip|sidebar)(?:$|[\s_-])",
    re.I,
)
_NOT_ARTICLE = re.compile(
    r"/(?:tags?|etiquettes?|categor(?:y|ies|ie|ies)|rubriques?|themes?|thematiques?|dossiers?|auteurs?|"
    r"authors?|page|recherche|search|connexion|login|compte|mon-compte|inscription|adherer|adhesion|"
    r"adhesions|don|dons|faire-un-don|soutenir|contact|contacts|mentions-legales|cgu|cgv|cookies|"
    r"donnees-personnelles|confidentialite|plan-du-site|newsletter|agenda|evenements?|boutique|"
    r"equipe|qui-sommes-nous|feed|rss|wp-content|wp-admin|wp-json)(?:/|$)",
    re.I,
)
_FILE = re.compile(
    r"\.(?:pdf|jpe?g|png|gif|webp|svg|mp[34]|zip|docx?|xlsx?|pptx?|ics|xml|json|css|js)$",
    re.I,
)
_DATE_IN_PATH = re.compile(r"/20\d\d[/-](?:0?[1-9]|1[0-2])(?:[/-]|$)")


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def _in_chrome(el: etree._Element) -> bool:
    for anc in el.iterancestors():
        tag = anc.tag if isinstance(anc.tag, str) else ""
        if tag in _CHROME_TAGS:
            return True
        if (anc.get("role") or "").lower() in _CHROME_ROLES:
            return True
        if _CHROME_CLASS.search(f"{anc.get('class') or ''} {anc.get('id') or ''}"):
            return True
    return False


def looks_like_article(url: str, listing_url: str) -> bool:
    """URL-only test of the heuristic: same site, not navigation, an article-like path."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or _host(url) != _host(listing_url):
        return False
    path = parts.path.rstrip("/")
    if not path or url.split("#")[0].rstrip("/") == listing_url.split("#")[0].rstrip("/"):
        return False
    if _NOT_ARTICLE.search(path + "/") or _FILE.search(path):
        return False
    if not type_filter(url, strict=True) or is_not_crawlable(url):
        return False
    if parts.query and re.search(r"(?:^|&)(?:page|p|paged|start|offset)=", parts.query):
        return False
    slug = re.sub(r"\.[a-z0-9]{2,5}$", "", path.rsplit("/", 1)[-1], flags=re.I)
    words = [w for w in re.split(r"[-_]+", slug) if w]
    if len(words) >= 3:
        return True
    return bool(_DATE_IN_PATH.search(path + "/") and slug)


def _date_near(a: etree._Element) -> datetime | None:
    """A ``<time datetime>`` in the link's card (up to three levels up)."""
    node: etree._Element | None = a
    for _ in range(4):
        if node is None:
            break
        for t in node.iter("time"):
            value = t.get("datetime")
            if value:
                try:
                    when = datetime.fromisoformat(value.strip())
                except ValueError:
                    continue
                return on_local_clock(when)  # without a zone: the local clock (monitors.dates)
        node = node.getparent()
    return None


def find_article_links(
    content: bytes, listing_url: str, link_pattern: str | None = None, content_type: str | None = None
) -> list[FeedEntry]:
    """Article links of a listing page, in page order, each once, with their anchor text."""
    text = decode_html(content, content_type)
    if not text.strip():
        return []
    try:
        doc = lxml.html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return []
    base = listing_url
    base_el = doc.find(".//base[@href]")
    if base_el is not None:
        with contextlib.suppress(ValueError):  # a malformed <base> is no base
            base = urljoin(listing_url, base_el.get("href", ""))
    pattern = re.compile(link_pattern) if link_pattern else None
    found: dict[str, FeedEntry] = {}
    for a in doc.iter("a"):
        href = (a.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")):
            continue
        try:
            url = urljoin(base, href).split("#")[0]
        except ValueError:  # a malformed link ("http://[::1/x") is one link less, not the page lost
            continue
        if pattern is not None:
            if not pattern.search(url):
                continue
        elif _in_chrome(a) or not looks_like_article(url, listing_url):
            continue
        title = " ".join((a.text_content() or a.get("title") or "").split()) or None
        previous = found.get(url)
        if previous is None or (title and len(title) > len(previous.title or "")):
            found[url] = FeedEntry(url=url, title=title, published_at=_date_near(a))
    return list(found.values())
