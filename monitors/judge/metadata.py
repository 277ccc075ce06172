"""What a parsed page declares about itself, before any choice: its title, date, site name and
access candidates (:class:`PageMeta`, :func:`read_page`), and the clean-up of their text that
both choices read (:func:`clean`, :func:`unescaped`).

Pure functions over the lxml tree that :mod:`monitors.judge.extract` parses once (and then hands to
trafilatura). The choices are made by :mod:`monitors.judge.titles` (the title, the site's names)
and :mod:`monitors.judge.page_dates` (publication and modification dates); candidates and the
reasons for a choice go into an evidence dict stored with the article, so a wrong title or date
can be traced to the field it came from (rules: docs/extraction.md).
"""

from __future__ import annotations

import html as html_lib
import itertools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from lxml.html import HtmlElement

from monitors.collect.encoding import (
    loads_storable,
    undo_double_encoding,
    unescape_double_encoded,
)

#: A run of spaces (what :func:`clean` collapses; the dates' phrases too).
SPACES = re.compile(r"\s+")


def clean(value: str | None) -> str:
    """Collapse spaces (and non-breaking ones), drop soft hyphens and zero-width characters."""
    if not value:
        return ""
    value = value.replace("\u00ad", "").replace("\u200b", "").replace("\ufeff", "")
    return SPACES.sub(" ", value).strip()


#: An HTML entity ("&amp;", "&#8217;", "&#x2019;", "&eacute;").
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescaped(value: str) -> str:
    """A metadata title with the HTML entities left in it decoded: sites escape ``og:title``
    twice (``content="L&amp;#8217;été"``) and write entities in JSON-LD strings
    (``"headline": "L&#8217;été"``), which readers get as "L&#8217;été" and which kept such
    a title from agreeing with its ``<h1>`` ("L’été")."""
    return html_lib.unescape(value) if _ENTITY.search(value) else value


# ---------------------------------------------------------------- candidates


@dataclass
class PageMeta:
    """What the page declares about itself, before any choice."""

    og_title: str = ""
    twitter_title: str = ""
    ld_headline: str = ""
    html_title: str = ""
    h1: list[str] = field(default_factory=list)
    site_names: list[str] = field(default_factory=list)
    published: list[tuple[str, str]] = field(default_factory=list)  # (source, raw value)
    modified: list[tuple[str, str]] = field(default_factory=list)
    accessible_for_free: bool | None = None
    description: str = ""
    #: languages the page's metadata declares, in order of trust (Content-Language, og:locale,
    #: Dublin Core, the article's JSON-LD inLanguage): for a page with no <html lang>
    languages: list[str] = field(default_factory=list)
    #: the fields the site wrote encoded twice, read back (:func:`undo_double_encoding`)
    double_encoded: list[str] = field(default_factory=list)


def _text(value: str, meta: PageMeta, name: str, *, entities: bool = False) -> str:
    """A field's text: its entities decoded (``entities``, for a title: :func:`unescaped`),
    read back when the site wrote it encoded twice ("rÃ©unit", noted in
    ``meta.double_encoded``; before the entities are read when after fails, as a feed's title
    is: :func:`unescape_double_encoded`), then :func:`clean` (after: it would make the "\xa0"
    of "Ã\xa0", an "à" encoded twice, a plain space)."""
    if entities:
        fixed, repaired = unescape_double_encoded(value, unescaped)
    else:
        fixed = undo_double_encoding(value)
        repaired = fixed is not value
    if repaired and name not in meta.double_encoded:
        meta.double_encoded.append(name)
    return clean(fixed)


#: meta tags that declare the page's language, by rank (the lowest first)
_LANGUAGE_META = {
    "content-language": 0,
    "og:locale": 1,
    "dc.language": 2,
    "dcterms.language": 2,
    "language": 3,
}

_PUBLISHED_META = {
    "article:published_time",
    "og:article:published_time",
    "og:published_time",
    "datepublished",
    "pubdate",
    "publishdate",
    "publish-date",
    "publication_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date",
    "parsely-pub-date",
    "sailthru.date",
    "date",
}
_MODIFIED_META = {
    "article:modified_time",
    "og:updated_time",
    "datemodified",
    "dcterms.modified",
    "last-modified",
}


def _walk_ld(node: Any, meta: PageMeta, depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node:
            _walk_ld(item, meta, depth + 1)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("@type")
    kinds = {str(k).lower() for k in (kind if isinstance(kind, list) else [kind])}
    articleish = any(
        k.endswith(("article", "posting", "report")) or k in {"webpage", "blogposting"} for k in kinds
    )
    if articleish or "headline" in node:
        if isinstance(node.get("headline"), str) and not meta.ld_headline:
            meta.ld_headline = _text(node["headline"], meta, "json-ld headline", entities=True)
        for key, target in (("datePublished", meta.published), ("dateCreated", meta.published)):
            if isinstance(node.get(key), str):
                target.append((f"json-ld {key}", node[key]))
        if isinstance(node.get("dateModified"), str):
            meta.modified.append(("json-ld dateModified", node["dateModified"]))
        if isinstance(node.get("inLanguage"), str):
            meta.languages.append(node["inLanguage"])
        free = node.get("isAccessibleForFree")
        if free is not None and meta.accessible_for_free is None:
            meta.accessible_for_free = str(free).strip().lower() not in {"false", "0", "no"}
    named = isinstance(node.get("name"), str)
    if named and kinds & {"organization", "newsmediaorganization", "website"}:
        meta.site_names.append(_text(node["name"], meta, "site name"))
    publisher = node.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        meta.site_names.append(_text(publisher["name"], meta, "site name"))
    for key in ("@graph", "mainEntity", "mainEntityOfPage", "hasPart"):
        if isinstance(node.get(key), (list, dict)):
            _walk_ld(node[key], meta, depth + 1)


_BREAKS = {"br", "div", "p", "small", "span"}


def _heading_text(el: HtmlElement) -> str:
    """A heading's text, with a space where a line break or a block splits it
    ("Einheit der Woche<br>Lagen-Pyramide" is two phrases, not "WocheLagen")."""
    parts = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            parts.append(child.tail or "")
            continue
        sep = " " if child.tag in _BREAKS else ""
        parts.append(sep + _heading_text(child) + sep + (child.tail or ""))
    return "".join(parts)


#: A class or id that says an element dates an update, not the publication
#: ("mod_datetime", "updated", "last-modified", "aktualisiert", "date-maj").
MODIFIED_CLASS = re.compile(
    r"(?:^|[\s_-])(?:mod|modified|update|updated|last-?updated|lastmod|aktualisiert|geaendert|"
    r"maj|mise-a-jour|edited|revised|changed)(?:$|[\s_-])",
    re.I,
)


def class_and_id(el: HtmlElement) -> str:
    """An element's class and id: what says it shows a date, an update's or a comment's."""
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _marked_modified(el: HtmlElement) -> bool:
    """The element or its parent is marked as the date of an update."""
    parent = el.getparent()
    return bool(
        MODIFIED_CLASS.search(class_and_id(el))
        or (parent is not None and MODIFIED_CLASS.search(class_and_id(parent)))
    )


_HEADLINE_CLASS = re.compile(r"(?:^|[\s_-])(?:headline|title)(?:$|[\s_-])", re.I)


def _h1(h: HtmlElement, meta: PageMeta) -> tuple[str, bool]:
    """An <h1>'s headline, and whether it is only a link to the site's home page (a logo).

    When a part of the heading is marked as its headline by its class ("<span
    class=kicker>..</span><span class=headline>..</span>"), that part is the headline.
    """
    links = list(h.iter("a"))
    if len(links) == 1 and not (h.text or "").strip() and len(h) == 1 and not (h[0].tail or "").strip():
        href = (links[0].get("href") or "").strip()
        if href and urlsplit(href).path in {"", "/"} and not urlsplit(href).query:
            return _text(links[0].text_content(), meta, "site name"), True
    for part in h.iterdescendants():
        if isinstance(part.tag, str) and _HEADLINE_CLASS.search(part.get("class") or ""):
            text = _text(_heading_text(part), meta, "h1")
            if text:
                return text, False
    return _text(_heading_text(h), meta, "h1"), False


#: What a navigation block's heading says ("Menu", "Hauptmenü", "Navigation principale"):
#: comparison keys, letters only, case-folded
NAV_LABELS = frozenset(
    {"menu", "menü", "menue", "mainmenu", "primarymenu", "hauptmenü", "hauptmenue", "menuprincipal"}
    | {"navigation", "mainnavigation", "sitenavigation", "primarynavigation", "hauptnavigation"}
    | {"navigationprincipale", "menudenavigation", "navigationsmenü", "navigationmenu"}
)


def label_key(value: str) -> str:
    """A short label's comparison key: letters only, case-folded ("Main menu": "mainmenu")."""
    return "".join(ch for ch in value.casefold() if ch.isalpha())


def navigation_heading(text: str) -> bool:
    """Whether an ``<h1>`` heads the page's navigation, not its article: its text is a menu's
    label ("Menu", "Hauptmenü", "Navigation principale": :data:`NAV_LABELS`). Themes give
    their menu an ``<h1>`` for screen readers; a page with one and no metadata title got "Menu"
    as its title (trafilatura's, from the first ``<h1>``), and a second ``<h1>`` kept the
    article's from being the page's only one. Where the ``<h1>`` stands says nothing: the
    corpus has article headlines in a ``<nav>``'s breadcrumb and under classes naming a menu."""
    return label_key(text) in NAV_LABELS


def read_page(tree: HtmlElement) -> PageMeta:
    """Collect the title, date and access candidates of a parsed page (one pass of XPaths)."""
    meta = PageMeta()
    by_rank: list[tuple[int, str]] = []
    for el in tree.iterfind(".//meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if not name and (el.get("http-equiv") or "").strip().lower() == "content-language":
            name = "content-language"
        if not name or content is None:
            continue
        if name in _LANGUAGE_META:
            by_rank.append((_LANGUAGE_META[name], content))
        elif name == "og:title" and not meta.og_title:
            meta.og_title = _text(content, meta, "og:title", entities=True)
        elif name == "twitter:title" and not meta.twitter_title:
            meta.twitter_title = _text(content, meta, "twitter:title", entities=True)
        elif name in {"og:site_name", "application-name", "twitter:site"}:
            meta.site_names.append(_text(content, meta, "site name").lstrip("@"))
        elif name in _PUBLISHED_META:
            meta.published.append((f"meta {name}", content))
        elif name in _MODIFIED_META:
            meta.modified.append((f"meta {name}", content))
        elif name in {"description", "og:description"} and not meta.description:
            meta.description = _text(content, meta, "description")
    meta.languages = [value for _, value in sorted(by_rank, key=lambda pair: pair[0])]
    title = tree.find(".//title")
    if title is not None:
        meta.html_title = _text(title.text_content(), meta, "<title>", entities=True)
    for h in itertools.islice(tree.iter("h1"), 6):
        heading, home = _h1(h, meta)
        if home:
            meta.site_names.append(heading)  # the site's logo, a link to its home page
        elif heading and not navigation_heading(heading):
            meta.h1.append(heading)
    for script in tree.iterfind(".//script[@type='application/ld+json']"):
        raw = script.text or ""
        try:
            _walk_ld(loads_storable(raw), meta)
        except (ValueError, RecursionError):
            continue
    for el in tree.iterfind(".//time[@datetime]"):
        prop = (el.get("itemprop") or "").lower()
        if prop == "datemodified":
            meta.modified.append(("<time itemprop=dateModified>", el.get("datetime") or ""))
        elif prop != "datepublished" and _marked_modified(el):
            meta.modified.append(("<time> marked as an update", el.get("datetime") or ""))
        elif prop == "datepublished" or el.get("pubdate") is not None:
            meta.published.append(("<time itemprop=datePublished>", el.get("datetime") or ""))
        else:
            meta.published.append(("<time datetime>", el.get("datetime") or ""))
            break  # only the first undesignated <time>: later ones date comments and teasers
    return meta
