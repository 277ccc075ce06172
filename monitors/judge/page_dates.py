"""A page's publication and modification dates, chosen among every candidate it offers
(:func:`choose_dates`), with the evidence of each.

Publication candidates from JSON-LD ``datePublished``, ``article:published_time`` and kin,
``<time datetime>``, French phrases ("publié le 7 février 2025 à 21h06"), the URL and htmldate's
extensive search (trafilatura's date); modification dates (``dateModified``, "mis à jour le
...") are kept apart. Dates in the future or before :data:`monitors.dates.MIN_DATE` are rejected
(:func:`monitors.dates.impossible`), dates that name no real day or time ("2025-02-30") with the
reason (:func:`monitors.dates.unreal_fields`), and dates marked as updates by their element's
class. The chosen one is the most specific (a time with its zone over a bare day over a month)
within the most trusted kind of source present; the others that disagree are recorded in the
evidence. A time given in UTC takes the offset of the clock the page shows it on, so that its
day is the site's day. Measured on the shared corpus (``bench/extract.py``; see
docs/extraction.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from lxml import etree
from lxml.html import HtmlElement

from monitors.collect.encoding import storable
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
from monitors.judge.metadata import MODIFIED_CLASS, SPACES, PageMeta, class_and_id

_TAGS = r"(?:\s|&nbsp;|<[^>]{0,200}>)*"


def _fr_time(n: str) -> str:
    """The time after a French date phrase's day, its groups ``H<n>`` and ``M<n>``: after "à"
    (a comma before it or not: "le 10 février 2025, à 14h05"), or after a comma, a dash or a
    bar alone when minutes follow ("le 10 février 2025 - 14:05", "10.02.2025 | 14h05"; a
    bare hour there may be a reading time, "5 h de lecture")."""
    return (
        r"(?:(?:" + _TAGS + r",)?" + _TAGS + r"(?:à|a)" + _TAGS
        + r"|" + _TAGS + r"[,\-–—|]" + _TAGS + r"(?=[0-2]?[0-9]\s*[h:]\s*[0-5][0-9]))"
        + rf"(?P<H{n}>[0-2]?[0-9])\s*[h:]\s*(?P<M{n}>[0-5][0-9])?"
    )  # fmt: skip


#: A French date: "le lundi 10 février 2025 à 14h05", "10/02/2025", "10.02.2025" (a
#: numeric date's two separators are one: "10.02-2025" is no date).
_FR_DATE = (
    r"(?:le\s*)?" + _TAGS + r"(?:(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+)?"
    r"(?P<d>[0-3]?[0-9])(?:er)?"
    + _TAGS
    + r"(?P<m>"
    + "|".join(sorted(MONTHS, key=len, reverse=True))
    + r")\b\.?"
    + _TAGS
    + r"(?P<y>(?:19|20)[0-9]{2})(?:"
    + _fr_time("")
    + r")?"
    r"|(?P<d2>[0-3]?[0-9])(?P<sep>[/.\-])(?P<m2>[01]?[0-9])(?P=sep)(?P<y2>(?:19|20)[0-9]{2})(?:"
    + _fr_time("2")
    + r")?)"
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
        label = class_and_id(el)
        if not _DATE_CLASS.search(label) or _COMMENT.search(label) or MODIFIED_CLASS.search(label):
            continue
        if any(_COMMENT.search(class_and_id(a)) for a in el.iterancestors()):
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
    return SPACES.sub(" ", re.sub(r"<[^>]*>|&nbsp;", " ", m.group(0))).strip()


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


#: the three tiers by name: article metadata, what the reader sees, generic hints (a guess)
TIER_NAMES = ("metadata", "shown", "guess")


def date_tier(source: str) -> str:
    """The tier of a page date chosen from ``source`` (its ``published_from``): a name of
    :data:`TIER_NAMES`."""
    return TIER_NAMES[min(_rank(source), 2)]


def guessed(source: str | None) -> bool:
    """Whether a page date chosen from ``source`` (its ``published_from``) is only a generic
    hint (``<meta name=date>``, a first ``<time>``, the URL, htmldate's search), neither article
    metadata nor what the reader sees: on the corpus such a date was the right day 13 times of
    14 on the pages whose best it is (27 of 33 once their metadata is stripped), and wrong every
    time it named another day than the page's stripped metadata (5 of 5; docs/extraction.md)."""
    return source is not None and date_tier(source) == "guess"


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
