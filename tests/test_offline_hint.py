"""A run in which every fetch failed before reaching a server (the machine offline, its DNS
down) ends with that cause first, in the run's verdict (its state message, report and the
command's last line), rather than N failures of its own each.

Unresolvable hosts use the reserved ``.invalid`` top-level domain and refused connections a
closed local port: no real network is needed.
"""

from __future__ import annotations

import errno
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NewConnectionError

from flows.outcome import judge_ingest, judge_run, nothing_to_do, offline_hint
from monitors.archive.queue import Waiting
from monitors.collect.http import Client, fetch, unreached_kind
from monitors.collect.robots import RobotsCache
from monitors.settings import Settings
from tests.site import LocalSite, seed_site, write_sources
from tests.test_direct_cycle import _run, direct  # noqa: F401 - direct: the fixture, no flow may start

DNS = "host nouvelles.invalid does not resolve (DNS: Name or service not known)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _row(error: str, **counts: int) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "s",
        "poll": "error" if error else "ok",
        "error": error,
        "new_urls": 0,
    }
    return row | {k: counts.get(k, 0) for k in ("stored", "duplicates", "relevant", "failed", "retry")}


def test_the_hint_needs_every_fetch_to_have_reached_no_server() -> None:
    assert offline_hint(["dns", "dns"]) == "every fetch failed to resolve its host: is the network up?"
    assert offline_hint(["dns", "refused", "connect-timeout", "no-route"]) == (
        "every fetch failed before reaching a server (1 host did not resolve, 1 host refused the "
        "connection, 1 host took no connection in time, 1 host was unreachable): is the network up?"
    )
    assert offline_hint(["dns"]) is None  # one host that does not resolve says nothing of the network
    assert offline_hint(["dns", None]) is None  # a server answered (an HTTP error, a page, a timeout)
    rows = [_row(DNS), _row(DNS, retry=3)]
    outcome = judge_run(rows, [], False, ["dns", "dns", "dns", "dns", "dns"])
    assert outcome.status == "failed"
    hint = "every fetch failed to resolve its host: is the network up?"
    assert outcome.message.startswith(f"Nothing could run ({hint}; 2 of 2 sources in error")
    # the reason's words decide nothing: a server answered the second fetch
    assert "network" not in judge_run(rows, [], False, ["dns", None]).message


def test_a_fetch_says_how_it_reached_no_server(settings: Settings, client: Client) -> None:
    """The kind is set where the HTTP client catches the failure, whatever the reason's words
    (robots.txt's failure, worded as its own, carries it to the page's fetch)."""
    port = _closed_port()
    assert fetch(client, "http://nouvelles.invalid/a", settings).unreached == "dns"
    refused = fetch(client, f"http://127.0.0.1:{port}/a", settings, robots=RobotsCache())
    assert refused.reason is not None and "robots.txt" in refused.reason
    assert refused.unreached == "refused"
    with LocalSite() as up:
        up.add("/a", "<html><body>x</body></html>")
        assert fetch(client, f"{up.base}/nothing", settings).unreached is None  # a 404: a server answered


@pytest.mark.usefixtures("direct", "clean_db")
def test_an_offline_run_says_so_first(site: LocalSite, tmp_path: Path) -> None:
    port = _closed_port()
    urls = {
        "dns": ["http://nouvelles.invalid/rss.xml", "http://journal.invalid/feed/"],
        "mixed": ["http://nouvelles.invalid/rss.xml", f"http://127.0.0.1:{port}/feed.xml"],
    }
    hints = {
        "dns": "every fetch failed to resolve its host: is the network up?",
        "mixed": "every fetch failed before reaching a server (1 host did not resolve, 1 host refused "
        "the connection): is the network up?",
    }
    for case, feeds in urls.items():
        sources = write_sources(
            tmp_path / f"{case}.toml",
            [{"name": f"{case}{i}", "kind": "feed", "url": u, "owner": "media"} for i, u in enumerate(feeds)],
        )
        code, out, err = _run(["run", "--all", "--sources", str(sources)])
        assert code == 3, out + err
        last = err.rstrip().splitlines()[-1]
        assert last.startswith(f"veille: Nothing could run ({hints[case]}; 2 of 2 sources in error)"), last


@pytest.mark.usefixtures("direct")
def test_a_run_where_one_server_answered_gives_no_such_hint(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "ici", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
            {"name": "ailleurs", "kind": "feed", "url": "http://nouvelles.invalid/rss.xml", "owner": "media"},
        ],
    )
    code, out, err = _run(["run", "--all", "--sources", str(sources)])
    assert code == 1, out + err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("veille: Partly done (1 of 2 sources in error)") and "network" not in err


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "no-route"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), "no-route"),
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "refused"),
        (OSError(errno.EACCES, "Permission denied"), None),  # said by no errno of an unreached host
    ],
)
def test_a_connection_that_failed_is_told_by_its_errno(error: OSError, kind: str | None) -> None:
    """A network unreachable cannot be made offline: urllib3's error is built as it raises it."""
    conn = HTTPConnection("127.0.0.1", 9)
    try:
        raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error
    except NewConnectionError as exc:
        assert unreached_kind(exc) == kind


def test_a_drain_whose_every_page_reached_no_server_says_so_first() -> None:
    statuses = [(1, "retry", False), (1, "retry", False), (2, "failed", False)]
    outcome = judge_ingest(statuses, [], False, ["dns", "refused", "dns"])
    assert outcome.message.startswith(
        "Partly done (every fetch failed before reaching a server (2 hosts did not resolve, 1 host "
        "refused the connection): is the network up?; 1 pages failed; 2 pages to retry): 3 pages"
    )
    assert "network" not in judge_ingest(statuses, [], False, ["dns", None, "dns"]).message


@pytest.mark.usefixtures("direct")
def test_a_run_whose_queued_pages_reach_no_server_says_so_first(clean_db: sa.Engine, tmp_path: Path) -> None:
    """`veille run` with no source due and a queue whose pages are on hosts that do not
    resolve and on a server that has stopped: the verdict gives the cause first, and each
    page's row of the fetch log says how it reached no server."""
    with LocalSite() as site:
        links = ["http://nouvelles.invalid/a", "http://journal.invalid/b", f"{site.base}/c"]
        site.add("/c", "<html><body><p>Une page.</p></body></html>", status=503)
        items = "".join(f"<item><title>t{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
        feed = f"<rss version='2.0'><channel><title>f</title>{items}</channel></rss>"
        site.add("/feed.xml", feed, content_type="application/rss+xml")
        sources = write_sources(
            tmp_path / "s.toml",
            [{"name": "ici", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
        )
        code, out, err = _run(["run", "--sources", str(sources)])  # polled: the feed's server answered
        assert code == 1 and "network" not in err, out + err
        # nothing due: the run says what waits, but one of them got an answer (a 503)
        code, out, err = _run(["run", "--sources", str(sources)])
        assert code == 0 and "network" not in err, out + err
        assert "Nothing to do: no source was due and no URL of the queue; 3 URLs wait for a retry" in err
    # the server has stopped: its port refuses connections; the pages are due again
    with clean_db.begin() as conn:
        conn.execute(sa.text("UPDATE url_queue SET next_attempt_at = now() - interval '1 second'"))
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 1, out + err
    last = err.rstrip().splitlines()[-1]
    hint = (
        "every fetch failed before reaching a server (2 hosts did not resolve, 1 host refused the "
        "connection): is the network up?"
    )
    assert last.startswith(f"veille: Partly done ({hint}; 3 pages to retry)"), last
    # nothing due now: what waits does so after fetches that reached no server
    code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    assert (
        "Nothing to do: no source was due and no URL of the queue; 3 URLs wait for a retry after a "
        "failure, the first at "
    ) in err
    assert f", and the last fetch of each reached no server ({hint.split('(', 1)[1]}" in err, err
    with clean_db.connect() as conn:
        kinds = conn.execute(sa.text("SELECT unreached FROM fetch_log WHERE kind = 'page'")).scalars().all()
    # the first run's 503 reached a server; the second run's fetch of that page did not
    assert sorted(k or "" for k in kinds) == ["", "dns", "dns", "dns", "dns", "refused"], kinds


def test_nothing_due_says_what_waits_and_why_only_when_true() -> None:
    at = {"source": datetime(2026, 5, 4, 10, 30, tzinfo=UTC), "url": datetime(2026, 5, 4, 9, 15, tzinfo=UTC)}
    assert nothing_to_do(Waiting()) is None  # the usual words: nothing waits
    # a source in its backoff after a 404, the queue empty: the usual words are true
    assert nothing_to_do(Waiting(sources=[None], first=at)) is None
    assert nothing_to_do(Waiting(sources=["dns"], urls=[None], first=at)) == (
        "Nothing to do: no source was due and no URL of the queue; 1 URL waits for a retry after a "
        "failure, the first at 2026-05-04 09:15 UTC."
    )
    assert nothing_to_do(Waiting(sources=["dns", "refused"], urls=["dns"], first=at)) == (
        "Nothing to do: no source was due and no URL of the queue; 2 sources and 1 URL wait for a "
        "retry after a failure, the first at 2026-05-04 09:15 UTC, and the last fetch of each reached "
        "no server (2 hosts did not resolve, 1 host refused the connection): is the network up?"
    )
