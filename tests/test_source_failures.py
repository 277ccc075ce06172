# ruff: noqa: E501
"""Each failure class of a source or page, and what veille records for it: 404, 410, not a
feed (with a discovery suggestion), 429 with Retry-After, 503, timeout, oversized body,
PDF/image content types, robots.txt disallow and crawl-delay, the User-Agent."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.models import Source
from monitors.archive.polls import apply_poll
from monitors.collect.http import Client, fetch, make_client
from monitors.collect.poll import PollOutcome, SourceState, poll_source, poll_threads
from monitors.collect.results import HTML_TYPES
from monitors.collect.robots import RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.ingest import process_item
from monitors.judge.topic import load_topic
from monitors.records import QueueItem
from monitors.settings import Settings, get_settings
from tests.site import LocalSite, Request, rss_feed

NOW = datetime.now(UTC)


def _source(db: Session, url: str, kind: str = "feed") -> SourceState:
    src = Source(name=f"src-{url}", kind=kind, url=url, owner="media")
    db.add(src)
    db.flush()
    return SourceState(src.id, src.name, kind, url)


def _poll_and_apply(
    db: Session, client: Client, settings: Settings, state: SourceState
) -> tuple[PollOutcome, Source]:
    out = poll_source(client, settings, state)
    apply_poll(db, out, settings=settings)
    db.flush()
    src = db.get(Source, state.id)
    assert src is not None
    db.refresh(src)
    return out, src


HOME_WITH_FEED = """<html><head><title>Accueil</title>
<link rel="alternate" type="application/rss+xml" title="Actualités" href="/rss/actualites.xml">
<link rel="alternate" type="application/rss+xml" title="Cassé" href="/rss/casse.xml">
</head><body><a href="/">Accueil</a></body></html>"""


def _good_feed(site: LocalSite, path: str) -> None:
    site.add(path, rss_feed(site.base, [("Un article", "a/1.html", NOW)]), content_type="application/rss+xml")


@pytest.mark.parametrize("status", [404, 410])
def test_gone_feed_is_permanent_and_discovery_suggests_without_switching(
    site: LocalSite, db: Session, client: Client, settings: Settings, status: int
) -> None:
    site.add("/old-feed.xml", "gone", status=status, content_type="text/plain")
    site.add("/", HOME_WITH_FEED)
    _good_feed(site, "/rss/actualites.xml")
    state = _source(db, f"{site.base}/old-feed.xml")
    out, src = _poll_and_apply(db, client, settings, state)
    assert out.error_class == "permanent" and f"HTTP {status}" in (out.error or "")
    assert src.url == f"{site.base}/old-feed.xml"  # never switched silently
    assert src.suggested_feeds is not None
    assert src.suggested_feeds["feeds"] == [
        {"url": f"{site.base}/rss/actualites.xml", "title": "Fil test", "entries": 1}
    ]  # the broken candidate (404) is not suggested
    assert src.last_error_class == "permanent" and src.consecutive_failures == 1
    # Permanent: no quick retry, the source is looked at again after the longest interval.
    assert src.next_poll_at is not None
    assert src.next_poll_at - datetime.now(UTC) > timedelta(seconds=settings.max_poll_interval - 60)
    assert len(site.hits("/old-feed.xml")) == 1


def test_not_a_feed_suggests_the_feeds_the_page_and_common_paths_offer(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/actualites", "<html><body><p>Nos actualités</p><a href='/feed'>RSS</a></body></html>")
    _good_feed(site, "/feed")
    out, src = _poll_and_apply(db, client, settings, _source(db, f"{site.base}/actualites"))
    assert out.error is not None and out.error.startswith("not a feed")
    assert src.suggested_feeds is not None
    assert [f["url"] for f in src.suggested_feeds["feeds"]] == [f"{site.base}/feed"]

    # A site with nothing advertised: the usual WordPress path is tried.
    site.routes.clear()
    site.add("/blog.xml", "<html><body>Rien</body></html>")
    _good_feed(site, "/feed/")
    out = poll_source(client, settings, SourceState(99, "x", "feed", f"{site.base}/blog.xml"))
    assert out.suggested_feeds is not None
    assert [f["url"] for f in out.suggested_feeds["feeds"]] == [f"{site.base}/feed/"]


def test_429_with_retry_after_backs_off_at_least_that_long(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/feed.xml", "slow down", status=429, content_type="text/plain", headers={"Retry-After": "7200"})
    out, src = _poll_and_apply(db, client, settings, _source(db, f"{site.base}/feed.xml"))
    assert out.error_class == "blocked" and out.fetch.retry_after == 7200  # rate limited: blocked
    assert out.error == "blocked: HTTP 429 Too Many Requests (rate limited)"
    assert src.next_poll_at is not None
    assert src.next_poll_at - datetime.now(UTC) > timedelta(seconds=7200 - 60)
    assert src.suggested_feeds is None  # blocked: no discovery
    assert src.status == "active" and src.consecutive_failures == 1


def test_503_backs_off_exponentially_with_jitter(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/feed.xml", "down", status=503, content_type="text/plain")
    state = _source(db, f"{site.base}/feed.xml")
    waits = []
    for _ in range(3):
        out, src = _poll_and_apply(db, client, settings, state)
        assert out.error_class == "transient" and "HTTP 503" in (out.error or "")
        assert src.next_poll_at is not None
        waits.append((src.next_poll_at - datetime.now(UTC)).total_seconds())
    low = settings.min_poll_interval
    for n, wait in enumerate(waits):  # failure n+1: within [half, full] of low * 2**n
        assert low * 2**n / 2 - 5 <= wait <= low * 2**n + 5, (n, wait)
    assert src.consecutive_failures == 3 and src.total_failures == 3


def test_timeout_is_transient(site: LocalSite, client: Client, settings: Settings) -> None:
    def slow(_: Request) -> tuple[int, dict[str, str], bytes]:
        time.sleep(1.5)
        return 200, {"Content-Type": "application/rss+xml"}, b"<rss/>"

    site.add("/slow.xml", b"", handler=slow)
    quick = dataclasses.replace(settings, timeout=0.4)
    with make_client(quick) as c:
        out = poll_source(c, quick, SourceState(1, "s", "feed", f"{site.base}/slow.xml"))
    assert out.error_class == "transient" and (out.error or "").startswith("timeout")


def test_oversized_body_is_permanent(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add(
        "/huge.xml", rss_feed(site.base, [("x" * 5000, "a.html", NOW)]), content_type="application/rss+xml"
    )
    small = dataclasses.replace(settings, max_bytes=2000)
    out = poll_source(client, small, SourceState(1, "s", "feed", f"{site.base}/huge.xml"))
    assert out.error_class == "permanent" and "2000 byte cap" in (out.error or "")


@pytest.mark.parametrize("ctype", ["application/pdf", "image/jpeg"])
def test_pdf_and_image_pages_are_skipped_with_the_reason(
    site: LocalSite, client: Client, settings: Settings, ctype: str
) -> None:
    site.add("/doc", b"%PDF-1.4 binary", content_type=ctype)
    item = QueueItem(1, 1, f"{site.base}/doc", f"{site.base}/doc")
    out = process_item(client, settings, item, load_topic())
    assert out.outcome == "skipped" and out.error_class == "permanent"
    assert out.reason == f"content type {ctype} is not one veille reads here"
    listing = poll_source(client, settings, SourceState(1, "l", "listing", f"{site.base}/doc"))
    assert listing.fetch.outcome == "skipped" and listing.error_class == "permanent"


def test_robots_disallow_is_skipped_with_the_reason_and_cached(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add(
        "/robots.txt",
        "User-agent: *\nDisallow: /prive/\n\nUser-agent: otherbot\nDisallow: /\n",
        content_type="text/plain",
    )
    _good_feed(site, "/prive/feed.xml")
    _good_feed(site, "/public/feed.xml")
    robots = RobotsCache()
    state = _source(db, f"{site.base}/prive/feed.xml")
    out = poll_source(client, settings, state, robots=robots)
    assert out.fetch.outcome == "skipped" and out.error_class == "permanent"
    assert out.error == f"disallowed by {site.base}/robots.txt"
    apply_poll(db, out, settings=settings)
    db.flush()
    src = db.get(Source, state.id)
    assert src is not None and src.last_error == out.error
    assert site.hits("/prive/feed.xml") == []
    ok = poll_source(
        client, settings, SourceState(2, "p", "feed", f"{site.base}/public/feed.xml"), robots=robots
    )
    assert ok.error is None and len(ok.entries) == 1
    assert len(site.hits("/robots.txt")) == 1  # cached per site
    off = dataclasses.replace(settings, respect_robots=False)
    assert poll_source(client, off, state, robots=robots).error is None


def test_robots_missing_allows_and_unreachable_defers(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    _good_feed(site, "/feed.xml")
    assert (
        poll_source(
            client, settings, SourceState(1, "s", "feed", f"{site.base}/feed.xml"), robots=RobotsCache()
        ).error
        is None
    )
    site.add("/robots.txt", "oops", status=503, content_type="text/plain")
    out = poll_source(
        client, settings, SourceState(1, "s", "feed", f"{site.base}/feed.xml"), robots=RobotsCache()
    )
    assert out.error_class == "transient" and "robots.txt" in (out.error or "")


def test_robots_over_the_byte_cap_is_read_up_to_it(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """RFC 9309 2.5: a crawler may stop parsing at its limit (at least 500 KiB), not drop the
    rules it has read; refused as too large, the robots.txt meant no rules at all."""
    cap = dataclasses.replace(settings, max_bytes=600_000)
    rules = b"User-agent: *\nDisallow: /prive/\n" + b"# commentaire de remplissage\n" * 40_000
    site.add("/robots.txt", rules + b"Disallow: /public/\n", content_type="text/plain")  # past the cap
    _good_feed(site, "/prive/feed.xml")
    _good_feed(site, "/public/feed.xml")
    robots = RobotsCache()
    out = poll_source(client, cap, SourceState(1, "p", "feed", f"{site.base}/prive/feed.xml"), robots=robots)
    assert out.fetch.outcome == "skipped" and out.error == f"disallowed by {site.base}/robots.txt"
    ok = poll_source(client, cap, SourceState(2, "q", "feed", f"{site.base}/public/feed.xml"), robots=robots)
    assert ok.error is None and len(ok.entries) == 1
    assert site.hits("/prive/feed.xml") == [] and len(site.hits("/robots.txt")) == 1


@pytest.mark.parametrize(
    "codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"], ids=lambda c: c
)
def test_robots_in_utf16_or_with_a_bom_keeps_its_rules(
    codec: str, site: LocalSite, client: Client, settings: Settings
) -> None:
    """A robots.txt in UTF-16 (with its byte-order mark or without) read as UTF-8 was noise, so
    no rules; one in UTF-8 with a BOM lost its first line's user-agent to the U+FEFF before it."""
    rules = "User-agent: *\nDisallow: /privé/\n"
    site.add("/robots.txt", rules.encode(codec), content_type="text/plain")
    _good_feed(site, "/priv%C3%A9/feed.xml")
    out = poll_source(
        client,
        settings,
        SourceState(1, "p", "feed", f"{site.base}/priv%C3%A9/feed.xml"),
        robots=RobotsCache(),
    )
    assert out.fetch.outcome == "skipped" and out.error == f"disallowed by {site.base}/robots.txt"
    assert site.hits("/priv%C3%A9/feed.xml") == []


def test_truncate_keeps_the_head_of_a_body_without_a_length(client: Client, settings: Settings) -> None:
    """The cap met while reading (no Content-Length): with truncate, the first bytes are kept."""
    import socket

    from tests.test_faults import raw_server

    def endless(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
            while not stop.is_set():
                conn.sendall(b"Disallow: /x\n" * 4096)
        except OSError:
            pass
        finally:
            conn.close()

    cap = dataclasses.replace(settings, max_bytes=100_000)
    with raw_server(endless) as url:
        cut = fetch(client, f"{url}/robots.txt", cap, accept=None, truncate=True)
        refused = fetch(client, f"{url}/robots.txt", cap, accept=None)
    assert cut.ok and cut.content == (b"Disallow: /x\n" * 10_000)[:100_000]
    assert refused.error_class == "permanent" and "byte cap" in (refused.reason or "")


def test_crawl_delay_spaces_requests_to_the_host(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/robots.txt", "User-agent: veille\nCrawl-delay: 1\n", content_type="text/plain")
    site.add("/page", "<html><body>x</body></html>")
    robots, throttle = RobotsCache(), HostThrottle(per_host=4, delay=0.0)
    starts = []
    for _ in range(3):
        starts.append(time.monotonic())
        assert fetch(
            client, f"{site.base}/page", settings, accept=HTML_TYPES, throttle=throttle, robots=robots
        ).ok
    assert time.monotonic() - starts[0] >= 1.9  # three requests, two gaps of one second
    assert robots.check(client, f"{site.base}/page", settings).crawl_delay == 1.0
    capped = dataclasses.replace(settings, max_crawl_delay=0.25)
    assert robots.check(client, f"{site.base}/page", capped).crawl_delay == 0.25


def test_user_agent_names_veille_and_the_contact_url(
    site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    def record(req: Request) -> tuple[int, dict[str, str], bytes]:
        seen.append(req.headers.get("user-agent", ""))
        return 200, {"Content-Type": "text/html"}, b"<html></html>"

    site.add("/ua", b"", handler=record)
    monkeypatch.setenv("VEILLE_CONTACT_URL", "https://example.org/veille-contact")
    settings = get_settings()
    with make_client(settings) as c:
        fetch(c, f"{site.base}/ua", settings)
    assert seen == ["veille/0.1 (+https://example.org/veille-contact)"]


@pytest.mark.parametrize("total", [2, 0])
def test_total_request_slots_cap_requests_in_flight(
    site: LocalSite, client: Client, settings: Settings, total: int
) -> None:
    """VEILLE_CONCURRENCY counts requests in flight, whatever the number of polling threads."""
    lock, in_flight, peak = threading.Lock(), [0], [0]

    def slow(req: Request) -> tuple[int, dict[str, str], bytes]:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.15)
        with lock:
            in_flight[0] -= 1
        return 200, {"Content-Type": "text/html"}, b"<html><body>x</body></html>"

    for i in range(6):
        site.add(f"/slow/{i}", b"", handler=slow)
    throttle = HostThrottle(per_host=10, delay=0.0, total=total)
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(
                lambda i: fetch(
                    client, f"{site.base}/slow/{i}", settings, throttle=throttle, robots=RobotsCache()
                ),
                range(6),
            )
        )
    assert all(r.ok for r in results)
    if total:
        assert peak[0] == total
    else:  # no total: only the threads limit what is in flight
        assert peak[0] > 2


def test_robots_fetch_waits_for_a_request_slot(site: LocalSite, client: Client, settings: Settings) -> None:
    """A robots.txt request counts against VEILLE_CONCURRENCY like any other."""
    site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    throttle = HostThrottle.from_settings(dataclasses.replace(settings, concurrency=1))
    done = threading.Event()

    def check() -> None:
        RobotsCache().check(client, f"{site.base}/page", settings, throttle)
        done.set()

    with throttle.slot():  # the only slot is taken
        worker = threading.Thread(target=check)
        worker.start()
        assert not done.wait(0.3)
        assert site.hits("/robots.txt") == []
    assert done.wait(5)
    worker.join()
    assert len(site.hits("/robots.txt")) == 1


def test_poll_threads_exceed_the_request_slots(settings: Settings) -> None:
    assert poll_threads(dataclasses.replace(settings, concurrency=16)) == 24
    assert poll_threads(dataclasses.replace(settings, concurrency=1)) == 2


def _run_partly_done(site: LocalSite, tmp_path: Path, items: list[tuple[str, str, datetime]]) -> None:
    """`veille run` on a feed of ``items``: partly done (exit 1), pages left to retry."""
    from flows.cli import main
    from tests.site import write_sources

    site.add("/feed.xml", rss_feed(site.base, items))
    feed = {"name": "Fil", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(write_sources(tmp_path / "s.toml", [feed]))]) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_host_that_asks_for_a_pause_is_not_asked_again_in_the_same_run(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 429 with Retry-After on one page puts its host's other pages on hold: each was asked
    in the same second all the same, answered 429 too and spent one of its VEILLE_MAX_ATTEMPTS
    (a rate-limited site had all its pages given up after a few runs). They wait, not asked,
    their attempt not counted, each with why in url_queue and fetch_log; the next run after the
    pause asks them."""
    # one request at a time to the host, as the hold is checked in its slot (with more, those
    # sent before the 429 came back are asked all the same)
    monkeypatch.setenv("VEILLE_PER_HOST_CONCURRENCY", "1")
    paths = [f"a/article-numero-{n}-du-jour.html" for n in range(6)]
    pause = {"status": 429, "content_type": "text/plain", "headers": {"Retry-After": "600"}}
    for path in paths:
        site.add(path, "slow down", **pause)
    _run_partly_done(site, tmp_path, [(f"Article {n}", p, NOW) for n, p in enumerate(paths)])
    asked = [r["path"] for r in site.log if r["path"].startswith("/a/")]
    assert len(asked) == 1, asked  # the first, whose answer asked for the pause
    with clean_db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT url, state, attempts, reason, next_attempt_at - now() AS wait FROM url_queue")
        ).all()
        logged = conn.execute(
            sa.text("SELECT url, unreached, reason FROM fetch_log WHERE kind = 'page' ORDER BY id")
        ).all()
    assert {r.state for r in rows} == {"pending"} and len(rows) == len(paths)
    first = f"{site.base}{asked[0]}"
    held = [r for r in rows if r.url != first]
    assert {r.attempts for r in held} == {0}
    assert all(
        r.reason.startswith("not asked: 127.0.0.1:") and "HTTP 429 with Retry-After 600 s" in r.reason
        for r in held
    ), held
    assert all(timedelta(seconds=500) < r.wait <= timedelta(seconds=600) for r in rows)
    assert [r.attempts for r in rows if r.url == first] == [1]
    assert len(logged) == len(paths) and all(r.unreached == "not-sent" for r in logged if r.url != first)


CONSENT_WALL = """<!DOCTYPE html><html lang="fr"><head><title>Avant d'accéder au site</title></head><body>
<main><h1>Nous respectons votre vie privée</h1>
<p>Avec nos partenaires, nous utilisons des cookies et des technologies similaires pour stocker et
accéder à des informations personnelles comme votre visite sur ce site. Vous pouvez retirer votre
consentement ou vous opposer aux traitements basés sur l'intérêt légitime à tout moment en cliquant
sur « En savoir plus » ou dans notre politique de confidentialité sur ce site.</p>
<p>Avec nos partenaires, nous traitons les données suivantes : données de géolocalisation précises et
identification par analyse du terminal, publicités et contenu personnalisés, mesure de performance
des publicités et du contenu, études d'audience et développement de services.</p>
<p>Le sommet pour l'action sur l'intelligence artificielle réunit à Paris les dirigeants du monde
entier, et nos journalistes vous en racontent chaque jour les coulisses.</p>
<button>Tout accepter</button> <button>Tout refuser</button></main></body></html>"""


@pytest.mark.usefixtures("prefect_harness")
def test_articles_redirected_to_a_consent_wall_are_not_stored_as_it(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A site that sends each article's URL to its consent wall, with the article's URL for the
    way back: the wall was stored as the first article ("Nous respectons votre vie privée") and
    the others as copies of it, all three fetched for good. They are blocked, tried again later,
    with why."""
    from urllib.parse import quote

    paths = [f"politique/article-numero-{n}-sommet-ia.html" for n in range(3)]
    for path in paths:
        back = quote(f"{site.base}/{path}", safe="")
        site.add(path, b"", status=302, headers={"Location": f"/consent/collect?continue={back}"})
    site.add("/consent/collect", CONSENT_WALL)
    _run_partly_done(site, tmp_path, [(f"Sommet IA {n}", p, NOW) for n, p in enumerate(paths)])
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 0
        rows = conn.execute(sa.text("SELECT state, reason FROM url_queue")).all()
    wall = f"{site.base.removeprefix('http://')}/consent/collect"
    assert [r.state for r in rows] == ["pending"] * 3
    assert all(
        r.reason.endswith(
            f"blocked: redirected to a consent or login wall ({wall}) instead of the page; tried again later"
        )
        for r in rows
    ), rows


@pytest.mark.parametrize(
    ("first", "final", "wall"),
    [
        ("https://site.fr/a/b.html", "https://consent.site.fr/v2/collectConsent?sessionId=3", True),
        (
            "https://site.fr/a/b.html",
            "https://site.fr/connexion?redirect=https%253A%252F%252Fsite.fr%252Fa%252Fb.html",
            True,
        ),
        ("https://site.fr/a/b.html", "https://site.fr/login?next=https://site.fr/a/b.html", True),
        ("http://site.fr/a/b.html", "https://site.fr/a/b.html?utm_source=rss", False),
        (
            "http://feedproxy.google.com/~r/site/~3/abc/",
            "https://site.fr/a/b.html?utm_source=feedburner",
            False,
        ),
        ("https://site.fr/a/old.html", "https://site.fr/a/new.html?was=/a/old.html", False),
    ],
)
def test_a_wall_is_told_by_its_url(first: str, final: str, wall: bool) -> None:
    from monitors.collect.results import FetchResult, wall_in_the_way

    out = wall_in_the_way(FetchResult(first, final, "ok", 200, b"<html>page</html>"))
    assert (out.outcome == "error" and out.blocked and out.error_class == "transient") is wall, out


@pytest.mark.parametrize("kind", ["listing", "feed"])
def test_a_source_redirected_to_a_consent_wall_is_blocked(
    site: LocalSite, db: Session, client: Client, settings: Settings, kind: str
) -> None:
    """A listing page sent to the site's consent wall read the wall's links as the site's
    articles, the source healthy (a feed said "not a feed: an HTML page", permanent): it is
    blocked, cause first, as a challenge page is (a fallback URL, when it has one, is polled)."""
    from urllib.parse import quote

    links = "".join(
        f"<li><a href='/politique/{slug}.html'>{slug}</a></li>"
        for slug in ("le-sommet-de-paris-sur-l-ia", "une-autre-histoire-du-jour")
    )
    site.add("/consent", CONSENT_WALL.replace("</main>", f"<ul>{links}</ul></main>"))
    back = quote(f"{site.base}/actualites", safe="")
    site.add("/actualites", b"", status=302, headers={"Location": f"/consent?continue={back}"})
    state = _source(db, f"{site.base}/actualites", kind)
    out, src = _poll_and_apply(db, client, settings, state)
    assert out.entries == [] and out.error_class == "blocked", (out.error, out.entries)
    wall = f"{site.base.removeprefix('http://')}/consent"
    assert (
        src.last_error
        == f"blocked: redirected to a consent or login wall ({wall}) instead of the page; tried again later"
    )
    assert src.last_error_class == "blocked" and src.suggested_feeds is None


def test_a_site_s_other_feeds_are_not_asked_after_its_429(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """Several feeds of one site, polled in one run: once one answered 429 with Retry-After,
    the others were asked all the same, in the same second, each answered 429. They are not
    asked until the pause is over, each with why, polled again after it."""
    pause = {"status": 429, "content_type": "text/plain", "headers": {"Retry-After": "600"}}
    paths = [f"/rubrique-{n}/rss.xml" for n in range(4)]
    for path in paths:
        site.add(path, "slow down", **pause)
    states = [_source(db, f"{site.base}{path}") for path in paths]
    throttle = HostThrottle(per_host=1, delay=0.0)  # one request at a time to the site
    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda s: poll_source(client, settings, s, throttle), states))
    assert len([r for r in site.log if r["path"] in paths]) == 1
    held = [o for o in outcomes if o.fetch.held]
    assert len(held) == 3 and all(o.error_class == "transient" for o in held)
    host = site.base.removeprefix("http://")
    assert all(
        o.error == f"not asked: {host} answered HTTP 429 with Retry-After 600 s to an earlier request; "
        "asked again after it"
        for o in held
    )
    for outcome in outcomes:
        apply_poll(db, outcome, settings=settings)
    db.flush()
    for state in states:
        src = db.get(Source, state.id)
        assert src is not None and src.next_poll_at is not None
        db.refresh(src)
        assert src.next_poll_at - datetime.now(UTC) > timedelta(seconds=590), src.last_error
