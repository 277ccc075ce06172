# ruff: noqa: E501
"""Dates and time zones: a date without a zone is on the local clock (VEILLE_LOCAL_TIMEZONE,
Europe/Paris), an article's day is its instant on that clock at ingest, rescore and in listings
alike (whatever the database session's TimeZone), a sitemap's lastmod is no publication date."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from flows.cli import main
from flows.commands.common import date_arg, on_local_clock_dates
from monitors.collect.feeds import parse_feed
from monitors.collect.http import Client
from monitors.collect.poll import SourceState, poll_source
from monitors.collect.sitemaps import parse_date as sitemap_date
from monitors.dates import article_day, local_zone
from monitors.ingest import analyse_content
from monitors.judge.days import parse_published
from monitors.judge.extract import extract_article
from monitors.judge.page_dates import parse_date
from monitors.judge.rescore import rescore
from monitors.judge.topic import DEFAULT_TOPIC_PATH, load_topic
from monitors.records import QueueItem
from monitors.settings import Settings, SettingsError, get_settings
from tests.site import LocalSite

NOW = datetime(2025, 8, 1, tzinfo=UTC)
BODY = "".join(
    f"<p>Paragraphe {i} : le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais"
    " les 10 et 11 février. Emmanuel Macron y reçoit une centaine de pays pour parler d'IA.</p>"
    for i in range(4)
)


def _page(head: str) -> bytes:
    return (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8">{head}</head><body>'
        f"<main><article><h1>Le sommet de l'IA s'ouvre à Paris</h1>{BODY}</article></main></body></html>"
    ).encode()


def _ld(published: str) -> str:
    body = {
        "@type": "NewsArticle",
        "headline": "Le sommet de l'IA s'ouvre à Paris",
        "datePublished": published,
    }
    return f'<script type="application/ld+json">{json.dumps(body)}</script>'


# ---------------------------------------------------------------- a date without a zone


@pytest.mark.parametrize(
    ("raw", "instant"),
    [
        ("2025-02-10 14:30", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),  # winter: +01:00
        ("2025-07-10T14:30:00", datetime(2025, 7, 10, 12, 30, tzinfo=UTC)),  # summer: +02:00
        ("Mon, 10 Feb 2025 14:30:00", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
        # what names its zone stays as it was
        ("2025-02-10T14:30:00Z", datetime(2025, 2, 10, 14, 30, tzinfo=UTC)),
        ("2025-02-10T14:30:00+05:00", datetime(2025, 2, 10, 9, 30, tzinfo=UTC)),
        ("Mon, 10 Feb 2025 14:30:00 GMT", datetime(2025, 2, 10, 14, 30, tzinfo=UTC)),
        ("Mon, 10 Feb 2025 14:30:00 -0000", datetime(2025, 2, 10, 14, 30, tzinfo=UTC)),
    ],
)
def test_a_page_date_without_a_zone_is_on_the_local_clock(raw: str, instant: datetime) -> None:
    parsed = parse_date(raw)
    assert parsed is not None and parsed[0] == instant and parsed[1] == 3
    art = extract_article(_page(_ld(raw)), "https://www.exemple-journal.fr/sommet", now=NOW)
    assert art.published_at == instant


def test_the_local_clock_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "America/Montreal")
    parsed = parse_date("2025-02-10 14:30")
    assert parsed is not None and parsed[0] == datetime(2025, 2, 10, 19, 30, tzinfo=UTC)
    # a day alone keeps its day on any clock: it is that day's local midnight
    day = parse_date("2025-02-10")
    assert day is not None and day[1] == 2 and article_day(day[0]) == date(2025, 2, 10)
    assert day[0] == datetime(2025, 2, 10, 5, tzinfo=UTC)
    art = extract_article(_page(_ld("2025-02-10")), "https://www.exemple-journal.fr/sommet", now=NOW)
    assert article_day(art.published_at) == date(2025, 2, 10)
    # and the phrase "publié le ... à 23h30" is read on it too
    phrase = _page("").replace(b"<h1>", "<p>Publié le 10 février 2025 à 23h30</p><h1>".encode())
    art = extract_article(phrase, "https://www.exemple-journal.fr/sommet", now=NOW)
    assert art.published_at == datetime(2025, 2, 11, 4, 30, tzinfo=UTC)
    assert get_settings().local_timezone == "America/Montreal"


def test_an_unknown_time_zone_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "Europe/Lutece")
    with pytest.raises(SettingsError, match="VEILLE_LOCAL_TIMEZONE must name an IANA time zone"):
        get_settings()
    with pytest.raises(SettingsError, match="Europe/Lutece"):
        local_zone()


def test_summer_time_changes_are_read_as_zoneinfo_reads_them() -> None:
    # 02:30 on 30 March 2025 does not exist in Paris (and 02:30 on 26 October comes twice): the
    # offset before the change is taken, and the day is never another one
    spring = parse_date("2025-03-30T02:30:00")
    autumn = parse_date("2025-10-26T02:30:00")
    # (astimezone: Python's == between zones is False for a time in a gap or a fold, PEP 495)
    assert spring is not None and spring[0].astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert autumn is not None and autumn[0].astimezone(UTC) == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert article_day(datetime(2025, 3, 29, 23, 30, tzinfo=UTC)) == date(2025, 3, 30)  # 00:30 +01:00
    assert article_day(datetime(2025, 3, 30, 22, 30, tzinfo=UTC)) == date(2025, 3, 31)  # 00:30 +02:00
    assert article_day(datetime(9999, 12, 31, 23, 30, tzinfo=UTC)) == date(9999, 12, 31)  # no overflow


def _rss(when: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Fil</title>"
        f"<item><title>T</title><link>https://exemple-journal.fr/a</link><pubDate>{when}</pubDate>"
        "</item></channel></rss>"
    ).encode()


def _atom(when: str) -> bytes:
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'><title>Fil</title>"
        "<entry><title>T</title><link href='https://exemple-journal.fr/a'/><id>urn:a</id>"
        f"<published>{when}</published></entry></feed>"
    ).encode()


def _json_feed(when: str) -> bytes:
    items = [{"id": "a", "url": "https://exemple-journal.fr/a", "date_published": when}]
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "Fil", "items": items}
    ).encode()


@pytest.mark.parametrize(
    ("kind", "body", "ctype"),
    [
        ("rss fast", _rss("Mon, 10 Feb 2025 14:30:00"), "application/rss+xml"),
        ("rss feedparser", _rss("Mon, 10 Feb 2025 14:30:00"), "application/rss+xml"),
        ("rss iso", _rss("2025-02-10T14:30:00"), "application/rss+xml"),
        ("atom", _atom("2025-02-10T14:30:00"), "application/atom+xml"),
        ("json feed", _json_feed("2025-02-10T14:30:00"), "application/feed+json"),
    ],
)
def test_a_feed_date_without_a_zone_is_on_the_local_clock(kind: str, body: bytes, ctype: str) -> None:
    feed = parse_feed(body, "https://exemple-journal.fr/feed", ctype, fast=kind != "rss feedparser")
    assert feed.entries[0].published_at == datetime(2025, 2, 10, 13, 30, tzinfo=UTC)


def test_a_feed_day_without_a_time_keeps_its_day_on_the_local_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "America/Montreal")
    for body in (_rss("Mon, 10 Feb 2025"), _atom("2025-02-10")):
        when = parse_feed(body, "https://exemple-journal.fr/feed").entries[0].published_at
        assert article_day(when) == date(2025, 2, 10)


def test_a_listing_date_without_a_zone_is_on_the_local_clock(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    listing = (
        "<html><body><main><article><a href='/actualites/le-sommet-de-l-ia-s-ouvre-a-paris'>"
        "Le sommet de l'IA s'ouvre à Paris</a><time datetime='2025-02-10T09:00'>10 février</time>"
        "</article></main></body></html>"
    )
    site.add("/actualites", listing)
    out = poll_source(client, settings, SourceState(1, "t", "listing", f"{site.base}/actualites"))
    assert [e.published_at for e in out.entries] == [datetime(2025, 2, 10, 8, tzinfo=UTC)]


def test_a_sitemap_date_without_a_zone_is_on_the_local_clock() -> None:
    assert sitemap_date("2025-02-10T14:30:00") == datetime(2025, 2, 10, 13, 30, tzinfo=UTC)
    assert sitemap_date("2025-02-10T14:30:00Z") == datetime(2025, 2, 10, 14, 30, tzinfo=UTC)
    assert article_day(sitemap_date("2025-02-10")) == date(2025, 2, 10)


# ---------------------------------------------------------------- lastmod is no publication


def test_a_sitemap_lastmod_is_not_the_publication_date(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    fresh = (datetime.now(UTC) - timedelta(hours=3)).replace(microsecond=0)
    body = (
        "<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
        " xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>"
        f"<url><loc>{site.base}/p/modifie.html</loc><lastmod>{fresh.isoformat()}</lastmod></url>"
        f"<url><loc>{site.base}/p/depeche.html</loc><lastmod>{fresh.isoformat()}</lastmod>"
        f"<news:news><news:publication_date>{(fresh - timedelta(hours=1)).isoformat()}</news:publication_date>"
        "<news:title>Dépêche</news:title></news:news></url></urlset>"
    )
    site.add("/sitemap.xml", body, content_type="application/xml")
    out = poll_source(client, settings, SourceState(1, "t", "sitemap", f"{site.base}/sitemap.xml"))
    assert out.error is None
    dated = {e.url.rsplit("/", 1)[1]: e.published_at for e in out.entries}
    # the window still reads lastmod (the page changed recently), but the entry is undated: an
    # undated page is not dated by its last change, nor said to be dated by its feed
    assert dated == {"modifie.html": None, "depeche.html": fresh - timedelta(hours=1)}
    item = QueueItem(
        id=1, source_id=1, url=f"{site.base}/p/modifie.html", canonical_url=f"{site.base}/p/modifie.html",
        feed_published_at=dated["modifie.html"],
    )  # fmt: skip
    undated = _page("").replace(b"<h1>", b"<h1 class='titre'>")
    topic = load_topic(DEFAULT_TOPIC_PATH)
    article = analyse_content(item, undated, item.url, "text/html", "text/html", topic)
    assert article.published_at is None
    assert "published_from" not in (article.extraction_evidence or {})


# ---------------------------------------------------------------- the day: ingest = rescore


def _narrow_topic(tmp_path: Path) -> Path:
    """The shipped topic whose period starts on 10 February 2025 (the boundary tested)."""
    raw = DEFAULT_TOPIC_PATH.read_text("utf-8")
    assert 'start = "2023-11-01"' in raw
    path = tmp_path / "boundary.toml"
    path.write_text(raw.replace('start = "2023-11-01"', 'start = "2025-02-10"'), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "published",
    ["2025-02-09T23:30:00Z", "2025-02-10T00:30:00+01:00", "2025-02-09T18:30:00-05:00"],
    ids=["utc", "paris", "new-york"],
)
def test_ingest_and_rescore_give_an_article_the_same_day_whatever_the_session_time_zone(
    clean_db: sa.Engine, database_url: str, tmp_path: Path, published: str
) -> None:
    # 23:30 UTC on 9 February is 00:30 on 10 February in Paris: the first day of the period
    topic = load_topic(_narrow_topic(tmp_path))
    url = "https://www.exemple-journal.fr/politique/ouverture-du-sommet"
    item = QueueItem(id=1, source_id=1, url=url, canonical_url=url)
    article = analyse_content(item, _page(_ld(published)), url, "text/html", "text/html", topic)
    assert article.published_at == datetime(2025, 2, 9, 23, 30, tzinfo=UTC)
    assert article.relevance_evidence["period"]["published_at"] == "2025-02-10"
    assert article.relevant
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner) VALUES ('tz', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, description, text, text_hash,"
                " published_at, relevance, relevant, relevance_evidence, topic_version)"
                " VALUES (:u, :u, :s, :t, :d, :x, 'h', :p, :r, :rel, CAST(:e AS jsonb), :v)"
            ),
            {
                "u": url,
                "s": source,
                "t": article.title,
                "d": article.description,
                "x": article.text,
                "p": article.published_at,
                "r": article.relevance,
                "rel": article.relevant,
                "e": json.dumps(article.relevance_evidence),
                "v": topic.version,
            },
        )
    for zone in ("UTC", "Europe/Paris", "Pacific/Auckland", "America/Los_Angeles"):
        engine = sa.create_engine(database_url, connect_args={"options": f"-c timezone={zone}"})
        try:
            report = rescore(engine, topic, all_articles=True)
            with engine.connect() as conn:
                relevance, relevant, day = conn.execute(
                    sa.text(
                        "SELECT relevance, relevant, relevance_evidence#>>'{period,published_at}' FROM articles"
                    )
                ).one()
        finally:
            engine.dispose()
        assert report.rescored == 1 and report.changed_side == 0, zone
        assert (relevance, relevant, day) == (article.relevance, article.relevant, "2025-02-10"), zone


def test_a_scored_timestamp_takes_its_day_on_the_local_clock() -> None:
    # `veille score` and the eval read a timestamp's day as ingest does
    assert parse_published("2025-02-09T23:30:00Z") == date(2025, 2, 10)
    assert parse_published("2025-02-10T00:30:00+01:00") == date(2025, 2, 10)
    assert parse_published("2025-02-10T23:30:00") == date(2025, 2, 10)
    assert parse_published("2025-02-10") == date(2025, 2, 10)
    assert parse_published("9999-12-31T23:00:00-05:00") == date(9999, 12, 31)  # no overflow


# ---------------------------------------------------------------- --since / --until


def _on_local_clock(value: str) -> datetime:
    """``value`` as a command reads it: :func:`date_arg`, then :func:`on_local_clock_dates`
    once the database is open (here, none: the environment's clock, Europe/Paris)."""
    args = argparse.Namespace(since=date_arg(value))
    on_local_clock_dates(args)
    when: datetime = args.since
    return when


def test_a_command_line_date_is_on_the_local_clock() -> None:
    assert date_arg("2025-02-10") == datetime(2025, 2, 10)  # as given, until the database is open
    assert _on_local_clock("2025-02-10") == datetime(2025, 2, 9, 23, tzinfo=UTC)
    assert _on_local_clock("2025-07-10T08:00") == datetime(2025, 7, 10, 6, tzinfo=UTC)
    assert _on_local_clock("2025-02-10T00:00+00:00") == datetime(2025, 2, 10, tzinfo=UTC)
    # the first day of year 1 on a clock east of UTC is before the first UTC instant: held to it
    assert _on_local_clock("0001-01-01") == datetime.min.replace(tzinfo=UTC)
    assert _on_local_clock("9999-12-31").astimezone(UTC) == datetime(9999, 12, 30, 23, tzinfo=UTC)


# ---------------------------------------------------------------- listings


def test_stories_and_search_show_days_and_times_on_the_local_clock(
    clean_db: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    at = datetime(2025, 2, 9, 23, 30, tzinfo=UTC)  # 00:30 on 10 February in Paris
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner) VALUES ('Le Fil', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        story = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media, source_ids)"
                " VALUES (:at, :at, 'Ouverture du sommet', 'fr', 1, 1, 1, ARRAY[:s]::bigint[]) RETURNING id"
            ),
            {"at": at, "s": source},
        )
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, published_at, story_id)"
                " VALUES ('http://x/a', 'http://x/a', :s, 'Ouverture', 'Texte', 'h', :at, :st)"
            ),
            {"s": source, "at": at, "st": story},
        )
    capsys.readouterr()
    assert main(["stories"]) == 0
    out = capsys.readouterr().out
    assert "   2025-02-10; 1 article, 1 outlet" in out and "first: Le Fil (2025-02-10 00:30)" in out, out
    assert main(["search", "ouverture"]) == 0
    out = capsys.readouterr().out
    assert "Le Fil (media), 2025-02-10, rank" in out, out


# ---------------------------------------------------------------- the SQL views

#: every view's day column (daily_* by owner and family read relevant_sightings' day)
VIEW_DAYS = [
    ("articles_with_source", "day"),
    ("relevant_sightings", "day"),
    ("daily_relevant_by_source", "day"),
    ("daily_relevant_by_owner", "day"),
    ("daily_relevant_by_family", "day"),
    ("stories_by_day", "day"),
    ("story_outlets", "first_day"),
    ("article_topics_with_source", "day"),
    ("topic_relevant_sightings", "day"),
    ("daily_topic_relevant_by_source", "day"),
    ("daily_topic_relevant_by_owner", "day"),
    ("daily_topic_relevant_by_family", "day"),
    ("wire_copies", "dispatch_day"),
]


#: docs/operating.md's query of days on the local clock
OWN_DAYS = (
    (Path(__file__).resolve().parent.parent / "docs" / "operating.md")
    .read_text(encoding="utf-8")
    .split("In your own queries", 1)[1]
    .split("```sql\n", 1)[1]
    .split("```", 1)[0]
)


def test_the_views_count_days_on_the_configured_clock(
    clean_db: sa.Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock_restored: None,
) -> None:
    """Every view's day is the article's day as Python gives it (monitors.dates), on the clock
    of VEILLE_LOCAL_TIMEZONE, read from a plain session as psql's (no veille setting in it);
    another setting moves the views' days at the next command. Before, the views were on
    Europe/Paris's clock whatever the setting: 10 February for an article of 9 February
    in Montreal."""
    from monitors.archive.schema import migrate

    at = datetime(2025, 2, 10, 3, tzinfo=UTC)  # 04:00 on the 10th in Paris, 22:00 on the 9th in Montreal
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner, family) VALUES ('Le Fil', 'feed', 'http://x/f',"
                " 'media', 'centre') RETURNING id"
            )
        )
        story = conn.scalar(
            sa.text(
                "INSERT INTO stories (first_seen, last_seen, title) VALUES (:at, :at, 'Ouverture') RETURNING id"
            ),
            {"at": at},
        )
        article = conn.scalar(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, published_at,"
                " relevant, story_id, wire) VALUES ('http://x/a', 'http://x/a', :s, 'Ouverture', 'Texte', 'h',"
                " :at, true, :st, 'AFP') RETURNING id"
            ),
            {"s": source, "at": at, "st": story},
        )
        conn.execute(
            sa.text("INSERT INTO sightings (article_id, source_id, url) VALUES (:a, :s, 'http://x/a')"),
            {"a": article, "s": source},
        )
        conn.execute(
            sa.text(
                "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
                " VALUES (:a, 'ai_summit', '1', 0.9, true)"
            ),
            {"a": article},
        )
    for zone, day in (("America/Montreal", date(2025, 2, 9)), ("Europe/Paris", date(2025, 2, 10))):
        monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", zone)
        assert article_day(at) == day
        migrate(database_url)  # what every command and flow does first
        plain = sa.create_engine(database_url)
        try:
            with plain.connect() as conn:
                days = {
                    view: conn.scalars(sa.text(f"SELECT {col} FROM {view}")).all() for view, col in VIEW_DAYS
                }
                recorded = conn.scalar(sa.text("SELECT veille_local_timezone()"))
                documented = conn.execute(sa.text(OWN_DAYS)).all()
        finally:
            plain.dispose()
        assert days == {view: [day] for view, _ in VIEW_DAYS}, zone
        assert recorded == zone
        assert documented == [(day, 1)]  # docs/operating.md's query of days
        # `veille stats`, a command reading the views, says the same day as veille search
        capsys.readouterr()
        assert main(["stats", "--json"]) == 0
        totals = json.loads(capsys.readouterr().out)["totals"][0]
        assert totals["first_relevant_day"] == totals["last_relevant_day"] == day.isoformat(), zone


def test_a_user_who_may_not_write_the_clock_is_told_which_clocks_differ(
    clean_db: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, clock_restored: None
) -> None:
    """A read-only user with the database's clock uses it as before; with another one, one
    line naming both clocks (and nothing silently counted on two clocks)."""
    import uuid

    from sqlalchemy.engine import make_url

    from monitors.archive.db import SchemaError
    from monitors.archive.schema import record_local_timezone

    role = f"veille_reader_{uuid.uuid4().hex[:8]}"
    with clean_db.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
    reader = make_url(database_url).set(username=role).render_as_string(hide_password=False)
    try:
        record_local_timezone(reader)  # Europe/Paris, as recorded: nothing to write
        monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "Asia/Tokyo")
        with pytest.raises(
            SchemaError, match="on Europe/Paris's clock and VEILLE_LOCAL_TIMEZONE is Asia/Tokyo"
        ):
            record_local_timezone(reader)
    finally:
        from monitors.archive.db import get_engine

        get_engine(reader).dispose()
        with clean_db.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))


def test_a_reader_granted_before_the_clock_table_still_reads_the_views(
    new_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only role granted the archive's tables before migration 0025 (`GRANT SELECT ON ALL
    TABLES`, which covers the tables of that moment) read every view until then; after it, each
    view with a day said "permission denied for table veille_settings" (veille_local_timezone()
    reads it with the reader's rights). It reads them on, and a command it runs with another
    clock is told which clocks differ instead of going on silently; on a database without the
    row (the default clock) with the default setting, it was told that Europe/Paris differed
    from Europe/Paris."""
    import uuid

    from alembic import command
    from sqlalchemy.engine import make_url

    from monitors.archive.db import SchemaError, get_engine
    from monitors.archive.schema import alembic_config, migrate, record_local_timezone

    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "Europe/Paris")
    command.upgrade(alembic_config(new_database), "0024_sitemap_children_index")
    role = f"veille_reader_{uuid.uuid4().hex[:8]}"
    owner = sa.create_engine(new_database)
    try:
        with owner.begin() as conn:
            source = conn.scalar(
                sa.text(
                    "INSERT INTO sources (name, kind, url, owner) VALUES ('Le Fil', 'feed', 'http://x/f',"
                    " 'media') RETURNING id"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, published_at,"
                    " relevant) VALUES ('http://x/a', 'http://x/a', :s, 'Ouverture', 'Texte', 'h', :at, true)"
                ),
                {"s": source, "at": datetime(2025, 2, 10, 3, tzinfo=UTC)},
            )
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        migrate(new_database)
        reader = make_url(new_database).set(username=role).render_as_string(hide_password=False)
        plain = sa.create_engine(reader)
        try:
            with plain.connect() as conn:
                assert conn.scalars(sa.text("SELECT day FROM articles_with_source")).all() == [
                    date(2025, 2, 10)
                ]
        finally:
            plain.dispose()
        monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "America/Montreal")
        with pytest.raises(
            SchemaError, match="on Europe/Paris's clock and VEILLE_LOCAL_TIMEZONE is America/Montreal"
        ):
            record_local_timezone(reader)
        # a database without the row (a schema-only pg_dump, a row deleted) is on the default
        # clock, as veille_local_timezone() says: nothing to write, no error for that clock
        with owner.begin() as conn:
            conn.execute(sa.text("DELETE FROM veille_settings"))
        monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "Europe/Paris")
        record_local_timezone(reader)
    finally:
        for url in (new_database, make_url(new_database).set(username=role).render_as_string(False)):
            get_engine(url).dispose()
        with owner.begin() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {role}"))
        owner.dispose()


@pytest.mark.usefixtures("prefect_harness")
def test_a_backfill_until_now_ends_on_the_local_day(
    site: LocalSite,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock_restored: None,
) -> None:
    """`veille backfill --since D` without --until runs until now, and says so with the local
    day, as --since is typed; it wrote now's UTC day (the day before in Kiribati, the day after
    in American Samoa, for most of a day)."""
    import contextlib
    import io

    from tests.site import write_sources

    now = datetime.now(UTC)
    # a clock whose day is not UTC's now: UTC+14 from 10:00 UTC, UTC-11 before 11:00 UTC
    zone = "Pacific/Kiritimati" if now.hour >= 10 else "Pacific/Pago_Pago"
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", zone)
    today = now.astimezone(ZoneInfo(zone)).date()
    assert today != now.date()
    gone = [{"name": "Disparu", "kind": "feed", "url": f"{site.base}/gone.xml", "owner": "media"}]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main(
            ["backfill", "--since", "2025-01-01", "--sources", str(write_sources(tmp_path / "s.toml", gone))]
        )
    assert f"backfill 2025-01-01 .. {today}: 1 source read" in out.getvalue(), out.getvalue() + err.getvalue()
