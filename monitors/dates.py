"""Dates as every stage reads them: the local time zone, dates without a zone, an article's day,
RFC 822 dates as French and European sites write them, French-written dates (one grammar,
numeric dates day first) and W3C dates of a year or a month as the periods they name.

Shared by collection (feeds, sitemaps) and analysis (pages, relevance, rescore), so that neither
depends on the other for it, and so that one rule holds everywhere:

- A date and time that names no zone ("2025-02-10 14:30", a French page's "à 14h30") is on the
  local clock, :func:`local_zone` (``VEILLE_LOCAL_TIMEZONE``; without it the database's, once
  the process has opened it, Europe/Paris before; summer time included). A date without a time
  is that day's midnight on the same clock.
- An article's day (the topic's period and peak, listings) is its instant on the local clock
  (:func:`article_day`), whatever the page's offset or the database session's TimeZone. The SQL
  views' ``day`` is on the clock the database keeps, which a process with the setting records
  there and a process without it adopts (monitors.archive.schema.record_local_timezone), and the
  views read (``veille_local_timezone()``, docs/operating.md).
"""

from __future__ import annotations

import calendar
import email.utils
import os
import re
import time
import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from functools import cache
from zoneinfo import ZoneInfo

import feedparser

# feedparser has a public way to register a date handler but none to call its parsers: its
# private RFC 822 and dispatching parsers are imported here only, and only here.
from feedparser.datetimes import _parse_date as _feedparser_date
from feedparser.datetimes.rfc822 import _parse_date_rfc822

from monitors.settings import LOCAL_TIMEZONE_VARIABLE, adopted_local_timezone, local_timezone


@cache
def _zone(raw: str | None, adopted: str | None) -> ZoneInfo:
    return ZoneInfo(local_timezone())


def local_zone() -> ZoneInfo:
    """The local time zone, ``VEILLE_LOCAL_TIMEZONE`` (read from the environment each time:
    tests and worker processes change it), else the database's once this process has opened
    it (:func:`monitors.settings.adopt_local_timezone`), else Europe/Paris; an unknown name is
    a :class:`SettingsError` naming the variable."""
    return _zone(os.environ.get(LOCAL_TIMEZONE_VARIABLE), adopted_local_timezone())


def on_local_clock(value: datetime) -> datetime:
    """``value`` as it is when aware; a naive one read on the local clock (an hour that summer
    time skips or repeats is read with the offset before the change, as zoneinfo does)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=local_zone())


def on_local_clock_bounded(value: datetime) -> datetime:
    """:func:`on_local_clock`, held to the instants Python can write in UTC: a naive 1 January
    of year 1 is before the first UTC instant on a clock east of UTC (then the first one; the
    last one for the symmetric case), where converting it raised OverflowError."""
    local = on_local_clock(value)
    try:
        local.astimezone(UTC)
    except OverflowError:
        return (datetime.min if local.year == 1 else datetime.max).replace(tzinfo=UTC)
    return local


def local_midnight(year: int, month: int, day: int) -> datetime:
    """The start of a day known only as a day, on the local clock (its day stays that day)."""
    return datetime(year, month, day, tzinfo=local_zone())


def article_day(instant: datetime | None) -> date | None:
    """An article's day: its instant on the local clock (a naive one is taken as local); at the
    calendar's ends, where the local clock would leave it (31 December 9999 at 23:30 UTC), the
    day it is written on."""
    if instant is None:
        return None
    try:
        return on_local_clock(instant).astimezone(local_zone()).date()
    except OverflowError:
        return instant.date()


#: No news page is older than the web: a date before it is a CMS's epoch zero or year 1.
MIN_DATE = datetime(1995, 1, 1, tzinfo=UTC)

#: How far after now a publication date may be: zones' slack (a site printing Paris time as UTC
#: dates its newest pages an hour or two ahead).
FUTURE_SLACK = timedelta(days=1)


def impossible(value: datetime, now: datetime | None = None) -> str | None:
    """Why ``value`` cannot be a publication date, or None: in the future (more than
    :data:`FUTURE_SLACK` after ``now``) or before :data:`MIN_DATE` (a 1970 epoch, year 1,
    31 Dec 9999). The one rule for a page's dates and a feed's."""
    value = on_local_clock(value)
    if value > (now or datetime.now(UTC)) + FUTURE_SLACK:
        return "in the future"
    if value < MIN_DATE:
        return "before the site existed"
    return None


#: The first day a backfill reads: the web archives' era begins in 1996, the year of the
#: Wayback Machine's first captures; no archive, sitemap or feed has a page from before it.
EARLIEST_BACKFILL_DAY = date(1996, 1, 1)


def archive_era_day(instant: datetime) -> date:
    """The day (on the local clock) of a backfill window's bound, when it is not before
    :data:`EARLIEST_BACKFILL_DAY`; a ValueError saying the rule otherwise. Half of
    :func:`backfill_day`'s, which needs no clock for a date without a zone: `veille backfill`
    checks it as it reads its options, today once it has the database's clock."""
    day = article_day(instant)
    assert day is not None
    if day < EARLIEST_BACKFILL_DAY:
        raise ValueError(
            f"{day} is before {EARLIEST_BACKFILL_DAY}, the web archives' first year (the Wayback"
            " Machine's first captures): nothing is there to read; give a day from"
            f" {EARLIEST_BACKFILL_DAY} to today"
        )
    return day


def backfill_day(instant: datetime) -> date:
    """The day (on the local clock) of a backfill window's bound, when it is from
    :data:`EARLIEST_BACKFILL_DAY` to today; a ValueError saying the rule otherwise (a day of
    year 1 asked the archives for two thousand years of months; one in the future read
    nothing). One rule for `veille backfill --since/--until` and the archive backfill flow's
    ``since``/``until`` parameters."""
    day, today = archive_era_day(instant), article_day(datetime.now(UTC))
    assert today is not None
    if day > today:
        raise ValueError(
            f"{day} is after today ({today} on the local clock, VEILLE_LOCAL_TIMEZONE): nothing"
            f" is published there yet; give a day from {EARLIEST_BACKFILL_DAY} to today"
        )
    return day


# ---------------------------------------------------------------- RFC 822 as Europe writes it

#: French month names and their abbreviations, accented or not (pages' phrases and feeds' dates).
MONTHS = {
    "janvier": 1, "janv": 1, "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "fév": 2, "fev": 2,
    "mars": 3, "avril": 4, "avr": 4, "mai": 5, "juin": 6, "juillet": 7, "juill": 7, "juil": 7,
    "août": 8, "aout": 8,
    "septembre": 9, "sept": 9, "octobre": 10, "oct": 10, "novembre": 11, "nov": 11,
    "décembre": 12, "decembre": 12, "déc": 12, "dec": 12,
}  # fmt: skip

#: Zone names that feedparser and email.utils do not know (they read them as UTC: "21:06
#: CET" came out an hour late), in hours east of UTC. Ambiguous names (IST, CST in Europe) stay out.
_ZONES = {
    "cet": 1, "cest": 2, "mez": 1, "mesz": 2, "wet": 0, "west": 1, "eet": 2, "eest": 3,
    "bst": 1, "utc": 0,
}  # fmt: skip
_ZONE = re.compile(
    r"\s(?:(?P<name>[a-z]{3,4})|(?:gmt|utc)(?P<sign>[+-])(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?)$", re.I
)
_FR_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
#: A French day name before a day and a French month ("ven., 07 févr.", "mardi 6 mai"), not
#: an English month ("Mar. 7, 2025", "March 7").
_FR_DAY = re.compile(
    r"^\s*(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lun|mar|mer|jeu|ven|sam|dim)\.?,?\s+"
    rf"(?=[0-3]?[0-9](?:er)?\s+(?:{_FR_MONTH_NAMES})\b)",
    re.I,
)
_EN_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_FR_MONTH = re.compile(rf"(?<=\s)({_FR_MONTH_NAMES})\b\.?", re.I)


def rfc822_in_english(value: str) -> str:
    """An RFC 822 date as French and European sites write it, made one that feedparser and
    email.utils read right: a zone name they do not know ("CET", "CEST", "MESZ") or "GMT+1"
    as an offset, French day and month names ("ven., 07 févr. 2025", a server's French
    locale) in English. Anything else comes back as it was (stripped)."""
    fixed = re.sub(r"(?<![0-9])1er(?=\s)", "1", _FR_DAY.sub("", value.strip()))
    fixed = _FR_MONTH.sub(lambda m: _EN_MONTHS[MONTHS[m[1].lower()] - 1], fixed)
    zone = _ZONE.search(fixed)
    if zone and zone["name"] and zone["name"].lower() in _ZONES:
        fixed = f"{fixed[: zone.start()]} {_ZONES[zone['name'].lower()]:+03d}00"
    elif zone and zone["sign"]:
        fixed = f"{fixed[: zone.start()]} {zone['sign']}{int(zone['h']):02d}{zone['m'] or '00'}"
    return fixed


#: An RFC 822 date that ends at its time of day or its year: no zone given.
_RFC822_ZONELESS = re.compile(
    r"^(?:[a-z]{3},?\s+)?(?P<d>[0-3]?\d)\s+(?P<m>[a-z]{3})[a-z]*\.?\s+(?P<y>\d{4})"
    r"(?:\s+(?P<H>[0-2]?\d):(?P<M>[0-5]\d)(?::(?P<S>[0-5]\d))?)?$",
    re.I,
)


def zoneless(value: str) -> datetime | None:
    """A date that names no zone, read on the local clock ("2025-02-10T14:30:00", "Mon, 10 Feb
    2025 14:30", a bare day at its local midnight); None for a date with a zone or unreadable."""
    text = value.strip()
    if len(text) >= 10 and text[:4].isdigit():
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        return parsed.replace(tzinfo=local_zone()) if parsed.tzinfo is None else None
    m = _RFC822_ZONELESS.match(text)
    if m is None or m["m"].lower() not in _EN_MONTHS:
        return None
    try:
        return datetime(
            int(m["y"]),
            _EN_MONTHS.index(m["m"].lower()) + 1,
            int(m["d"]),
            int(m["H"] or 0),
            int(m["M"] or 0),
            int(m["S"] or 0),
            tzinfo=local_zone(),
        )
    except ValueError:
        return None


# ---------------------------------------------------------------- French dates, as French sites write them


def _plain_letters(text: str) -> str:
    """``text`` in lower case without its accents and with its spaces collapsed (``Février``,
    ``FÉVRIER`` and ``fevrier`` alike; ``à`` as ``a``)."""
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.lower().split())


_FR_MONTHS_PLAIN = {_plain_letters(name): number for name, number in MONTHS.items()}
#: A French date, as French feeds, sitemaps and pages write one: an optional "le" and day name
#: (whole or cut, "lun."), then the day ("1er" too) and the month's name (whole or cut) or the
#: day/month/year in figures, DAY FIRST ("10/02/2025", "10.02.2025", "10-02-2025"); a year of
#: four figures; then, optionally, after "à", "-", ",", "|" or a space, a time ("14:30",
#: "14h30", "14h", "14:30:00") and an offset or a zone name ("+01:00", "CET", "UTC", "Z").
#: Matched on :func:`_plain_letters` text, whole: a phrase around it is no date.
_FRENCH_DATE = re.compile(
    r"(?:le )?(?:(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lun|mar|mer|jeu|ven|sam|dim)\.?,? )?"
    r"(?:(?P<d>[0-3]?\d)(?:er)? ?(?P<month>"
    + "|".join(sorted(_FR_MONTHS_PLAIN, key=len, reverse=True))
    + r")\.?,? (?P<y>\d{4})|(?P<d2>[0-3]?\d)(?P<sep>[/.-])(?P<m2>[01]?\d)(?P=sep)(?P<y2>\d{4}))"
    r"(?:(?: ?[,|@-] ?| a | )(?P<H>[0-2]?\d) ?[h:] ?(?P<M>[0-5]\d)?(?::(?P<S>[0-5]\d))?"
    r"(?: ?(?P<zone>[+-][01]\d:?[0-5]\d|z|gmt|ut|utc|cet|cest|wet|west|eet|eest|mez|mesz|bst))?)?"
)


#: How a French date starts (a day name, "le", or the day's figures): what does not is not read
#: further (an RFC 822 date's "Mon," in every feed: the grammar costs nothing there)
_FRENCH_START = re.compile(r"\s*(?:le\s+)?(?:(?:lun|mar|mer|jeu|ven|sam|dim)[a-z]*\.?,?\s+)?\d", re.I)


def _zone_of(name: str) -> timezone | ZoneInfo:
    """An offset ("+01:00", "+0100") or a zone name of :data:`_ZONES` ("Z", "GMT") as a tzinfo."""
    if name[0] in "+-":
        sign = -1 if name[0] == "-" else 1
        digits = name[1:].replace(":", "")
        return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return timezone(timedelta(hours={"z": 0, "gmt": 0, "ut": 0}.get(name, _ZONES.get(name, 0))))


def french_date(value: str) -> datetime | None:
    """A date as French sites write it, by one grammar (:data:`_FRENCH_DATE`): "10/02/2025
    14:30", "Lundi 10 Février 2025 - 14:30", "lundi 10 fevrier 2025 à 14h30", "1er mars
    2025", any case, with or without accents. Numeric dates are read DAY FIRST, as France
    writes them: "02/10/2025" is 2 October. Without a zone, the time is on the local clock
    (:func:`local_zone`), and a date without a time is its local midnight, as every date that
    names no zone is here. None when it is not such a date or names no real day or time
    (31 February, 25h): nothing is guessed (a two-figure year, a date without its year).

    dateparser (installed with htmldate) reads these strings to the same instants, but about
    100 times slower (1.7 ms a date: 84 s for a 50,000-URL sitemap; bench/french_dates.py)."""
    m = _FRENCH_DATE.fullmatch(_plain_letters(value)) if _FRENCH_START.match(value) else None
    if m is None:
        return None
    if m["y"]:
        year, month, day = int(m["y"]), _FR_MONTHS_PLAIN[m["month"]], int(m["d"])
    else:
        year, month, day = int(m["y2"]), int(m["m2"]), int(m["d2"])
    zone = _zone_of(m["zone"]) if m["zone"] else local_zone()
    try:
        return datetime(year, month, day, int(m["H"] or 0), int(m["M"] or 0), int(m["S"] or 0), tzinfo=zone)
    except ValueError:
        return None


# ---------------------------------------------------------------- a date as a user writes it

_EN_MONTHS_PLAIN = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "sept": 9, "october": 10, "november": 11, "december": 12,
    **{name: n + 1 for n, name in enumerate(_EN_MONTHS)},
}  # fmt: skip
_ANY_MONTHS = {**_FR_MONTHS_PLAIN, **_EN_MONTHS_PLAIN}
_ANY_MONTH = "|".join(sorted(_ANY_MONTHS, key=len, reverse=True))
#: a day's name before a date, English or French, whole or cut ("Monday,", "Mon.", "lun.")
_WEEKDAY = (
    r"(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues|tue|wed|thurs|thur|thu"
    r"|fri|sat|sun|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lun|mar|mer|jeu|ven|sam|dim)\.?,? )?"
)
#: a time of day after a date, read as written: the day is the one the text gives ("at 9:00 PM
#: EST", "à 14h30")
_TIME_AFTER = r"(?:,? (?:at |a )?[0-2]?\d(?::[0-5]\d|h[0-5]?\d?)(?: ?[a-z0-9:+-]+)*)?"
#: "February 10, 2025", "Feb. 10th, 2025", "Monday, February 10, 2025 at 9:00 PM"
_MONTH_FIRST = re.compile(
    _WEEKDAY + rf"(?P<m>{_ANY_MONTH})\.? (?P<d>[0-3]?\d)(?:st|nd|rd|th)?,? (?P<y>\d{{4}})" + _TIME_AFTER
)
#: "10 February 2025", "Monday 10th February, 2025", "10 février 2025 14:30"
_DAY_FIRST = re.compile(
    _WEEKDAY + rf"(?P<d>[0-3]?\d)(?:st|nd|rd|th|er)? (?P<m>{_ANY_MONTH})\.?,? (?P<y>\d{{4}})" + _TIME_AFTER
)
#: "février 2025", "February 2025", "Feb. 2025": a month
_MONTH_YEAR = re.compile(rf"(?P<m>{_ANY_MONTH})\.?,? (?P<y>\d{{4}})")
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}[T ]")
#: "2025/02/10", "2025.02.10": year first, so never ambiguous
_YEAR_FIRST = re.compile(r"(?P<y>\d{4})(?P<sep>[/.])(?P<m>[01]?\d)(?P=sep)(?P<d>[0-3]?\d)")


def written_date(value: str) -> tuple[datetime, str] | None:
    """A date as people and tools write one outside ISO 8601, and its precision ("day", or
    "month" for "février 2025"): French dates (:func:`french_date`: "10 février 2025",
    "lundi 10 février 2025 à 14h30", "10/02/2025", day first), RFC 822 and 2822 dates as
    feeds and mail write them ("Mon, 10 Feb 2025 09:00:00 +0100", European zone names and
    French day and month names too, :func:`rfc822_in_english`), English dates month first
    ("February 10, 2025"), year first with slashes or dots ("2025/02/10"), and any of these
    ending with an IANA zone name ("... 09:00 Europe/Paris", on its clock). A date without
    a zone is on the local clock, as everywhere here. None when it is none of these or names
    no real day (31 February): nothing is guessed."""
    # RFC 9557 (Java's ZonedDateTime): "2025-02-10T09:00:00+01:00[Europe/Paris]", its offset given
    text = re.sub(r"(?<=\d)\[[A-Za-z_/+-]+\]$", "", value.strip())
    named = _in_named_zone(text)  # "2025-02-10 09:00 Europe/Paris", on that zone's clock
    if named is not None:
        return named, "day"
    french = french_date(text)
    if french is not None:
        return french, "day"
    fixed = rfc822_in_english(text)
    local = zoneless(fixed)
    if local is not None:
        return local, "day"
    if _ISO_DAY.match(fixed):  # ISO with a zone name, as exports write it ("... 09:00:00 UTC")
        try:
            return datetime.fromisoformat(re.sub(r"\s(?:gmt|ut|z)$", " +0000", fixed, flags=re.I)), "day"
        except ValueError:
            return None
    if re.search(r"\d{1,2}:\d{2}", fixed) and re.search(r"[a-z]{3}", fixed, re.I):
        try:  # an RFC 2822 date with its zone ("GMT", "+0100"); "-0000" is UTC, its sender's unknown
            mail = email.utils.parsedate_to_datetime(fixed)
        except (TypeError, ValueError, IndexError):
            mail = None
        if mail is not None:
            return (mail if mail.tzinfo is not None else mail.replace(tzinfo=UTC)), "day"
    plain = _plain_letters(text)
    try:
        if m := _MONTH_FIRST.fullmatch(plain) or _DAY_FIRST.fullmatch(plain):
            return local_midnight(int(m["y"]), _ANY_MONTHS[m["m"]], int(m["d"])), "day"
        if m := _YEAR_FIRST.fullmatch(plain):
            return local_midnight(int(m["y"]), int(m["m"]), int(m["d"])), "day"
        if m := _MONTH_YEAR.fullmatch(plain):
            return local_midnight(int(m["y"]), _ANY_MONTHS[m["m"]], 1), "month"
    except ValueError:  # 31 February, month 13
        return None
    return None


#: A W3C datetime of reduced precision (https://www.w3.org/TR/NOTE-datetime): a year
#: ("2025") or a year and month ("2025-02"), which sitemaps' lastmod may be.
_W3C_REDUCED = re.compile(r"(?P<y>\d{4})(?:-(?P<m>0[1-9]|1[0-2]))?")


def names_no_day(value: str) -> bool:
    """True for a W3C date of a year or a month alone ("2025", "2025-02"): a period, not a
    day. feedparser reads such an entry date as the period's first day, a day the feed never
    gave; an entry so dated is undated (a sitemap's lastmod so written is a window,
    :func:`w3c_period`)."""
    return _W3C_REDUCED.fullmatch(value.strip()) is not None


def w3c_period(value: str) -> tuple[datetime, datetime] | None:
    """The period a W3C date names, from its first instant to the next period's first, on
    the local clock: "2025" is the year 2025, "2025-02" February 2025, "2025-02-10" that
    day, a date and time that instant alone (both ends). None if it is no W3C date."""
    text = value.strip()
    reduced = _W3C_REDUCED.fullmatch(text)
    if reduced is not None:
        year, month = int(reduced["y"]), int(reduced["m"] or 0)
        if year < 1:
            return None
        start = local_midnight(year, month or 1, 1)
        if month and month < 12:
            next_year, next_month = year, month + 1
        else:
            next_year, next_month = year + 1, 1
        if next_year > 9999:
            return start, start.replace(hour=23, minute=59, second=59, month=12, day=31)
        return start, local_midnight(next_year, next_month, 1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if len(text) == 10 and parsed.tzinfo is None:  # a day: to the next local midnight
        start = local_midnight(parsed.year, parsed.month, parsed.day)
        try:
            return start, local_midnight(*(parsed + timedelta(days=1)).timetuple()[:3])
        except OverflowError:
            return start, start.replace(hour=23, minute=59, second=59)
    instant = on_local_clock(parsed)
    return instant, instant


def _utc_struct(value: datetime) -> time.struct_time | None:
    try:
        return value.astimezone(UTC).timetuple()
    except (OverflowError, ValueError):
        return None


#: A date that ends with an IANA zone name ("... 14:30:00 Europe/Paris", a server printing
#: its configured zone): feedparser took it for an unknown zone, that is UTC.
_IANA_ZONE = re.compile(r"^(?P<date>.*\d)\s+(?P<zone>[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+)$")


def _in_named_zone(value: str) -> datetime | None:
    """A date ending with an IANA zone name, on that zone's clock (summer time included)."""
    m = _IANA_ZONE.match(value.strip())
    if m is None:
        return None
    try:
        zone = ZoneInfo(m["zone"])
    except (KeyError, ValueError, OSError):  # not a zone this system knows ("Foo/Bar")
        return None
    local = zoneless(rfc822_in_english(m["date"])) or french_date(m["date"])
    return None if local is None else local.replace(tzinfo=zone)


def feed_date_handler(value: str) -> time.struct_time | None:
    """feedparser's first date handler: a date without a zone on the local clock (feedparser
    reads it as UTC), one ending with an IANA zone name ("Europe/Paris") on that zone's clock,
    an RFC 822 date as European feeds write it (:func:`rfc822_in_english`); None lets
    feedparser's own parsers read the rest as before."""
    named = _in_named_zone(value)
    if named is not None:
        return _utc_struct(named)
    fixed = rfc822_in_english(value)
    local = zoneless(fixed) or french_date(value)
    if local is not None:
        return _utc_struct(local)
    if fixed == value.strip():
        return None  # nothing European about it: feedparser's parsers read it as before
    return _parse_date_rfc822(fixed)


#: A W3C (ISO 8601) date as feeds and sitemaps write one, its fields read as written, out of
#: range or not: a month, then a day, a time, seconds (with a fraction), a zone.
_W3C_FIELDS = re.compile(
    r"(?P<y>\d{4})-(?P<mo>\d{1,2})(?:-(?P<d>\d{1,2})(?:[Tt ]\s*(?P<H>\d{1,2}):(?P<M>\d{1,2})"
    r"(?::(?P<S>\d{1,2})(?:[.,]\d+)?)?)?)?\s*(?:[Zz]|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)


def unreal_date(value: str) -> str | None:
    """Why a W3C date names no real day or time ("2025-13-45T10:00:00Z": there is no month
    13), or None (a real one, or no W3C date: RFC 822 dates are checked by feedparser's parser,
    which refuses "45 Feb" and "25:61"). feedparser's W3C parser "rolls" such a date into a
    real one (30 February into 2 March, month 13 into January of the next year): a date nobody
    wrote. 24:00 (the day's end, ISO 8601) and second 60 (a leap second) are real."""
    m = _W3C_FIELDS.fullmatch(value.strip())
    if m is None:
        return None
    why = unreal_fields(
        int(m["y"]),
        int(m["mo"]),
        None if m["d"] is None else int(m["d"]),
        None if m["H"] is None else (int(m["H"]), int(m["M"]), int(m["S"] or 0)),
    )
    if why is None and m["oh"] is not None and (int(m["oh"]) > 23 or int(m["om"]) > 59):
        return f"there is no offset {m['sign']}{m['oh']}:{m['om']}"
    return why


def unreal_fields(
    year: int, month: int, day: int | None = None, clock: tuple[int, int, int] | None = None
) -> str | None:
    """Why a date's fields, as written, name no real day or time ("there is no year 0", "there
    is no month 13", "February 2025 has no day 30"), or None: the reason a feed's date and a
    page's (its metadata, its URL, its "publié le" phrase) are refused with. ``clock`` is the hour, minute
    and second; 24:00 (the day's end, ISO 8601) and second 60 (a leap second) are real. Year 0
    (a CMS's empty date "0000-00-00", "0000-01-01") is none: 1 BC is followed by AD 1."""
    if year < 1:
        return f"there is no year {year}"
    if not 1 <= month <= 12:
        return f"there is no month {month}"
    if day is not None and not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"{calendar.month_name[month]} {year} has no day {day}"
    if clock is not None:
        hour, minute, second = clock
        if hour > 24 or (hour == 24 and (minute or second)):
            return f"there is no hour {hour}:{minute:02d}"
        if minute > 59 or second > 60:
            return f"there is no time {hour:02d}:{minute:02d}:{second:02d}"
    return None


def parse_feed_date(value: str) -> time.struct_time | None:
    """A feed's date by feedparser's rules and :func:`feed_date_handler`, as the UTC
    ``struct_time`` feedparser gives (for the parsers that read feeds without feedparser); None
    for a date that names no real day or time (:func:`unreal_date`), not the day feedparser
    rolls it into."""
    if unreal_date(value):
        return None
    return _feedparser_date(value)


feedparser.registerDateHandler(feed_date_handler)
