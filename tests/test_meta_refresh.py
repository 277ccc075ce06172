# ruff: noqa: E501
"""Pages that are meta refresh stubs: one refresh is followed as a redirect is (the same checks,
the same hop budget, the article stored as a redirect's); a loop, a second refresh or one to a
URL that is not http(s) is a recorded failure (monitors.collect.refresh.meta_refresh)."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import Article, FetchLog, QueuedUrl
from monitors.collect.http import Client, fetch
from monitors.collect.results import HTML_TYPES, PERMANENT
from monitors.collect.robots import RobotsCache
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed
from tests.test_faults import _poll_and_ingest
from tests.test_source_kinds import NOW

BODY = " ".join(["Le sommet pour l'action sur l'intelligence artificielle s'ouvre à Paris."] * 20)
ARTICLE = (
    "<html><head><title>Sommet de l'IA</title></head>"
    f"<body><article><h1>Sommet de l'IA</h1><p>{BODY}</p></article></body></html>"
)


def stub(content: str, extra: str = "") -> str:
    """A refresh stub as CMSes and link shorteners write one."""
    return (
        f'<html><head><meta http-equiv="Refresh" content="{content}">{extra}</head>'
        "<body><p>Redirection en cours…</p></body></html>"
    )


def test_a_refresh_stub_is_followed_and_its_target_stored(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """Before: the stub failed as "no article text". Now its target is the article, stored as
    a redirect's: its URL the feed's, its canonical URL the target's."""
    site.add("/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW)]))
    site.add("/a/1.html", stub("0; url=/articles/sommet-ia.html"))
    site.add("/articles/sommet-ia.html", ARTICLE)
    url = f"{site.base}/a/1.html"
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    article = db.scalars(select(Article).where(Article.url == url)).one()
    assert article.canonical_url == f"{site.base}/articles/sommet-ia.html"
    assert "intelligence artificielle" in article.text
    assert [h["path"] for h in site.log[1:]] == ["/a/1.html", "/articles/sommet-ia.html"]


@pytest.mark.parametrize(
    ("pages", "reason"),
    [
        (
            {"/a/1.html": stub("0; url=/b.html"), "/b.html": stub("1; url='/a/1.html'")},
            "meta refresh loop: {base}/b.html refreshes to {base}/a/1.html, already fetched",
        ),
        (
            {"/a/1.html": stub("0; url=/b.html"), "/b.html": stub("0; url=/c.html"), "/c.html": ARTICLE},
            "meta refresh again: {base}/b.html refreshes to {base}/c.html (veille follows one meta refresh)",
        ),
        (
            {"/a/1.html": stub("0; URL=javascript:location.replace('/x')")},
            "meta refresh to a non-http URL: {base}/a/1.html refreshes to \"javascript:location.replace('/x')\"",
        ),
        ({"/a/1.html": stub("0; url=ftp://files.example/a.txt")}, "meta refresh to a non-http URL"),
    ],
    ids=["back", "twice", "javascript", "ftp"],
)
def test_a_refresh_that_cannot_be_followed_is_a_recorded_failure(
    site: LocalSite, db: Session, settings: Settings, pages: dict[str, str], reason: str
) -> None:
    """Failed once, permanently, the reason in the queue row and fetch_log; nothing stored."""
    site.add("/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW)]))
    for path, body in pages.items():
        site.add(path, body)
    url = f"{site.base}/a/1.html"
    assert _poll_and_ingest(site, db, settings) == {url: "failed"}
    expected = reason.format(base=site.base)
    row = db.scalars(select(QueuedUrl).where(QueuedUrl.url == url)).one()
    assert row.state == "failed" and expected in (row.reason or "")
    logged = db.scalars(select(FetchLog).where(FetchLog.url == url)).one()
    assert logged.error_class == PERMANENT and (logged.reason or "").startswith(expected)
    assert db.scalars(select(Article).where(Article.url == url)).all() == []


def test_a_refresh_shares_the_redirects_hop_budget(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """Five redirects, then a refresh: a sixth hop, one too many, as a sixth redirect is."""
    for i in range(5):
        site.add(f"/r{i}", b"", status=302, headers={"Location": f"/r{i + 1}"})
    site.add("/r5", stub("0; url=/article.html"))
    site.add("/article.html", ARTICLE)
    result = fetch(client, f"{site.base}/r0", settings, follow_refresh=True)
    assert result.outcome == "error" and (result.reason or "").startswith(
        "too many redirects: a chain of more than 5 hops, no URL asked twice ("
    ), result.reason
    assert site.hits("/article.html") == []
    result = fetch(client, f"{site.base}/r1", settings, follow_refresh=True)
    assert result.ok and result.final_url == f"{site.base}/article.html"


def test_a_refresh_target_is_checked_as_a_redirects_is(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """robots.txt holds for the target, as for a redirect's (and so do the address rules: the
    same check_url_allowed per hop): disallowed, it is not fetched."""
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/a.html", stub("0; url=/private/article.html"))
    site.add("/private/article.html", ARTICLE)
    result = fetch(client, f"{site.base}/a.html", settings, robots=RobotsCache(), follow_refresh=True)
    assert result.outcome == "skipped" and "robots.txt" in (result.reason or "")
    assert site.hits("/private/article.html") == []


@pytest.mark.parametrize(
    "page",
    [
        stub("600; url=/"),  # goes home after ten minutes: the page is the page
        stub("0"),  # a reload
        stub("5"),  # a reload in five seconds
        stub("0url=/b.html"),  # no ";", "," or space after the delay: a browser ignores it
        stub("5abc"),
        # a reload naming the page itself: a live page reloading every few seconds is read
        f'<html><head><meta http-equiv="refresh" content="5; url=/a.html#top"></head><body>{ARTICLE}</body></html>',
        f'<html><head><noscript><meta http-equiv="refresh" content="0; url=/nojs.html"></noscript></head><body>{ARTICLE}</body></html>',
        f'<html><head><!-- <meta http-equiv="refresh" content="0; url=/old.html"> --></head><body>{ARTICLE}</body></html>',
        # ``http-equiv`` named only in another attribute's value: no refresh (it was followed)
        f'<html><head><meta name="keywords" content="5, http-equiv=refresh"></head><body>{ARTICLE}</body></html>',
        f'<html><head><meta data-x="http-equiv=refresh" content="0; url=/b.html"></head><body>{ARTICLE}</body></html>',
    ],
    ids=[
        "long-delay",
        "reload",
        "reload-in-five",
        "no-separator",
        "delay-run-into-a-word",
        "reload-naming-itself",
        "noscript",
        "comment",
        "in-another-attribute-s-value",
        "in-a-data-attribute",
    ],
)
def test_what_a_browser_does_not_follow_is_not_followed(
    site: LocalSite, client: Client, settings: Settings, page: str
) -> None:
    site.add("/a.html", page)
    result = fetch(client, f"{site.base}/a.html", settings, accept=HTML_TYPES, follow_refresh=True)
    assert result.ok and result.final_url == f"{site.base}/a.html" and len(site.log) == 1


@pytest.mark.parametrize(
    "content",
    [
        "0; URL='/articles/sommet-ia.html'",
        "0 ;  url = '/articles/sommet-ia.html'",
        "0,URL=/articles/sommet-ia.html",
        "0 '/articles/sommet-ia.html'",
        "1.5; Url=/articles/sommet-ia.html",
    ],
    ids=["quoted-upper-case", "spaces-around", "comma", "quoted-without-url", "fraction"],
)
def test_a_refresh_is_read_as_the_html_standard_reads_it(
    site: LocalSite, client: Client, settings: Settings, content: str
) -> None:
    """The delay, ``;`` or ``,``, ``url`` in any case with spaces around ``=``, the URL quoted
    or not: the target is the URL without its quotes."""
    site.add("/a.html", stub(content))
    site.add("/articles/sommet-ia.html", ARTICLE)
    result = fetch(client, f"{site.base}/a.html", settings, accept=HTML_TYPES, follow_refresh=True)
    assert result.ok and result.final_url == f"{site.base}/articles/sommet-ia.html"
