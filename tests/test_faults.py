# ruff: noqa: E501
"""Fault suite: hostile or broken input that must keep failing cleanly (issue 14).

Each case is one a hostile test suite found holding, and that no other test covered: they are
pinned here so they keep holding. Cases covered elsewhere are listed at the end, with the test
that holds them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.articles import apply_ingest
from monitors.archive.models import QueuedUrl, Source
from monitors.archive.polls import apply_poll
from monitors.archive.queue import claim_items
from monitors.collect.http import Client, fetch, make_client
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.ingest import process_item
from monitors.judge.topic import load_topic
from monitors.settings import Settings
from tests.site import LocalSite, Request, rss_feed
from tests.test_source_kinds import NOW


def poll(client: Client, settings: Settings, url: str) -> PollOutcome:
    return poll_source(client, settings, SourceState(1, "t", "feed", url))


# --- feeds ---------------------------------------------------------------------------------


def test_a_feed_of_its_xml_declaration_alone_is_a_permanent_error(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A body with nothing but ``<?xml ...?>`` is no feed (an empty body is transient: a deploy
    or a cache glitch, tests/test_empty_answers.py)."""
    site.add("/empty.xml", b'<?xml version="1.0" encoding="UTF-8"?>\n', content_type="application/rss+xml")
    out = poll(client, settings, f"{site.base}/empty.xml")
    assert out.error and out.error_class == "permanent" and out.entries == []


def test_feed_with_thousands_of_items_is_read_whole(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    items = [(f"Article {i}", f"a/{i}.html", NOW) for i in range(5000)]
    site.add("/big.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    out = poll(client, settings, f"{site.base}/big.xml")
    assert out.error is None and len(out.entries) == 5000


def test_feed_over_the_cap_is_refused_not_read(site: LocalSite, client: Client, settings: Settings) -> None:
    items = [(f"Article {i} " + "x" * 200, f"a/{i}.html", NOW) for i in range(2000)]
    site.add("/huge.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    small = dataclasses.replace(settings, max_bytes=100_000)
    out = poll(client, small, f"{site.base}/huge.xml")
    assert out.error_class == "permanent" and "byte cap" in (out.error or "") and out.entries == []


def test_gzip_bomb_feed_is_capped(site: LocalSite, client: Client, settings: Settings) -> None:
    bomb = gzip.compress(b"<rss>" + b" " * 5_000_000)
    site.add("/bomb.xml", bomb, content_type="application/rss+xml", headers={"Content-Encoding": "gzip"})
    small = dataclasses.replace(settings, max_bytes=200_000)
    out = poll(client, small, f"{site.base}/bomb.xml")
    assert out.error_class == "permanent" and "byte cap" in (out.error or "")


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>&lol9;</title><link>{base}/a/laughs.html</link></item></channel></rss>"""


def test_billion_laughs_does_not_expand(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/lol.xml", BILLION_LAUGHS.format(base=site.base), content_type="application/rss+xml")
    started = time.monotonic()
    out = poll(client, settings, f"{site.base}/lol.xml")
    assert time.monotonic() - started < 10
    titles = [e.title or "" for e in out.entries]
    assert all(len(t) < 10_000 for t in titles)


def test_xxe_reads_no_file_and_fetches_no_entity(site: LocalSite, client: Client, settings: Settings) -> None:
    secret = os.path.abspath(__file__)
    body = (
        '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file://' + secret + '">'
        f'<!ENTITY remote SYSTEM "{site.base}/entity.txt">]>'
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>&xxe;&remote;</title><link>{site.base}/a/xxe.html</link>"
        "<description>&xxe;</description></item></channel></rss>"
    )
    site.add("/xxe.xml", body, content_type="application/rss+xml")
    site.add("/entity.txt", "ENTITY-FETCHED", content_type="text/plain")
    out = poll(client, settings, f"{site.base}/xxe.xml")
    text = " ".join(f"{e.title} {e.summary}" for e in out.entries)
    assert "Fault suite" not in text and "ENTITY-FETCHED" not in text
    assert site.hits("/entity.txt") == []


def test_binary_body_labelled_as_a_feed_is_an_error(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/noise.xml", os.urandom(20_000), content_type="application/rss+xml")
    out = poll(client, settings, f"{site.base}/noise.xml")
    assert out.error and out.entries == []


# --- HTTP -----------------------------------------------------------------------------------


def test_a_long_redirect_chain_is_told_from_a_loop(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """Six redirects, each to a URL not asked before: a chain, not a loop ("too many
    redirects" alone said neither), its last URLs named, the last one not asked."""
    for i in range(6):
        site.add(f"/hop{i}", b"", status=302, headers={"Location": f"/hop{i + 1}"})
    result = fetch(client, f"{site.base}/hop0", settings)
    assert result.outcome == "error" and result.error_class == "permanent"
    hops = " -> ".join(f"{site.base}/hop{i}" for i in range(3, 7))
    assert result.reason == (
        f"too many redirects: a chain of more than 5 hops, no URL asked twice (... -> {hops}, not asked)"
    ), result.reason
    assert site.hits("/hop6") == []


def test_redirect_loop_ends_as_too_many_redirects(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/loop-a", b"", status=302, headers={"Location": "/loop-b"})
    site.add("/loop-b", b"", status=302, headers={"Location": "/loop-a"})
    result = fetch(client, f"{site.base}/loop-a", settings)
    assert result.outcome == "error" and result.error_class == "permanent"
    a, b = f"{site.base}/loop-a", f"{site.base}/loop-b"
    assert result.reason == (  # a loop, said so, with the chain's last URLs
        f"too many redirects: a loop, {b} redirects to {a}, asked before (... -> {b} -> {a} -> {b} -> {a})"
    ), result.reason
    # the last redirect's target (loop-a) was not asked: the host reached is the last asked's
    # (the offline hint counts it), the target is where it stopped
    assert result.final_url == f"{site.base}/loop-a" and not result.sent
    assert result.sent_url == f"{site.base}/loop-b"
    assert result.host == urlsplit(site.base).netloc


@contextlib.contextmanager
def raw_server(handle: Callable[[socket.socket, threading.Event], None]) -> Iterator[str]:
    """A loopback TCP server that gives each connection to ``handle`` in its own thread, for
    the faults an HTTP server library will not produce (resets, bodies that drip)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            threading.Thread(target=handle, args=(conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        server.close()


@pytest.fixture
def resetting_server() -> Iterator[str]:
    """A server that accepts connections and resets them at once."""

    def reset(conn: socket.socket, stop: threading.Event) -> None:
        conn.recv(1024)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    with raw_server(reset) as url:
        yield url


def test_connection_reset_is_transient(resetting_server: str, client: Client, settings: Settings) -> None:
    result = fetch(client, f"{resetting_server}/page.html", settings)
    assert result.outcome == "error" and result.error_class == "transient"


def test_redirect_to_a_private_address_is_refused(site: LocalSite, settings: Settings) -> None:
    from monitors.collect.http import make_client

    strict = dataclasses.replace(settings, allow_private_network=False)
    with make_client(strict) as client:
        result = fetch(client, "http://100.100.100.200/latest/meta-data/", strict)
    assert result.outcome == "refused" and "100.100.100.200" in (result.reason or "")


# --- server headers ---------------------------------------------------------------------------


def _polled_source(db: Session, client: Client, settings: Settings, url: str, kind: str = "feed") -> Source:
    """A new source of ``url``, polled once and its poll stored."""
    src = Source(name=url, kind=kind, url=url, owner="media")
    db.add(src)
    db.flush()
    apply_poll(db, poll_source(client, settings, SourceState(src.id, src.name, kind, url)), settings=settings)
    db.flush()
    db.refresh(src)
    return src


#: Retry-After misprints: twenty digits (a float past any date), and a Unix time in milliseconds
HUGE_RETRY_AFTERS = ("99999999999999999999", "1733412345000")


@pytest.mark.parametrize("retry_after", HUGE_RETRY_AFTERS)
def test_a_page_with_a_huge_retry_after_is_retried_within_a_day(
    site: LocalSite, db: Session, settings: Settings, retry_after: str
) -> None:
    """A 503 whose ``Retry-After`` is absurd goes back to the queue for at most a day; its next
    attempt's date overflowed (OverflowError), which killed the ingest worker with its batch."""
    site.add("/une.xml", rss_feed(site.base, [("Un article", "a/1.html", NOW)]))
    site.add("/a/1.html", "busy", status=503, content_type="text/plain", headers={"Retry-After": retry_after})
    src = Source(name="Une", kind="feed", url=f"{site.base}/une.xml", owner="media")
    db.add(src)
    db.flush()
    with make_client(settings) as client:
        apply_poll(db, poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url)))
        [item] = claim_items(db, 5)
        out = process_item(client, settings, item, load_topic())
        assert apply_ingest(db, out, settings.max_attempts) == "retry"
    row = db.get(QueuedUrl, item.id)
    assert row is not None
    db.refresh(row)
    assert row.state == "pending" and (row.reason or "").startswith("retry 1/")
    wait = row.next_attempt_at - datetime.now(UTC)
    assert timedelta(hours=23) < wait <= timedelta(days=1, minutes=1)


@pytest.mark.parametrize("retry_after", HUGE_RETRY_AFTERS)
def test_a_source_with_a_huge_retry_after_is_polled_again_within_a_day(
    site: LocalSite, db: Session, client: Client, settings: Settings, retry_after: str
) -> None:
    """Likewise a source's: its failure is stored, its next poll a day away at most."""
    site.add(
        "/feed.xml", "slow down", status=429, content_type="text/plain", headers={"Retry-After": retry_after}
    )
    src = _polled_source(db, client, settings, f"{site.base}/feed.xml")
    assert (
        src.last_error == "blocked: HTTP 429 Too Many Requests (rate limited)"
        and src.consecutive_failures == 1
    )
    assert src.next_poll_at is not None
    assert src.next_poll_at - datetime.now(UTC) <= timedelta(days=1, minutes=1)


def test_a_feed_whose_etag_holds_a_nul_is_stored_with_its_entries(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """A NUL in ``ETag`` or ``Last-Modified`` (PostgreSQL text cannot hold one) is dropped: the
    poll was not stored at all ("could not store this poll"), its entries lost at every poll."""
    site.add(
        "/feed.xml",
        rss_feed(site.base, [("Un article", "a/1.html", NOW)]),
        content_type="application/rss+xml",
        headers={"ETag": '"ab\x00cd"', "Last-Modified": "Mon, 10 Feb 2025 12:00:00 GMT\x00"},
    )
    src = _polled_source(db, client, settings, f"{site.base}/feed.xml")
    assert src.last_error is None and src.etag == '"abcd"'
    assert src.last_modified == "Mon, 10 Feb 2025 12:00:00 GMT"
    assert db.scalars(select(QueuedUrl.url).where(QueuedUrl.source_id == src.id)).all() == [
        f"{site.base}/a/1.html"
    ]


# --- pages ----------------------------------------------------------------------------------


def _poll_and_ingest(site: LocalSite, db: Session, settings: Settings) -> dict[str, str]:
    """Poll the site's feed /une.xml, then ingest its entries: what became of each URL."""
    src = Source(name="Une", kind="feed", url=f"{site.base}/une.xml", owner="media")
    db.add(src)
    db.flush()
    with make_client(settings) as client:
        apply_poll(db, poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url)))
        return {
            item.url: apply_ingest(
                db, process_item(client, settings, item, load_topic()), settings.max_attempts
            )
            for item in claim_items(db, 5)
        }


def test_a_removed_article_answered_200_is_a_soft_404_not_an_article(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A feed's article removed since, answered 200 with the site's "page introuvable" page,
    fails once with the reason; it was stored as an article whose text was the error page's.
    An article whose title says "404" is still one (its text is no error page's few lines)."""
    gone = (
        "<html><head><title>Page introuvable | Le Parisien</title></head><body><main>"
        "<h1>Oups ! Cette page n'existe pas ou plus.</h1><p>Erreur 404. Retournez à l'accueil "
        "ou consultez nos dernières actualités.</p></main></body></html>"
    )
    body = " ".join(["La Peugeot 404, berline dessinée par Pininfarina, a fêté ses soixante ans."] * 20)
    car = f"<html><head><title>La Peugeot 404 a soixante ans</title></head><body><article><h1>La Peugeot 404 a soixante ans</h1><p>{body}</p></article></body></html>"
    site.add(
        "/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW), ("La 404", "a/2.html", NOW)])
    )
    site.add("/a/1.html", gone)
    site.add("/a/2.html", car)
    done = _poll_and_ingest(site, db, settings)
    assert done == {f"{site.base}/a/1.html": "failed", f"{site.base}/a/2.html": "stored"}
    reason = db.scalar(select(QueuedUrl.reason).where(QueuedUrl.url == f"{site.base}/a/1.html"))
    assert reason == "soft 404: the page's title says 'Page introuvable | Le Parisien'"


def test_a_page_whose_header_the_body_contradicts_says_so_in_the_fetch_log(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A page sent with ``Content-Encoding: gzip`` on a plain body is read as sent; that was
    in the article's ``extraction_evidence.transport`` alone, not for a page that gave no
    article. The page's ``fetch_log`` row says it (``transport``) either way."""
    from monitors.archive.models import FetchLog

    lie = "Content-Encoding: gzip on a body that is not gzip (it starts with '<'): read as sent"
    body = " ".join(["Le sommet de Paris sur l'intelligence artificielle s'est ouvert lundi."] * 20)
    page = f"<html><head><title>Le sommet</title></head><body><article><h1>Le sommet</h1><p>{body}</p></article></body></html>"
    site.add("/une.xml", rss_feed(site.base, [("Le sommet", "a/1.html", NOW), ("Vide", "a/2.html", NOW)]))
    site.add("/a/1.html", page, headers={"Content-Encoding": "gzip"})
    gone = "<html><head><title>Page introuvable</title></head><body><h1>Erreur 404</h1><p>Cette page n'existe plus.</p></body></html>"
    site.add("/a/2.html", gone, headers={"Content-Encoding": "gzip"})
    done = _poll_and_ingest(site, db, settings)
    assert done == {f"{site.base}/a/1.html": "stored", f"{site.base}/a/2.html": "failed"}
    rows = db.execute(select(FetchLog.url, FetchLog.transport).where(FetchLog.kind == "page")).all()
    assert sorted(rows) == [(f"{site.base}/a/1.html", lie), (f"{site.base}/a/2.html", lie)]


def test_an_article_redirected_to_the_home_page_is_gone_not_stored(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A removed article whose URL the site sends to its home page fails once with the reason;
    the home page was stored as the article. A redirect to another article is followed."""
    links = "".join(
        f'<li><a href="/politique/sommet-ia-{i}.html">Sommet de l\'IA, épisode {i} : Macron reçoit</a>'
        f"<p>Résumé de l'épisode {i} du sommet de Paris et de ses dirigeants.</p></li>"
        for i in range(40)
    )
    site.add(
        "/", f"<html><head><title>Le Journal</title></head><body><main><ul>{links}</ul></main></body></html>"
    )
    site.add("/a/retire.html", b"", status=301, headers={"Location": "/"})
    site.add("/a/ancien.html", b"", status=301, headers={"Location": "/a/nouveau.html"})
    body = " ".join(["Le sommet pour l'action sur l'IA réunit les dirigeants à Paris."] * 20)
    site.add(
        "/a/nouveau.html",
        f"<html><head><title>Le sommet</title></head><body><article><p>{body}</p></article></body></html>",
    )
    site.add(
        "/une.xml", rss_feed(site.base, [("Retiré", "a/retire.html", NOW), ("Déplacé", "a/ancien.html", NOW)])
    )
    done = _poll_and_ingest(site, db, settings)
    assert done == {f"{site.base}/a/retire.html": "failed", f"{site.base}/a/ancien.html": "stored"}
    reason = db.scalar(select(QueuedUrl.reason).where(QueuedUrl.url == f"{site.base}/a/retire.html"))
    assert reason == f"redirected to the home page {site.base}/: the article is gone"


def test_a_listing_page_answered_200_as_not_found_is_a_failing_source(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """A party's "actualités" page removed in a redesign and answered 200 with the site's
    "page introuvable" page fails with the cause (counted, the source failing in time); it was
    a warning, "no links that look like articles", on a source healthy for good."""
    site.add(
        "/actualites",
        "<html><head><title>Page introuvable - Renaissance</title></head><body><nav><a href='/'>Accueil</a>"
        "</nav><main><h1>Oups, cette page n'existe pas</h1><p>Erreur 404</p></main></body></html>",
    )
    src = _polled_source(db, client, settings, f"{site.base}/actualites", "listing")
    assert src.last_error == "soft 404: the listing page's title says 'Page introuvable - Renaissance'"
    assert src.last_error_class == "permanent" and src.consecutive_failures == 1


# --- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["a & b", "!", "'", "(sommet", "a <-> <-> b", "\\", "&&&", ""])
def test_tsquery_syntax_in_search_is_plain_text(db: Session, query: str) -> None:
    from monitors.archive.reads import search

    assert isinstance(search(db, query, 10, False), list)


@pytest.mark.parametrize("query", ["a & | b", "ia:*"])
def test_tsquery_operators_that_would_change_the_query_are_refused_not_a_syntax_error(
    db: Session, query: str
) -> None:
    """A | or a trailing :* would be read as a space (a AND b, ia alone): refused with the
    reason (QueryError, exit 2 in `veille search`), never PostgreSQL's syntax error."""
    from monitors.archive.reads import search
    from monitors.archive.web_query import QueryError

    with pytest.raises(QueryError, match="is not search syntax here"):
        search(db, query, 10, False)


# Covered elsewhere (kept holding there):
# malformed and truncated feeds: test_source_kinds.test_bozo_feed_yields_partial_entries_and_the_reason
# mis-encoded feeds and pages: test_encodings; oversized pages: test_source_failures.test_oversized_body_is_permanent
# gzip bomb in a sitemap: test_source_kinds.test_gzip_bomb_is_refused
# 404/410/500/429 + Retry-After: test_http.test_status_classes, test_source_failures (429, 503, gone feed)
# timeouts: test_source_failures.test_timeout_is_transient; binary pages (PDF, images):
# test_source_failures.test_pdf_and_image_pages_are_skipped_with_the_reason
# private addresses and redirects to them: test_http.test_private_and_odd_urls_are_refused,
# test_every_redirect_hop_is_checked; two runs at once: test_concurrent_runs
# kill -9 then re-run: test_processes and test_database_faults (a dead worker's rows are free at once)


# --- fixed by issue 14 ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://100.100.100.200/latest/meta-data/",  # shared address space 100.64.0.0/10
        "http://100.64.0.1/",
        "http://198.18.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:10.0.0.1]/",
        "http://240.0.0.1/",
    ],
)
def test_every_non_global_address_is_refused(url: str) -> None:
    from monitors.collect.addresses import RefusedAddress, check_url_allowed

    with pytest.raises(RefusedAddress, match="non-public"):
        check_url_allowed(url, allow_private=False)


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """DNS that answers 127.0.0.1 the first time a name is asked and an unreachable address
    after (a rebinding attacker's answer); 127.0.0.1 counts as public for the test."""
    import ipaddress

    import monitors.collect.addresses

    real = socket.getaddrinfo
    asked: dict[str, int] = {}

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> object:
        if not str(host).endswith(".rebind.test"):
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        asked[host] = asked.get(host, 0) + 1
        ip = "127.0.0.1" if asked[host] == 1 else "10.255.255.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port)))]  # type: ignore[call-overload]

    def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return str(addr) == "127.0.0.1"

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(monitors.collect.addresses, "is_public", is_public)
    return asked


def test_the_fetch_connects_to_the_address_that_was_checked(
    site: LocalSite, settings: Settings, rebinding_dns: dict[str, int]
) -> None:
    """One lookup per host and hop: the connection goes to the address the check accepted,
    with the host name in the Host header, also after a redirect to another host."""
    from monitors.collect.http import make_client

    port = site.server.server_port
    hosts: list[str] = []

    def page(request: Request) -> tuple[int, dict[str, str], bytes]:
        hosts.append(request.headers.get("host", ""))
        return 200, {"Content-Type": "text/html"}, b"<html><body>ok</body></html>"

    site.add("/final.html", b"", handler=page)
    site.add("/start", b"", status=302, headers={"Location": f"http://b.rebind.test:{port}/final.html"})
    strict = dataclasses.replace(settings, allow_private_network=False, timeout=2)
    with make_client(strict) as client:
        result = fetch(client, f"http://a.rebind.test:{port}/start", strict)
    assert result.outcome == "ok", result.reason
    assert rebinding_dns == {"a.rebind.test": 1, "b.rebind.test": 1}
    assert hosts == [f"b.rebind.test:{port}"]


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """A server that sends its headers, then one byte of body every 0.2 s for a minute."""

    def drip(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 300\r\n\r\n")
            for _ in range(300):
                if stop.wait(0.2):
                    break
                conn.sendall(b"x")
        except OSError:
            pass
        finally:
            conn.close()

    with raw_server(drip) as url:
        yield url


def test_a_dripping_body_ends_at_the_total_deadline(dripping_server: str, settings: Settings) -> None:
    from monitors.collect.http import make_client

    quick = dataclasses.replace(settings, timeout=2.0, fetch_deadline=3.0)
    started = time.monotonic()
    with make_client(quick) as client:
        result = fetch(client, f"{dripping_server}/slow.html", quick)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed  # not the minute the server would take
    assert result.outcome == "error" and result.error_class == "transient"
    assert (result.reason or "").startswith("deadline: no complete answer from 127.0.0.1")


def _drip_head(head: bytes) -> Callable[[socket.socket, threading.Event], None]:
    """A server that sends ``head`` whole, then one more header line every 0.2 s for a minute
    (or, with an empty ``head``, its status line a byte at a time)."""

    def drip(conn: socket.socket, stop: threading.Event) -> None:
        try:
            conn.recv(4096)
            conn.sendall(head)
            pieces = [bytes([b]) for b in b"HTTP/1.1 200 OK\r\n"] if not head else []
            pieces += [b"X-Drip-%d: y\r\n" % i for i in range(300)]
            for piece in pieces:
                if stop.wait(0.2):
                    break
                conn.sendall(piece)
        except OSError:
            pass
        finally:
            conn.close()

    return drip


@pytest.mark.parametrize(
    "head", [b"", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"], ids=["status", "headers"]
)
@pytest.mark.parametrize("stream", [False, True], ids=["fetch", "open_stream"])
def test_a_dripping_status_line_or_headers_end_at_the_total_deadline(
    settings: Settings, head: bytes, stream: bool
) -> None:
    from monitors.collect.http import make_client, open_stream

    quick = dataclasses.replace(settings, timeout=2.0, fetch_deadline=3.0)
    started = time.monotonic()
    with raw_server(_drip_head(head)) as url, make_client(quick) as client:
        if stream:
            with open_stream(client, f"{url}/slow.warc.gz", quick) as (result, response):
                assert response is None
        else:
            result = fetch(client, f"{url}/slow.html", quick)
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, elapsed  # not the minute the server would take
    assert result.outcome == "error" and result.error_class == "transient", result
    if not stream:  # open_stream's reason says the timeout only
        assert (result.reason or "").startswith("deadline: no complete answer from 127.0.0.1")


def test_fetch_deadline_setting_defaults_to_three_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitors.settings import get_settings

    monkeypatch.setenv("VEILLE_TIMEOUT", "7")
    monkeypatch.delenv("VEILLE_FETCH_DEADLINE", raising=False)
    assert get_settings().fetch_deadline == 21.0
    monkeypatch.setenv("VEILLE_FETCH_DEADLINE", "90")
    assert get_settings().fetch_deadline == 90.0


def test_declined_feed_entries_are_recorded_with_their_reason(db: Session) -> None:
    from monitors.archive.models import FetchLog, QueuedUrl, Source
    from monitors.archive.polls import apply_poll
    from monitors.collect.feeds import parse_feed
    from monitors.collect.results import FetchResult

    links = ["javascript:alert(1)", "mailto:redaction@example.fr", "file:///etc/passwd", "data:text/html,hi"]
    links += ["ftp://example.fr/a.txt", "https://example.fr/ok.html"]
    items = "".join(f"<item><title>T{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    body = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()
    )
    parsed = parse_feed(body, "https://example.fr/feed.xml", "application/rss+xml")
    schemes = [link.split(":")[0] for link in links]
    assert [e.url.split(":")[0] for e in parsed.entries] == schemes
    source = Source(name="Declines", kind="feed", url="https://example.fr/feed.xml", owner="media")
    db.add(source)
    db.flush()
    fetched = FetchResult("https://example.fr/feed.xml", "https://example.fr/feed.xml", "ok", 200, body)
    outcome = PollOutcome(source_id=source.id, kind="feed", fetch=fetched, entries=parsed.entries)
    apply_poll(db, outcome)
    queued = db.query(QueuedUrl.url).filter(QueuedUrl.source_id == source.id).all()
    assert [u for (u,) in queued] == ["https://example.fr/ok.html"]
    declined = {
        row.url: row.reason
        for row in db.query(FetchLog).filter(FetchLog.source_id == source.id, FetchLog.kind == "entry")
    }
    assert sorted(url.split(":")[0] for url in declined) == sorted(schemes[:-1])
    assert all("not an absolute http(s) URL" in (reason or "") for reason in declined.values())
    assert {row.outcome for row in db.query(FetchLog).filter(FetchLog.kind == "entry")} == {"skipped"}


_SY = "xmlns:sy='http://purl.org/rss/1.0/modules/syndication/'"


@pytest.mark.parametrize(
    ("hint", "declared"),
    [
        ("<ttl>²</ttl>", None),
        ("<ttl>99999999999999999999</ttl>", 365 * 86400),
        ("<ttl>36000000</ttl>", 365 * 86400),  # minutes: 2,160,000,000 s, past a 4-byte integer
        ("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>²</sy:updateFrequency>", 3600),
    ],
    ids=["ttl-superscript", "ttl-20-digits", "ttl-past-int4", "frequency-superscript"],
)
def test_an_odd_update_period_hint_loses_no_feed(
    site: LocalSite, db: Session, client: Client, settings: Settings, hint: str, declared: int | None
) -> None:
    """A channel's ``<ttl>`` or ``sy:updateFrequency`` that is no ASCII number, or a huge one,
    lost the whole feed at every poll: "could not read this feed: ValueError: invalid literal
    for int()" (``str.isdigit`` is true of "²"), or "Integer exceeds 64-bit range (could not
    store this poll)". It is a hint: unreadable, none; huge, a year."""
    feed = rss_feed(site.base, [("Un article", "a/1.html", NOW)]).replace("<language>", f"{hint}<language>")
    feed = feed.replace("<rss version='2.0'>", f"<rss version='2.0' {_SY}>")
    site.add("/feed.xml", feed, content_type="application/rss+xml")
    source = Source(name=f"Hint {hint}", kind="feed", url=f"{site.base}/feed.xml", owner="media")
    db.add(source)
    db.flush()
    outcome = poll_source(client, settings, SourceState(source.id, source.name, "feed", source.url))
    assert outcome.error is None and outcome.declared_interval == declared, outcome.error
    summary = apply_poll(db, outcome)
    assert summary.outcome == "ok" and summary.new == 1, summary
    db.refresh(source)
    assert source.last_error is None and source.declared_interval_seconds == declared


_ORIGLINK = "xmlns:feedburner='http://rssnamespace.org/feedburner/ext/1.0'"


@pytest.mark.parametrize("kind", ["json-feed-id", "rss-origlink"])
def test_a_malformed_item_url_is_declined_and_the_feed_read(
    site: LocalSite, db: Session, client: Client, settings: Settings, kind: str
) -> None:
    """One item whose URL urljoin refuses ("http://[::1/x": a JSON Feed id, a FeedBurner
    origLink) lost the whole feed ("could not read this feed: ValueError: Invalid IPv6 URL"),
    the source in a permanent error and sent to discovery; it is one entry declined, with why."""
    from monitors.archive.models import FetchLog

    bad = "http://[::1/x"
    good = [f"{site.base}/a/premier-article-du-jour.html", f"{site.base}/a/second-article-du-jour.html"]
    if kind == "json-feed-id":
        items = [{"id": u, "url": u, "title": f"T{n}", "content_text": "x"} for n, u in enumerate(good)]
        items.append({"id": bad, "title": "Cassé", "content_text": "y"})
        feed = {"version": "https://jsonfeed.org/version/1.1", "title": "f", "items": items}
        site.add("/feed", json.dumps(feed), content_type="application/feed+json")
    else:
        rows = "".join(f"<item><title>T{n}</title><link>{u}</link></item>" for n, u in enumerate(good))
        rows += f"<item><title>Cassé</title><link>{site.base}/b</link><feedburner:origLink>{bad}"
        rows += "</feedburner:origLink></item>"
        body = f"<?xml version='1.0'?><rss version='2.0' {_ORIGLINK}><channel><title>f</title>{rows}"
        site.add("/feed", body + "</channel></rss>", content_type="application/rss+xml")
    source = Source(name=f"Malformed {kind}", kind="feed", url=f"{site.base}/feed", owner="media")
    db.add(source)
    db.flush()
    outcome = poll_source(client, settings, SourceState(source.id, source.name, "feed", source.url))
    assert outcome.error is None, outcome.error
    summary = apply_poll(db, outcome)
    assert summary.outcome == "ok" and summary.new == 2
    queued = db.scalars(select(QueuedUrl.url).where(QueuedUrl.source_id == source.id))
    assert sorted(queued) == good
    declined = db.execute(
        select(FetchLog.url, FetchLog.outcome, FetchLog.reason).where(
            FetchLog.source_id == source.id, FetchLog.kind == "entry"
        )
    ).all()
    assert [(url, outcome) for url, outcome, _ in declined] == [(bad, "skipped")]
    assert "unusable entry URL" in (declined[0].reason or "") and "Invalid IPv6 URL" in declined[0].reason
    db.refresh(source)
    assert source.last_error is None and source.suggested_feeds is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('[[source]\nname = "X"\n', "sources.toml"),
        (
            '[[source]]\nname = "X"\nkind = "telegram"\nurl = "https://x.fr"\nowner = "media"\n',
            "unknown kind",
        ),
        ('[[source]]\nname = "X"\nkind = "feed"\nowner = "media"\n', "url"),
    ],
    ids=["syntax", "unknown-kind", "missing-url"],
)
def test_a_bad_sources_file_stops_before_any_flow_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    content: str,
    expected: str,
) -> None:
    import flows.direct
    import flows.runs
    from flows.cli import main

    def no_flow(*args: object, **kwargs: object) -> None:
        raise AssertionError("a flow started")

    monkeypatch.setattr(flows.runs, "run_flow", no_flow)
    monkeypatch.setattr(flows.direct, "run_direct", no_flow)
    bad = tmp_path / "sources.toml"
    bad.write_text(content)
    assert main(["run", "--sources", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("veille: error: ") and err.count("\n") == 1 and expected in err, err
    assert "Traceback" not in err


def test_a_bad_setting_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.cli import main

    monkeypatch.setenv("VEILLE_TIMEOUT", "soon")
    assert main(["run"]) == 2
    assert capsys.readouterr().err == "veille: error: VEILLE_TIMEOUT must be a number, got 'soon'\n"


@pytest.mark.parametrize("name", ["VEILLE_ANALYSIS_DEADLINE", "VEILLE_FETCH_DEADLINE"])
@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_deadline_of_zero_or_less_is_refused(
    name: str, value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deadline of 0 would fail every page: a configuration error, before any flow."""
    from flows.cli import main

    monkeypatch.setenv(name, value)
    assert main(["run"]) == 2
    assert (
        capsys.readouterr().err
        == f"veille: error: {name} must be a number of seconds above 0 and at most 2147483, got {value!r}\n"
    )


def test_score_reports_binary_lines_one_by_one(tmp_path: Path) -> None:
    """A file or stdin with bytes that are not UTF-8 (under a strict UTF-8 locale, too): each
    such line is an error line, the others are scored, no traceback."""
    import subprocess

    from tests.test_concurrent_runs import ROOT, _command

    data = b'{"text": "Le sommet pour l\'action sur l\'IA"}\n\xff\xfe{"text": "x"}\n\x00\x9cbinaire\n{"text": "IA"}\n'
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(data)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1", "PYTHONPATH": str(ROOT)}
    for args, stdin in (([str(path)], None), ([], data)):
        done = subprocess.run(
            [*_command(), "score", *args], input=stdin, capture_output=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert b"Traceback" not in done.stderr
        lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
        assert [line.get("line") for line in lines] == [None, 2, 3, None]
        assert all("not UTF-8" in lines[i]["error"] for i in (1, 2))


# --- characters a feed names but no text can hold -------------------------------------------


@pytest.mark.parametrize("ref", ["&#55357;", "&#xDC00;", "&#0;", "&#1114112;", "&#99999999999;", "&#xFFFF;"])
@pytest.mark.parametrize("closed", [True, False], ids=["well-formed", "truncated"])
def test_a_reference_to_no_character_loses_nothing(
    site: LocalSite, client: Client, settings: Settings, db: Session, ref: str, closed: bool
) -> None:
    """feedparser raised on a lone surrogate's or an out-of-range reference (UnicodeEncodeError,
    ValueError, OverflowError), which lost the feed and stopped the poll; a NUL in a title made
    the source's whole poll unstorable. The reference becomes U+FFFD and the feed says so."""
    from monitors.archive.models import QueuedUrl, Source
    from monitors.archive.polls import apply_poll

    body = rss_feed(site.base, [("Sommet REF IA", "a/1.html", NOW), ("Deux", "a/2.html", NOW)])
    body = body.replace("REF", ref)  # rss_feed escapes "&"
    if not closed:
        body = body.replace("</rss>", "")
    site.add("/refs.xml", body, content_type="application/rss+xml")
    out = poll(client, settings, f"{site.base}/refs.xml")
    assert out.error is None, out.error
    assert [e.title for e in out.entries] == ["Sommet \ufffd IA", "Deux"]
    assert out.warning and "replaced by U+FFFD" in out.warning
    source = Source(name="Refs", kind="feed", url=f"{site.base}/refs.xml", owner="media")
    db.add(source)
    db.flush()
    summary = apply_poll(db, dataclasses.replace(out, source_id=source.id))
    assert (summary.outcome, summary.new) == ("ok", 2)
    titles = db.query(QueuedUrl.feed_title).filter(QueuedUrl.source_id == source.id).all()
    assert sorted(t or "" for (t,) in titles) == ["Deux", "Sommet \ufffd IA"]


def test_a_valid_reference_is_left_alone() -> None:
    from monitors.collect.feeds import replace_bad_char_refs

    body = b"<title>&#233;t&#xE9; &#x1F600; &#9; &#55295; &#57344; &#1114111;</title>"
    assert replace_bad_char_refs(body) == (body, 0)
    assert replace_bad_char_refs(b"a &#xD800;&#1; b") == (b"a &#xFFFD;&#xFFFD; b", 2)


# lone surrogates (Cs), emoji (astral: a pair in JSON), controls with NUL, backslashes
_ODD_TEXT = st.characters(categories=["Cs", "Ll", "Lu", "So", "Cc", "Zs", "Po"])


@settings_(max_examples=300)
@given(st.text(alphabet=_ODD_TEXT))
def test_entry_text_is_always_storable(value: str) -> None:
    from monitors.collect.encoding import storable

    cleaned = storable(value)
    if cleaned is not None:
        cleaned.encode("utf-8")  # no lone surrogate
        assert "\x00" not in cleaned and cleaned == cleaned.strip()
        if value.isascii() and "\x00" not in value:
            assert cleaned == value.strip()


def test_one_source_whose_reader_fails_does_not_stop_the_others(
    site: LocalSite, client: Client, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unforeseen failure reading one body (a bug in veille or a library) is that source's
    recorded error; the other sources of the cycle are polled and stored as usual."""
    from monitors.collect import poll as poll_module
    from monitors.collect.poll import poll_batches_as_completed

    real = poll_module.find_article_links

    def fragile(content: bytes, base: str, *args: object, **kwargs: object) -> list:
        if "/crash/" in base:
            raise RecursionError("maximum recursion depth exceeded")
        return real(content, base, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poll_module, "find_article_links", fragile)
    page = (
        '<html><body><a href="/2025/02/10/sommet-ia-paris.html">Le sommet de l\'IA à Paris</a></body></html>'
    )
    site.add("/crash/index.html", page, content_type="text/html")
    site.add("/fine/index.html", page, content_type="text/html")
    sources = [
        SourceState(1, "crash", "listing", f"{site.base}/crash/index.html"),
        SourceState(2, "fine", "listing", f"{site.base}/fine/index.html"),
    ]
    outcomes = {
        o.source_id: o for batch in poll_batches_as_completed(client, settings, sources, 1) for o in batch
    }
    assert outcomes[1].error_class == "permanent" and outcomes[1].entries == []
    assert outcomes[1].error == (
        "could not read this listing: RecursionError: maximum recursion depth exceeded"
        " (a fault in veille or a library)"
    )
    assert outcomes[2].error is None and len(outcomes[2].entries) == 1


@settings_(max_examples=300)
@given(st.text(alphabet=_ODD_TEXT, max_size=30), st.booleans())
def test_json_escapes_of_half_a_surrogate_pair_become_u_fffd(value: str, backslash: bool) -> None:
    """Decoded JSON-LD is always encodable: half a surrogate pair is U+FFFD, and everything
    else (a pair, an escaped backslash before "ud83d") decodes as JSON says."""
    from monitors.collect.encoding import loads_storable

    if backslash:
        value = "\\ud83d" + value
    decoded = loads_storable(json.dumps({"headline": value}))["headline"]
    decoded.encode("utf-8")
    # JSON's own reading: UTF-16 code units, a pair is one character, half a pair is U+FFFD
    assert decoded == value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
