"""A feed entry dated with a day or time that does not exist: stored undated, the feed's
warning saying so, the article dated by its page."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import Article, FetchLog, QueuedUrl, Source
from monitors.collect.http import make_client
from monitors.collect.poll import SourceState, poll_source
from monitors.settings import Settings
from tests.site import LocalSite
from tests.test_faults import _poll_and_ingest

BODY = " ".join(["Le sommet pour l'action sur l'intelligence artificielle s'ouvre à Paris."] * 20)
PAGE = (
    "<html><head><title>Sommet de l'IA</title>"
    '<meta property="article:published_time" content="2025-02-10T09:00:00+01:00"></head>'
    f"<body><article><h1>Sommet de l'IA</h1><p>{BODY}</p></article></body></html>"
)


def serve_one(site: LocalSite, path: str, page: str, pub_date: str) -> str:
    """Serve ``page`` at ``path`` and the feed /une.xml listing it with ``pub_date``: its URL."""
    url = f"{site.base}{path}"
    site.add(
        "/une.xml",
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Une</title>"
        f"<item><title>Sommet de l'IA</title><link>{url}</link>"
        f"<pubDate>{pub_date}</pubDate></item></channel></rss>",
        content_type="application/rss+xml",
    )
    site.add(path, page)
    return url


def test_an_entry_dated_month_13_is_stored_with_its_pages_date(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """Before, feedparser rolled 2025-13-45 into 1 January 2026 (the feed's date), and the
    article was published on a day nobody wrote."""
    url = serve_one(site, "/a/1.html", PAGE, "2025-13-45T10:00:00Z")
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    queued = db.scalars(select(QueuedUrl).where(QueuedUrl.url == url)).one()
    assert queued.feed_published_at is None
    source = db.scalars(select(Source).where(Source.url == f"{site.base}/une.xml")).one()
    warning = (
        "1 entry date(s) naming no real day or time, taken as absent: "
        "'2025-13-45T10:00:00Z' (there is no month 13)"
    )
    assert warning in (source.last_error or "") and source.last_error_class == "warning"
    logged = db.scalars(select(FetchLog.reason).where(FetchLog.url == source.url)).all()
    assert any(warning in (r or "") for r in logged)
    article = db.scalars(select(Article).where(Article.url == url)).one()
    assert article.published_at == datetime(2025, 2, 10, 8, 0, tzinfo=UTC)


def test_a_bad_date_on_many_entries_is_named_once_with_its_count(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A feed writing one broken date on every item: the warning named the same text again and
    again ("'2025-13-45T10:00:00Z' (there is no month 13), '2025-13-45T10:00:00Z' (there is no
    month 13) and 5 more") in the run table and `veille sources`, and hid the other bad date."""
    items = "".join(
        f"<item><title>Article {n}</title><link>{site.base}/a/{n}.html</link>"
        f"<pubDate>{'2025-02-30T08:00:00Z' if n == 3 else '2025-13-45T10:00:00Z'}</pubDate></item>"
        for n in range(1, 6)
    )
    site.add(
        "/une.xml",
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Une</title>"
        f"{items}</channel></rss>",
        content_type="application/rss+xml",
    )
    for n in range(1, 6):
        site.add(f"/a/{n}.html", PAGE.replace("Sommet de l'IA</h1>", f"Sommet de l'IA {n}</h1>"))
    _poll_and_ingest(site, db, settings)
    source = db.scalars(select(Source).where(Source.url == f"{site.base}/une.xml")).one()
    assert (source.last_error or "").endswith(
        "5 entry date(s) naming no real day or time, taken as absent: "
        "'2025-13-45T10:00:00Z' (there is no month 13; 4 entries), "
        "'2025-02-30T08:00:00Z' (February 2025 has no day 30)"
    ), source.last_error
    assert source.last_error_class == "warning"


def test_a_well_formed_feed_with_bad_dates_is_not_called_malformed(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """The warning opened "malformed feed, 1 entries read: ..." for a feed whose XML is whole
    and only one date is bad: the user looked for a broken feed. It says what is wrong, the
    dates; a feed that is malformed too still says so."""
    serve_one(site, "/a/1.html", PAGE, "2025-13-45T10:00:00Z")
    _poll_and_ingest(site, db, settings)
    source = db.scalars(select(Source).where(Source.url == f"{site.base}/une.xml")).one()
    assert source.last_error == (
        "bad entry dates, 1 entries read: 1 entry date(s) naming no real day or time, taken as"
        " absent: '2025-13-45T10:00:00Z' (there is no month 13)"
    )
    assert source.last_error_class == "warning"
    site.add(
        "/une.xml",
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Une</title>"
        f"<item><title>Sommet</title><link>{site.base}/a/1.html</link>"
        "<pubDate>2025-13-45T10:00:00Z</pubDate></item><item><title>Coup",
        content_type="application/rss+xml",
    )
    with make_client(settings) as client:
        out = poll_source(client, settings, SourceState(source.id, source.name, "feed", source.url))
    assert (out.warning or "").startswith("malformed feed, 1 entries read: "), out.warning
    assert out.warning is not None and out.warning.endswith("'2025-13-45T10:00:00Z' (there is no month 13)")
