"""Days in relevance judgments: a scored item's publication date, and the days a text names."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from monitors.dates import article_day
from monitors.judge.textfold import fold


def as_date(value: Any) -> date | None:
    """A date of a checked topic file (TOML gives a date, or an ISO string), or None."""
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def parse_published(value: Any) -> date | None:
    """A publication date from "2025-02-10", "2025-02" (the 1st), "2025" (1 January) or a full ISO
    timestamp (its day on the local clock: "2025-02-10T23:30:00Z" is 11 February in Paris);
    None when absent. Raises ValueError when it does not parse."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"published_at must be a string, not {type(value).__name__}")
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date(int(text[:4]), int(text[5:]), 1)
        if len(text) > 10 and text[10] in "T ":
            # the whole timestamp must read (before, "2025-02-10T99:99" or "2025-02-10 whatever"
            # gave its first ten characters); its day is its instant on the local clock, as at
            # ingest and rescore (monitors.dates): "2025-02-09T23:30:00Z" is 10 February in Paris
            return article_day(datetime.fromisoformat(text))
        return date.fromisoformat(text)
    except ValueError as exc:
        why = "" if str(exc).startswith("Invalid isoformat") else f": {exc}"  # a range ("month must ...")
        raise ValueError(
            f"published_at {value!r} is not an ISO date (YYYY, YYYY-MM, YYYY-MM-DD, or a timestamp){why}"
        ) from None


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
