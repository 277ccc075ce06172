"""A compressed body whose stream stops early while its HTTP framing is whole: a transient
failure, not an article with its text cut (monitors.collect.codings.Decoder)."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import Article, FetchLog, QueuedUrl
from monitors.collect.http import Client, fetch
from monitors.collect.results import TRANSIENT
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed
from tests.test_faults import _poll_and_ingest, raw_server
from tests.test_source_kinds import NOW

ARTICLE = (
    "<html><head><title>Sommet de l'IA</title></head><body><article><h1>Sommet de l'IA</h1>"
    + "".join(
        f"<p>Paragraphe {i} : le sommet pour l'action sur l'intelligence artificielle.</p>"
        for i in range(300)
    )
    + "<p>FIN DE L'ARTICLE</p></article></body></html>"
).encode()


def _deflate(data: bytes, raw: bool) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


COMPRESSED = {
    "gzip": gzip.compress(ARTICLE),
    "deflate": _deflate(ARTICLE, raw=False),
    "raw-deflate": _deflate(ARTICLE, raw=True),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSED))
def test_a_compressed_body_cut_short_is_a_transient_failure(
    site: LocalSite, client: Client, settings: Settings, kind: str
) -> None:
    """Content-Length says the bytes sent, but the stream stops at two thirds: before, the
    first two thirds of the page came back as the whole page."""
    whole = COMPRESSED[kind]
    encoding = "gzip" if kind == "gzip" else "deflate"
    site.add("/cut.html", whole[: len(whole) * 2 // 3], headers={"Content-Encoding": encoding})
    site.add("/whole.html", whole, headers={"Content-Encoding": encoding})
    cut = fetch(client, f"{site.base}/cut.html", settings)
    assert cut.outcome == "error" and cut.error_class == TRANSIENT and cut.content is None
    assert (cut.reason or "").startswith(
        f"body cut short: {site.base.removeprefix('http://')} sent a {encoding} body"
    )
    whole_result = fetch(client, f"{site.base}/whole.html", settings)
    assert whole_result.ok and whole_result.content == ARTICLE


def test_a_chunked_gzip_body_cut_short_is_a_transient_failure(client: Client, settings: Settings) -> None:
    """The same with chunked transfer coding, its last chunk sent: the framing says the body
    is all there, only the gzip stream says it is not."""
    cut = gzip.compress(ARTICLE)[:-100]

    def answer(conn: socket.socket, stop: threading.Event) -> None:
        with conn:
            conn.recv(65536)
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (cut[:1000], cut[1000:]))
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
            )

    with raw_server(answer) as base:
        result = fetch(client, f"{base}/page.html", settings)
    assert result.outcome == "error" and result.error_class == TRANSIENT
    assert "sent a gzip body whose compressed stream stops before its end" in (result.reason or "")


def test_a_gzip_stream_of_two_members_and_padding_is_whole(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """Several gzip members are one body; zero bytes after the last are padding, not a cut."""
    site.add(
        "/two.html",
        gzip.compress(ARTICLE[:5000]) + gzip.compress(ARTICLE[5000:]) + b"\x00" * 4,
        headers={"Content-Encoding": "gzip"},
    )
    result = fetch(client, f"{site.base}/two.html", settings)
    assert result.ok and result.content == ARTICLE


def test_a_page_cut_short_is_retried_not_stored(site: LocalSite, db: Session, settings: Settings) -> None:
    """Through the pipeline: the page goes back to the queue with the reason, in fetch_log too,
    and no article holds its first part; served whole at the next attempt, it is stored."""
    whole = gzip.compress(ARTICLE)
    site.add("/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW)]))
    site.add("/a/1.html", whole[: len(whole) // 2], headers={"Content-Encoding": "gzip"})
    url = f"{site.base}/a/1.html"
    assert _poll_and_ingest(site, db, settings) == {url: "retry"}
    row = db.scalars(select(QueuedUrl).where(QueuedUrl.url == url)).one()
    assert row.state == "pending" and "body cut short" in (row.reason or "")
    logged = db.scalars(select(FetchLog.reason).where(FetchLog.url == url)).all()
    assert len(logged) == 1 and (logged[0] or "").startswith("body cut short")
    assert db.scalars(select(Article).where(Article.url == url)).all() == []


@pytest.mark.parametrize("cut", [10, 11, 30])
def test_a_second_gzip_member_cut_short_is_a_transient_failure(
    site: LocalSite, client: Client, settings: Settings, cut: int
) -> None:
    """A body of two gzip members whose second stops early, within its 10-byte header or before
    its deflate data gave a byte: the page's end is missing, as with a cut first member (main
    took the second member's first bytes for padding and stored the first half as the page)."""
    second = gzip.compress(ARTICLE[5000:])
    site.add(
        "/two-cut.html",
        gzip.compress(ARTICLE[:5000]) + second[:cut],
        headers={"Content-Encoding": "gzip"},
    )
    result = fetch(client, f"{site.base}/two-cut.html", settings)
    assert result.outcome == "error" and result.error_class == TRANSIENT and result.content is None
    assert "sent a gzip body whose compressed stream stops before its end" in (result.reason or "")


@pytest.mark.parametrize("padding", [b"\x00", b"\x00" * 2, b"\x00" * 512, b"\n", b"\r\n"])
def test_bytes_after_a_whole_gzip_stream_that_start_no_member_are_padding(
    site: LocalSite, client: Client, settings: Settings, padding: bytes
) -> None:
    """Zero bytes (a tape-style block) or a newline a server adds after the last member start
    no gzip member: the body is whole, whatever their length (one byte alone included)."""
    site.add("/padded.html", gzip.compress(ARTICLE) + padding, headers={"Content-Encoding": "gzip"})
    result = fetch(client, f"{site.base}/padded.html", settings)
    assert result.ok and result.content == ARTICLE
