"""Reasons built from exceptions (monitors/errors.py): one line, cause first, bounded, never a
dangling "Type: ", as stored in the columns a user queries (the queue's and fetch_log's
reason, a source's last_error)."""

from __future__ import annotations

import dataclasses
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session
from urllib3.exceptions import ProtocolError, SSLError

from monitors.archive.models import FetchLog, QueuedUrl, Source
from monitors.collect.failures import network_reason
from monitors.collect.http import make_client
from monitors.errors import LIMIT, describe, one_line, said
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed
from tests.test_faults import _poll_and_ingest, _polled_source
from tests.test_source_kinds import NOW

KINDS = [ValueError, TimeoutError, ConnectionResetError, AssertionError, RuntimeError, OSError]


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


@given(
    st.sampled_from(KINDS),
    st.text(),
    st.one_of(st.none(), st.text()),
    st.integers(min_value=1, max_value=2 * LIMIT),
)
def test_a_description_is_one_bounded_line_that_starts_with_the_type(
    kind: type[Exception], message: str, cause: str | None, limit: int
) -> None:
    exc = kind(message)
    if cause is not None:
        exc.__cause__ = ValueError(cause)
    got = describe(exc, limit=limit)
    assert got.startswith(kind.__name__)
    assert len(got) <= max(limit, len(kind.__name__))
    assert got == got.rstrip(" :") and len(got.splitlines()) == 1
    assert not any(unicodedata.category(c) == "Cc" for c in got)  # no NUL, tab, escape
    got.encode("utf-8")  # no lone surrogate: PostgreSQL takes it
    alone = said(exc, limit=limit)  # no type name: the message, or the name when it says nothing
    assert alone and len(alone) <= max(limit, len(kind.__name__)) and len(alone.splitlines()) == 1
    assert alone == alone.rstrip(" :")
    if cause is None and got != kind.__name__ and not got.endswith("…"):
        assert got == f"{kind.__name__}: {alone}"
    if message.strip(" :\n") and len(message) < 50 and message.isprintable() and limit >= 100:
        assert got == f"{kind.__name__}: {' '.join(message.split()).rstrip(' :')}"


@pytest.mark.parametrize(
    ("exc", "described"),
    [
        (TimeoutError(), "TimeoutError"),
        (KeyError(""), "KeyError: ''"),  # the key was "": it says so
        (ValueError("\n  first   line \nsecond line"), "ValueError: first line"),
        (Unprintable(), "Unprintable"),
        (RuntimeError("x" * 1000), "RuntimeError: " + "x" * (LIMIT - 15) + "…"),
    ],
)
def test_what_a_description_says(exc: BaseException, described: str) -> None:
    assert describe(exc) == described


def _timeout_from_a_reset() -> None:
    try:
        raise ConnectionResetError(104, "Connection reset by peer")
    except OSError as reset:
        raise TimeoutError() from reset


def _assert_with_its_context_suppressed() -> None:
    try:
        raise KeyError("key")
    except KeyError:
        raise AssertionError() from None


def _assert_while_handling() -> None:
    try:
        raise KeyError("key")
    except KeyError:
        _bare_assert()  # an assert failed while handling it: that is what was going on


def _bare_assert() -> None:
    raise AssertionError


@pytest.mark.parametrize(
    ("raising", "described"),
    [
        (
            _timeout_from_a_reset,
            "TimeoutError from ConnectionResetError: [Errno 104] Connection reset by peer",
        ),
        (_assert_with_its_context_suppressed, "AssertionError"),
        (_assert_while_handling, "AssertionError while handling KeyError: 'key'"),
    ],
)
def test_an_exception_that_says_nothing_is_described_by_what_it_came_from(
    raising: Callable[[], None], described: str
) -> None:
    with pytest.raises(Exception) as caught:
        raising()
    assert describe(caught.value) == described


@pytest.mark.parametrize(
    ("exc", "starts"),
    [
        (SSLError("certificate verify failed\n" + "detail " * 3000), "TLS error with example.org: cert"),
        (ProtocolError("Connection aborted.\n" + "x" * 20000), "network: Connection aborted."),
        (ProtocolError(), "network: ProtocolError"),
    ],
)
def test_a_network_failure_is_one_bounded_line_whatever_its_message(exc: Exception, starts: str) -> None:
    """The reason a fetch_log row gets for a network failure (monitors.collect.http), as the
    reasons made by monitors.errors: one line, its first, bounded; an SSL or proxy error may
    run to several lines and kilobytes."""
    reason = network_reason(exc, "https://example.org/a")
    assert reason.startswith(starts)
    assert "\n" not in reason and len(reason) <= LIMIT + len("TLS error with example.org: ")


def test_a_page_whose_parser_fails_with_no_message_has_no_dangling_colon(
    site: LocalSite, db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lxml's bare ``assert`` (or any parser failure that says nothing) in a page's extraction:
    the page failed with the reason "extraction failed: AssertionError: " in its queue row and
    fetch_log row."""
    import monitors.ingest

    def bare_assert(*args: object, **kwargs: object) -> object:
        raise AssertionError

    monkeypatch.setattr(monitors.ingest, "extract_article", bare_assert)
    site.add("/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW)]))
    site.add("/a/1.html", "<html><body><p>Le sommet.</p></body></html>")
    url = f"{site.base}/a/1.html"
    assert _poll_and_ingest(site, db, dataclasses.replace(settings, parse_workers=0)) == {url: "failed"}
    expected = "extraction failed: AssertionError"
    assert db.scalar(select(QueuedUrl.reason).where(QueuedUrl.url == url)) == expected
    logged = db.scalars(select(FetchLog.reason).where(FetchLog.url == url, FetchLog.outcome == "error")).all()
    assert logged == [expected]


def test_a_feed_parser_failure_with_a_long_multi_line_message_is_stored_as_one_line(
    site: LocalSite, db: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The feed parser raising with a message of many lines (a parser's dump of its state):
    the source's last_error and its fetch_log row held all of it, line breaks and 20 kB."""
    import feedparser

    import monitors.collect.feeds

    def dumping(*args: object, **kwargs: object) -> object:
        raise ValueError("\nparser state:\n" + "\n".join(f"  frame {i}: {'x' * 200}" for i in range(100)))

    monkeypatch.setattr(monitors.collect.feeds, "_parse_fast", lambda *args: None)
    monkeypatch.setattr(feedparser, "parse", dumping)
    site.add("/une.xml", rss_feed(site.base, [("Sommet de l'IA", "a/1.html", NOW)]))
    in_thread = dataclasses.replace(settings, parse_workers=0)
    with make_client(in_thread) as client:
        src = _polled_source(db, client, in_thread, f"{site.base}/une.xml")
    expected = "the feed parser failed on this body: ValueError: parser state"
    assert src.last_error == expected and src.last_error_class == "permanent"
    logged = db.scalars(select(FetchLog.reason).where(FetchLog.url == src.url)).all()
    assert logged == [expected]
    assert db.scalar(select(Source.last_error).where(Source.id == src.id)) == expected


#: libpq's messages as psycopg gives them: a statement, its hint indented by a tab
REFUSED = (
    'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused\n'
    "\tIs the server running on that host and accepting TCP/IP connections?"
)
CLOSED = (
    "server closed the connection unexpectedly\n\tThis probably means the server terminated abnormally\n"
    "\tbefore or while processing the request.\n"
)


@pytest.mark.parametrize(
    ("message", "described"),
    [
        (
            REFUSED,
            'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
            " (is the server running on that host and accepting TCP/IP connections?)",
        ),
        (
            CLOSED,
            "server closed the connection unexpectedly (this probably means the server terminated"
            " abnormally before or while processing the request)",
        ),
        ("SSL SYSCALL error: EOF detected\n\tSSL is off", "SSL SYSCALL error: EOF detected (SSL is off)"),
        ("first line\n  indented by spaces: not libpq's hint", "first line"),
    ],
)
def test_libpqs_hint_is_folded_into_its_statement(message: str, described: str) -> None:
    """A lost or refused connection recorded by a run (its summary's "database lost: ...", a
    worker's failure) keeps libpq's hint, in the same line; before, it was cut off."""
    import psycopg

    assert describe(psycopg.OperationalError(message)) == f"OperationalError: {described}"
    assert said(psycopg.OperationalError(message)) == described


def test_one_line_keeps_every_host_libpq_tried() -> None:
    """A URL naming several hosts: libpq says why each failed, one "- host: ..." line each."""
    other = REFUSED.replace('"127.0.0.1", port 1', '"127.0.0.2", port 2')
    message = (
        f"{REFUSED}\nMultiple connection attempts failed. All failures were:\n"
        f"- host: '127.0.0.1', port: '1', hostaddr: '127.0.0.1': {REFUSED}\n"
        f"- host: '127.0.0.2', port: '2', hostaddr: '127.0.0.2': {other}"
    )
    hint = "(is the server running on that host and accepting TCP/IP connections?)"
    assert one_line(message) == (
        f'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused {hint};'
        " Multiple connection attempts failed. All failures were: host: '127.0.0.1', port: '1',"
        f" hostaddr: '127.0.0.1': connection failed: connection to server at \"127.0.0.1\", port 1 failed:"
        f" Connection refused {hint}; host: '127.0.0.2', port: '2', hostaddr: '127.0.0.2': connection"
        f' failed: connection to server at "127.0.0.2", port 2 failed: Connection refused {hint}'
    )
    assert one_line("nothing more") == "nothing more" and one_line("\n\t\n") == ""
