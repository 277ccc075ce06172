"""A host that does not resolve (RFC 6761's ``.invalid``) or refuses connections (a closed
local port) is asked once per run: its other requests in the run are deferred, not sent,
not counted as a failed attempt of their page and not taken from a backfill's fetch budget."""

from __future__ import annotations

import contextlib
import io
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.cli import main
from monitors.collect.http import Client, fetch
from monitors.collect.results import DNS, NOT_ASKED_AGAIN, REFUSED
from monitors.collect.robots import RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings
from tests.fake_archives import FakeArchives, seed_snapshots, seed_sources
from tests.site import LocalSite, write_sources
from tests.test_direct_cycle import _run, direct  # noqa: F401 - direct: the fixture, no flow may start

pytestmark = pytest.mark.usefixtures("prefect_harness")

DEAD_NAME = "news.veille-test.invalid"
#: the queue rows of the captures not fetched
CAPTURES_LEFT = sa.text(
    "SELECT q.state, q.attempts, q.reason FROM url_queue q"
    " JOIN archive_captures c ON c.queue_id = q.id WHERE q.state <> 'fetched'"
)


def _feed(urls: list[str]) -> str:
    """An RSS document listing ``urls``, each dated in February 2025."""
    when = format_datetime(datetime(2025, 2, 10, 12, tzinfo=UTC))
    items = "".join(
        f"<item><title>Article {n}</title><link>{u}</link><guid>{u}</guid><pubDate>{when}</pubDate></item>"
        for n, u in enumerate(urls)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>Fil</title>"
        f"<link>http://example.org/</link><description>t</description>{items}</channel></rss>"
    )


def _two_dead_hosts(site: LocalSite, tmp_path: Path, closed_port: int) -> Path:
    """A sources file of one feed on ``site`` listing three pages on a host that does not
    resolve and three on one that refuses connections (``closed_port``)."""
    dead = [f"http://{DEAD_NAME}/p{n}.html" for n in range(3)]
    refused = [f"http://127.0.0.1:{closed_port}/p{n}.html" for n in range(3)]
    site.add("/old.xml", _feed(dead + refused), content_type="application/rss+xml")
    return write_sources(
        tmp_path / "sources.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/old.xml", "owner": "media"}],
    )


@pytest.mark.parametrize("kind", [DNS, REFUSED])
def test_a_dead_host_is_asked_once_then_its_requests_are_deferred(
    client: Client, settings: Settings, closed_port: int, kind: str
) -> None:
    """Three pages of a host that does not resolve (or refuses connections): the first is
    tried and fails with its cause; the two others are not sent, deferred (``held``) with
    the host's cause, as a page of a host on hold after a 429."""
    base = f"http://{DEAD_NAME}" if kind == DNS else f"http://127.0.0.1:{closed_port}"
    throttle, robots = HostThrottle(1, 0.0), RobotsCache()
    results = [
        fetch(client, f"{base}/a{n}.html", settings, throttle=throttle, robots=robots, hold_host=True)
        for n in range(3)
    ]
    first, *others = results
    assert first.unreached == kind and not first.held, first
    for other in others:
        assert other.held and not other.sent, other
        assert other.unreached == kind
        # the host's cause first, as the first request's, then that it was not asked
        assert other.reason == f"{first.reason}{NOT_ASKED_AGAIN}", other.reason
    # a live host beside it is asked as before
    assert fetch(client, "http://127.0.0.1:1/x", settings, throttle=throttle).held is False


def test_a_backfill_spends_no_budget_nor_attempts_on_a_dead_host(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, closed_port: int
) -> None:
    """A feed listing three pages on a host that does not resolve and three on one that
    refuses connections, and --max-fetches 5 (the feed, then four pages). Each dead host's
    first page is tried (an attempt spent, a fetch of the budget); its other pages are
    deferred: pending, no attempt spent, no fetch of the budget. Before, four pages were
    tried (each an attempt lost to the same cause) and the budget ran out on them."""
    sources = _two_dead_hosts(site, tmp_path, closed_port)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        main(
            ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--sources", str(sources)]
            + ["--max-fetches", "5"]
        )
    log = err.getvalue()
    assert "stopped after 5 fetches" not in log, log  # 3 fetches spent: the feed, one page a host
    with clean_db.connect() as conn:
        rows = conn.execute(sa.text("SELECT url, state, attempts, reason FROM url_queue ORDER BY url")).all()
    assert len(rows) == 6, rows
    assert all(r.state == "pending" for r in rows), rows
    tried = [r for r in rows if r.attempts == 1]
    deferred = [r for r in rows if r.attempts == 0]
    assert len(tried) == 2 and len(deferred) == 4, rows
    assert {r.url.split("/")[2] for r in tried} == {DEAD_NAME, f"127.0.0.1:{closed_port}"}, rows
    for r in deferred:
        assert r.reason.endswith(NOT_ASKED_AGAIN), r.reason
        cause = "does not resolve" if DEAD_NAME in r.url else f"connection refused by 127.0.0.1:{closed_port}"
        assert cause in r.reason.removesuffix(NOT_ASKED_AGAIN), r.reason


def test_captures_of_an_archive_that_refuses_connections_are_deferred(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first run lists the five captures and fetches one (--max-fetches 1); then the archive
    refuses connections. The second run tried each capture, each retried
    (VEILLE_ARCHIVE_RETRIES) and each losing an attempt to the same refusal. Now the first
    refusal marks the archive unreachable for the run: its captures are deferred, no attempt
    spent, each saying why."""
    monkeypatch.setenv("VEILLE_WAYBACK_URL", site.base)
    monkeypatch.setenv("VEILLE_WAYBACK_DELAY", "0")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRY_BASE", "0.01")
    monkeypatch.setenv("VEILLE_ARCHIVE_RETRIES", "1")
    # one capture reserved from the budget at a time: each job gets its share of it
    monkeypatch.setenv("VEILLE_BATCH_SIZE", "1")
    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")
    FakeArchives(site).snapshots = seed_snapshots()
    sources = write_sources(tmp_path / "sources.toml", seed_sources())
    args = ["backfill", "--since", "2025-02-01", "--until", "2025-02-28", "--from", "wayback"]

    def run(budget: str) -> None:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            main([*args, "--sources", str(sources), "--max-fetches", budget])

    run("1")
    closed = f"http://127.0.0.1:{closed_port}"
    with clean_db.begin() as conn:  # the archive's playback now refuses connections
        moved = conn.execute(
            sa.text("UPDATE archive_captures SET archived_url = replace(archived_url, :live, :closed)"),
            {"live": site.base, "closed": closed},
        ).rowcount
    assert moved == 5
    run("100")
    with clean_db.connect() as conn:
        rows = conn.execute(CAPTURES_LEFT).all()
    assert len(rows) == 4, rows
    assert all(r.state == "pending" and r.attempts == 0 for r in rows), rows
    said = f"connection refused by 127.0.0.1:{closed_port}{NOT_ASKED_AGAIN}"
    assert all((r.reason or "").endswith(said) for r in rows), [r.reason for r in rows]


@pytest.mark.usefixtures("direct")
def test_a_run_after_an_offline_run_counts_the_deferred_urls_with_their_cause(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, closed_port: int
) -> None:
    """A feed listing three pages on a host that does not resolve and three on one that
    refuses connections: the first run tries one page a host and defers the four others (no
    attempt spent). The next run finds nothing due and says what waits: the two pages to
    retry and the four deferred, and the cause of both. It counted only the pages with an
    attempt spent (two, when six wait), so a run after an offline run hid most of the queue."""
    sources = _two_dead_hosts(site, tmp_path, closed_port)
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 1, out + err
    with clean_db.connect() as conn:
        attempts = sorted(conn.execute(sa.text("SELECT attempts FROM url_queue")).scalars())
    assert attempts == [0, 0, 0, 0, 1, 1], attempts
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    said = " ".join(err.split())  # one line, however the log wraps it
    assert (
        "Nothing to do: no source was due and no URL of the queue; 2 URLs wait for a retry after a "
        "failure, the first at "
    ) in said, said
    assert "; 4 URLs deferred (host unreachable), no attempt spent, the first due at " in said, said
    assert (
        ", and the last fetch of each reached no server (1 host did not resolve, 1 host refused the "
        "connection): is the network up?"
    ) in said, said
