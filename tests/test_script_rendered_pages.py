"""A page whose text only a browser running its scripts could show (a single-page app's HTML
shell: scripts, an empty mount point, a ``<noscript>`` asking for JavaScript) came whole and
holds no article: a permanent failure recorded once with that reason, not a page cut short
retried until its attempts ran out. A body the connection cut stays a transient failure."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import FetchLog, QueuedUrl
from monitors.judge import extract
from monitors.judge.extract import CutShortError, ExtractionError, extract_article
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed
from tests.test_faults import _poll_and_ingest, raw_server
from tests.test_source_kinds import NOW

HEAD = (
    "<!doctype html><html lang='fr'><head><meta charset='utf-8'><title>Le sommet de Paris</title>"
    "<link rel='stylesheet' href='/static/css/main.css'><script defer src='/static/js/main.js'></script>"
    "</head>"
)
#: The bodies of the shells single-page apps send: a mount point and scripts, with a
#: ``<noscript>`` that asks for JavaScript or not
SHELLS = {
    "noscript-and-root": "<body><noscript>Vous devez activer JavaScript pour lire ce site.</noscript>"
    "<div id='root'></div><script>window.__STATE__ = {};</script>",
    "custom-element": "<body><app-root></app-root><script src='/runtime.js'></script>"
    "<script src='/main.js'></script>",
    "loading-words": "<body><div id='app'>Chargement…</div><noscript>Activez JavaScript.</noscript>"
    "<template><p>Un gabarit que le script remplit.</p></template><script src='/app.js'></script>",
}
JS_REASON = r"^the page renders its text with JavaScript: no text in its HTML"


def _cut_or_whole(shell: str, framing: str) -> tuple[Callable[[socket.socket, threading.Event], None], bytes]:
    """A raw server's answer sending ``shell`` with ``framing``: ``length`` (Content-Length
    matching), ``chunked`` (ended by its last chunk), ``close`` (neither: the body ends with
    the connection), ``cut`` (Content-Length more than what is sent, then the connection closed)."""
    body = shell.encode()
    if framing == "chunked":
        frame, payload = b"Transfer-Encoding: chunked\r\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    elif framing == "close":
        frame, payload = b"", body
    else:
        size = len(body) * (2 if framing == "cut" else 1)
        frame, payload = b"Content-Length: %d\r\n" % size, body

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                + frame
                + b"Connection: close\r\n\r\n"
                + payload
            )

    return answer, body


def _ingest_once(
    site: LocalSite, db: Session, settings: Settings, url: str
) -> tuple[str, QueuedUrl, list[str]]:
    """Poll a feed listing ``url``, ingest it once: what became of it, its queue row, the
    reasons fetch_log recorded for it."""
    base, path = url.rsplit("/", 1)
    site.add("/une.xml", rss_feed(base, [("Le sommet de Paris", path, NOW)]))
    outcome = _poll_and_ingest(site, db, settings)[url]
    row = db.scalars(select(QueuedUrl).where(QueuedUrl.url == url)).one()
    logged = [r or "" for r in db.scalars(select(FetchLog.reason).where(FetchLog.url == url))]
    return outcome, row, logged


@pytest.mark.parametrize("shell", sorted(SHELLS))
@pytest.mark.parametrize("ending", ["</body></html>", ""], ids=["whole", "no-end-tags"])
def test_a_page_rendered_by_scripts_fails_once_for_good_with_its_reason(
    site: LocalSite, db: Session, settings: Settings, shell: str, ending: str
) -> None:
    """Served whole with its Content-Length, with or without its ``</body></html>``: one
    attempt, failed for good, the reason saying the text is the browser's to render. Before, a
    shell with a ``<noscript>`` was stored as an article whose text was the ``<noscript>``'s
    ("Vous devez activer JavaScript", flagged when the end tags were missing), one without
    failed as "no article text found in the page", or, without its end tags, as a page cut
    short, tried again until its attempts were spent."""
    site.add("/a/spa.html", f"{HEAD}{SHELLS[shell]}{ending}")
    outcome, row, logged = _ingest_once(site, db, settings, f"{site.base}/a/spa.html")
    assert outcome == "failed" and row.state == "failed" and row.attempts == 1
    assert row.reason is not None and row.reason.startswith(JS_REASON[1:])
    assert len(logged) == 1 and logged[0] == row.reason


@pytest.mark.parametrize("framing", ["chunked", "length"])
def test_a_shell_without_its_end_tags_told_whole_by_its_framing_fails_for_good(
    site: LocalSite, db: Session, settings: Settings, framing: str
) -> None:
    """Chunked and ended by its last chunk, or sent with its Content-Length: whole."""
    answer, _ = _cut_or_whole(f"{HEAD}{SHELLS['noscript-and-root']}", framing)
    with raw_server(answer) as base:
        outcome, row, _ = _ingest_once(site, db, settings, f"{base}/spa.html")
    assert outcome == "failed" and row.state == "failed"
    assert row.reason is not None and row.reason.startswith(JS_REASON[1:])


def test_a_shell_cut_by_the_connection_is_tried_again(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """The connection closed before the Content-Length's end: a body cut short, transient."""
    answer, _ = _cut_or_whole(f"{HEAD}{SHELLS['noscript-and-root']}</body></html>", "cut")
    with raw_server(answer) as base:
        outcome, row, logged = _ingest_once(site, db, settings, f"{base}/spa.html")
    assert outcome == "retry" and row.state == "pending"
    assert len(logged) == 1 and logged[0].startswith("body cut short")


def test_a_shell_without_its_end_tags_nor_framing_is_cut_short(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """A body the closing connection ends (no Content-Length, not chunked) may be any part of
    the page: without its ``</body></html>``, it is cut among its scripts, tried again."""
    answer, _ = _cut_or_whole(f"{HEAD}{SHELLS['noscript-and-root']}", "close")
    with raw_server(answer) as base:
        outcome, row, _ = _ingest_once(site, db, settings, f"{base}/spa.html")
    assert outcome == "retry" and row.state == "pending"
    assert "HTML cut short: the page stops among the scripts" in (row.reason or "")


@pytest.mark.parametrize(
    "body",
    [
        "<body><script>dataLayer.push({});</script><div id='pub-haut'></div>",
        "<body><noscript><img src='/pixel.gif' alt=''></noscript><div class='consent'></div>"
        "<script src='/cmp.js'></script>",
    ],
    ids=["ad-slot", "pixel"],
)
def test_a_page_cut_among_its_opening_scripts_stays_cut_short_whole_framing_or_not(body: str) -> None:
    """Nothing but scripts and empty blocks, no ``</body>``, no ``<noscript>`` asking for
    JavaScript, no element of its own: the cut of a page among the scripts that open its body
    (a proxy failing midway sends the Content-Length of what it sent)."""
    for framed in (True, False):
        with pytest.raises(CutShortError, match=r"^HTML cut short: the page stops among the scripts"):
            extract_article(f"{HEAD}{body}".encode(), "https://ex.fr/a.html", framed=framed)


@pytest.mark.parametrize(
    "body",
    [
        "<body><div id='root'><p>Chargement de l'article sur le sommet de Paris.</p></div>",
        "<body><div id='root'></div><img src='/carte.png' alt=''>",
    ],
    ids=["text", "image"],
)
def test_a_page_with_text_or_an_image_in_its_body_is_not_rendered_by_scripts(body: str) -> None:
    """A body with a sentence of text, or an image, holds what a reader sees: not taken."""
    assert extract.rendered_by_scripts(f"{HEAD}{body}") is None
    assert extract.rendered_by_scripts(f"{HEAD}{body}</body></html>") is None
    assert extract.rendered_by_scripts(f"{HEAD}{SHELLS['noscript-and-root']}</body></html>") is not None


def test_a_shell_whose_head_gives_the_article_keeps_it() -> None:
    """The articleBody of the head's JSON-LD is the article's text, not the shell's: kept."""
    story = " ".join(["Le sommet de Paris sur l'intelligence artificielle réunit cent pays."] * 8)
    data = json.dumps({"@type": "NewsArticle", "headline": "Le sommet de Paris", "articleBody": story})
    head = HEAD.replace("</head>", f"<script type='application/ld+json'>{data}</script></head>")
    for ending in ("</body></html>", ""):
        page = f"{head}{SHELLS['noscript-and-root']}{ending}"
        art = extract_article(page.encode(), "https://ex.fr/a.html", framed=True)
        assert "cent pays" in art.text and "JavaScript" not in art.text


@pytest.mark.parametrize(
    "page",
    [
        "<html><head><title>Vide</title></head><body><div id='root'></div></body></html>",
        "<html><head><meta http-equiv='refresh' content='30; url=https://ex.fr/b.html'>"
        "<script src='/stats.js'></script></head><body></body></html>",
    ],
    ids=["no-script", "refresh"],
)
def test_an_empty_page_without_scripts_or_a_redirect_page_is_no_script_shell(page: str) -> None:
    """No script renders anything in a page that has none; a redirect page (a meta refresh
    to a URL veille did not follow) is one: both fail as pages without article text."""
    assert extract.rendered_by_scripts(page, framed=True, whole=True) is None
    with pytest.raises(ExtractionError, match="^no article text found in the page$"):
        extract_article(page.encode(), "https://ex.fr/a.html", framed=True)
