# ruff: noqa: E501
"""Blocking told apart from breakage (401/403/429 and bot-protection challenge pages are
``blocked``, with the cause), and the fallback a source moves to after a streak of such
failures, all served by the local test site."""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from flows.cli import main
from monitors.archive.models import QueuedUrl, Source
from monitors.archive.polls import apply_poll, due_sources
from monitors.collect.blocking import block_reason, challenge_service
from monitors.collect.fallback import FALLBACK_AFTER
from monitors.collect.health import source_rows
from monitors.collect.http import Client, fetch
from monitors.collect.poll import poll_source
from monitors.collect.results import HTML_TYPES
from monitors.collect.sources import SourcesError, parse_sources, sync_sources
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed, write_sources

NOW = datetime.now(UTC)
CLOUDFLARE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper" role="main">
<noscript>Enable JavaScript and cookies to continue</noscript>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "www.example.fr",cType: 'managed'};
var a = document.createElement('script');a.src = '/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';
}());</script></div></body></html>"""
DATADOME = """<html><head><title>lesechos.fr</title><style>#cmsg{animation: A 1.5s;}</style></head>
<body style="margin:0"><p id="cmsg">Please enable JS and disable any ad blocker</p>
<script data-cfasync="false">var dd={'rt':'c','cid':'AHrlqAAAAAMA','hsh':'2211F522','t':'fe','s':45427,'e':'c1f','host':'geo.captcha-delivery.com'}</script>
<script data-cfasync="false" src="https://ct.captcha-delivery.com/c.js"></script></body></html>"""
AKAMAI = """<HTML><HEAD>
<TITLE>Access Denied</TITLE>
</HEAD><BODY>
<H1>Access Denied</H1>
You don't have permission to access "http&#58;&#47;&#47;www&#46;example&#46;fr&#47;rss&#46;xml" on this server.<P>
Reference&#32;&#35;18&#46;6b7c1402&#46;1712345678&#46;2a3b4c5d
<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;net&#47;18&#46;6b7c1402</P>
</BODY>
</HTML>"""


def _news_sitemap(base: str, n: int = 2) -> str:
    items = "".join(
        f"<url><loc>{base}/news/article-numero-{i}.html</loc><news:news><news:publication>"
        f"<news:name>Test</news:name><news:language>fr</news:language></news:publication>"
        f"<news:publication_date>{(NOW - timedelta(hours=i)).isoformat()}</news:publication_date>"
        f"<news:title>Article {i}</news:title></news:news></url>"
        for i in range(n)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{items}</urlset>'
    )


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (
            403,
            {"server": "cloudflare", "cf-mitigated": "challenge"},
            CLOUDFLARE,
            "blocked: HTTP 403 Forbidden (Cloudflare challenge page)",
        ),
        (
            503,
            {"server": "cloudflare"},
            CLOUDFLARE,
            "blocked: HTTP 503 Service Unavailable (Cloudflare challenge page)",
        ),
        (
            200,
            {"content-type": "text/html"},
            CLOUDFLARE,
            "blocked: Cloudflare challenge page instead of the document (HTTP 200 OK)",
        ),
        (403, {"x-datadome": "protected"}, DATADOME, "blocked: HTTP 403 Forbidden (DataDome challenge page)"),
        (200, {}, DATADOME, "blocked: DataDome challenge page instead of the document (HTTP 200 OK)"),
        (403, {"server": "AkamaiGHost"}, AKAMAI, "blocked: HTTP 403 Forbidden (Akamai challenge page)"),
        (
            403,
            {"server": "cloudflare"},
            "",
            "blocked: HTTP 403 Forbidden (access refused, served by Cloudflare)",
        ),
        (401, {}, "", "blocked: HTTP 401 Unauthorized (authentication required)"),
        (429, {}, "slow down", "blocked: HTTP 429 Too Many Requests (rate limited)"),
        (503, {"server": "cloudflare"}, "<html><body>Maintenance</body></html>", None),
        (404, {}, "<html><title>Page introuvable</title></html>", None),
        (
            200,
            {"server": "cloudflare"},
            "<html><head><title>Un article</title></head><body>Un texte.</body></html>",
            None,
        ),
    ],
)
def test_block_reason_names_the_cause(
    status: int, headers: dict[str, str], body: str, expected: str | None
) -> None:
    reasons = {
        200: "OK",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        429: "Too Many Requests",
        503: "Service Unavailable",
    }
    assert block_reason(status, reasons[status], headers, body.encode()) == expected


def test_an_article_that_quotes_a_challenge_is_not_one() -> None:
    """Only small bodies are inspected: a long article about bot protection is not a block."""
    article = (
        "<html><head><title>Just a moment...</title></head><body>" + "<p>Le texte de l'article.</p>" * 4000
    )
    assert challenge_service({}, (article + "</body></html>").encode()) is None


def test_a_page_behind_a_protection_service_is_not_a_challenge() -> None:
    """The scripts these services inject into every page of a protected site are no block."""
    page = (
        "<html><head><title>Sommet IA : ce qu'il faut retenir</title>"
        "<script src='/_Incapsula_Resource?SWJIYLWA=719d34d31c8e3a6e6fffd425f7e032f3'></script>"
        "<script>window._pxAppId = 'PXabc123';</script>"
        "<script src='https://abc.token.awswaf.com/abc/challenge.js'></script></head>"
        "<body><article><p>Le texte de l'article.</p></article>"
        "<script>(function(){var s=document.createElement('script');"
        "s.src='/cdn-cgi/challenge-platform/scripts/jsd/main.js';})();</script></body></html>"
    )
    assert challenge_service({"server": "cloudflare"}, page.encode()) is None


def _source(db: Session, site: LocalSite, path: str, **extra: str) -> Source:
    src = Source(
        name=f"src-{path}", kind=extra.pop("kind", "feed"), url=f"{site.base}{path}", owner="media", **extra
    )
    db.add(src)
    db.flush()
    return src


def _poll(db: Session, client: Client, settings: Settings, src: Source) -> Source:
    (state,) = due_sources(db, [src.id], force=True)
    apply_poll(db, poll_source(client, settings, state), settings=settings)
    db.flush()
    db.refresh(src)
    return src


def test_challenge_pages_and_refusals_are_recorded_as_blocked(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add(
        "/rss.xml", CLOUDFLARE, status=403, headers={"cf-mitigated": "challenge", "Server": "cloudflare"}
    )
    site.add("/feed-ok-status.xml", CLOUDFLARE)  # a challenge served with 200, as text/html
    site.add("/sitemap.xml", DATADOME)  # where XML was expected
    site.add(
        "/", "<html><head><link rel='alternate' type='application/rss+xml' href='/autre.xml'></head></html>"
    )
    for path, kind, service in (
        ("/rss.xml", "feed", "HTTP 403 Forbidden (Cloudflare challenge page)"),
        ("/feed-ok-status.xml", "feed", "Cloudflare challenge page instead of the document (HTTP 200 OK)"),
        ("/sitemap.xml", "sitemap", "DataDome challenge page instead of the document (HTTP 200 OK)"),
    ):
        src = _poll(db, client, settings, _source(db, site, path, kind=kind))
        assert (src.last_error_class, src.last_error) == ("blocked", f"blocked: {service}")
        assert src.blocked_reason == src.last_error and src.blocked_at is not None
        assert src.suggested_feeds is None  # no discovery: the site refuses us, its feed is not gone
        # blocked is looked at again with backoff, not after the longest interval
        # measured from now, not from the module's import: on a loaded machine the suite reaches
        # this test minutes after collection
        assert src.next_poll_at is not None and src.next_poll_at - datetime.now(UTC) < timedelta(
            seconds=settings.min_poll_interval + 60
        )
    assert site.hits("/") == [] and site.hits("/autre.xml") == []
    rows = {r["name"]: r for r in source_rows(db)}
    row = rows["src-/rss.xml"]
    assert row["status"] == "active (blocked)"
    assert row["last_error"] == "[blocked] blocked: HTTP 403 Forbidden (Cloudflare challenge page)"
    assert (
        row["suggested"]
        == "blocked: add a fallback (e.g. the site's news sitemap) to this source, or disable it"
    )
    health = db.execute(text("SELECT health FROM source_health WHERE name = 'src-/rss.xml'")).scalar()
    assert health == "blocked"


def test_a_blocked_source_moves_to_its_fallback_after_a_streak_and_back(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/rss.xml", CLOUDFLARE, status=403, headers={"cf-mitigated": "challenge"})
    site.add("/sitemap-news.xml", _news_sitemap(site.base), content_type="application/xml", etag='"news-1"')
    src = _source(db, site, "/rss.xml", fallback_url=f"{site.base}/sitemap-news.xml", fallback_kind="sitemap")
    for n in range(1, FALLBACK_AFTER):
        src = _poll(db, client, settings, src)
        assert src.consecutive_failures == n and src.last_error_class == "blocked"
        assert site.hits("/sitemap-news.xml") == []  # not yet: one refusal is not a streak
        assert source_rows(db, [src.name])[0]["suggested"] == (
            f"blocked: fallback {site.base}/sitemap-news.xml tried at {FALLBACK_AFTER} failures in a row ({n} so far)"
        )
    src = _poll(db, client, settings, src)  # the streak is long enough: the fallback, in the same poll
    assert len(site.hits("/sitemap-news.xml")) == 1
    assert (
        src.consecutive_failures == 0 and src.fallback_since is not None and src.last_success_at is not None
    )
    assert (
        src.last_error_class == "blocked"
        and src.blocked_reason == "blocked: HTTP 403 Forbidden (Cloudflare challenge page)"
    )
    assert src.etag == '"news-1"' and src.url == f"{site.base}/rss.xml"  # the primary URL is never changed
    queued = db.scalars(select(QueuedUrl.url).where(QueuedUrl.source_id == src.id)).all()
    assert sorted(queued) == [f"{site.base}/news/article-numero-{i}.html" for i in range(2)]
    row = source_rows(db, [src.name])[0]
    assert row["status"] == "active (on fallback)"
    assert row["suggested"].startswith(
        f"on fallback {site.base}/sitemap-news.xml (primary retried in 7d; primary: blocked: HTTP 403"
    )
    assert db.execute(
        text("SELECT health, errors_last_day FROM source_health WHERE id = :i"), {"i": src.id}
    ).one() == ("on fallback", FALLBACK_AFTER)
    kinds = db.execute(
        text("SELECT kind, outcome FROM fetch_log WHERE source_id = :i ORDER BY id"), {"i": src.id}
    ).all()
    assert kinds[-2:] == [("feed", "error"), ("fallback", "ok")]

    primary_hits = len(site.hits("/rss.xml"))
    cause = src.last_error
    src = _poll(db, client, settings, src)  # on the fallback: the primary is left alone, validators sent
    assert len(site.hits("/rss.xml")) == primary_hits
    assert cause is not None and src.last_error == cause  # the primary URL's cause stays while on it
    assert site.hits("/sitemap-news.xml")[-1]["if_none_match"] == '"news-1"'

    # a week later the primary URL is tried again, without the fallback's validators
    src.fallback_since = datetime.now(UTC) - timedelta(days=8)
    db.flush()
    site.add(
        "/rss.xml",
        rss_feed(site.base, [("Retour", "a/retour.html", NOW)]),
        content_type="application/rss+xml",
    )
    src = _poll(db, client, settings, src)
    assert site.hits("/rss.xml")[-1]["if_none_match"] is None
    assert src.fallback_since is None and src.blocked_reason is None and src.consecutive_failures == 0
    assert src.last_error is None  # back on the primary URL, answering: no trouble left
    assert source_rows(db, [src.name])[0]["status"] == "active"


def test_a_fallback_that_fails_too_is_an_error_naming_both(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/rss.xml", "gone", status=410, content_type="text/plain")
    site.add("/", "<html><body>rien</body></html>")
    src = _source(db, site, "/rss.xml", fallback_url=f"{site.base}/news.xml", fallback_kind="sitemap")
    for _ in range(FALLBACK_AFTER):
        src = _poll(db, client, settings, src)
    assert src.consecutive_failures == FALLBACK_AFTER and src.fallback_since is None
    assert src.last_error == f"HTTP 404 Not Found (fallback {site.base}/news.xml; primary URL: HTTP 410 Gone)"
    # with a fallback to move to, a permanent failure is retried soon, not after a day
    assert src.next_poll_at is not None and src.next_poll_at - datetime.now(UTC) < timedelta(
        seconds=settings.max_poll_interval / 2
    )


def test_sources_file_fallback_is_validated_and_synced(db: Session) -> None:
    base = '[[source]]\nname = "X"\nkind = "feed"\nurl = "https://x.fr/rss"\nowner = "media"\n'
    spec = parse_sources(base + 'fallback = "https://x.fr/news.xml"\n', "s.toml")[0]
    assert (spec.fallback, spec.fallback_kind) == ("https://x.fr/news.xml", "sitemap")
    for extra, message in (
        ('fallback = "x.fr/news.xml"\n', "s.toml:6: fallback must be a URL"),
        ('fallback = "https://x.fr/"\nfallback_kind = "page"\n', "s.toml:7: unknown fallback_kind 'page'"),
        ('fallback_kind = "listing"\n', "s.toml:6: fallback_kind without a fallback URL"),
    ):
        with pytest.raises(SourcesError, match=message):
            parse_sources(base + extra, "s.toml")
    (sid,) = sync_sources(db, [spec])
    src = db.get(Source, sid)
    assert src is not None and (src.fallback_url, src.fallback_kind) == ("https://x.fr/news.xml", "sitemap")
    src.fallback_since = NOW
    db.flush()
    sync_sources(db, [spec])  # unchanged fallback: still on it
    db.refresh(src)
    assert src.fallback_since is not None
    sync_sources(
        db, parse_sources(base + 'fallback = "https://x.fr/"\nfallback_kind = "listing"\n', "s.toml")
    )
    db.refresh(src)  # another fallback URL: back to the primary URL first
    assert src.fallback_since is None and src.fallback_kind == "listing"


def test_check_all_writes_a_dated_report(site: LocalSite, tmp_path: Path) -> None:
    site.add("/bloque.xml", CLOUDFLARE, status=403, headers={"cf-mitigated": "challenge"})
    site.add("/sitemap-news.xml", _news_sitemap(site.base, 3), content_type="application/xml")
    site.add("/bon.xml", rss_feed(site.base, [("Un", "a/un.html", NOW)]), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {
                "name": "Bloqué",
                "kind": "feed",
                "url": f"{site.base}/bloque.xml",
                "owner": "media",
                "fallback": f"{site.base}/sitemap-news.xml",
            },
            {"name": "Bon", "kind": "feed", "url": f"{site.base}/bon.xml", "owner": "media"},
        ],
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["sources", "check", "--all", "--sources", str(sources), "--report-dir", str(tmp_path / "r")]
        )
    assert code == 1
    printed = out.getvalue()
    assert "2 sources probed, 1 ok, 1 failed (1 blocked, 1 answered at their fallback)" in printed
    (json_path,) = (tmp_path / "r").glob("veille-sources-check-*.json")
    (txt_path,) = (tmp_path / "r").glob("veille-sources-check-*.txt")
    assert json_path.stem == txt_path.stem and str(json_path) in printed
    report = json.loads(json_path.read_text(encoding="utf-8"))
    checked = datetime.fromisoformat(report["checked_at"])
    assert abs(checked - datetime.now(UTC)) < timedelta(minutes=5)
    assert json_path.stem == "veille-sources-check-" + checked.strftime("%Y%m%dT%H%M%SZ")
    assert report["summary"] == {"sources": 2, "ok": 1, "blocked": 1, "failed": 1, "rescued_by_fallback": 1}
    assert report["user_agent"].startswith("veille/") and len(report["sources_file_sha256"]) == 64
    blocked = next(s for s in report["sources"] if s["name"] == "Bloqué")
    assert blocked["status"] == "blocked" and blocked["http"] == 403
    assert blocked["error"] == "blocked: HTTP 403 Forbidden (Cloudflare challenge page)"
    assert (
        blocked["fallback"] == "ok, 3 entries" and blocked["fallback_url"] == f"{site.base}/sitemap-news.xml"
    )
    table = txt_path.read_text(encoding="utf-8")
    assert "veille sources check, " in table and "Bloqué" in table and "blocked: HTTP 403 Forbidden" in table
    assert "VEILLE_DATABASE_URL" not in json_path.read_text(encoding="utf-8")
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        assert main(["sources", "check", "--all", "Bon", "--sources", str(sources)]) == 2


@pytest.mark.parametrize("encoding", ["gzip", "gzip, identity", "identity, gzip", "x-gzip", "deflate"])
@pytest.mark.parametrize(
    ("status", "accept", "expected"),
    [
        (503, HTML_TYPES, "blocked: HTTP 503 Service Unavailable (Cloudflare challenge page)"),
        (
            200,
            ("application/xml",),
            "blocked: Cloudflare challenge page instead of the document (HTTP 200 OK)",
        ),
    ],
    ids=["error-page", "html-where-xml-expected"],
)
def test_a_compressed_challenge_page_is_read_decoded_whatever_its_codings_list(
    site: LocalSite,
    client: Client,
    settings: Settings,
    encoding: str,
    status: int,
    accept: tuple[str, ...],
    expected: str,
) -> None:
    """The error page (or the HTML where a sitemap was expected) read for a challenge is
    decoded as the body of a success is: main's peek read ``gzip, identity`` as two codings,
    its identity as deflate, could not decode it and saw no challenge (HTTP 503, not blocked)."""
    packed = (
        zlib.compress(CLOUDFLARE.encode()) if encoding == "deflate" else gzip.compress(CLOUDFLARE.encode())
    )
    site.add("/page", packed, status=status, headers={"Server": "cloudflare", "Content-Encoding": encoding})
    result = fetch(client, f"{site.base}/page", settings, accept=accept)
    assert (result.outcome, result.blocked, result.reason) == ("error", True, expected)
    again = fetch(client, f"{site.base}/page", settings, accept=accept)
    assert again.reason == expected
    assert len({r["peer"] for r in site.hits("/page")}) == 1  # the page read whole: the connection reused
