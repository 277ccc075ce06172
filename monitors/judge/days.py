"""Days in relevance judgments: a scored item's publication date, and the days a text names."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from monitors.dates import article_day, written_date
from monitors.judge.textfold import fold


def as_date(value: Any) -> date | None:
    """A date of a checked topic file (TOML gives a date, or an ISO string), or None."""
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


#: Unix time from which a number is read in milliseconds (as JavaScript writes it), not
#: seconds: 1e11 seconds is the year 5138
_EPOCH_MILLISECONDS = 10**11
#: A Unix time written as a string: seconds ("1739174400", "1739174400.5"), nine or ten
#: figures, or milliseconds, thirteen (eight figures are an ISO day, "20250210"; fourteen a
#: Wayback timestamp, not read)
_EPOCH_TEXT = re.compile(r"(?:\d{9,10}|\d{13})(?:\.\d+)?")
_ISO_SHAPED = re.compile(r"\d{4}-")
_FORMATS = (
    "ISO 8601 (YYYY, YYYY-MM, YYYY-MM-DD, a timestamp), RFC 2822, a French or English date"
    " ('10 février 2025', '10/02/2025', 'February 10, 2025') or Unix seconds"
)


def _epoch(value: float, written: Any) -> date:
    seconds = value / 1000 if abs(value) >= _EPOCH_MILLISECONDS else value
    try:
        day = article_day(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"published_at {written!r} is out of range as Unix time") from None
    assert day is not None
    return day


def read_published(value: Any) -> tuple[date, str] | None:
    """A publication date and its precision ("year", "month" or "day"), None when absent (null,
    empty or blank). Read: ISO 8601 ("2025-02-10", "2025-02" (the 1st), "2025" (1 January), a
    timestamp whole, its day on the local clock: "2025-02-09T23:30:00Z" is 10 February in
    Paris), Unix time (a number, or a string of 9-10 figures: seconds; 13: milliseconds; a
    number from 1e11 is milliseconds), and the dates of :func:`monitors.dates.written_date`
    (RFC 2822, French and English dates, "février 2025" a month). Raises ValueError saying the
    value when it does not parse."""
    if value is None:
        return None
    if isinstance(value, datetime):
        day = article_day(value)
        assert day is not None
        return day, "day"
    if isinstance(value, date):
        return value, "day"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(f"published_at {value!r} is not a number of seconds")
        return _epoch(value, value), "day"
    if not isinstance(value, str):
        raise ValueError(f"published_at must be a string or a number, not {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if _EPOCH_TEXT.fullmatch(text):
        return _epoch(float(text), value), "day"
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1), "year"
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date(int(text[:4]), int(text[5:]), 1), "month"
        if len(text) > 10 and text[10] in "T ":
            # the whole timestamp must read (before, "2025-02-10T99:99" or "2025-02-10 whatever"
            # gave its first ten characters); its day is its instant on the local clock, as at
            # ingest and rescore (monitors.dates): "2025-02-09T23:30:00Z" is 10 February in Paris
            day = article_day(datetime.fromisoformat(text))
            assert day is not None
            return day, "day"
        return date.fromisoformat(text), "day"
    except ValueError as exc:
        iso_fault = "" if str(exc).startswith("Invalid isoformat") else f": {exc}"
    written = written_date(text)
    if written is None:
        if _ISO_SHAPED.match(text):  # ISO, wrong: say what ("month must be in 1..12")
            raise ValueError(
                f"published_at {value!r} is not an ISO date (YYYY, YYYY-MM, YYYY-MM-DD, or a"
                f" timestamp){iso_fault}"
            )
        raise ValueError(f"published_at {value!r} is not a date veille reads: {_FORMATS}")
    instant, precision = written
    day = article_day(instant)
    assert day is not None
    return day, precision


def parse_published(value: Any) -> date | None:
    """The day of :func:`read_published` (None when absent); raises ValueError when it does
    not parse."""
    read = read_published(value)
    return None if read is None else read[0]


# Days named in a text ("lundi 10 février", "Monday, Feb. 10", "samedi 8 février 2025"), read on
# folded text: a weekday (in full), a day and a month (either order), and maybe a year
WEEKDAYS = {
    name: n
    for n, names in enumerate(
        (
            ("lundi", "monday"),
            ("mardi", "tuesday"),
            ("mercredi", "wednesday"),
            ("jeudi", "thursday"),
            ("vendredi", "friday"),
            ("samedi", "saturday"),
            ("dimanche", "sunday"),
        )
    )
    for name in names
}
_MONTHS = {
    name: n + 1
    for n, names in enumerate(
        (
            ("janvier", "january", "jan"),
            ("fevrier", "february", "feb"),
            ("mars", "march", "mar"),
            ("avril", "april", "apr"),
            ("mai", "may"),
            ("juin", "june", "jun"),
            ("juillet", "july", "jul"),
            ("aout", "august", "aug"),
            ("septembre", "september", "sep", "sept"),
            ("octobre", "october", "oct"),
            ("novembre", "november", "nov"),
            ("decembre", "december", "dec"),
        )
    )
    for name in names
}
_WEEKDAY_ALT = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
# weekdays have no accents: a text without one, lower-cased, names no day (and is not folded)
_WEEKDAY_NAMES = tuple(WEEKDAYS)
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NAMED_DAY = re.compile(
    rf"(?<![0-9a-z])(?P<weekday>{_WEEKDAY_ALT}) "
    rf"(?:(?:le )?(?P<day>[0-9]{{1,2}})(?: ?er)? (?P<month>{_MONTH_ALT})"  # lundi 10 fevrier
    rf"|(?P<month2>{_MONTH_ALT}) (?P<day2>[0-9]{{1,2}})(?: ?(?:st|nd|rd|th))?)"  # monday february 10th
    r"(?![0-9a-z])(?: (?P<year>[0-9]{4}))?"
)


def day_named_in(text: str, period: tuple[date | None, date | None], peak: tuple[date, date]) -> date | None:
    """The first day the text names (a weekday, a day and a month) that falls in ``peak``, or None.

    Without a year, the year is one of the active period's whose calendar gives that weekday
    ("lundi 10 février" is 10 February 2025, not 2026, a Tuesday): a paragraph lifted from the
    event's coverage often says the day it reports, where its page's date is lost."""
    lowered = text.lower()
    if not any(map(lowered.__contains__, _WEEKDAY_NAMES)):
        return None
    first = (period[0] or peak[0]).year
    last = (period[1] or peak[1]).year
    for m in _NAMED_DAY.finditer(fold(text)):
        day = int(m.group("day") or m.group("day2"))
        month = _MONTHS[m.group("month") or m.group("month2")]
        years = [int(m.group("year"))] if m.group("year") else range(first, last + 1)
        for year in years:
            try:
                named = date(year, month, day)
            except ValueError:
                continue
            if named.weekday() == WEEKDAYS[m.group("weekday")] and peak[0] <= named <= peak[1]:
                return named
    return None
