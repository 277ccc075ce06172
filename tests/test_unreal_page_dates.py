"""A page dated with a day or time that does not exist: refused with the reason a feed's date
gets (:func:`monitors.dates.unreal_fields`), in the article's ``extraction_evidence``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.collect.feeds import parse_feed
from monitors.settings import Settings
from tests.site import LocalSite
from tests.test_faults import _poll_and_ingest
from tests.test_unreal_feed_dates import serve_one

BODY = " ".join(["Le sommet pour l'action sur l'intelligence artificielle s'ouvre à Paris."] * 20)
PAGE = (
    "<html><head><title>Sommet de l'IA</title>"
    '<meta property="article:published_time" content="2025-02-30T10:00:00+01:00">'
    '<meta property="article:modified_time" content="2025-13-02">'
    "</head><body><article><h1>Sommet de l'IA</h1><p>Publié le 31 février 2025 à 29h10</p>"
    f"<p>{BODY}</p></article></body></html>"
)


def test_a_page_dated_30_february_says_why_in_its_evidence(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """Before, each of these dates was refused as "unreadable", the reason a feed's date got
    for the same fields ("February 2025 has no day 30") not given."""
    url = serve_one(site, "/2025/02/30/sommet.html", PAGE, "Mon, 10 Feb 2025 09:00:00 +0100")
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    rejected = db.execute(
        sa.text("SELECT extraction_evidence -> 'dates_rejected' FROM articles WHERE url = :url"), {"url": url}
    ).scalar_one()
    assert {
        "source": "meta article:published_time",
        "value": "2025-02-30T10:00:00+01:00",
        "why": "February 2025 has no day 30",
    } in rejected
    assert {
        "source": "meta article:modified_time",
        "value": "2025-13-02",
        "why": "there is no month 13",
    } in rejected
    phrase = {"source": "phrase publié le", "value": "Publié le 31 février 2025 à 29h10"}
    assert {**phrase, "why": "February 2025 has no day 31"} in rejected
    assert {"source": "url", "value": "/2025/02/30", "why": "February 2025 has no day 30"} in rejected


ZERO_PAGE = (
    "<html><head><title>Sommet de l'IA</title>"
    '<meta property="article:published_time" content="0000-00-00T00:00:00">'
    '<meta property="article:modified_time" content="0000-01-01">'
    "</head><body><article><h1>Sommet de l'IA</h1>"
    f"<p>{BODY}</p></article></body></html>"
)


def test_a_page_dated_year_0000_says_there_is_no_year_0(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A CMS's empty date ("0000-00-00T00:00:00") and a date of year 0 ("0000-01-01") name no
    real day: before, the first was refused as "there is no month 0" and the second as
    "unreadable"; both now say the year is the field that does not exist."""
    url = serve_one(site, "/actualites/sommet.html", ZERO_PAGE, "Mon, 10 Feb 2025 09:00:00 +0100")
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    published, rejected = db.execute(
        sa.text(
            "SELECT published_at, extraction_evidence -> 'dates_rejected' FROM articles WHERE url = :url"
        ),
        {"url": url},
    ).one()
    assert {
        "source": "meta article:published_time",
        "value": "0000-00-00T00:00:00",
        "why": "there is no year 0",
    } in rejected
    assert {
        "source": "meta article:modified_time",
        "value": "0000-01-01",
        "why": "there is no year 0",
    } in rejected
    assert published is not None and published.year == 2025  # the feed's date, the page's refused


def test_a_feed_entry_dated_year_0000_is_named_in_the_warning() -> None:
    """The same check for a feed: before, the entry was stored undated and the poll said
    nothing of its date."""
    feed = (
        b'<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        b"<channel><title>t</title><link>https://a.example/</link><item><title>a</title>"
        b"<link>https://a.example/a</link><dc:date>0000-01-01</dc:date></item></channel></rss>"
    )
    for fast in (True, False):
        parsed = parse_feed(feed, "https://a.example/feed", "application/rss+xml", fast=fast)
        assert [e.published_at for e in parsed.entries] == [None]
        assert "'0000-01-01' (there is no year 0)" in (parsed.bozo_reason or "")
