"""Titles and dates from a parsed page: every candidate the page offers, then rules to choose.

Pure functions over the lxml tree that :mod:`monitors.judge.extract` parses once (and then hands to
trafilatura). Candidates and the reasons for a choice go into an evidence dict stored with
the article, so a wrong title or date can be traced to the field it came from.

Rules (measured on the shared corpus, ``bench/extract.py``; see docs/extraction.md):

- **Title.** The page's own heading wins when it agrees with the metadata (``og:title``,
  JSON-LD ``headline``, ``twitter:title``, ``<title>``): the ``<h1>`` keeps the typography
  editors chose, while metadata titles carry the site's name and SEO rewrites. An ``<h1>``
  that only adds a kicker before a metadata title gives way to that title. With no
  agreeing ``<h1>``, a single ``<h1>`` of three words or more that is not the site's name is
  the title; else the first metadata title, with the site's name taken off (segments after
  or before a separator that name the site: ``og:site_name``, the host name, or the affixes
  learned from the site's other pages).
- **Dates.** Publication candidates from JSON-LD ``datePublished``, ``article:published_time``
  and kin, ``<time datetime>``, French phrases ("publié le 7 février 2025 à 21h06"), the URL
  and htmldate's extensive search (trafilatura's date); modification dates
  (``dateModified``, "mis à jour le ...") are kept apart. Dates in the future or before
  :data:`monitors.dates.MIN_DATE` are rejected (:func:`monitors.dates.impossible`), dates that
  name no real day or time ("2025-02-30") with the reason (:func:`monitors.dates.unreal_fields`),
  and dates marked as updates by their element's class.
  The chosen one is the most specific (a time with its zone over a bare day over a month)
  within the most trusted kind of source present; the others that disagree are recorded in
  the evidence. A time given in UTC takes the offset of the clock the page shows it on, so
  that its day is the site's day.
"""

from __future__ import annotations

import html as html_lib
import itertools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml.html import HtmlElement

from monitors.collect.encoding import loads_storable, storable
from monitors.dates import (
    MONTHS,
    article_day,
    impossible,
    local_midnight,
    local_zone,
    on_local_clock,
    rfc822_in_english,
    unreal_date,
    unreal_fields,
)

_SPACE = re.compile(r"\s+")
_SEPARATORS = re.compile(r"\s+[|\-–—•»«›‹·/:~]{1,2}\s+|\s*[|•»«›‹]\s*|\s*:\s+|\s+::?\s+|\s*//\s*")


def clean(value: str | None) -> str:
    """Collapse spaces (and non-breaking ones), drop soft hyphens and zero-width characters."""
    if not value:
        return ""
    value = value.replace("\u00ad", "").replace("\u200b", "").replace("\ufeff", "")
    return _SPACE.sub(" ", value).strip()


#: An HTML entity ("&amp;", "&#8217;", "&#x2019;", "&eacute;").
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def unescaped(value: str) -> str:
    """A metadata title with the HTML entities left in it decoded: sites escape ``og:title``
    twice (``content="L&amp;#8217;été"``) and write entities in JSON-LD strings
    (``"headline": "L&#8217;été"``), which readers get as "L&#8217;été" and which kept such
    a title from agreeing with its ``<h1>`` ("L’été")."""
    return html_lib.unescape(value) if _ENTITY.search(value) else value


def _key(value: str) -> str:
    """Comparison key: letters and digits only, case-folded, accents kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).casefold() if ch.isalnum())


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
            meta.ld_headline = clean(unescaped(node["headline"]))
        for key, target in (("datePublished", meta.published), ("dateCreated", meta.published)):
            if isinstance(node.get(key), str):
                target.append((f"json-ld {key}", node[key]))
        if isinstance(node.get("dateModified"), str):
            meta.modified.append(("json-ld dateModified", node["dateModified"]))
        free = node.get("isAccessibleForFree")
        if free is not None and meta.accessible_for_free is None:
            meta.accessible_for_free = str(free).strip().lower() not in {"false", "0", "no"}
    named = isinstance(node.get("name"), str)
    if named and kinds & {"organization", "newsmediaorganization", "website"}:
        meta.site_names.append(clean(node["name"]))
    publisher = node.get("publisher")
    if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
        meta.site_names.append(clean(publisher["name"]))
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
_MODIFIED_CLASS = re.compile(
    r"(?:^|[\s_-])(?:mod|modified|update|updated|last-?updated|lastmod|aktualisiert|geaendert|"
    r"maj|mise-a-jour|edited|revised|changed)(?:$|[\s_-])",
    re.I,
)


def _label(el: HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _marked_modified(el: HtmlElement) -> bool:
    """The element or its parent is marked as the date of an update."""
    parent = el.getparent()
    return bool(
        _MODIFIED_CLASS.search(_label(el)) or (parent is not None and _MODIFIED_CLASS.search(_label(parent)))
    )


_HEADLINE_CLASS = re.compile(r"(?:^|[\s_-])(?:headline|title)(?:$|[\s_-])", re.I)


def _h1(h: HtmlElement) -> tuple[str, bool]:
    """An <h1>'s headline, and whether it is only a link to the site's home page (a logo).

    When a part of the heading is marked as its headline by its class ("<span
    class=kicker>..</span><span class=headline>..</span>"), that part is the headline.
    """
    links = list(h.iter("a"))
    if len(links) == 1 and not (h.text or "").strip() and len(h) == 1 and not (h[0].tail or "").strip():
        href = (links[0].get("href") or "").strip()
        if href and urlsplit(href).path in {"", "/"} and not urlsplit(href).query:
            return clean(links[0].text_content()), True
    for part in h.iterdescendants():
        if isinstance(part.tag, str) and _HEADLINE_CLASS.search(part.get("class") or ""):
            text = clean(_heading_text(part))
            if text:
                return text, False
    return clean(_heading_text(h)), False


def read_page(tree: HtmlElement) -> PageMeta:
    """Collect the title, date and access candidates of a parsed page (one pass of XPaths)."""
    meta = PageMeta()
    for el in tree.iterfind(".//meta"):
        name = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if not name or content is None:
            continue
        if name == "og:title" and not meta.og_title:
            meta.og_title = clean(unescaped(content))
        elif name == "twitter:title" and not meta.twitter_title:
            meta.twitter_title = clean(unescaped(content))
        elif name in {"og:site_name", "application-name", "twitter:site"}:
            meta.site_names.append(clean(content).lstrip("@"))
        elif name in _PUBLISHED_META:
            meta.published.append((f"meta {name}", content))
        elif name in _MODIFIED_META:
            meta.modified.append((f"meta {name}", content))
        elif name in {"description", "og:description"} and not meta.description:
            meta.description = clean(content)
    title = tree.find(".//title")
    if title is not None:
        meta.html_title = clean(unescaped(title.text_content()))
    for h in itertools.islice(tree.iter("h1"), 6):
        heading, home = _h1(h)
        if home:
            meta.site_names.append(heading)  # the site's logo, a link to its home page
        elif heading:
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


# ---------------------------------------------------------------- titles


#: Labels that themes put between a site's name and a headline (WordPress's "Blog Archive").
_ARCHIVE_LABELS = {"blogarchive", "blogarchiv"}


_TRANSLIT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe"})


def _forms(value: str) -> set[str]:
    """The comparison keys of a name: as written, without its accents ("Télérama":
    "telerama") and with German's umlauts spelt out ("Süddeutsche": "sueddeutsche"), as host
    names write them."""
    key = _key(value)
    bare = "".join(ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch))
    spelt = "".join(
        ch for ch in unicodedata.normalize("NFKD", key.translate(_TRANSLIT)) if not unicodedata.combining(ch)
    )
    return {k for k in (key, bare, spelt) if k}


def _is_site(segment: str, site_keys: set[str]) -> bool:
    forms = _forms(segment)
    if not forms:
        return True
    return any(
        key == s or (len(key) >= 3 and key in s) or (len(s) >= 4 and s in key and 2 * len(s) >= len(key))
        for key in forms
        for s in site_keys
    )


#: Second-level labels under a country's domain (``example.com.br``, ``example.co.uk``):
#: the site's name is the label before them.
_SECOND_LEVEL = {"com", "co", "org", "net", "gov", "gouv", "ac", "edu", "or", "ne", "go", "gv", "nic"}


def site_keys(meta: PageMeta, url: str | None, learned: tuple[str, ...] = ()) -> set[str]:
    """Comparison keys of the names the site goes by: declared names, host labels, learned affixes."""
    keys = {k for n in [*meta.site_names, *learned] for k in _forms(n)}
    host = (urlsplit(url).hostname or "") if url else ""
    labels = [lab for lab in host.split(".") if lab not in {"www", "m", "amp"}]
    if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL:
        labels = [*labels[:-2], "".join(labels[-2:])]
    if len(labels) >= 2:
        keys.add(_key(labels[-2]))
        keys.add(_key("".join(labels[-2:])))
    return {k for k in keys if len(k) >= 2}


def _ends_with_site(segment: str, keys: set[str]) -> bool:
    """A title's end segment names the site: it is one of its names (:func:`_is_site`), or
    a name of three words at most led by one of them ("ZEIT ONLINE", "heise online", "NDR
    Info" on zeit.de, heise.de, ndr.de: the host's label, the edition's word after it)."""
    if _is_site(segment, keys):
        return True
    words = segment.split()
    return 1 < len(words) <= 3 and any(len(k) >= 3 and k in keys for k in _forms(words[0]))


def strip_site(title: str, keys: set[str]) -> str:
    """Take the site's name off the ends of a title ("Headline | Site", "Site - Headline").

    A segment that repeats a part of a segment naming the site ("Jugendwerk (ejw) - EJW") or
    is a generic archive label ("Blog Archive") names the site too."""
    parts = [p for p in _SEPARATORS.split(title)]
    seps = _SEPARATORS.findall(title)
    if len(parts) < 2:
        return title
    keys = keys | {k for p in parts if _is_site(p, keys) for k in _forms(p)} | _ARCHIVE_LABELS
    start, end = 0, len(parts)
    while end - start > 1 and _ends_with_site(parts[end - 1], keys):
        end -= 1
    while end - start > 1 and _ends_with_site(parts[start], keys):
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    out = parts[start]
    for i in range(start + 1, end):
        out += seps[i - 1] + parts[i]
    return out.strip()


def _agrees(h1: str, ref: str) -> str | None:
    """How an <h1> relates to a metadata title: 'same', 'kicker' (h1 = kicker + ref), 'h1'
    (h1 is the ref, shortened or completed), or None."""
    a, b = _key(h1), _key(ref)
    if not a or not b:
        return None
    if a == b:
        return "same"
    if len(a) > len(b) and a.endswith(b) and len(b) >= 12:
        return "kicker"
    if (b.startswith(a) or a.startswith(b) or b.endswith(a)) and min(len(a), len(b)) >= 12:
        return "h1"
    wa, wb = set(_key_words(h1)), set(_key_words(ref))
    if wa and wb and len(wa & wb) / len(wa | wb) >= 0.6:
        return "h1"
    return None


def _key_words(value: str) -> list[str]:
    return [w for w in (_key(w) for w in value.split()) if w]


_ELLIPSIS = re.compile(r"\s*(?:…|\.{3})\s*$")


def cut_or_padded(title: str, other: str) -> bool:
    """Whether a metadata title is another one of the page's cut short (``"Le sommet de
    Paris réunit…"`` for ``"Le sommet de Paris réunit cent pays"``: share cards cut titles
    at a length) or with segments around it that the other has not, shorter than what they
    share (``"Le sommet de Paris réunit cent pays | Économie"``: a section's or a site's
    name that the page does not declare as its name)."""
    a, b = _key(title), _key(other)
    if len(b) < 12 or a == b:
        return False
    if _ELLIPSIS.search(title):
        cut = _key(_ELLIPSIS.sub("", title))
        return len(cut) >= 12 and len(b) > len(cut) and b.startswith(cut)
    if len(b) >= len(a):
        return False
    parts = _SEPARATORS.split(title)
    words = [len(p.split()) for p in parts]
    for i, j in itertools.combinations(range(len(parts) + 1), 2):
        if (i, j) != (0, len(parts)) and "".join(_key(p) for p in parts[i:j]) == b:
            return sum(words) - sum(words[i:j]) < sum(words[i:j])
    return False


def choose_title(meta: PageMeta, keys: set[str]) -> tuple[str | None, str]:
    """The article's title and where it came from (for the evidence)."""
    metas = [
        ("og:title", meta.og_title),
        ("json-ld headline", meta.ld_headline),
        ("twitter:title", meta.twitter_title),
        ("<title>", meta.html_title),
    ]
    refs = [(src, strip_site(t, keys)) for src, t in metas if t]
    refs = [(src, t) for src, t in refs if t and not _is_site(t, keys)]
    # a metadata title that another one shows to be cut or padded comes after the others
    others = list(refs)  # (list.sort empties the list it sorts while it sorts)
    refs.sort(key=lambda r: any(cut_or_padded(r[1], o[1]) for o in others))
    h1s = [h for h in meta.h1 if not _is_site(h, keys) and len(h) <= 300]
    verdicts = [(src, ref, h, _agrees(h, ref)) for src, ref in refs for h in h1s]
    for src, ref, h, verdict in sorted(verdicts, key=lambda v: {"kicker": 0, "same": 1}.get(v[3] or "", 2)):
        if verdict == "kicker":
            return ref, f"{src} (the <h1> adds a kicker)"
        if verdict:
            return h, f"<h1> ({verdict} as {src})"
    if len(h1s) == 1 and len(h1s[0].split()) >= 3:
        return h1s[0], "<h1> (the only one)"
    if refs:
        return refs[0][1], refs[0][0]
    return None, "none"


# ---------------------------------------------------------------- dates

_TAGS = r"(?:\s|&nbsp;|<[^>]{0,200}>)*"
_FR_DATE = (
    r"(?:(?:le\s*)?" + _TAGS + r"(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+)?"
    r"(?P<d>[0-3]?[0-9])(?:er)?"
    + _TAGS
    + r"(?P<m>"
    + "|".join(sorted(MONTHS, key=len, reverse=True))
    + r")\b\.?"
    + _TAGS
    + r"(?P<y>(?:19|20)[0-9]{2})(?:"
    + _TAGS
    + r"(?:à|a)"
    + _TAGS
    + r"(?P<H>[0-2]?[0-9])\s*[h:]\s*(?P<M>[0-5][0-9])?)?"
    r"|(?P<d2>[0-3]?[0-9])/(?P<m2>[01]?[0-9])/(?P<y2>(?:19|20)[0-9]{2})(?:"
    + _TAGS
    + r"(?:à|a)"
    + _TAGS
    + r"(?P<H2>[0-2]?[0-9])\s*[h:]\s*(?P<M2>[0-5][0-9])?)?)"
)
_FR_PUBLISHED = re.compile(r"(?:publié|mis en ligne|posté|paru)e?" + _TAGS + _FR_DATE, re.I)
_FR_MODIFIED = re.compile(r"(?:mis à jour|mise à jour|modifié|actualisé)e?" + _TAGS + _FR_DATE, re.I)
_ALL_MONTHS = {
    **MONTHS,
    "januar": 1, "jan": 1, "january": 1, "februar": 2, "feb": 2, "february": 2,
    "märz": 3, "march": 3, "mar": 3,
    "april": 4, "apr": 4, "may": 5, "juni": 6, "june": 6, "jun": 6, "juli": 7, "july": 7, "jul": 7,
    "august": 8, "aug": 8, "september": 9, "sep": 9, "oktober": 10, "october": 10, "november": 11,
    "dezember": 12, "december": 12, "dez": 12,
}  # fmt: skip
_MONTH_NAMES = "|".join(sorted(_ALL_MONTHS, key=len, reverse=True))
_VISIBLE_DATE = re.compile(
    r"\b(?:(?P<d>[0-3]?[0-9])\.(?P<m>[01]?[0-9])\.(?P<y>(?:19|20)[0-9]{2})"
    r"|(?P<y2>(?:19|20)[0-9]{2})-(?P<m2>[01][0-9])-(?P<d2>[0-3][0-9])"
    r"|(?P<d3>[0-3]?[0-9])(?:\.|er)?\s+(?P<m3>" + _MONTH_NAMES + r")\.?\s+(?P<y3>(?:19|20)[0-9]{2})"
    r"|(?P<m4>"
    + _MONTH_NAMES
    + r")\.?\s+(?P<d4>[0-3]?[0-9])(?:st|nd|rd|th)?,?\s+(?P<y4>(?:19|20)[0-9]{2}))\b",
    re.I,
)


_COMMENT = re.compile(r"comment|kommentar|reply|respons", re.I)
_DATE_CLASS = re.compile(r"date|datum|time|zeit|publi|posted|byline|meta", re.I)


def _match_date(m: re.Match[str]) -> datetime | None:
    try:
        if m["y"]:
            return local_midnight(int(m["y"]), int(m["m"]), int(m["d"]))
        if m["y2"]:
            return local_midnight(int(m["y2"]), int(m["m2"]), int(m["d2"]))
        if m["y3"]:
            return local_midnight(int(m["y3"]), _ALL_MONTHS[m["m3"].lower()], int(m["d3"]))
        return local_midnight(int(m["y4"]), _ALL_MONTHS[m["m4"].lower()], int(m["d4"]))
    except (ValueError, KeyError):
        return None


def dateline(text: str) -> datetime | None:
    """A date opening one of the article's first paragraphs, as news datelines do
    ("29.11.2022 – Mehrfach ...", "7 février 2025 - Le président ...")."""
    for line in text.split("\n", 3)[:3]:
        m = _VISIBLE_DATE.search(line[:40])
        if m is None or m.start() > 25:
            continue
        if re.match(r"\s*[–—\-:|(]", line[m.end() : m.end() + 4]):
            return _match_date(m)
    return None


#: The body and its elements with a class or an id, in page order.
_LABELLED = etree.XPath("descendant-or-self::*[@class or @id]")


def _date_texts(tree: HtmlElement) -> Iterator[str]:
    """The texts of the elements whose class or id says they show the article's date, in page
    order: not a comment's, not an update's ("mod_datetime", "updated"), not a link."""
    body = tree.find("body")
    if body is None:
        return
    # only elements with a class or an id can say so (the label of the others is blank); the
    # walk stops at the first date found
    for el in _LABELLED(body):
        if el.tag in {"script", "style", "a", "option"}:
            continue
        label = _label(el)
        if not _DATE_CLASS.search(label) or _COMMENT.search(label) or _MODIFIED_CLASS.search(label):
            continue
        if any(_COMMENT.search(_label(a)) for a in el.iterancestors()):
            continue  # a comment's date is not the article's
        yield " ".join(el.text_content().split())[:120]


def visible_date(tree: HtmlElement) -> datetime | None:
    """The first date shown in an element whose class or id says it is a date (a byline's
    "20.12.2022", "31. Oktober 2023", "30 septembre 2018", "June 4, 2020")."""
    for text in _date_texts(tree):
        m = _VISIBLE_DATE.search(text)
        found = _match_date(m) if m else None
        if found is not None:
            return found
    return None


#: A date and a time of day as pages show them ("3/5/2022 22:41", "21.01.2022 11:46",
#: "2022-05-03 22:41", "07/02/2025 à 21h06"), ending at the minutes.
_SHOWN = re.compile(
    r"(?:\b(?P<a>[0-3]?[0-9])[./](?P<b>[01]?[0-9])[./](?P<y>(?:19|20)[0-9]{2})"
    r"|\b(?P<y2>(?:19|20)[0-9]{2})-(?P<m2>[01][0-9])-(?P<d2>[0-3][0-9]))"
    r"[\s,|\-–—]*(?:um|à|a|at|a las)?\s*(?P<H>[0-2]?[0-9])[:h]$"
)


def shown_offset(html: str, instant: datetime) -> timedelta | None:
    """The offset from UTC of the clock on which the page shows ``instant`` to its readers
    ("3/5/2022 22:41" for ``2022-05-04T02:41Z``: -4 h), or None.

    Metadata often gives the publication in UTC while the site's readers, and the day of
    publication, are on the site's clock: the day is the one the site shows. A shown date
    and time count only when they are the instant shifted by whole or half hours, within the
    offsets that exist (-12 h to +14 h); both readings of a slashed date are tried. Only the
    places where the instant's minutes are written are looked at (a scan of the whole page
    would cost more than trafilatura's date search).
    """
    utc = instant.astimezone(UTC).replace(tzinfo=None, second=0, microsecond=0)
    body = max(html.find("<body"), 0)
    for minute in (utc.minute, (utc.minute + 30) % 60):
        for mark in (f":{minute:02d}", f"h{minute:02d}"):
            at = html.find(mark, body)
            seen = 0
            while at >= 0 and seen < 200:
                seen += 1
                after = html[at + 3 : at + 4]
                m = None if after.isdigit() else _SHOWN.search(html, max(at - 40, 0), at + 1)
                at = html.find(mark, at + 1)
                if m is None:
                    continue
                if m["y"]:
                    a, b, y = int(m["a"]), int(m["b"]), int(m["y"])
                    readings = [(y, b, a), (y, a, b)]
                else:
                    readings = [(int(m["y2"]), int(m["m2"]), int(m["d2"]))]
                for y, mo, d in readings:
                    try:
                        local = datetime(y, mo, d, int(m["H"]), minute)
                    except ValueError:
                        continue
                    delta = local - utc
                    if delta and -timedelta(hours=12) <= delta <= timedelta(hours=14):
                        return delta
    return None


_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/-](0?[1-9]|1[0-2])(?:[/-](0?[1-9]|[12]\d|3[01]))?(?=[/-]|$|\D)")


_PUBLISHED_WORDS = ("publié", "mis en ligne", "posté", "paru")
_MODIFIED_WORDS = ("mis à jour", "mise à jour", "modifié", "actualisé")


def _phrase(
    pattern: re.Pattern[str], html: str, words: tuple[str, ...], lowered: str
) -> re.Match[str] | None:
    """The first French date phrase, tried only where one of its words occurs in ``lowered``
    (``html.lower()``; a scan of the whole page with the full pattern costs more than
    trafilatura's own date search)."""
    positions: list[int] = []
    for word in words:
        at = lowered.find(word)
        while at >= 0 and len(positions) < 50:
            positions.append(at)
            at = lowered.find(word, at + 1)
    for at in sorted(positions):
        m = pattern.match(html, at, at + 400)
        if m:
            return m
    return None


def _phrase_fields(m: re.Match[str]) -> tuple[int, int, int, str | None, str | None]:
    """A French date phrase's year, month, day, hour and minute as written (KeyError for a
    month it does not know)."""
    if m.group("d"):
        return int(m.group("y")), MONTHS[m.group("m").lower()], int(m.group("d")), m.group("H"), m.group("M")
    return int(m.group("y2")), int(m.group("m2")), int(m.group("d2")), m.group("H2"), m.group("M2")


def _phrase_unreal(m: re.Match[str]) -> str | None:
    """Why a French date phrase names no real day or time ("31 février 2025"), or None."""
    try:
        year, month, day, hour, minute = _phrase_fields(m)
    except KeyError:
        return None
    return unreal_fields(year, month, day, None if hour is None else (int(hour), int(minute or 0), 0))


def _from_phrase(m: re.Match[str]) -> tuple[datetime, int] | None:
    try:
        year, month, day, hour, minute = _phrase_fields(m)
        if hour is not None:
            # French phrases carry no zone: they are read on the local clock (Paris by default)
            return datetime(year, month, day, int(hour), int(minute or 0), tzinfo=local_zone()), 3
        return local_midnight(year, month, day), 2
    except (ValueError, KeyError):
        return None


def parse_date(value: str | None) -> tuple[datetime, int] | None:
    """An ISO-like date and its precision: 3 a time, 2 a day, 1 a month; None if unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
        if not m:
            try:  # RFC 2822, as some JSON-LD carries it ("Wed, 04 May 2022 02:41:00 GMT")
                fixed = rfc822_in_english(value)
                mail = parsedate_to_datetime(fixed)
            except (TypeError, ValueError, IndexError):
                return None
            if mail.tzinfo is None and fixed.endswith("-0000"):  # UTC, the sender's zone unknown
                return mail.replace(tzinfo=UTC), 3
            return on_local_clock(mail), 3
        try:
            return local_midnight(int(m[1]), int(m[2]), int(m[3])), 2
        except ValueError:
            return None
    if len(value) <= 10:
        return local_midnight(parsed.year, parsed.month, parsed.day), 2
    return on_local_clock(parsed), 3


_YEAR_ONLY = "a year only (htmldate reads it as 1 January): too vague to date the publication"


def _phrase_text(m: re.Match[str]) -> str:
    """A French date phrase as the page wrote it, tags and spaces collapsed (for the evidence)."""
    return _SPACE.sub(" ", re.sub(r"<[^>]*>|&nbsp;", " ", m.group(0))).strip()


def shows_day(html: str, url: str | None, when: date) -> bool:
    """Whether the page or its URL writes ``when`` as a day: "2025-01-01", "20250101",
    "01/01/2025", "1.1.25", "1er janvier 2025", "January 1, 2025", "1. Januar 2025".

    htmldate gives a bare year ("© 2024", "Fondée en 1995") as 1 January and a month
    ("02/2025") as its first day; such a date is a day only when the page shows that day."""
    d, mo, y = when.day, when.month, when.year
    names = "|".join(sorted((n for n, i in _ALL_MONTHS.items() if i == mo), key=len, reverse=True))
    year, sp = rf"(?:{y}|{y % 100:02d})", r"(?:\s|&nbsp;|&#160;)+"
    pattern = re.compile(
        rf"(?<!\d)(?:{y}[-/._]0?{mo}[-/._]0?{d}(?!\d)|{y}{mo:02d}{d:02d}(?!\d)"
        rf"|0?{d}[-/._]0?{mo}[-/._]{year}(?!\d)|0?{mo}/0?{d}/{year}(?!\d)"
        rf"|0?{d}(?:er|st|\.)?{sp}(?:{names})\.?,?{sp}{y}|(?:{names})\.?{sp}0?{d}(?:st)?,?{sp}{y})",
        re.I,
    )
    return bool(pattern.search(html) or (url and pattern.search(url)))


@dataclass
class Dates:
    published: datetime | None
    modified: datetime | None
    evidence: dict[str, Any]
    #: the publication is given with a time of day (not a day or a month alone)
    published_with_time: bool = False


#: How much a kind of source is trusted: article metadata first, then what the reader sees,
#: then generic hints. The most specific date wins within the most trusted tier present.
_TIERS = (
    ("json-ld", 0),
    ("meta article:", 0),
    ("meta og:", 0),
    ("meta parsely", 0),
    ("meta sailthru", 0),
    ("meta datepublished", 0),
    ("<time itemprop", 0),
    ("phrase", 1),
    ("visible", 1),
    ("meta", 2),
    ("<time", 2),
    ("url", 3),
    ("htmldate", 3),
)


def _rank(source: str) -> int:
    return next((tier for prefix, tier in _TIERS if source.startswith(prefix)), 4)


def choose_dates(
    meta: PageMeta,
    html: str,
    url: str | None,
    htmldate: str | None,
    now: datetime | None = None,
    tree: HtmlElement | None = None,
    text: str = "",
    lowered: str | None = None,
) -> Dates:
    """Publication and modification dates with the evidence of every candidate. ``lowered``
    is ``html.lower()`` when the caller has it (the page is lowercased once)."""
    now = now or datetime.now(UTC)
    found: list[tuple[str, datetime, int]] = []
    rejected: list[dict[str, str]] = []

    def consider(
        source: str,
        parsed: tuple[datetime, int] | None,
        into: list[tuple[str, datetime, int]],
        raw: str | None = None,
        unreal: str | None = None,
    ) -> None:
        if parsed is None:
            shown = storable(raw)
            if shown:  # read but not understood: say so, as for a date refused, and why if known
                unread = unreal or unreal_date(shown) or "unreadable"
                rejected.append({"source": source, "value": shown[:100], "why": unread})
            return
        value, precision = parsed
        why = impossible(value, now)
        if why:
            rejected.append({"source": source, "value": value.isoformat(), "why": why})
        else:
            into.append((source, value, precision))

    for source, raw in meta.published:
        consider(source, parse_date(raw), found, raw)
    head = html[:300_000]
    # the first 300,000 characters' lowercase copy (str.lower reads a final sigma by what
    # follows it, so the whole page's copy cut there is not it when the page is longer)
    head_lowered = lowered if lowered is not None and head is html else head.lower()
    m = _phrase(_FR_PUBLISHED, head, _PUBLISHED_WORDS, head_lowered)
    if m:
        consider("phrase publié le", _from_phrase(m), found, _phrase_text(m), _phrase_unreal(m))
    if url:
        u = _URL_DATE.search(urlsplit(url).path)
        if u:
            day = int(u[3]) if u[3] else 1
            try:
                parsed_url = (local_midnight(int(u[1]), int(u[2]), day), 2 if u[3] else 1)
            except ValueError:
                parsed_url = None
            consider("url", parsed_url, found, u[0], unreal_fields(int(u[1]), int(u[2]), day))
    guessed = parse_date(htmldate)
    if guessed is not None and guessed[0].day == 1 and not shows_day(head, url, guessed[0].date()):
        if guessed[0].month == 1:  # htmldate's fallback on a bare year ("© 2024"): no day at all
            rejected.append({"source": "htmldate", "value": str(guessed[0].year), "why": _YEAR_ONLY})
            guessed = None
        else:  # a month ("02/2025") that htmldate gives as its first day
            guessed = (guessed[0], 1)
    consider("htmldate", guessed, found)
    if not any(_rank(c[0]) == 0 for c in found):
        shown = dateline(text) or (visible_date(tree) if tree is not None else None)
        if shown is not None:
            consider("visible date", (shown, 2), found)

    modified: list[tuple[str, datetime, int]] = []
    for source, raw in meta.modified:
        consider(source, parse_date(raw), modified, raw)
    m = _phrase(_FR_MODIFIED, head, _MODIFIED_WORDS, head_lowered)
    if m:
        consider("phrase mis à jour le", _from_phrase(m), modified, _phrase_text(m), _phrase_unreal(m))

    evidence: dict[str, Any] = {}
    published = None
    with_time = False
    if found:
        best = min(found, key=lambda c: (_rank(c[0]), -c[2]))
        published = best[1]
        with_time = best[2] == 3
        evidence["published_from"] = best[0]
        if best[2] == 1:  # stored as the month's first day: say it is a month
            evidence["published_precision"] = "month"
        if best[2] == 3 and published.utcoffset() == timedelta(0):
            offset = shown_offset(head, published)
            if offset is not None:  # the same instant, on the site's clock (and its day)
                published = published.astimezone(timezone(offset))
                evidence["published_offset_from"] = "the date and time the page shows"
        if published.utcoffset():
            evidence["published_local"] = published.isoformat()
        others = [
            {"source": s, "value": v.isoformat()}
            for s, v, p in found
            if (s, v, p) != best
            and article_day(v) != article_day(best[1])
            and not (p == 1 and v.strftime("%Y-%m") == best[1].strftime("%Y-%m"))
        ]
        if others:
            evidence["published_disagreeing"] = others
    mod = None
    if modified:
        best_mod = min(modified, key=lambda c: (_rank(c[0]), -c[2]))
        mod = best_mod[1]
        if published is not None and mod < published:
            mod = None  # a "modification" before the publication is noise: say so
            why = "a modification before the publication"
            rejected.append({"source": best_mod[0], "value": best_mod[1].isoformat(), "why": why})
        else:
            evidence["modified_from"] = best_mod[0]
    if rejected:
        evidence["dates_rejected"] = rejected
    return Dates(published, mod, evidence, with_time)


def day(value: datetime | None) -> date | None:
    return article_day(value)
