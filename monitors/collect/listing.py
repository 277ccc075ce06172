"""Listing pages (a party's "actualités" or "communiqués"): HTML in, article links out.

With a ``link_pattern`` (regular expression searched in the absolute URL) the pattern alone
decides. Without one, a heuristic keeps same-site links that look like articles (a slug of
several words, or a date in the path) outside navigation, header, footer and asides, and
drops section, tag, pagination, account and legal pages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
from courlan.filters import is_not_crawlable, type_filter
from lxml import etree

from monitors.collect.encoding import decode_html, undo_double_encoding
from monitors.collect.feeds import FeedEntry
from monitors.dates import french_date, on_local_clock

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


def _time_value(t: etree._Element) -> datetime | None:
    """A ``<time>``'s instant: its ``datetime`` attribute (ISO), else its text as French sites
    write it (``<time>10/02/2025 14:30</time>``, ``<time>lundi 10 février 2025</time>``:
    :func:`monitors.dates.french_date`); None when neither is a date."""
    value = (t.get("datetime") or "").strip()
    if value:
        try:
            return on_local_clock(datetime.fromisoformat(value))  # no zone: the local clock
        except ValueError:
            pass
    return french_date(" ".join(t.text_content().split()))


def _date_near(a: etree._Element) -> datetime | None:
    """A ``<time>`` in the link's card (up to three levels up) that names a date."""
    node: etree._Element | None = a
    for _ in range(4):
        if node is None:
            break
        for t in node.iter("time"):
            if (when := _time_value(t)) is not None:
                return when
        node = node.getparent()
    return None


def find_article_links(
    content: bytes, listing_url: str, link_pattern: str | None = None, content_type: str | None = None
) -> list[FeedEntry]:
    """Article links of a listing page, in page order, each once, with the title the best of
    its links gives (:func:`anchor_title`)."""
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
    ranks: dict[str, int] = {}
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
        title, rank = anchor_title(a)
        previous = found.get(url)
        if previous is None:
            found[url] = FeedEntry(url=url, title=title, published_at=_date_near(a))
            ranks[url] = rank
        elif _better(title, rank, previous.title, ranks[url]):
            found[url] = dataclasses.replace(previous, title=title)
            ranks[url] = rank
    return list(found.values())


# ---------------------------------------------------------------- an article's title among its links

#: What a "read more" link says, in French and the languages of the European press. A link
#: that says only this is no title; said after a teaser ("... Lire la suite") or before the
#: title ("Weiterlesen » Title", a screen reader's text), it is cut off.
_MORE = (
    r"(?:lire la suite|lire l['’]article|lire plus|en savoir plus|voir plus|voir l['’]article|"
    r"read more|read the full story|continue reading|full story|weiterlesen|mehr lesen|mehr erfahren|"
    r"leer m[aá]s|seguir leyendo|leggi tutto|continua a leggere|lees meer|verder lezen)"
)
#: a word that is "read more" only when the link says nothing else ("Rien ne va plus" keeps it)
_MORE_WORD = r"(?:la suite|suite|plus|more|mehr|lire|lesen)"
_MARKS = r"[\s»›→>…:|\-–—.+]*"
_ONLY_MORE = re.compile(rf"{_MARKS}(?:(?:hier|ici|here)\s+)?(?:{_MORE}|{_MORE_WORD}){_MARKS}", re.I)
_MORE_AFTER = re.compile(rf"(?:\s|…|\.\.\.){_MARKS}{_MORE}{_MARKS}$", re.I)
_MORE_BEFORE = re.compile(rf"^{_MARKS}{_MORE}\s*[»›→>:|\-–—]{_MARKS}", re.I)
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
#: More words than a headline has: a teaser paragraph wrapped in the link
TEASER_WORDS = 30

#: How much a link's text is trusted as the article's title, most first
IN_HEADING, TITLE_ATTRIBUTE, TEXT, TEASER, NO_TITLE = 4, 3, 2, 1, 0


def _clean(text: str | None) -> str:
    """Spaces collapsed, a "read more" phrase before or after the title cut off; "" when
    nothing but that phrase is left. A link text the site wrote encoded twice ("rÃ©unit") is
    read back first, as a feed's title is (:func:`~monitors.collect.encoding.plain_text`)."""
    flat = " ".join(undo_double_encoding(text or "").split())
    if not flat or _ONLY_MORE.fullmatch(flat):
        return ""
    flat = _MORE_BEFORE.sub("", _MORE_AFTER.sub("", flat)).strip()
    return "" if _ONLY_MORE.fullmatch(flat) else flat


def _in_heading(a: etree._Element) -> bool:
    for depth, anc in enumerate(a.iterancestors()):
        if depth >= 3:
            return False
        if anc.tag in _HEADINGS:
            return True
    return False


def anchor_title(a: etree._Element) -> tuple[str | None, int]:
    """The title one link gives its article, and how much it is trusted: the text of a
    heading the link is in or holds (a card wrapped whole in its link: kicker, headline,
    teaser, date), else its text without "read more" words, else, for a link that says only
    "Lire la suite" (or nothing: an image), its ``title`` attribute, else its image's alt. A
    text of more than :data:`TEASER_WORDS` words, or in a paragraph, is a teaser; a date or
    a figure alone is no title."""
    if _in_heading(a):
        text = _clean(a.text_content())
        if text:
            return text, IN_HEADING
    for heading in a.iter(*_HEADINGS):
        text = _clean(heading.text_content())
        if text:
            return text, IN_HEADING
    text = _clean(a.text_content())
    if not text:
        attribute = _clean(a.get("title"))
        if attribute:
            return attribute, TITLE_ATTRIBUTE
        alt = next((_clean(img.get("alt")) for img in a.iter("img") if _clean(img.get("alt"))), "")
        return (alt, TEASER) if alt else (None, NO_TITLE)
    if text.replace(" ", "").isdigit() or french_date(text) is not None:
        return None, NO_TITLE
    in_paragraph = any(anc.tag == "p" for anc in a.iterancestors()) or next(a.iter("p"), None) is not None
    if len(text.split()) > TEASER_WORDS or in_paragraph:
        return text, TEASER
    return text, TEXT


def _better(title: str | None, rank: int, previous: str | None, previous_rank: int) -> bool:
    """Whether a later link's title beats the one kept: a more trusted kind wins; among
    plain texts the longest (a kicker or a short label loses to the headline), among the
    others the first."""
    if not title:
        return False
    if rank != previous_rank:
        return rank > previous_rank
    return rank == TEXT and len(title) > len(previous or "")
