# ruff: noqa: E501
"""The three source kinds against local fixtures: feed (RSS 2.0, RDF, Atom, bozo), sitemap
(index, gzip, Google News with the date window), listing (with and without link_pattern)."""

from __future__ import annotations

import dataclasses
import gzip
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from monitors.collect.http import Client
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed

NOW = datetime.now(UTC)


def poll(
    client: Client, settings: Settings, kind: str, url: str, link_pattern: str | None = None
) -> PollOutcome:
    return poll_source(client, settings, SourceState(1, "t", kind, url, link_pattern=link_pattern))


# --- feeds ------------------------------------------------------------------------------


def test_rss2_feed(site: LocalSite, client: Client, settings: Settings) -> None:
    items = [("Sommet de l’IA : « accélérer »", "a/un.html", NOW), ("Deuxième", "a/deux.html", NOW)]
    site.add("/rss.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    out = poll(client, settings, "feed", f"{site.base}/rss.xml")
    assert out.error is None and out.warning is None
    assert [e.url for e in out.entries] == [f"{site.base}/a/un.html", f"{site.base}/a/deux.html"]
    assert out.entries[0].title == "Sommet de l’IA : « accélérer »"
    assert out.entries[0].published_at is not None


RDF = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="{base}/"><title>Fil RDF</title><link>{base}/</link><description>d</description>
  <items><rdf:Seq><rdf:li rdf:resource="{base}/rdf/1.html"/><rdf:li rdf:resource="{base}/rdf/2.html"/>
  </rdf:Seq></items></channel>
 <item rdf:about="{base}/rdf/1.html"><title>Premier élément</title><link>{base}/rdf/1.html</link>
  <dc:date>2025-02-10T10:00:00+01:00</dc:date></item>
 <item rdf:about="{base}/rdf/2.html"><title>Second</title><link>{base}/rdf/2.html</link></item>
</rdf:RDF>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Fil Atom</title><id>urn:x</id>
 <updated>2025-02-10T10:00:00Z</updated>
 <entry><title>Entrée Atom</title><id>urn:1</id><link rel="alternate" href="/atom/1.html"/>
  <published>2025-02-10T09:00:00Z</published><updated>2025-02-10T09:00:00Z</updated>
  <author><name>Camille Dupont</name></author></entry>
 <entry><title>Sans lien</title><id>urn:2</id><updated>2025-02-10T09:00:00Z</updated></entry>
</feed>"""


def test_rss1_rdf_feed(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/rdf.xml", RDF.format(base=site.base), content_type="application/rdf+xml")
    out = poll(client, settings, "feed", f"{site.base}/rdf.xml")
    assert out.error is None
    assert [e.url for e in out.entries] == [f"{site.base}/rdf/1.html", f"{site.base}/rdf/2.html"]
    assert out.entries[0].title == "Premier élément"
    assert out.entries[0].published_at == datetime(2025, 2, 10, 9, 0, tzinfo=UTC)


def test_atom_feed_resolves_relative_links(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/atom.xml", ATOM, content_type="application/atom+xml")
    out = poll(client, settings, "feed", f"{site.base}/atom.xml")
    assert out.error is None
    assert [e.url for e in out.entries] == [f"{site.base}/atom/1.html"]  # the entry without link is dropped
    assert out.entries[0].author == "Camille Dupont"


def test_bozo_feed_yields_partial_entries_and_the_reason(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    items = [(f"Article {i}", f"b/{i}.html", NOW) for i in range(3)]
    body = rss_feed(site.base, items)
    truncated = body[: body.index("<item>", body.index("b/1.html"))] + "<item><title>Coupé"
    site.add("/bozo.xml", truncated, content_type="application/rss+xml")
    out = poll(client, settings, "feed", f"{site.base}/bozo.xml")
    assert out.error is None
    assert [e.url for e in out.entries] == [f"{site.base}/b/0.html", f"{site.base}/b/1.html"]
    assert out.warning is not None and out.warning.startswith("malformed feed, 2 entries read:")


def test_feed_declared_update_period(site: LocalSite, client: Client, settings: Settings) -> None:
    rss = rss_feed(site.base, [("x", "x.html", NOW)])
    site.add("/ttl.xml", rss.replace("<language>", "<ttl>120</ttl><language>"))
    sy = rss.replace(
        "<rss version='2.0'>", "<rss version='2.0' xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'>"
    )
    sy = sy.replace(
        "<language>",
        "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency><language>",
    )
    site.add("/sy.xml", sy)
    assert poll(client, settings, "feed", f"{site.base}/ttl.xml").declared_interval == 7200
    assert poll(client, settings, "feed", f"{site.base}/sy.xml").declared_interval == 43200


# --- sitemaps -----------------------------------------------------------------------------


def _rows(tag: str, base: str, items: list[tuple[str, datetime | None]]) -> str:
    return "".join(
        f"<{tag}><loc>{base}{path}</loc>"
        + (f"<lastmod>{when.isoformat()}</lastmod>" if when else "")
        + f"</{tag}>"
        for path, when in items
    )


def _urlset(base: str, urls: list[tuple[str, datetime | None]]) -> str:
    rows = _rows("url", f"{base}/", urls)
    return f"<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{rows}</urlset>"


def test_sitemap_index_with_gzipped_child_and_window(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    recent, old = NOW - timedelta(days=1), NOW - timedelta(days=40)
    index = (
        "<?xml version='1.0' encoding='UTF-8'?><sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        f"<sitemap><loc>{site.base}/sm/posts.xml.gz</loc><lastmod>{recent.isoformat()}</lastmod></sitemap>"
        f"<sitemap><loc>{site.base}/sm/pages.xml</loc></sitemap>"
        f"<sitemap><loc>{site.base}/sm/2019.xml</loc><lastmod>{old.isoformat()}</lastmod></sitemap>"
        "</sitemapindex>"
    )
    site.add("/sitemap.xml", index, content_type="application/xml")
    posts = _urlset(
        site.base, [("p/nouveau.html", recent), ("p/ancien.html", old), ("p/sans-date.html", None)]
    )
    site.add("/sm/posts.xml.gz", gzip.compress(posts.encode()), content_type="application/x-gzip")
    site.add("/sm/pages.xml", _urlset(site.base, [("p/page-recente.html", NOW - timedelta(days=6))]))
    site.add("/sm/2019.xml", _urlset(site.base, [("p/2019.html", recent)]))
    out = poll(client, settings, "sitemap", f"{site.base}/sitemap.xml")
    assert out.error is None and out.warning is None
    assert sorted(e.url for e in out.entries) == [
        f"{site.base}/p/nouveau.html",
        f"{site.base}/p/page-recente.html",
    ]
    assert out.ignored == 3  # the old URL, the undated one, and the child sitemap dated before the window
    assert site.hits("/sm/2019.xml") == []
    assert [f.url for f in out.extra_fetches] == [f"{site.base}/sm/posts.xml.gz", f"{site.base}/sm/pages.xml"]

    narrow = dataclasses.replace(settings, sitemap_window_days=2)
    out = poll(client, narrow, "sitemap", f"{site.base}/sitemap.xml")
    assert [e.url for e in out.entries] == [f"{site.base}/p/nouveau.html"]


def test_a_sitemap_that_dates_none_of_its_urls_says_so(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A sitemap without <lastmod> (WordPress's wp-sitemap.xml): no URL can be placed in the
    window, so none is taken, ever; the poll (and `veille sources check`) read "ok, 0 entries"
    with no word of why. One dated URL among undated ones is no such warning."""
    site.add("/wp-sitemap.xml", _urlset(site.base, [("p/un.html", None), ("p/deux.html", None)]))
    out = poll(client, settings, "sitemap", f"{site.base}/wp-sitemap.xml")
    assert out.error is None and out.entries == [] and out.ignored == 2
    assert out.warning == (
        "1 sitemap problem(s): no date on any of its 2 URLs (no <lastmod>, no news date): veille takes"
        " a sitemap's URLs by their date (the last VEILLE_SITEMAP_WINDOW_DAYS days, a backfill's"
        " window), so none was taken; follow the site's feed, news sitemap or listing page instead"
    )
    site.add("/mixed.xml", _urlset(site.base, [("p/un.html", None), ("p/trois.html", NOW)]))
    out = poll(client, settings, "sitemap", f"{site.base}/mixed.xml")
    assert out.warning is None and [e.url for e in out.entries] == [f"{site.base}/p/trois.html"]


def test_a_sitemap_s_unreadable_dates_are_a_warning_named_once_with_their_count(
    site: LocalSite, client: Client, settings: Settings, db: Session
) -> None:
    """A <lastmod> that is no date ("garbage", "2025-02-30") left its URL undated, so out of
    the window, and the poll read "ok" with no word of it, while a feed's bad entry dates are a
    warning. Now the poll's warning (sources.last_error, class warning) names each bad date
    once with its count; the URLs stay undated and untaken, the dated one is taken."""
    from monitors.archive.models import Source

    rows = "".join(
        f"<url><loc>{site.base}/p/{n}.html</loc><lastmod>{when}</lastmod></url>"
        for n, when in [(1, "garbage"), (2, "garbage"), (3, "2025-02-30"), (4, NOW.isoformat())]
    )
    site.add(
        "/sitemap.xml",
        f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{rows}<url><loc>{site.base}/p/5.html</loc></url></urlset>",
        content_type="application/xml",
    )
    src = Source(name="dates", kind="sitemap", url=f"{site.base}/sitemap.xml", owner="media")
    db.add(src)
    db.flush()
    out = _poll_and_apply(db, client, settings, src.id)
    assert out.error is None and [e.url for e in out.entries] == [f"{site.base}/p/4.html"]
    assert out.ignored == 4
    warning = (
        "1 sitemap problem(s): 3 URL date(s) naming no real day or time, taken as absent (an undated"
        " URL is not taken): 'garbage' (not a W3C date, YYYY-MM-DD; 2 URLs), '2025-02-30'"
        " (February 2025 has no day 30)"
    )
    assert out.warning == warning
    assert src.last_error == warning and src.last_error_class == "warning"
    # a sitemap none of whose dates can be read says both, not "no <lastmod>"
    site.add(
        "/bad.xml",
        f"<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><url><loc>{site.base}/p/1.html</loc>"
        "<lastmod>garbage</lastmod></url></urlset>",
        content_type="application/xml",
    )
    out = poll(client, settings, "sitemap", f"{site.base}/bad.xml")
    assert out.warning is not None and out.warning.startswith(
        "2 sitemap problem(s): 1 URL date(s) naming no real day or time, taken as absent (an undated"
        " URL is not taken): 'garbage' (not a W3C date, YYYY-MM-DD); no date on any of its 1 URL (no"
        " <lastmod> or news date veille can read): "
    ), out.warning


def test_a_news_date_unreadable_beside_a_readable_lastmod_is_a_warning(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A news:publication_date that is no date ("garbage", "2025-02-30") beside a readable
    <lastmod> was silent: the URL is taken by its lastmod (its last change) and stored with no
    publication date, and nothing said its publication date was unreadable. The poll's warning
    names them as an undated URL's bad dates are; a readable news date, or none, says nothing."""

    def url(n: int, news: str | None) -> str:
        told = f"<news:news><news:publication_date>{news}</news:publication_date></news:news>" if news else ""
        return f"<url><loc>{site.base}/n/{n}.html</loc><lastmod>{NOW.isoformat()}</lastmod>{told}</url>"

    rows = [url(1, "garbage"), url(2, "garbage"), url(3, "2025-02-30"), url(4, NOW.isoformat()), url(5, None)]
    site.add(
        "/news.xml",
        "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
        f" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{''.join(rows)}</urlset>",
        content_type="application/xml",
    )
    out = poll(client, settings, "sitemap", f"{site.base}/news.xml")
    assert out.error is None and len(out.entries) == 5
    assert [e.published_at is not None for e in out.entries] == [False, False, False, True, False]
    assert out.warning == (
        "1 sitemap problem(s): 3 URL news date(s) naming no real day or time, taken as absent (the"
        " URL dated by its <lastmod>, its publication unknown): 'garbage' (not a W3C date,"
        " YYYY-MM-DD; 2 URLs), '2025-02-30' (February 2025 has no day 30)"
    )
    site.add(
        "/good.xml",
        "<urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'"
        f" xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{url(4, NOW.isoformat())}{url(5, None)}</urlset>",
        content_type="application/xml",
    )
    assert poll(client, settings, "sitemap", f"{site.base}/good.xml").warning is None


def test_sitemap_index_cycles_and_repeats_are_read_once(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    def index(*paths: str) -> str:
        rows = "".join(f"<sitemap><loc>{site.base}{p}</loc></sitemap>" for p in paths)
        return f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{rows}</sitemapindex>"

    # an index listing itself 20 times, its child listing it back and itself, a child twice
    site.add(
        "/idx.xml", index(*["/idx.xml"] * 20, "/child.xml", "/child.xml"), content_type="application/xml"
    )
    site.add("/child.xml", index("/idx.xml", "/child.xml", "/leaf.xml"), content_type="application/xml")
    site.add("/leaf.xml", _urlset(site.base, [("p/feuille.html", NOW)]), content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/idx.xml")
    assert out.error is None and [e.url for e in out.entries] == [f"{site.base}/p/feuille.html"]
    assert [len(site.hits(p)) for p in ("/idx.xml", "/child.xml", "/leaf.xml")] == [1, 1, 1]
    assert out.warning == (
        f"2 sitemap problem(s): 21 child sitemap(s) listed again or already read, skipped ({site.base}/idx.xml); "
        f"2 child sitemap(s) listed again or already read, skipped ({site.base}/child.xml)"
    )


NEWS = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>{base}/n/frais.html</loc><news:news><news:publication><news:name>Le Site</news:name>
  <news:language>fr</news:language></news:publication><news:publication_date>{fresh}</news:publication_date>
  <news:title>Sommet de l’IA : la déclaration finale</news:title></news:news></url>
 <url><loc>{base}/n/vieux.html</loc><lastmod>{fresh}</lastmod><news:news><news:publication_date>{stale}</news:publication_date>
  <news:title>Vieille dépêche</news:title></news:news></url>
</urlset>"""


def test_google_news_sitemap_gzipped_uses_the_news_date(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    body = NEWS.format(
        base=site.base,
        fresh=(NOW - timedelta(hours=3)).isoformat(),
        stale=(NOW - timedelta(days=9)).isoformat(),
    )
    site.add("/news.xml.gz", gzip.compress(body.encode()), content_type="application/octet-stream")
    out = poll(client, settings, "sitemap", f"{site.base}/news.xml.gz")
    assert out.error is None
    assert [(e.url, e.title) for e in out.entries] == [
        (f"{site.base}/n/frais.html", "Sommet de l’IA : la déclaration finale")
    ]
    assert out.ignored == 1  # its news date is 9 days old even though lastmod is fresh
    # the news date is the publication, which beats a page date that is a guess
    assert out.entries[0].published_explicit
    wide = dataclasses.replace(settings, sitemap_window_days=30)
    assert len(poll(client, wide, "sitemap", f"{site.base}/news.xml.gz").entries) == 2


def test_a_news_sitemap_dated_a_few_hours_ahead_is_read(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A site printing Paris time as UTC dates its newest URLs an hour or two ahead: they are
    read, as a page's dates within a day ahead are (zones' slack); they were left out, for
    good once the sitemap answered 304. A URL dated years ahead is still left out."""
    paris_as_utc = (NOW + timedelta(hours=1)).replace(tzinfo=None).isoformat() + "Z"
    body = NEWS.format(base=site.base, fresh=paris_as_utc, stale="2999-01-01T00:00:00Z")
    site.add("/news.xml", body, content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/news.xml")
    assert out.error is None and [e.url for e in out.entries] == [f"{site.base}/n/frais.html"]
    assert out.ignored == 1


def test_sitemap_that_is_not_one_is_a_permanent_error(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/sitemap.xml", "<html><body>Pas de plan</body></html>", content_type="text/html")
    out = poll(client, settings, "sitemap", f"{site.base}/sitemap.xml")
    assert out.error_class == "permanent" and out.error is not None and "not a sitemap" in out.error


def test_a_gzipped_sitemap_of_several_members_is_read_whole(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A .xml.gz made of several gzip members (gzip files appended, as ``cat a.gz b.gz`` and
    bgzip write them) is read to its end: only its first member was, the URLs after it lost at
    every poll and the sitemap said "cut short". Its members' total still meets the cap."""
    urls = [f"{site.base}/a/article-numero-{n}.html" for n in range(6)]
    body = (
        "<?xml version='1.0'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>"
        + "".join(f"<url><loc>{u}</loc><lastmod>{NOW.isoformat()}</lastmod></url>" for u in urls)
        + "</urlset>"
    ).encode()
    thirds = [body[: len(body) // 3], body[len(body) // 3 : 2 * len(body) // 3], body[2 * len(body) // 3 :]]
    site.add(
        "/multi.xml.gz", b"".join(map(gzip.compress, thirds)) + b"\0" * 8, content_type="application/x-gzip"
    )
    out = poll(client, settings, "sitemap", f"{site.base}/multi.xml.gz")
    assert out.error is None and out.warning is None, (out.error, out.warning)
    assert [e.url for e in out.entries] == urls
    small = dataclasses.replace(settings, sitemap_max_bytes=len(body) - 1)
    out = poll(client, small, "sitemap", f"{site.base}/multi.xml.gz")
    assert out.error_class == "permanent" and f"{len(body) - 1} byte cap" in (out.error or "")


def test_gzip_bomb_is_refused(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/big.xml.gz", gzip.compress(b" " * 200_000), content_type="application/x-gzip")
    small = dataclasses.replace(settings, sitemap_max_bytes=50_000)
    out = poll(client, small, "sitemap", f"{site.base}/big.xml.gz")
    assert out.error_class == "permanent" and "50000 byte cap" in (out.error or "")


def test_sitemaps_have_their_own_cap_above_a_pages(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """sitemaps.org allows a sitemap 50 MB uncompressed, five times a page's 10 MB cap: a
    sitemap (an index's child too) is held to VEILLE_SITEMAP_MAX_BYTES, not VEILLE_MAX_BYTES."""
    paths: list[tuple[str, datetime | None]] = [(f"p/article-{n:05d}.html", NOW) for n in range(300)]
    body = _urlset(site.base, paths)
    site.add("/big.xml", body, content_type="application/xml")
    index = f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'><sitemap><loc>{site.base}/big.xml</loc></sitemap></sitemapindex>"
    site.add("/index.xml", index, content_type="application/xml")
    pages_cap = dataclasses.replace(settings, max_bytes=len(body) // 4, sitemap_max_bytes=len(body) + 1)
    for url in (f"{site.base}/big.xml", f"{site.base}/index.xml"):
        out = poll(client, pages_cap, "sitemap", url)
        assert out.error is None and out.warning is None, (out.error, out.warning)
        assert len(out.entries) == 300
    tight = dataclasses.replace(settings, sitemap_max_bytes=len(body) // 2)
    out = poll(client, tight, "sitemap", f"{site.base}/big.xml")
    assert out.error_class == "permanent" and out.error == f"body larger than the {len(body) // 2} byte cap"
    out = poll(client, tight, "sitemap", f"{site.base}/index.xml")
    assert out.entries == [] and f"{len(body) // 2} byte cap" in (out.warning or "")


def _index(base: str, children: list[tuple[str, datetime | None]]) -> str:
    rows = _rows("sitemap", base, children)
    return f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{rows}</sitemapindex>"


def test_a_sitemap_poll_makes_at_most_its_budget_of_requests(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """An index of 20 indexes of 20 sitemaps was 421 requests in one poll: VEILLE_SITEMAP_MAX_FETCHES
    (50) requests now, the index included, and the warning says how many children were left."""
    site.add("/sitemap.xml", _index(site.base, [(f"/idx-{i}.xml", NOW) for i in range(20)]), etag='"v1"')
    for i in range(20):
        site.add(f"/idx-{i}.xml", _index(site.base, [(f"/leaf-{i}-{j}.xml", NOW) for j in range(20)]))
        for j in range(20):
            site.add(f"/leaf-{i}-{j}.xml", _urlset(site.base, [(f"p/{i}-{j}.html", NOW)]))
    assert settings.sitemap_max_fetches == 50
    out = poll(client, settings, "sitemap", f"{site.base}/sitemap.xml")
    assert out.error is None
    assert len(site.log) == 50 and 1 + len(out.extra_fetches) == 50
    assert len(out.entries) == 50 - 1 - 20  # the 20 indexes first, then 29 of their sitemaps
    assert out.warning is not None and out.warning.startswith(
        "1 sitemap problem(s): stopped after 50 requests (VEILLE_SITEMAP_MAX_FETCHES), "
        f"{400 - 29} child sitemap(s) left for the next poll"
    )
    assert out.fetch.etag is None  # the next poll reads the index again, not a 304


def _poll_and_apply(db: Session, client: Client, settings: Settings, source_id: int) -> PollOutcome:
    """Poll the source now and record the poll (its fetch_log rows, its schedule)."""
    from monitors.archive.polls import apply_poll, due_sources

    (state,) = due_sources(db, [source_id], force=True)
    out = poll_source(client, settings, state)
    apply_poll(db, out, settings=settings)
    db.flush()
    return out


def test_a_sitemap_poll_cut_short_goes_on_at_the_next_poll(
    site: LocalSite, client: Client, settings: Settings, db: Session
) -> None:
    """The next poll skips the children read since they last changed and reads those left."""
    from monitors.archive.models import Source

    children: list[tuple[str, datetime | None]] = [
        (f"/day-{i}.xml", NOW - timedelta(hours=i + 1)) for i in range(8)
    ]
    site.add("/sitemap.xml", _index(site.base, children), etag='"v1"', content_type="application/xml")
    for i in range(8):
        site.add(f"/day-{i}.xml", _urlset(site.base, [(f"p/{i}.html", NOW)]), content_type="application/xml")
    src = Source(name="budget", kind="sitemap", url=f"{site.base}/sitemap.xml", owner="media")
    db.add(src)
    db.flush()
    five = dataclasses.replace(settings, sitemap_max_fetches=5)

    def poll_due() -> PollOutcome:
        return _poll_and_apply(db, client, five, src.id)

    first = poll_due()
    assert sorted(e.url for e in first.entries) == [f"{site.base}/p/{i}.html" for i in range(4)]
    assert "4 child sitemap(s) left for the next poll" in (first.warning or "")
    assert src.etag is None and src.last_error_class == "warning"
    second = poll_due()
    assert site.hits("/sitemap.xml")[-1]["if_none_match"] is None
    assert sorted(e.url for e in second.entries) == [f"{site.base}/p/{i}.html" for i in range(4, 8)]
    assert second.warning is None and src.etag == '"v1"'
    assert [len(site.hits(path)) for path, _ in children] == [1] * 8
    third = poll_due()  # all read, nothing changed: one conditional request
    assert third.not_modified and len(site.hits("/sitemap.xml")) == 3


LIE = "Content-Encoding: gzip on a body that is not gzip (it starts with '<'): read as sent"


@pytest.mark.parametrize("kind", ["feed", "sitemap"])
def test_a_header_the_body_contradicts_is_in_the_fetch_log(
    site: LocalSite, client: Client, settings: Settings, db: Session, kind: str
) -> None:
    """A feed or a sitemap (an index and one of its children) sent with ``Content-Encoding:
    gzip`` on a plain body is read as sent; that was kept for an article only
    (``extraction_evidence.transport``), nowhere for a feed or a sitemap. Their ``fetch_log``
    rows now say it (``transport``), NULL for a child sent right, and the source stays healthy."""
    from sqlalchemy import select

    from monitors.archive.models import FetchLog, Source

    lie = {"Content-Encoding": "gzip"}
    if kind == "feed":
        site.add(
            "/src.xml",
            rss_feed(site.base, [("Un", "p/1.html", NOW)]),
            content_type="application/rss+xml",
            headers=lie,
        )
        expected: dict[tuple[str, str], str | None] = {("feed", "src.xml"): LIE}
    else:
        children: list[tuple[str, datetime | None]] = [("/lie.xml", NOW), ("/right.xml", NOW)]
        site.add("/src.xml", _index(site.base, children), content_type="application/xml", headers=lie)
        site.add(
            "/lie.xml", _urlset(site.base, [("p/1.html", NOW)]), content_type="application/xml", headers=lie
        )
        right = gzip.compress(_urlset(site.base, [("p/2.html", NOW)]).encode())
        site.add("/right.xml", right, content_type="application/xml", headers={"Content-Encoding": "gzip"})
        expected = {
            ("sitemap", "src.xml"): LIE,
            ("sitemap-child", "lie.xml"): LIE,
            ("sitemap-child", "right.xml"): None,
        }
    src = Source(name=f"lying {kind}", kind=kind, url=f"{site.base}/src.xml", owner="media")
    db.add(src)
    db.flush()
    out = _poll_and_apply(db, client, settings, src.id)
    assert out.error is None and out.entries, out.error
    rows = db.execute(
        select(FetchLog.kind, FetchLog.url, FetchLog.outcome, FetchLog.transport).where(
            FetchLog.source_id == src.id
        )
    ).all()
    assert {(k, url.rsplit("/", 1)[1]): transport for k, url, _, transport in rows} == expected
    assert {outcome for _, _, outcome, _ in rows} == {"ok"}
    assert src.last_error is None


def test_a_child_sitemap_that_could_not_be_read_is_logged_with_its_reason_and_read_again(
    site: LocalSite, client: Client, settings: Settings, db: Session
) -> None:
    """A child sitemap fetched whole but not a sitemap (a maintenance page) was logged in
    fetch_log as ``ok`` with no reason (its cause only in the source's warning, three at most),
    and so counted as read: the next poll skipped it until it changed, its URLs lost. Its row
    now says ``error`` with the cause, and the next poll reads it again."""
    from sqlalchemy import select

    from monitors.archive.models import FetchLog, Source

    children: list[tuple[str, datetime | None]] = [
        (f"/{name}.xml", NOW - timedelta(hours=3)) for name in ("good", "html")
    ]
    site.add("/sitemap.xml", _index(site.base, children), content_type="application/xml")
    site.add("/good.xml", _urlset(site.base, [("p/1.html", NOW)]), content_type="application/xml")
    site.add("/html.xml", "<html><body>Maintenance</body></html>", content_type="application/xml")
    src = Source(name="children", kind="sitemap", url=f"{site.base}/sitemap.xml", owner="media")
    db.add(src)
    db.flush()

    def poll_due() -> PollOutcome:
        return _poll_and_apply(db, client, settings, src.id)

    first = poll_due()
    assert [e.url for e in first.entries] == [f"{site.base}/p/1.html"]
    rows = db.execute(
        select(FetchLog.url, FetchLog.outcome, FetchLog.error_class, FetchLog.reason).where(
            FetchLog.kind == "sitemap-child"
        )
    ).all()
    logged = {url.rsplit("/", 1)[1]: (outcome, cls, reason or "") for url, outcome, cls, reason in rows}
    assert logged["good.xml"] == ("ok", None, "")
    assert logged["html.xml"][:2] == ("error", "permanent")
    assert logged["html.xml"][2].startswith("not a sitemap: root element is 'html'"), logged
    poll_due()
    assert [len(site.hits(f"/{n}.xml")) for n in ("good", "html")] == [1, 2]


def test_a_sitemap_whose_body_ends_inside_it_keeps_the_whole_entries_and_is_read_again(
    site: LocalSite, client: Client, settings: Settings, db: Session
) -> None:
    """A sitemap whose body stops before its ``</urlset>`` (a generator that died mid-way; whole
    HTTP framing) was read by the recovering parser as if whole: the entry it ended in came back
    with its address cut (``/p/2.ht``) or its lastmod cut to a month, and nothing said the rest
    was missing. The cut entry is dropped, the others kept, and the cause is said: a warning for
    the source's sitemap (its validators not kept: the next poll asks it whole), a transient error
    for an empty one, and for a child its fetch_log row (``error``, transient), which the next
    poll reads again."""
    from sqlalchemy import select

    from monitors.archive.models import FetchLog, Source
    from monitors.collect.sitemaps import parse_sitemap

    whole = _urlset(site.base, [("p/1.html", NOW), ("p/2.html", NOW)])
    cut = whole[: whole.index("p/2.html") + len("p/2.ht")]
    assert [u.url for u in parse_sitemap(cut.encode()).urls] == [f"{site.base}/p/1.html"]
    cut_date = whole[: whole.rindex("<lastmod>") + len("<lastmod>2025-02")]  # a day read as a month
    assert [u.url for u in parse_sitemap(cut_date.encode()).urls] == [f"{site.base}/p/1.html"]
    site.add("/cut.xml", cut, content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/cut.xml")
    assert out.error is None and [e.url for e in out.entries] == [f"{site.base}/p/1.html"]
    reason = (
        "sitemap cut short: it ends before its closing </urlset>, inside an entry (dropped: its"
        " address may be cut); 1 read"
    )
    assert out.warning == f"1 sitemap problem(s): {reason} ({site.base}/cut.xml)"
    site.add("/empty.xml", whole[: whole.index("<url>")], content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/empty.xml")
    assert out.entries == [] and out.error_class == "transient"
    assert out.error == "sitemap cut short: it ends before its closing </urlset>; 0 read"

    site.add("/sitemap.xml", _index(site.base, [("/cut.xml", NOW - timedelta(hours=3))]))
    src = Source(name="cut child", kind="sitemap", url=f"{site.base}/sitemap.xml", owner="media")
    db.add(src)
    db.flush()
    first = _poll_and_apply(db, client, settings, src.id)
    assert [e.url for e in first.entries] == [f"{site.base}/p/1.html"]
    row = db.execute(
        select(FetchLog.outcome, FetchLog.error_class, FetchLog.reason).where(
            FetchLog.kind == "sitemap-child"
        )
    ).one()
    assert tuple(row) == ("error", "transient", reason)
    hits = len(site.hits("/cut.xml"))
    _poll_and_apply(db, client, settings, src.id)
    assert len(site.hits("/cut.xml")) == hits + 1

    # the source's own sitemap cut: its validators are not kept, the next poll asks it whole
    site.add("/own.xml", cut, etag='"v1"', content_type="application/xml")
    own = Source(name="cut own", kind="sitemap", url=f"{site.base}/own.xml", owner="media")
    db.add(own)
    db.flush()
    _poll_and_apply(db, client, settings, own.id)
    assert own.etag is None and own.last_error_class == "warning"
    _poll_and_apply(db, client, settings, own.id)
    assert [h["if_none_match"] for h in site.hits("/own.xml")] == [None, None]


def test_a_sitemap_nested_past_the_parser_limit_says_so(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """Past 256 nested elements libxml2 stops and its recovery returned what it had: a sitemap
    index whose children sit deeper gave 0 URLs, no error, no warning."""
    deep = "<x>" * 300
    site.add(
        "/deep.xml",
        f"<sitemapindex xmlns='http://www.sitemaps.org/schemas/sitemap/0.9'>{deep}"
        f"<sitemap><loc>{site.base}/leaf.xml</loc></sitemap>{deep.replace('<', '</')}</sitemapindex>",
        content_type="application/xml",
    )
    site.add("/leaf.xml", _urlset(site.base, [("p/feuille.html", NOW)]), content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/deep.xml")
    assert out.entries == [] and out.error_class == "permanent"
    assert out.error == (
        "sitemap cut short at line 1 by a parser limit (Excessive depth in document: 256), the rest not read"
    )
    # read in part: the URLs before the deep part are kept, the warning says the rest is missing
    index = _index(site.base, [("/leaf.xml", NOW)]).replace("</sitemapindex>", f"{deep}</sitemapindex>")
    site.add("/partial.xml", index, content_type="application/xml")
    out = poll(client, settings, "sitemap", f"{site.base}/partial.xml")
    assert out.error is None and [e.url for e in out.entries] == [f"{site.base}/p/feuille.html"]
    assert out.warning == (
        "1 sitemap problem(s): sitemap cut short at line 1 by a parser limit (Excessive depth in "
        f"document: 256), the rest not read ({site.base}/partial.xml)"
    )


# --- listings -----------------------------------------------------------------------------

LISTING = """<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>Actualités</title></head><body>
<header><a href="/">Accueil</a><a href="/le-parti/nos-valeurs-et-notre-projet">Nos valeurs et notre projet</a></header>
<nav class="main-menu"><a href="/actualites/une-autre-rubrique-du-menu-principal">Menu</a></nav>
<main>
 <h1>Actualités</h1>
 <div class="cards">
  <article><a href="/actualites/sommet-ia-notre-position-sur-l-intelligence-artificielle">
    Sommet IA : notre position sur l’intelligence artificielle</a><time datetime="2025-02-10T09:00:00+01:00">10 février</time></article>
  <article><a href="/communiques/2025/02/declaration">Déclaration du bureau national</a></article>
  <article><a href="https://www.example.org/actualites/un-article-sur-un-autre-site">Ailleurs</a></article>
  <article><a href="/categorie/economie">Économie</a> <a href="/tag/ia-et-numerique">IA</a></article>
  <article><a href="/actualites/sommet-ia-notre-position-sur-l-intelligence-artificielle#comments">3 commentaires</a></article>
  <article><a href="/documents/programme-complet-2027.pdf">Programme (PDF)</a></article>
 </div>
 <div class="pagination"><a href="/actualites?page=2">Page suivante</a><a href="/actualites/page/3">3</a></div>
 <a href="/adherer">Adhérer</a> <a href="/faire-un-don">Faire un don</a> <a href="/actualites">Toutes les actualités</a>
</main>
<footer><a href="/mentions-legales">Mentions légales</a><a href="/actualites/plan-du-site-complet-et-archives">Plan</a></footer>
</body></html>"""


def _listing_articles(base: str) -> list[str]:
    """The two article links the heuristic keeps from LISTING."""
    return [
        f"{base}/actualites/sommet-ia-notre-position-sur-l-intelligence-artificielle",
        f"{base}/communiques/2025/02/declaration",
    ]


def test_listing_heuristic_keeps_article_links_and_drops_navigation(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/actualites", LISTING)
    out = poll(client, settings, "listing", f"{site.base}/actualites")
    assert out.error is None and out.warning is None
    assert [e.url for e in out.entries] == _listing_articles(site.base)
    assert out.entries[0].title == "Sommet IA : notre position sur l’intelligence artificielle"
    assert out.entries[0].published_at == datetime(2025, 2, 10, 8, 0, tzinfo=UTC)
    # a date printed near the link is no statement of the publication (docs/extraction.md)
    assert not any(e.published_explicit for e in out.entries)


@pytest.mark.parametrize("where", ["link", "base"])
def test_a_malformed_link_or_base_loses_one_link_not_the_listing(
    site: LocalSite, client: Client, settings: Settings, where: str
) -> None:
    bad = '<a href="http://[::1/actualites/un-lien-mal-forme-ipv6">Mal formé</a>'
    page = LISTING.replace("<h1>Actualités</h1>", f"<h1>Actualités</h1>{bad}")
    if where == "base":
        page = page.replace("<title>", '<base href="http://[::1/"><title>')
    site.add("/actualites", page)
    out = poll(client, settings, "listing", f"{site.base}/actualites")
    assert out.error is None and out.warning is None
    assert [e.url for e in out.entries] == _listing_articles(site.base)


def test_listing_with_link_pattern(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/actualites", LISTING)
    out = poll(client, settings, "listing", f"{site.base}/actualites", link_pattern=r"/communiques/\d{4}/")
    assert [e.url for e in out.entries] == [f"{site.base}/communiques/2025/02/declaration"]
    out = poll(client, settings, "listing", f"{site.base}/actualites", link_pattern=r"/nothing-matches/")
    assert out.entries == [] and out.warning is not None and "link_pattern" in out.warning


def test_the_child_sitemaps_read_are_found_by_an_index_of_their_own(db: Session) -> None:
    """Each poll batch asks which child sitemaps its sources read in the window; only the
    source_id index served the question, reading every fetch_log row of the batch's sources
    (their page fetches, their whole history). The partial index of migration 0024 holds the
    child-sitemap rows alone (bench/sitemaps_read.py: 29x on 2M rows)."""
    import sqlalchemy as sa

    from monitors.archive.models import Source
    from monitors.archive.polls import _sitemaps_read

    src = Source(name="children", kind="sitemap", url="http://s.example/sitemap.xml", owner="media")
    db.add(src)
    db.flush()
    db.execute(
        sa.text(
            "INSERT INTO fetch_log (at, source_id, url, kind, outcome)"
            " SELECT now() - g * interval '1 minute', :s, 'http://s.example/p/' || g,"
            "        CASE WHEN g % 100 = 0 THEN 'sitemap-child' ELSE 'page' END, 'ok'"
            " FROM generate_series(1, 5000) g"
        ),
        {"s": src.id},
    )
    db.execute(sa.text("ANALYZE fetch_log"))
    sent: list[tuple[str, Any]] = []

    def listen(conn: object, cursor: object, statement: str, params: Any, *_: object) -> None:
        if "sitemap-child" in str(params) or "fetch_log" in statement:
            sent.append((statement, params))

    engine = db.get_bind()
    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        read = _sitemaps_read(db, [src.id], datetime.now(UTC))
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert len(read[src.id]) == 50  # the 5,000 minutes of rows are within the 7-day window
    ((statement, params),) = sent
    db.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in db.connection().exec_driver_sql(f"EXPLAIN {statement}", params))
    assert "fetch_log_sitemap_children" in plan, plan
