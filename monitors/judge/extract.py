"""Article extraction: page in, text and metadata out.

The page is parsed once (lxml, through trafilatura's loader); titles, dates and access
candidates are read from that tree (:mod:`monitors.judge.metadata`) and chosen among
(:mod:`monitors.judge.titles`, :mod:`monitors.judge.page_dates`), then trafilatura extracts the
text from it (it works on a copy), and the text is cleaned of general boilerplate
(:mod:`monitors.judge.cleanup`), of the site's learned boilerplate (:mod:`monitors.judge.boilerplate`)
and of paywall notices (:mod:`monitors.judge.paywall`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from html import escape as html_escape
from html import unescape as html_unescape
from itertools import chain
from typing import Any, NoReturn

from monitors.collect.encoding import (
    decode_html_doubt,
    storable,
    undo_double_encoding,
    undo_double_encoding_lines,
)
from monitors.collect.refresh import refreshes_to_url
from monitors.judge.boilerplate import SiteProfile, block_fingerprint, remove_known, title_segments
from monitors.judge.cleanup import clean_lines, drop_own_posts, find_lead, paragraphs_in_divs
from monitors.judge.metadata import NAV_LABELS, label_key, read_page
from monitors.judge.not_found import ARTICLE_MIN_WORDS, soft_404
from monitors.judge.page_dates import choose_dates
from monitors.judge.paywall import check_access, page_notice
from monitors.judge.titles import choose_title, site_keys
from monitors.language_tags import normalize_declared_language


class ExtractionError(ValueError):
    """No article text could be extracted: permanent for this page, except a page cut short
    (:class:`CutShortError`)."""


class CutShortError(ExtractionError):
    """No article text in a page whose HTML was cut short (:func:`cut_short`): transient, as a
    transfer cut midway is; the next fetch may bring the page whole."""


class ScriptRenderedError(ExtractionError):
    """No article text in a page whose text only a browser running its scripts shows
    (:func:`rendered_by_scripts`): permanent, the next fetch brings the same shell."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    author: str | None
    published_at: datetime | None
    description: str | None
    declared_language: str | None
    canonical_url: str | None
    sitename: str | None
    modified_at: datetime | None = None
    #: ``published_at`` has a time of day (else it is a day or a month: its local midnight)
    published_with_time: bool = False
    paywalled: bool = False
    truncated: bool = False
    #: why the flags are set ("notice: Il vous reste ...", "text stops mid-sentence", ...)
    access_reasons: tuple[str, ...] = ()
    #: where the title and dates came from, the dates that disagreed, what was removed
    evidence: dict[str, Any] | None = None
    #: what this page teaches about its site: its blocks (fingerprint -> text) and the
    #: segments of its <title> (monitors.judge.boilerplate)
    blocks: dict[int, str] = field(default_factory=dict)
    title_segments: tuple[str, ...] = ()


# read on the decoded page, not its bytes: in UTF-16 ``<html lang="fr">`` has a zero byte
# between its letters
_HTML_LANG = re.compile(r"<html[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)", re.I | re.A)
_CANONICAL = re.compile(r"<link\s[^>]*rel\s*=\s*[\"']?canonical[\"']?[^>]*>", re.I)
_HREF = re.compile(r"href\s*=\s*[\"']([^\"']+)[\"']", re.I)


def _declared_language(html: str) -> str | None:
    m = _HTML_LANG.search(html[:5000])
    return m.group(1).lower() if m else None


def _first_language(values: list[str]) -> str | None:
    """The first of the metadata's declared languages that reads as one ("fr_FR", "fr-fr"; not
    "fr, en", a page for two audiences), for a page with no <html lang>."""
    for value in values:
        if normalize_declared_language(value):
            return value.strip().lower()
    return None


def _canonical(html: str) -> str | None:
    m = _CANONICAL.search(html)
    if not m:
        return None
    href = _HREF.search(m.group(0))
    return href.group(1).strip() if href else None


_AUTHOR_PREFIX = re.compile(r"^\s*(?:article\s+)?(?:rédigé\s+)?(?:par|by)\s+", re.I)
_AUTHOR_STOP = re.compile(
    r"\b(?:publié|mis à jour|modifié|temps de lecture|lecture|le \d|lundi|mardi|mercredi|jeudi|"
    r"vendredi|samedi|dimanche|\d{1,2}[/.]\d{1,2}|\d{4})",
    re.I,
)


def clean_author(value: str | None) -> str | None:
    """Keep the names of a byline, drop what bylines carry around them ("Publié le ...")."""
    if not value:
        return None
    text = _AUTHOR_PREFIX.sub("", value.strip())
    stop = _AUTHOR_STOP.search(text)
    if stop:
        text = text[: stop.start()]
    text = text.strip(" -–—,;:|")
    return text if re.search(r"[^\W\d_]{2,}", text) else None


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: The words a site's class or id gives a fact box ("Infobox", "Faktenbox"): background on a
#: subject the article names (an institution, a person, a law), set beside or below it and
#: repeated on every article about that subject. It is no part of the article, and
#: trafilatura read its paragraphs as the article's (the shared corpus's dev half: a church
#: body's four-paragraph infobox, twice, ahead of the article's text).
FACT_BOX_WORDS = ("infobox", "info-box", "info_box", "factbox", "fact-box", "faktenbox", "fakten-box")
_LOWER = "translate(concat(@class, ' ', @id), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"
#: A fact box, for trafilatura's ``prune_xpath`` (taken out of its copy of the page before it
#: extracts the text): a block (``div``, ``aside``, ``section``, ``table``, ``dl``) whose class
#: or id holds one of :data:`FACT_BOX_WORDS`, in any case, and which holds no ``<h1>``,
#: ``<article>`` or ``<main>`` (a page template's class on the block around the whole article
#: stays). The plain ``box``/``BOX`` test first spares the case folding on the others: 1.0-1.4 ms
#: a page of the shared corpus against 4.5 ms without it (about 2% of the extraction's time).
FACT_BOX_XPATH = (
    "//*[self::div or self::aside or self::section or self::table or self::dl]"
    "[contains(@class, 'ox') or contains(@id, 'ox') or contains(@class, 'OX') or contains(@id, 'OX')]["
    + " or ".join(f"contains({_LOWER}, '{word}')" for word in FACT_BOX_WORDS)
    + "][not(.//h1 or .//article or .//main)]"
)

#: How the pipeline calls trafilatura (bench/stages.py times the same call).
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "with_metadata": True,
    "include_comments": False,
    "include_tables": True,
    "deduplicate": False,
    "prune_xpath": [FACT_BOX_XPATH],
}


#: The languages htmldate may hand to dateparser (through trafilatura), in dateparser's own
#: order of preference. htmldate asks it with every one of dateparser's 205 locales, and a
#: date string none can read (``"April bis Juni: Montag - Sonntag: 08-18"``) makes dateparser
#: compile every locale's regular expressions: 2.1 s of CPU once per process (each analysis
#: worker pays it), against about 0.05 s for these. veille monitors French and English media;
#: the others are the neighbouring languages of European news (the shared corpus is mostly
#: German). htmldate asks dateparser only after its own parsers failed (once in the corpus's
#: 120 pages, and that string no locale reads), and veille's own date candidates come first.
DATE_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")


_htmldate_parser: Any = None  # htmldate's own ``get_external_parser``, before it was replaced


@cache
def _date_parser() -> Any:
    """htmldate's dateparser with htmldate's settings, limited to :data:`DATE_LANGUAGES`."""
    from dateparser import DateDataParser

    original = _htmldate_parser()
    settings = getattr(original, "_settings", None)
    if settings is None:  # a dateparser that keeps its settings elsewhere: htmldate's as is
        return original
    return DateDataParser(languages=list(DATE_LANGUAGES), settings=settings)


def limit_date_languages() -> None:
    """Make htmldate use :func:`_date_parser` (htmldate has no option for dateparser's
    languages; it looks its parser up as ``extractors.get_external_parser`` at each call)."""
    global _htmldate_parser
    from htmldate import extractors

    current = getattr(extractors, "get_external_parser", None)
    if current is None:  # a later htmldate without this lookup: leave its parser alone
        return
    if current is not _date_parser:
        _htmldate_parser = current
        extractors.get_external_parser = _date_parser


#: Share of the first characters that may be control characters or undecodable bytes (U+FFFD)
#: in a text page; random or compressed bytes read as windows-1252 give about 14%, an HTML page
#: none, or a few stray ones.
BINARY_SHARE = 0.05
_BINARY_SAMPLE = 4096
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")


def unpacked(html: bytes) -> bytes:
    """A body compressed without saying so (gzip or zstd served as text/html with no
    Content-Encoding) unpacked by trafilatura, within its cap (20 MB out: a bomb stays packed
    and fails as binary data); any other body as it is."""
    if html[:3] == b"\x1f\x8b\x08" or html[:4] == b"\x28\xb5\x2f\xfd":
        from trafilatura.utils import handle_compressed_file

        return handle_compressed_file(html)
    return html


def not_a_page(html: bytes, decoded: str) -> str | None:
    """Why a body is no page to extract, cause first (empty, blank, binary data), or None.

    Without it these failed as "no article text found in the page", which does not tell a PDF
    or an image served as text/html from an article the extractor missed."""
    if not html:
        return "empty page: the response had no body"
    if not decoded.strip():
        return f"blank page: {len(html)} bytes of whitespace only"
    start = html[:1024].lstrip()
    if start.startswith(b"%PDF-"):  # a PDF whose streams are text reads as a page otherwise
        return f"PDF document, not a page: the body starts with {start[:16]!r}"
    head = decoded[:_BINARY_SAMPLE]
    if len(_CONTROL.findall(head)) > BINARY_SHARE * len(head):
        return f"binary data, not a text page: the body starts with {html[:16]!r}"
    return None


#: Root elements of XML documents that are no web page, and what each is: parsed as HTML they
#: gave an SVG's labels, a feed's or a sitemap's text as an article's.
NOT_PAGE_ROOTS = {
    "svg": "SVG image",
    "rss": "RSS feed",
    "feed": "Atom feed",
    "rdf": "RSS 1.0 feed",
    "urlset": "sitemap",
    "sitemapindex": "sitemap index",
}


def not_a_page_root(tree: Any) -> str | None:
    """Why a parsed document is no page when its root element is not HTML's (an SVG image, a
    feed, a sitemap served as text/html), cause first, or None."""
    root = tree
    if root.tag == "html":  # an XML document without its prolog: the parser put it in a body
        body = root.find("body")
        children = [] if body is None or (body.text or "").strip() else list(body)
        if len(children) == 1 and not (children[0].tail or "").strip():
            root = children[0]
    tag = root.tag
    name = tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""
    kind = NOT_PAGE_ROOTS.get(name)
    return f"{kind}, not a page: its root element is <{tag}>" if kind else None


def frames_only(tree: Any) -> str | None:
    """Why a frameset page has no text of its own (its frames are pages of their own, which
    veille does not fetch from it), or None for a page without a frameset."""
    frameset = tree.find(".//frameset")
    if frameset is None:
        return None
    sources = [src for frame in tree.iter("frame", "iframe") if (src := (frame.get("src") or "").strip())]
    shown = ", ".join(sources[:5]) + (", ..." if len(sources) > 5 else "")
    return f"frameset page, no text of its own: the text is in its frames ({shown or 'none named'})"


# What starts a tag in HTML: "<p>", "<a href", "<br/>", "</div>", "<!--", "<!DOCTYPE", "<?xml".
# A body with none is plain text, whatever its Content-Type says.
_TAG_START = re.compile(r"<(?:[a-z][\w:-]*[\s/>]|/[a-z][\w:-]*\s*>|!--|!doctype|\?xml)", re.I)
#: A doctype opening a body: a server's template line above plain text, no tag of the page's
_LEADING_DOCTYPE = re.compile(r"\A\s*<!doctype\b[^>]*>", re.I)
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
PLAIN_TITLE_MAX = 150
#: Fewer words than this in a plain-text body is a server's message ("OK", "Not Found"), not
#: an article.
PLAIN_MIN_WORDS = 25


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def plain_text_page(decoded: str) -> str | None:
    """A body without a single tag (plain text served as text/html) as the page it stands for,
    or None for a body with tags: its paragraphs (split at blank lines, else at line breaks)
    as ``<p>``, its first one as the title when it is one short line not ending a sentence
    (a dispatch's layout). Read as HTML such a body had no element to take text from, and
    failed as "no article text found in the page". JSON, or a few words (a server's
    message), raise :class:`ExtractionError` saying so. A doctype line above the text is
    dropped: it is no tag of the text's, and it is no title."""
    decoded = _LEADING_DOCTYPE.sub("", decoded, count=1)
    if _TAG_START.search(decoded):
        return None
    words = decoded.split()
    start = decoded.lstrip()[:40]
    if start.startswith(("{", "[")) and _is_json(decoded):
        raise ExtractionError(f"JSON, not a page: the body starts with {start!r}")
    if len(words) < PLAIN_MIN_WORDS:
        raise ExtractionError(
            f"plain text, not a page, too short for an article: {len(words)} word(s), {start!r}"
        )
    text = decoded.replace("\r\n", "\n").replace("\r", "\n")
    if _BLANK_LINE.search(text):
        blocks = [" ".join(b.split()) for b in _BLANK_LINE.split(text)]
    else:
        blocks = [" ".join(line.split()) for line in text.split("\n")]
    blocks = [b for b in blocks if b]
    head = body = ""
    if len(blocks) > 1 and len(blocks[0]) <= PLAIN_TITLE_MAX and blocks[0][-1] not in ".!?…:;,":
        title = html_escape(blocks.pop(0))
        head, body = f"<title>{title}</title>", f"<h1>{title}</h1>"
    body += "".join(f"<p>{html_escape(b)}</p>" for b in blocks)
    return f"<!DOCTYPE html><html><head>{head}</head><body><article>{body}</article></body></html>"


#: A JSON-LD script longer than this is emptied before trafilatura reads the page: its JSON
#: clean-up (a regular expression over the whole script) takes about 130 bytes of memory per
#: character, 650 MB for a script of 5 MB (one-off). veille has read the script's headline,
#: dates and access flag itself (:func:`read_page`) before; trafilatura would have taken the
#: author and the site's name from it.
JSON_LD_MAX_CHARS = 1_000_000


def _empty_huge_scripts(tree: Any) -> list[int]:
    """Empty the JSON scripts trafilatura reads that are over :data:`JSON_LD_MAX_CHARS`;
    their lengths."""
    emptied = []
    for script in tree.iterfind(".//script[@type]"):
        if script.get("type") in {"application/ld+json", "application/settings+json"}:
            size = len(script.text or "")
            if size > JSON_LD_MAX_CHARS:
                script.text = None
                emptied.append(size)
    return emptied


def parser_limit() -> str | None:
    """The resource limit at which libxml2 stopped the last parse of trafilatura's HTML parser
    (in this thread), or None: past 256 nested elements, or a text of 10 MB in one piece, it
    stops reading and the tree holds only what came before, with no exception."""
    from trafilatura import utils

    parser = getattr(utils, "HTML_PARSER", None)
    for entry in getattr(parser, "error_log", ()):
        if entry.type_name == "ERR_RESOURCE_LIMIT":
            return str(entry.message).strip()
    return None


#: What no end tag may hide in: a comment, and the text of a raw-text element (a script, a
#: style: ``"</body>"`` written in a script's string). One left open runs to the page's end.
_RAW = re.compile(r"<!--.*?(?:-->|\Z)|<(script|style)\b[^>]*>.*?(?:</\1\s*>|\Z)", re.I | re.S)
_RAW_LEFT_OPEN = re.compile(r"\x00(comment|script|style)\Z")
_HTML_END = re.compile(r"</(?:body|html)\s*>", re.I)
#: A start or end tag: (``/`` of an end tag, its name, ``/`` of a self-closing one)
_TAG_PARTS = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:-]*)[^>]*?(/?)>")
#: Elements whose end tag HTML requires: a whole page closes them (give or take a sloppy one)
CONTAINERS = frozenset(
    {"div", "section", "article", "main", "aside", "nav", "header", "footer", "figure"}
    | {"table", "ul", "ol", "dl", "form", "svg"}
)
#: Elements that have no content (no end tag), or need none after the page's last content
_EMPTY = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source"}
    | {"track", "wbr", "script", "style", "noscript"}
)
#: What a page's ``<head>`` holds: a page that opens one and stops with only these, no ``<body>``
#: (a ``<noscript>``'s content aside: a tracking pixel's ``<img>``), was cut in its head
_HEAD_ONLY = frozenset(
    {"html", "head", "title", "base", "meta", "link", "script", "style", "template", "noscript"}
)
#: Inline elements, a paragraph's markup (HTML's phrasing content: links, emphasis; and those
#: without content, line breaks and images): a page that stops after one, inside a ``<p>``
#: or a ``<li>`` left open (no other tag since), stops in its text, as one ending with text
#: does. An old page of unclosed ``<p>`` and no blocks, cut right after a link or a line break
#: in a paragraph, kept the paragraph's first words, or its first lines, unflagged. A whole page
#: that leaves its end tags out ends with a block's tag (``</p>``, ``</div>``), or an inline
#: element outside any paragraph (a tracking pixel's ``<img>`` at the body's end).
INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd"}
    | {"mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
)
INLINE_EMPTY = frozenset({"br", "img", "wbr"})
#: What holds a paragraph's text and may be left open (HTML lets ``</p>``, ``</li>``, ``</td>``
#: out): a paragraph, a list item, a table cell, a heading
TEXT_BLOCKS = frozenset({"p", "li", "dt", "dd", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6"})
#: Unclosed :data:`CONTAINERS` that tell a page ending with a tag was cut (a whole one leaves
#: at most one open: 0 to 1 in the 120 corpus pages)
CUT_OPEN_CONTAINERS = 2
#: A site's chrome, what a page's header blocks hold around its content: the site header and
#: its menus (``<header>``, ``<nav>``), links, forms and their controls, icons
CHROME = frozenset(
    {"header", "nav", "a", "button", "select", "label", "textarea", "title", "svg", "template"}
)
#: What makes a page's start header blocks: a site header, a menu, links (a form control, a
#: ``<label>`` alone, is no header: a page that is one such fragment)
_MENUS = frozenset({"header", "nav", "a"})
#: The words of text outside :data:`CHROME` under which a page cut short stops before its
#: content: a tagline, a date, a headline are fewer; an article's first paragraph is more
CONTENT_MIN_WORDS = 25
#: The share of an extracted text's words found in a cut page's chrome that make it the
#: menu's text (:func:`_menu_text`)
MENU_SHARE = 0.8
_WORD = re.compile(r"[^\W\d_]{2,}")
_ENTITY_OR_RAW = re.compile(r"&#?\w+;|\x00\w+")


def _raw_placeholder(match: re.Match[str]) -> str:
    """A comment dropped, a raw-text element emptied, ``\x00`` at the end for one left open."""
    whole, name = match.group(0), match.group(1)
    if name is None:
        return "" if whole.endswith("-->") else "\x00comment"
    closed = re.search(rf"</{name}\s*>\Z", whole, re.I) is not None
    return f"<{name}></{name}>" if closed else f"\x00{name.lower()}"


_ENDS_WITH_END = re.compile(r"</(?:body|html)\s*>\s*\Z", re.I)


def _all_closed(page: str) -> bool:
    """Whether the page's last comment, script and style are closed (the last opening of each,
    in lower or upper case, comes before the last closing): then an end tag ending the page is
    in none of them. No ``lower()`` of the page: that is slower than the check."""
    pairs = (("<!--", "-->"), ("<script", "</script"), ("<style", "</style"))
    return all(
        max(page.rfind(start), page.rfind(start.upper())) < max(page.rfind(stop), page.rfind(stop.upper()))
        or (start not in page and start.upper() not in page)
        for start, stop in pairs
    )


def _in_head(tags: list[re.Match[str]]) -> bool:
    """Whether ``tags`` (a page's, its comments and raw text emptied) open a ``<head>`` and are
    all head elements, with no text between them but a title's: the page never reached its
    ``<body>`` (text after the head is the body, its tags left out)."""
    opened = False
    in_noscript = 0
    in_title, end = False, 0
    for m in tags:
        if opened and not in_title and not in_noscript and m.string[end : m.start()].strip():
            return False  # the body's text
        name, end = m.group(2).lower(), m.end()
        in_title = name == "title" and not m.group(1)
        if name == "noscript":
            in_noscript = max(0, in_noscript + (-1 if m.group(1) else 1))
        elif in_noscript:
            continue
        elif name not in _HEAD_ONLY:
            return False
        opened = opened or (name == "head" and not m.group(1))
    return opened


#: What shows a reader something without text: a page whose body holds one has content
_SHOWN = frozenset(
    {"img", "picture", "svg", "canvas", "video", "audio", "iframe", "frame", "object", "embed"}
)


def _body_without_content(tags: list[re.Match[str]]) -> bool:
    """Whether ``tags`` (a page's, its comments and raw text emptied) open a ``<body>`` and
    hold nothing a reader sees after it: no text, no image or frame (:data:`_SHOWN`; one in a
    ``<noscript>``, a tracking pixel, aside), only scripts, styles and the empty blocks ad
    slots and script widgets write (``<div id="ad-top">``, ``<ins class="adsbygoogle">``). A
    page cut among the scripts that open its body, before its content, stops so; a whole page
    reaches its content, or its ``</body>``."""
    start = next((i for i, m in enumerate(tags) if not m.group(1) and m.group(2).lower() == "body"), None)
    if start is None:
        return False
    in_noscript = 0
    end = tags[start].end()
    for m in tags[start + 1 :]:
        if not in_noscript and m.string[end : m.start()].strip():
            return False  # the body's text
        name, end = m.group(2).lower(), m.end()
        if name == "noscript":
            in_noscript = max(0, in_noscript + (-1 if m.group(1) else 1))
        elif not in_noscript and name in _SHOWN:
            return False
    return not tags[start].string[end:].strip()


#: Words at most of text a page rendered by its scripts holds in its body ("Chargement…",
#: "Loading"): an article's first sentence is more
SCRIPT_PAGE_MAX_WORDS = 5


@dataclass(frozen=True)
class _ScriptPage:
    """A page whose ``<body>`` holds no text a browser shows without running its scripts."""

    #: the text of its ``<noscript>`` ("Vous devez activer JavaScript"), "" when it has none
    noscript: str
    #: an empty element of the page's own (a custom element, ``<app-root>``), "" when none
    mount: str
    #: whether its ``</body>`` or ``</html>`` follows the body
    ended: bool
    #: the words of its ``<noscript>`` and ``<template>``, which trafilatura may take for a text
    hidden: frozenset[str]


def _script_page(decoded: str) -> _ScriptPage | None:
    """The page as a :class:`_ScriptPage` when it opens a ``<body>`` that holds at most
    :data:`SCRIPT_PAGE_MAX_WORDS` words of text outside its scripts, styles, ``<noscript>``
    (shown only without scripts) and ``<template>`` (a script's to fill), and nothing shown
    without text (:data:`_SHOWN`: an image, a frame). A page with no ``<script>`` renders
    nothing so, nor does a redirect page (a meta refresh to a URL): no article, said as before."""
    skeleton = _RAW.sub(_raw_placeholder, decoded)
    tags = list(_TAG_PARTS.finditer(skeleton))
    start = next((i for i, m in enumerate(tags) if not m.group(1) and m.group(2).lower() == "body"), None)
    if start is None or not any(m.group(2).lower() == "script" for m in tags):
        return None
    if refreshes_to_url(skeleton[: tags[start].start()]):
        return None
    depth = {"noscript": 0, "template": 0}
    words: list[str] = []
    said: dict[str, list[str]] = {"noscript": [], "template": []}
    mount, ended = "", False
    end = tags[start].end()
    for m in [*tags[start + 1 :], None]:
        between = skeleton[end : m.start() if m is not None else len(skeleton)]
        if inside := next((name for name in ("template", "noscript") if depth[name]), None):
            said[inside].append(" ".join(_ENTITY_OR_RAW.sub(" ", html_unescape(between)).split()))
        elif len(words := words + _WORD.findall(_ENTITY_OR_RAW.sub(" ", between))) > SCRIPT_PAGE_MAX_WORDS:
            return None
        if m is None:
            break
        name, end = m.group(2).lower(), m.end()
        if name in depth:
            depth[name] = max(0, depth[name] + (-1 if m.group(1) else 1))
        elif name in {"body", "html"} and m.group(1):
            ended = True
        elif not any(depth.values()) and name in _SHOWN:
            return None
        elif not any(depth.values()) and "-" in name and not m.group(1) and not mount:
            mount = f"<{name}>"
    noscript = " ".join(t for t in said["noscript"] if t)
    hidden = " ".join([noscript, *said["template"]])
    return _ScriptPage(noscript if _WORD.search(noscript) else "", mount, ended, _words(hidden))


def _words(text: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _WORD.findall(text))


def rendered_by_scripts(
    decoded: str, framed: bool = False, whole: bool = False, text: str = ""
) -> str | None:
    """Why the page's text is only a browser's to render, or None: a single-page app's HTML
    shell, its article written by scripts a browser runs (:func:`_script_page`). The page is
    whole when its ``</body>`` or ``</html>`` ends its body, or ``whole`` (:func:`cut_short`
    found no cut); without them, when its transport told its end (``framed``: a
    Content-Length or a chunked body received to its end) and something in the page says
    scripts render it (a ``<noscript>`` with words, an element of its own left empty): else
    it may be a page cut among the scripts that open its body (:func:`_body_without_content`),
    whose next fetch may bring its content. ``text``, what an extractor took from the page, is
    the shell's when its words are its ``<noscript>``'s and ``<template>``'s
    (:func:`_menu_text`): trafilatura reads a ``<noscript>``, and "Vous devez activer
    JavaScript" was stored as an article; a text from elsewhere (the articleBody of the head's
    JSON-LD) is the article's."""
    page = _script_page(decoded)
    if page is None or (text and not _menu_text(text, page.hidden)):
        return None
    if not (page.ended or whole or (framed and (page.noscript or page.mount))):
        return None
    why = "the page renders its text with JavaScript: no text in its HTML"
    if page.noscript:
        said = page.noscript if len(page.noscript) <= 80 else f"{page.noscript[:79]}…"
        return f'{why} (its <noscript> says "{said}")'
    if page.mount:
        return f"{why} (its body holds scripts and an empty {page.mount})"
    return f"{why} (its body holds only scripts and empty elements)"


_CUT_AMONG_SCRIPTS = (
    "HTML cut short: the page stops among the scripts that open its <body>, before any content"
)


def _in_open_paragraph(tags: list[re.Match[str]]) -> str | None:
    """The last of ``tags`` (``"</a>"``, ``"<br>"``) when it is an inline element's end, or one
    without content, and every tag since the last start tag of :data:`TEXT_BLOCKS` (``<p>``,
    ``<li>``) is inline (:data:`INLINE`): the page stops inside that paragraph. Else None."""
    for m in reversed(tags):
        closing, name = bool(m.group(1)), m.group(2).lower()
        if name in INLINE or name in INLINE_EMPTY:
            continue
        if name not in TEXT_BLOCKS or closing or m.group(3) or m is tags[-1]:
            return None
        last = tags[-1]
        name = last.group(2).lower()
        if (last.group(1) and name in INLINE) or (not last.group(1) and name in INLINE_EMPTY):
            return f"</{name}>" if last.group(1) else f"<{name}>"
        return None
    return None


def _lines_left_open(tags: list[re.Match[str]]) -> str | None:
    """The name of the block (:data:`CONTAINERS`: ``div``, ``section``) left open that holds
    the end of ``tags`` when the last is a ``<br>``: a block of lines of text separated by
    line breaks, outside any paragraph, that the page stops in. The elements closed since
    the block's start tag (a ``<p>`` and its ``</p>``), inline ones and those without content
    are passed over. Else None (a ``<br>`` right in the ``<body>``: a whole page that leaves
    its end tags out may end so)."""
    last = tags[-1]
    if last.group(1) or last.group(2).lower() != "br":
        return None
    closed: dict[str, int] = {}
    for m in reversed(tags[:-1]):
        name = m.group(2).lower()
        if name in INLINE or name in _EMPTY or name in INLINE_EMPTY or m.group(3):
            continue
        if m.group(1):
            closed[name] = closed.get(name, 0) + 1
        elif closed.get(name):
            closed[name] -= 1
        else:
            return name if name in CONTAINERS else None
    return None


def chrome_words(decoded: str) -> frozenset[str] | None:
    """The words of a page's text (lower case) when its text, from its start to its end, is
    its chrome's (:data:`CHROME`: site header, menus, links), with fewer than
    :data:`CONTENT_MIN_WORDS` words outside it: a page cut among its header blocks, before
    its article. None for a page with content, or with no header, menu or link
    (:data:`_MENUS`). Each element is counted apart, and a link's start ends the link before
    it (HTML nests no link in a link): an old page's anchor left open, ``<a name="suite">``,
    is no menu."""
    skeleton = _RAW.sub(_raw_placeholder, decoded)
    depth: dict[str, int] = {}
    content = 0
    seen = False
    pos = 0
    words: set[str] = set()
    for m in chain(_TAG_PARTS.finditer(skeleton), [None]):
        found = _WORD.findall(_ENTITY_OR_RAW.sub(" ", skeleton[pos : m.start() if m else None]))
        words.update(w.lower() for w in found)
        if not any(depth.values()) and (content := content + len(found)) >= CONTENT_MIN_WORDS:
            return None
        if m is None:
            break
        pos = m.end()
        if (name := m.group(2).lower()) in CHROME and not m.group(3):
            if m.group(1):
                depth[name] = max(0, depth.get(name, 0) - 1)
            else:
                depth[name] = 1 if name == "a" else depth.get(name, 0) + 1
                seen = seen or name in _MENUS
    return frozenset(words) if seen else None


def _menu_text(text: str, menu: frozenset[str]) -> bool:
    """Whether at least :data:`MENU_SHARE` of ``text``'s words are ``menu``'s: an extractor's
    text made of a cut page's menu, not of an article it found elsewhere (its JSON-LD)."""
    words = [w.lower() for w in _WORD.findall(text)]
    return sum(w in menu for w in words) >= MENU_SHARE * len(words)


def cut_short(decoded: str) -> str | None:
    """Why a page's HTML was cut short, or None. A server or proxy that fails midway and still
    sends the Content-Length of what it sent, or ends its chunked body properly, gives such a
    page. The page is whole when its last ``</body>`` or ``</html>`` (not one inside a script,
    a style or a comment) ends it: nothing but scripts and such follows (a page that goes on
    after one, a second document, is judged on its end). Else it was cut when it stops in the
    middle of a tag, of its text, of a comment or of a script; right after a start tag that
    opens content (``<p>``, ``<div>``); or after any tag with :data:`CUT_OPEN_CONTAINERS` or
    more of the elements HTML requires an end tag for (:data:`CONTAINERS`) left open, or
    inside an ``<svg>`` left open (an inline icon's ``<path .../>`` ends with a tag: a cut
    among its paths, every block before it closed), or right after an inline tag inside a
    paragraph left open (:func:`_in_open_paragraph`), or among the scripts and empty ad slots
    that open its ``<body>`` (:func:`_body_without_content`). A whole page may leave its ``</body>``
    and ``</html>`` out, but closes its blocks and its ``<svg>`` and ends with a tag."""
    if _ENDS_WITH_END.search(decoded[-256:]) and _all_closed(decoded):
        return None  # the usual whole page, told without going through its scripts
    skeleton = _RAW.sub(_raw_placeholder, decoded)
    ends = list(_HTML_END.finditer(skeleton))
    tail = skeleton[ends[-1].end() :] if ends else skeleton
    tags = list(_TAG_PARTS.finditer(tail))
    if ends and all(m.group(1) or m.group(2).lower() in _EMPTY for m in tags):
        return None  # only end tags, scripts and such after the last </body> or </html>
    end = tail.rstrip()
    if not end:
        return None
    missing = "with no </body> or </html> at its end" if ends else "with no </body> or </html>"
    if (raw := _RAW_LEFT_OPEN.search(end)) is not None:  # a comment or a script the cut left open
        what = "a comment" if raw.group(1) == "comment" else f"a <{raw.group(1)}>"
        return f"HTML cut short: the page stops in the middle of {what}, {missing}"
    if end[-1] != ">":
        where = "a tag" if end.rfind("<") > end.rfind(">") else "its text"
        return f"HTML cut short: the page stops in the middle of {where}, {missing}"
    last = tags[-1] if tags else None
    opening = last is not None and last.end() == len(end) and not last.group(1) and not last.group(3)
    if opening and last is not None and (name := last.group(2).lower()) not in _EMPTY:  # <p>, <div>
        return f"HTML cut short: the page stops right after the start tag <{name}>, {missing}"
    if not ends and _in_head(tags) and not refreshes_to_url(tail):  # a redirect is whole
        return f"HTML cut short: the page stops in its <head>, before any content, {missing}"
    if not ends and _body_without_content(tags):
        return f"{_CUT_AMONG_SCRIPTS}, {missing}"
    if last is not None and last.end() == len(end) and (in_p := _in_open_paragraph(tags)):
        return f"HTML cut short: the page stops inside a paragraph, after {in_p}, {missing}"
    if last is not None and last.end() == len(end) and (block := _lines_left_open(tags)):
        where = f"in the lines of a <{block}> left open, after <br>"
        return f"HTML cut short: the page stops {where}, {missing}"
    if chrome_words(decoded) is not None:
        where = "among its header blocks (site header, menus), before any content"
        return f"HTML cut short: the page stops {where}, {missing}"
    depth: dict[str, int] = {}
    for m in _TAG_PARTS.finditer(skeleton):
        if (name := m.group(2).lower()) in CONTAINERS and not m.group(3):
            depth[name] = depth.get(name, 0) + (-1 if m.group(1) else 1)
    if (open_ := sum(n for n in depth.values() if n > 0)) >= CUT_OPEN_CONTAINERS:
        blocks = f"{open_} of its blocks (div, section, table...) left open"
        return f"HTML cut short: the page stops after a tag with {blocks}, {missing}"
    if depth.get("svg", 0) > 0:  # an image's markup; a whole page closes it, text follows it
        return f"HTML cut short: the page stops inside an <svg> image left open, {missing}"
    return None


def _check_scripts_shell(decoded: str, cut: str | None, framed: bool, text: str = "") -> None:
    """Raise :class:`ScriptRenderedError` when the page's scripts render its text and ``text``
    (what was extracted, if anything) is none of the article's (:func:`rendered_by_scripts`);
    :class:`CutShortError` when that text is a ``<noscript>``'s of a page cut among the scripts
    that open its body (stored, flagged, as its article before). A page cut otherwise is cut."""
    if cut and not cut.startswith(_CUT_AMONG_SCRIPTS):
        return
    if why := rendered_by_scripts(decoded, framed, whole=not cut, text=text):
        raise ScriptRenderedError(why)
    if cut and text and (page := _script_page(decoded)) is not None and _menu_text(text, page.hidden):
        raise CutShortError(f"{cut}; no article text before the cut")


def _no_text(why: str, cut: str | None, decoded: str, framed: bool) -> NoReturn:
    """Raise that the page has no article text: :class:`ScriptRenderedError` when its scripts
    render its text (:func:`rendered_by_scripts`; a cut among the scripts that open its body
    may be that page whole), else :class:`CutShortError`, the cut first, when its HTML was cut
    short (``cut``), else :class:`ExtractionError` with ``why``."""
    _check_scripts_shell(decoded, cut, framed)
    if cut:
        raise CutShortError(f"{cut}; no article text before the cut")
    raise ExtractionError(why)


_htmldate_find_date: Any = None  # htmldate's ``find_date``, as trafilatura imported it


def _find_date(*args: Any, **kwargs: Any) -> Any:
    """htmldate's ``find_date``, None when it raises on a malformed date: a page dated
    ``2025-02-08T10:00:00+25:00`` made htmldate raise ValueError (an offset of a day or more),
    and trafilatura, which catches ValueError around its whole extraction, discarded the page's
    text with it. veille reads the page's dates itself (:func:`choose_dates`) anyway. So did
    a document whose root element is one htmldate drops before its search (``<label>``,
    ``<object>``, ``<video>``, ``<math>``...: a page that is one such fragment): lxml asserts
    that what it drops has a parent, and the bare AssertionError ended the extraction."""
    try:
        return _htmldate_find_date(*args, **kwargs)
    except (ValueError, OverflowError, AssertionError):
        return None


def guard_date_search() -> None:
    """Make trafilatura's metadata step use :func:`_find_date` (trafilatura has no option to
    keep the text when its date search fails; it calls ``metadata.find_date``)."""
    global _htmldate_find_date
    from trafilatura import metadata

    current = getattr(metadata, "find_date", None)
    if current is None:  # a later trafilatura that calls htmldate another way: leave it
        return
    if current is not _find_date:
        _htmldate_find_date = current
        metadata.find_date = _find_date


def extract_article(
    html: bytes,
    url: str,
    content_type: str | None = None,
    *,
    site: SiteProfile | None = None,
    now: datetime | None = None,
    framed: bool = False,
) -> Extracted:
    """Extract main text and metadata; raise :class:`ExtractionError` when there is no text.

    The bytes are decoded here (a wrong declared charset must not cost the accents).
    ``site`` is what the site's earlier pages taught (boilerplate blocks, title affixes).
    ``framed``: the transport told where the body ends and it came to that end (a
    Content-Length, a chunked body's last chunk; :attr:`FetchResult.framed`).
    """
    # imported at the first page, not with the module: a run with nothing to fetch, and the
    # commands that extract nothing, start 0.15 s sooner
    import trafilatura
    from trafilatura.settings import Document
    from trafilatura.utils import load_html

    limit_date_languages()
    guard_date_search()
    html = unpacked(html)
    decoded, charset_doubt = decode_html_doubt(html, content_type)
    why_not = not_a_page(html, decoded)
    if why_not:
        raise ExtractionError(why_not)
    as_page = plain_text_page(decoded)
    if as_page is not None:
        decoded = as_page
    tree = load_html(decoded)
    limit = parser_limit()
    cut = cut_short(decoded)
    nothing = (
        f"HTML parser limit: {limit}; no article text before it"
        if limit
        else "no article text found in the page"
    )
    if tree is None:
        _no_text(nothing, cut, decoded, framed)
    wrong_root = not_a_page_root(tree)
    if wrong_root:
        raise ExtractionError(wrong_root)
    meta = read_page(tree)
    keys = site_keys(meta, url, site.title_affixes if site else ())
    lead = None
    emptied = _empty_huge_scripts(tree)
    own_posts = drop_own_posts(tree, keys)
    div_paragraphs = paragraphs_in_divs(tree)
    doc = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    if not isinstance(doc, Document) or not (doc.text or "").strip():
        _no_text(frames_only(tree) or nothing, cut, decoded, framed)
    text = undo_double_encoding_lines((doc.text or "").strip())
    if len(text.split()) < ARTICLE_MIN_WORDS:  # a shell's <noscript> words are few
        _check_scripts_shell(decoded, cut, framed, text)
    if cut and (menu := chrome_words(decoded)) is not None and _menu_text(text, menu):
        _no_text(nothing, cut, decoded, framed)  # the text of a menu: the page stops before its article
    double_encoded = list(meta.double_encoded)
    if text != (doc.text or "").strip():
        double_encoded.append("text")
    if len(text.split()) < ARTICLE_MIN_WORDS and (
        gone := soft_404(decoded[:200_000].encode("utf-8", "replace"), "page")
    ):
        raise ExtractionError(gone)
    title, title_from = choose_title(meta, keys)
    if title is None:
        fallback = (doc.title or "").strip() or None
        if fallback and label_key(fallback) in NAV_LABELS:
            fallback = None  # the menu's <h1>, which trafilatura takes when it is the first
        if fallback and not (doc.sitename and fallback == doc.sitename.strip()):
            title, title_from = undo_double_encoding(fallback), "trafilatura"
            if title is not fallback:
                double_encoded.append("trafilatura title")
    author, description, sitename = (
        undo_double_encoding(value) if value else value
        for value in (doc.author, doc.description, doc.sitename)
    )
    for name, before, after in (
        ("author", doc.author, author),
        ("trafilatura description", doc.description, description),
        ("trafilatura site name", doc.sitename, sitename),
    ):
        if after is not before:
            double_encoded.append(name)
    evidence: dict[str, Any] = {"title_from": title_from}
    if double_encoded:  # read back: the site wrote them encoded twice ("rÃ©unit")
        evidence["double_encoding_repaired"] = double_encoded
    if charset_doubt:  # no charset declared and the bytes could not tell which
        evidence["charset_doubt"] = charset_doubt
    if as_page is not None:
        evidence["plain_text"] = True  # no tag in the body: read as paragraphs of text
    if emptied:
        evidence["json_ld_not_given_to_trafilatura"] = emptied
    if own_posts:
        evidence["own_posts_removed"] = own_posts
    if div_paragraphs:
        evidence["div_paragraphs"] = div_paragraphs
    text, removed = clean_lines(
        text, [t for t in (title, meta.og_title, meta.ld_headline, *meta.h1[:1]) if t]
    )
    if removed:
        evidence["removed_lines"] = removed
    blocks = {fp: line for line in text.split("\n") if (fp := block_fingerprint(line)) is not None}
    learned = remove_known(text, site)
    text = learned.text
    if learned.removed:
        evidence["site_boilerplate_removed"] = learned.removed
    elif learned.kept_all:
        evidence["site_boilerplate_kept"] = "the known blocks were most of the text"
    lead = find_lead(tree, meta.description, text)
    if lead and (fixed := undo_double_encoding(lead)) is not lead:  # the text has it read back
        lead = None if fixed[:60] in " ".join(text.split()) else fixed
    if lead:
        text = f"{lead}\n{text}"
        evidence["lead_restored"] = True
    lowered = decoded.lower()  # the page notice's words and the French date phrases look in it
    text, access = check_access(text, meta.accessible_for_free, page_notice(tree, decoded, lowered))
    if limit:  # the text stops where the parser did
        access.truncated = True
        access.reasons.append(f"HTML parser limit: {limit}")
    if cut:  # the text may stop where the page did
        access.truncated = True
        access.reasons.append(cut)
    dates = choose_dates(meta, decoded, url, doc.date, now=now, tree=tree, text=text, lowered=lowered)
    evidence.update(dates.evidence)
    return Extracted(
        text=text,
        title=storable(title),
        author=storable(clean_author(author)),
        published_at=dates.published,
        description=storable(description),
        declared_language=_declared_language(decoded) or _first_language(meta.languages),
        canonical_url=_canonical(decoded),
        sitename=storable(sitename),
        modified_at=dates.modified,
        published_with_time=dates.published_with_time,
        paywalled=access.paywalled,
        truncated=access.truncated,
        access_reasons=tuple(access.reasons),
        evidence=evidence,
        blocks=blocks,
        title_segments=tuple(title_segments(meta.html_title)),
    )
