"""Entry dates as French and European feeds write them (RSS both ways, Atom, JSON Feed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from monitors.collect.feeds import parse_feed

BASE = "https://exemple-journal.fr/feed"
#: (as the feed writes it, the instant): before, the zone names were read as UTC (an hour or
#: two late), "GMT+1" and French day and month names not at all (the entry undated)
DATES = [
    ("Fri, 07 Feb 2025 21:06:00 CET", datetime(2025, 2, 7, 20, 6, tzinfo=UTC)),
    ("Tue, 06 May 2025 10:00:00 CEST", datetime(2025, 5, 6, 8, 0, tzinfo=UTC)),
    ("Tue, 06 May 2025 10:00:00 MESZ", datetime(2025, 5, 6, 8, 0, tzinfo=UTC)),
    ("Fri, 07 Feb 2025 21:06:00 GMT+1", datetime(2025, 2, 7, 20, 6, tzinfo=UTC)),
    ("Tue, 06 May 2025 10:00:00 UTC+2", datetime(2025, 5, 6, 8, 0, tzinfo=UTC)),
    ("ven., 07 févr. 2025 21:06:00 +0100", datetime(2025, 2, 7, 20, 6, tzinfo=UTC)),
    ("mardi 6 mai 2025 10:00:00 CEST", datetime(2025, 5, 6, 8, 0, tzinfo=UTC)),
    ("sam., 01 mars 2025 08:00:00 +0100", datetime(2025, 3, 1, 7, 0, tzinfo=UTC)),
    ("lun. 1er déc. 2025 08:00 CET", datetime(2025, 12, 1, 7, 0, tzinfo=UTC)),
    # what feedparser read right stays as it was
    ("Fri, 07 Feb 2025 21:06:00 GMT", datetime(2025, 2, 7, 21, 6, tzinfo=UTC)),
    ("Fri, 07 Feb 2025 21:06:00 EST", datetime(2025, 2, 8, 2, 6, tzinfo=UTC)),
    ("Fri, 07 Dec 2025 21:06:00 +0100", datetime(2025, 12, 7, 20, 6, tzinfo=UTC)),
    ("2025-02-07T21:06:00+01:00", datetime(2025, 2, 7, 20, 6, tzinfo=UTC)),
]


#: (as French feeds write it, the instant): dates by the French grammar of monitors.dates, any
#: case, with or without accents; a time without a zone on the local clock (Paris); numeric dates
#: day first. Before, each of them left the entry undated.
FRENCH = [
    ("10/02/2025 14:30", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
    ("Lundi 10 Février 2025 - 14:30", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
    ("lundi 10 février 2025 à 14h30", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
    ("LUNDI 10 FEVRIER 2025 A 14H30", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
    ("le 3 juill. 2025, 8h05", datetime(2025, 7, 3, 6, 5, tzinfo=UTC)),  # summer time: +02:00
    ("1er août 2025 à 9h", datetime(2025, 8, 1, 7, 0, tzinfo=UTC)),
    ("02/10/2025", datetime(2025, 10, 1, 22, 0, tzinfo=UTC)),  # 2 October, local midnight
    ("10.02.2025 14:30:15", datetime(2025, 2, 10, 13, 30, 15, tzinfo=UTC)),
    ("10/02/2025 14:30 CET", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
    ("10/02/2025 14:30 +00:00", datetime(2025, 2, 10, 14, 30, tzinfo=UTC)),
    ("10/02/2025 14:30 Europe/London", datetime(2025, 2, 10, 14, 30, tzinfo=UTC)),
]
#: what is no date, or no real day or time, stays unreadable: nothing guessed
NOT_DATES = [
    "31/02/2025 14:30",  # no 31 February
    "lundi 10 février 2025 à 25h30",
    "10/02/25 14h30",  # which century
    "10 février à 14h30",  # which year
    "février 2025",  # which day
    "Publié le 10/02/2025",  # a phrase around it
]


def _rss(date: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Fil</title>"
        f"<item><title>T</title><link>https://exemple-journal.fr/a</link><pubDate>{date}</pubDate>"
        "</item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(("raw", "instant"), DATES + FRENCH)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_rss_dates_with_european_zones_and_french_names(raw: str, instant: datetime, fast: bool) -> None:
    feed = parse_feed(_rss(raw), BASE, "application/rss+xml", fast=fast)
    assert feed.entries[0].published_at == instant


@pytest.mark.parametrize(("raw", "instant"), DATES[:6] + FRENCH[:3])
def test_atom_and_json_feed_dates_are_read_the_same_way(raw: str, instant: datetime) -> None:
    atom = (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Fil</title>"
        f"<entry><title>T</title><link href='https://exemple-journal.fr/a'/><id>urn:a</id>"
        f"<published>{raw}</published></entry></feed>"
    ).encode()
    assert parse_feed(atom, BASE, "application/atom+xml").entries[0].published_at == instant
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fil",
        "items": [{"id": "a", "url": "https://exemple-journal.fr/a", "date_published": raw}],
    }
    got = parse_feed(json.dumps(body).encode(), BASE, "application/feed+json")
    assert got.entries[0].published_at == instant


@pytest.mark.parametrize("raw", NOT_DATES)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_what_no_grammar_reads_stays_undated(raw: str, fast: bool) -> None:
    feed = parse_feed(_rss(raw), BASE, "application/rss+xml", fast=fast)
    assert feed.entries[0].published_at is None


def test_a_french_time_is_on_the_configured_local_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "America/Montreal")
    feed = parse_feed(_rss("lundi 10 février 2025 à 14h30"), BASE, "application/rss+xml")
    assert feed.entries[0].published_at == datetime(2025, 2, 10, 19, 30, tzinfo=UTC)


#: dates that name no real day or time; feedparser's W3C parser "rolled" the first ones into
#: real ones (month 13 day 45 into 1 January 2026, 30 February into 2 March): a date nobody wrote
UNREAL = [
    "2025-13-45T10:00:00Z",
    "2025-02-30T10:00:00+01:00",
    "2025-02-10T25:61:00Z",
    "2025-02-10T10:00:00+25:00",
    "2025-13",
    "Mon, 45 Feb 2025 25:61:00 GMT",
    "Sat, 29 Feb 2025 10:00:00 GMT",  # 2025 is no leap year
]


def _two_items(date: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Fil</title>"
        f"<item><title>T</title><link>https://exemple-journal.fr/a</link><pubDate>{date}</pubDate></item>"
        "<item><title>U</title><link>https://exemple-journal.fr/b</link>"
        "<pubDate>2025-02-10T10:00:00Z</pubDate></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize("raw", UNREAL)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_date_naming_no_real_day_is_absent_not_rolled(raw: str, fast: bool) -> None:
    """The entry is kept, undated; the other entry keeps its date. A W3C date so refused is said
    in the feed's warning (RFC 822 ones were refused already, by feedparser's own parser)."""
    feed = parse_feed(_two_items(raw), BASE, "application/rss+xml", fast=fast)
    assert [e.published_at for e in feed.entries] == [None, datetime(2025, 2, 10, 10, 0, tzinfo=UTC)]
    if raw[:4].isdigit():
        assert "1 entry date(s) naming no real day or time, taken as absent" in (feed.bozo_reason or "")
        assert repr(raw) in (feed.bozo_reason or "")


@pytest.mark.parametrize("raw", UNREAL[:4])
def test_atom_and_json_feed_dates_naming_no_real_day_are_absent(raw: str) -> None:
    atom = (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Fil</title>"
        f"<entry><title>T</title><link href='https://exemple-journal.fr/a'/><id>urn:a</id>"
        f"<published>{raw}</published></entry></feed>"
    ).encode()
    got = parse_feed(atom, BASE, "application/atom+xml")
    assert got.entries[0].published_at is None and "no real day or time" in (got.bozo_reason or "")
    body = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Fil",
        "items": [{"id": "a", "url": "https://exemple-journal.fr/a", "date_published": raw}],
    }
    got = parse_feed(json.dumps(body).encode(), BASE, "application/feed+json")
    assert got.entries[0].published_at is None and f'{raw}" is not a date (' in (got.bozo_reason or "")


@pytest.mark.parametrize("raw", [*UNREAL, "2025-02-30"])
def test_a_sitemap_lastmod_naming_no_real_day_is_absent(raw: str) -> None:
    """Sitemaps read lastmod with Python's own ISO parser, which refuses these; pinned here."""
    from monitors.collect.sitemaps import parse_period

    assert parse_period(raw) is None


@pytest.mark.parametrize(
    ("raw", "instant"),
    [
        ("2025-02-10T24:00:00Z", datetime(2025, 2, 11, 0, 0, tzinfo=UTC)),  # the day's end, ISO 8601
        ("2024-02-29T10:00:00Z", datetime(2024, 2, 29, 10, 0, tzinfo=UTC)),  # a leap day
    ],
)
def test_real_dates_at_the_edges_are_read(raw: str, instant: datetime) -> None:
    assert parse_feed(_rss(raw), BASE, "application/rss+xml").entries[0].published_at == instant
