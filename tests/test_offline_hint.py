"""A run in which every fetch failed before reaching a server (the machine offline, its DNS
down) ends with that cause first, in the run's verdict (its state message, report and the
command's last line), rather than N failures of its own each.

Unresolvable hosts use the reserved ``.invalid`` top-level domain and refused connections a
closed local port: no real network is needed.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import socket
import threading
import time
import types
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from urllib3.connection import HTTPConnection
from urllib3.exceptions import NewConnectionError

from flows.outcome import Fetch, judge_ingest, judge_run, nothing_to_do, offline_hint
from monitors.archive.queue import Waiting
from monitors.collect import throttle as throttle_module
from monitors.collect.failures import unreached_kind
from monitors.collect.http import Client, fetch, make_client, open_stream
from monitors.collect.results import NOT_SENT, TRANSIENT, UNREACHED
from monitors.collect.robots import RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings
from tests.site import LocalSite, seed_site, write_sources
from tests.test_direct_cycle import _run, direct  # noqa: F401 - direct: the fixture, no flow may start

DNS = "host nouvelles.invalid does not resolve (DNS: Name or service not known)"


def _row(error: str, **counts: int) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "s",
        "poll": "error" if error else "ok",
        "error": error,
        "new_urls": 0,
    }
    return row | {k: counts.get(k, 0) for k in ("stored", "duplicates", "relevant", "failed", "retry")}


def test_the_hint_needs_every_host_to_have_reached_no_server() -> None:
    hint = "none of the 2 hosts resolved: is the network up?"
    assert offline_hint([("a.invalid", "dns"), ("b.invalid", "dns")]) == hint
    four = [("a", "dns"), ("b", "refused"), ("c", "connect-timeout"), ("d", "no-route"), ("e", "tls-timeout")]
    assert offline_hint(four) == (
        "none of the 5 hosts was reached (1 host did not resolve, 1 host refused the connection, "
        "1 host took no connection in time, 1 host was unreachable, 1 host accepted the connection "
        "but completed no TLS handshake in time): is the network up?"
    )
    assert offline_hint([("a", "dns")]) is None  # one host that does not resolve says nothing of the network
    assert offline_hint([("a", "dns"), ("b", None)]) is None  # a server answered (an HTTP error, a page)
    rows = [_row(DNS), _row(DNS, retry=3)]
    fetches = [("nouvelles.invalid", "dns"), ("journal.invalid", "dns")] * 2 + [("gazette.invalid", "dns")]
    outcome = judge_run(rows, [], False, fetches)
    assert outcome.status == "failed"
    hint = "none of the 3 hosts resolved: is the network up?"
    assert outcome.message.startswith(f"Nothing could run ({hint}; 2 of 2 sources in error")
    # the reason's words decide nothing: a server answered the second fetch
    assert "network" not in judge_run(rows, [], False, [("a", "dns"), ("b", None)]).message


def test_the_hint_is_decided_per_host_not_per_fetch() -> None:
    """One dead host says nothing of the network however many of its fetches failed; hosts,
    not fetches, are counted; a host one of whose fetches got an answer was reached."""
    dead = [("mort.invalid", "dns")] * 5
    assert offline_hint(dead) is None  # main: "every fetch failed to resolve its host"
    assert offline_hint([("127.0.0.1:9", "refused"), ("127.0.0.1:9", "connect-timeout")]) is None
    # three hosts, seven fetches: three hosts counted, a host that failed two ways counted once
    fetches = [("a.invalid", "dns")] * 4 + [("127.0.0.1:9", "refused"), ("127.0.0.1:9", "connect-timeout")]
    assert offline_hint([*fetches, ("b.invalid", "dns")]) == (
        "none of the 3 hosts was reached (2 hosts did not resolve, 1 host refused the connection): "
        "is the network up?"
    )
    # a host that answered one fetch was reached: its other fetches' failures are its own
    assert offline_hint([*fetches, ("127.0.0.1:9", None)]) is None
    # a poll not recorded (the database gone) made no fetch: it neither hides nor makes the hint
    assert offline_hint([("a.invalid", "dns"), ("b.invalid", "dns"), (None, None)]) == (
        "none of the 2 hosts resolved: is the network up?"
    )
    # a drain: the pages of one dead host, among pages stored from hosts that answered
    statuses = [(1, "retry", False)] * 3 + [(2, "stored", False)] * 2
    outcome = judge_ingest(statuses, [], False, [*dead[:3], ("ici.example", None), ("la.example", None)])
    assert "network" not in outcome.message
    assert judge_ingest(statuses[:3], [], False, dead[:3]).message.startswith(
        "Partly done (3 pages to retry)"
    )


def test_nothing_due_with_the_pages_of_one_dead_host_waiting_says_nothing_of_the_network() -> None:
    """Only what waits is read when nothing is due: the pages of the hosts that answered were
    stored, and one dead host's three pages wait. That is one host, not three."""
    at = {"url": datetime(2026, 5, 4, 9, 15, tzinfo=UTC)}
    dead: list[Fetch] = [("mort.invalid", "dns")] * 3
    assert nothing_to_do(Waiting(urls=dead, first=at)) == (
        "Nothing to do: no source was due and no URL of the queue; 3 URLs wait for a retry after a "
        "failure, the first at 2026-05-04 09:15 UTC."
    )
    two = Waiting(urls=[*dead, ("autre.invalid", "dns")], first=at)
    assert (nothing_to_do(two) or "").endswith(
        "and the last fetch of each reached no server (2 hosts did not resolve): is the network up?"
    )


def test_a_fetch_says_how_it_reached_no_server(settings: Settings, client: Client, closed_port: int) -> None:
    """The kind is set where the HTTP client catches the failure, whatever the reason's words
    (robots.txt's failure, worded as its own, carries it to the page's fetch)."""
    port = closed_port
    assert fetch(client, "http://nouvelles.invalid/a", settings).unreached == "dns"
    refused = fetch(client, f"http://127.0.0.1:{port}/a", settings, robots=RobotsCache())
    assert refused.reason is not None and "robots.txt" in refused.reason
    assert refused.unreached == "refused"
    with LocalSite() as up:
        up.add("/a", "<html><body>x</body></html>")
        assert fetch(client, f"{up.base}/nothing", settings).unreached is None  # a 404: a server answered


@pytest.mark.usefixtures("direct", "clean_db")
def test_an_offline_run_says_so_first(site: LocalSite, tmp_path: Path, closed_port: int) -> None:
    port = closed_port
    urls = {
        "dns": ["http://nouvelles.invalid/rss.xml", "http://journal.invalid/feed/"],
        "mixed": ["http://nouvelles.invalid/rss.xml", f"http://127.0.0.1:{port}/feed.xml"],
    }
    hints = {
        "dns": "none of the 2 hosts resolved: is the network up?",
        "mixed": "none of the 2 hosts was reached (1 host did not resolve, 1 host refused "
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
    fetches = [("a.invalid", "dns"), ("127.0.0.1:9", "refused"), ("b.invalid", "dns")]
    outcome = judge_ingest(statuses, [], False, fetches)
    assert outcome.message.startswith(
        "Partly done (none of the 3 hosts was reached (2 hosts did not resolve, 1 host "
        "refused the connection): is the network up?; 1 page failed; 2 pages to retry): 3 pages"
    )
    answered = [("a.invalid", "dns"), ("127.0.0.1:9", None), ("b.invalid", "dns")]
    assert "network" not in judge_ingest(statuses, [], False, answered).message


def _two_dead_hosts_and_page_c(site: LocalSite, tmp_path: Path) -> Path:
    """A sources file of one feed on ``site`` listing a page on each of two hosts that do not
    resolve and ``site``'s /c (which the caller serves as it likes)."""
    links = ["http://nouvelles.invalid/a", "http://journal.invalid/b", f"{site.base}/c"]
    items = "".join(f"<item><title>t{i}</title><link>{u}</link></item>" for i, u in enumerate(links))
    feed = f"<rss version='2.0'><channel><title>f</title>{items}</channel></rss>"
    site.add("/feed.xml", feed, content_type="application/rss+xml")
    return write_sources(
        tmp_path / "s.toml",
        [{"name": "ici", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )


@pytest.mark.usefixtures("direct")
def test_a_run_whose_queued_pages_reach_no_server_says_so_first(clean_db: sa.Engine, tmp_path: Path) -> None:
    """`veille run` with no source due and a queue whose pages are on hosts that do not
    resolve and on a server that has stopped: the verdict gives the cause first, and each
    page's row of the fetch log says how it reached no server."""
    with LocalSite() as site:
        site.add("/c", "<html><body><p>Une page.</p></body></html>", status=503)
        sources = _two_dead_hosts_and_page_c(site, tmp_path)
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
        "none of the 3 hosts was reached (2 hosts did not resolve, 1 host refused the "
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
    assert nothing_to_do(Waiting(sources=[("a", None)], first=at)) is None
    assert nothing_to_do(Waiting(sources=[("a.invalid", "dns")], urls=[("b", None)], first=at)) == (
        "Nothing to do: no source was due and no URL of the queue; 1 URL waits for a retry after a "
        "failure, the first at 2026-05-04 09:15 UTC."
    )
    # a sources file with no source: said in place of "no source was due" (tests/test_run_states.py)
    assert nothing_to_do(Waiting(urls=[("b", None)], first=at), no_source="s.toml has no source") == (
        "Nothing to do: s.toml has no source and no URL of the queue was due; 1 URL waits for a retry"
        " after a failure, the first at 2026-05-04 09:15 UTC."
    )
    waiting = Waiting(
        sources=[("a.invalid", "dns"), ("b:9", "refused")], urls=[("c.invalid", "dns")], first=at
    )
    assert nothing_to_do(waiting) == (
        "Nothing to do: no source was due and no URL of the queue; 2 sources and 1 URL wait for a "
        "retry after a failure, the first at 2026-05-04 09:15 UTC, and the last fetch of each reached "
        "no server (2 hosts did not resolve, 1 host refused the connection): is the network up?"
    )


def test_nothing_due_counts_the_deferred_urls_apart_with_their_cause() -> None:
    """URLs deferred (not asked, their host unreachable or on hold earlier: no attempt spent)
    wait as those to retry do: with only them waiting, the run said the queue was empty."""
    at = {"url": datetime(2026, 5, 4, 9, 15, tzinfo=UTC), "deferred": datetime(2026, 5, 4, 9, 20, tzinfo=UTC)}
    held = Waiting(deferred=[("a:80", NOT_SENT)] * 2, first=at)  # after a 429's Retry-After
    assert nothing_to_do(held) == (
        "Nothing to do: no source was due and no URL of the queue; 2 URLs deferred (host on hold "
        "after a Retry-After), no attempt spent, the first due at 2026-05-04 09:20 UTC."
    )
    dead = Waiting(urls=[("a.invalid", "dns")], deferred=[("a.invalid", "dns"), ("b:9", "refused")], first=at)
    assert nothing_to_do(dead, drain=True) == (
        "Nothing to do: no URL of the queue was due; 1 URL waits for a retry after a failure, the "
        "first at 2026-05-04 09:15 UTC; 2 URLs deferred (host unreachable), no attempt spent, the "
        "first due at 2026-05-04 09:20 UTC, and the last fetch of each reached no server (1 host "
        "did not resolve, 1 host refused the connection): is the network up?"
    )
    both = Waiting(deferred=[("a.invalid", "dns"), ("b:80", NOT_SENT)], first=at)
    assert "2 URLs deferred (host unreachable or on hold), " in (nothing_to_do(both) or "")


@pytest.mark.usefixtures("direct", "clean_db")
def test_a_run_whose_sources_are_all_on_one_dead_host_gives_no_such_hint(tmp_path: Path) -> None:
    """Three sources on one host that does not resolve: one host down, not the network (the
    hint counted fetches, and said "every fetch failed to resolve its host")."""
    sources = write_sources(
        tmp_path / "one.toml",
        [
            {"name": f"r{i}", "kind": "feed", "url": f"http://nouvelles.invalid/{i}.xml", "owner": "media"}
            for i in range(3)
        ],
    )
    code, out, err = _run(["run", "--all", "--sources", str(sources)])
    assert code == 3, out + err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("veille: Nothing could run (every polled source failed: "), last
    assert last.count("does not resolve") == 1 and "(r0, r1, r2))" in last, last  # one cause, said once
    assert "network" not in err


@pytest.mark.usefixtures("direct")
def test_nothing_due_counts_the_sources_of_the_file_the_run_reads(
    clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A run with nothing due says what waits among what it covers: the queue, and the sources
    of its own file, not those of another file (a worker's, an old one), whose sources neither
    add to its count nor, one of them answered, hide why its own pages wait."""
    with LocalSite() as site:
        site.add("/gone.xml", "gone", status=404)
        other = write_sources(
            tmp_path / "other.toml",
            [
                {"name": "ailleurs", "kind": "feed", "url": f"{site.base}/gone.xml", "owner": "media"},
                {"name": "loin", "kind": "feed", "url": "http://loin.invalid/rss.xml", "owner": "media"},
            ],
        )
        assert _run(["run", "--sources", str(other)])[0] == 3  # both in their failure backoff now
        links = "".join(
            f"<item><title>t</title><link>http://{h}.invalid/a</link></item>" for h in ("un", "de")
        )
        site.add("/feed.xml", f"<rss version='2.0'><channel><title>f</title>{links}</channel></rss>")
        mine = write_sources(
            tmp_path / "mine.toml",
            [{"name": "ici", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
        )
        code, out, err = _run(["run", "--sources", str(mine)])
        assert code == 1, out + err  # its two pages wait for a retry
        code, out, err = _run(["run", "--sources", str(mine)])
    assert code == 0, out + err
    assert (
        "Nothing to do: no source was due and no URL of the queue; 2 URLs wait for a retry after a "
        "failure, the first at "
    ) in err, err
    assert (
        ", and the last fetch of each reached no server (2 hosts did not resolve): is the network up?" in err
    )
    # the other file's run covers its sources: one of them got an answer (a 404), so the
    # network is up, and the sources are not said (their usual words are true)
    code, out, err = _run(["run", "--sources", str(other)])
    assert code == 0 and "2 URLs wait for a retry" in err and "network" not in err, out + err


def test_a_tls_handshake_that_never_completes_reached_no_server(settings: Settings) -> None:
    """A server that accepts the TCP connection and never answers the ClientHello: urllib3
    says "read timed out", as if a request had gone; no TLS server was reached (a captive
    portal or filtering proxy does this for every host). A plain HTTP request to the same
    socket is sent, and its answer never comes: a server took it."""
    quick = dataclasses.replace(settings, timeout=1.0)
    with socket.socket() as mute, make_client(quick) as client:
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)  # the kernel completes the TCP handshakes: nothing ever reads or answers
        port = mute.getsockname()[1]
        tls = fetch(client, f"https://127.0.0.1:{port}/a", quick)
        assert (tls.outcome, tls.error_class, tls.unreached) == ("error", "transient", "tls-timeout")
        assert tls.reason == f"timeout: no TLS handshake (connection accepted) with 127.0.0.1:{port}"
        plain = fetch(client, f"http://127.0.0.1:{port}/a", quick)
        assert plain.unreached is None and plain.reason == f"timeout: no answer from 127.0.0.1:{port}"


def test_the_column_comment_names_every_kind(clean_db: sa.Engine) -> None:
    """A psql user reading fetch_log's comments learns every value unreached takes."""
    with clean_db.connect() as conn:
        comment = conn.scalar(
            sa.text(
                "SELECT col_description(attrelid, attnum) FROM pg_attribute"
                " WHERE attrelid = 'fetch_log'::regclass AND attname = 'unreached'"
            )
        )
    assert comment is not None
    assert all(kind in comment for kind in [*UNREACHED, NOT_SENT]), comment


def test_a_fetch_never_sent_tells_of_no_host(settings: Settings, client: Client) -> None:
    """Only a request that went tells of its host: an address refused as private-network, a
    page robots.txt disallows (its rules from the cache) and a hop with no time left tell of
    none; one robots.txt fetched for the check did go, and a redirect's first hop did."""
    strict = dataclasses.replace(settings, allow_private_network=False)
    with LocalSite() as there, LocalSite() as here:
        host = there.base.removeprefix("http://")
        there.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
        there.add("/a", "<html><body>a</body></html>")
        refused = fetch(client, f"{there.base}/a", strict)
        assert (refused.outcome, refused.host, refused.unreached) == ("refused", None, NOT_SENT)
        robots = RobotsCache()
        fresh = fetch(client, f"{there.base}/private/x", settings, robots=robots)
        assert (fresh.outcome, fresh.host, fresh.unreached) == (
            "skipped",
            host,
            None,
        )  # robots.txt fetched now
        cached = fetch(client, f"{there.base}/private/y", settings, robots=robots)
        assert (cached.outcome, cached.host, cached.unreached) == ("skipped", None, NOT_SENT)
        here.add("/go", "", status=302, headers={"Location": f"{there.base}/private/z"})
        hop = fetch(client, f"{here.base}/go", settings, robots=robots)
        assert (hop.outcome, hop.final_url, hop.host) == ("skipped", f"{there.base}/private/z", here.base[7:])
        assert hop.unreached is None  # its first hop's server answered
        assert fetch(client, f"{there.base}/a", settings).host == host  # sent: answered
        # a per-host delay longer than the fetch's deadline: the second request has no time left.
        # The first one only takes the host's turn (the usual deadline), and the delay leaves
        # 3 s for it and the step to the second (0.5 s of deadline and 1.5 s of delay left 1 s
        # for both, the first within 0.5 s: a machine under load misses that now and then)
        quick = dataclasses.replace(settings, fetch_deadline=1.0)
        throttle = HostThrottle(per_host=1, delay=4.0)
        assert fetch(client, f"{there.base}/a", settings, throttle=throttle).ok
        late = fetch(client, f"{there.base}/a", quick, throttle=throttle)
        assert late.outcome == "error" and "no time left" in (late.reason or "")
        assert (late.host, late.unreached) == (None, NOT_SENT)  # main: unreached None, "answered"
        assert late.reason == (
            f"deadline: no time left to ask {host}: the 1 s of VEILLE_FETCH_DEADLINE went before "
            "its request (waiting for the host's turn, redirects, robots.txt); not tried"
        )


def test_a_fetch_whose_turn_comes_after_its_deadline_does_not_wait_for_it(
    settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The host's next turn 600 s away and a fetch with 1 s left: it gives up at once, with the
    reason a fetch that waited its turn out gave, and asks nothing (main slept the 600 s, then
    said "no time left"). The turn it gave up goes to the next request, which waits for it.
    The throttle's sleeps are recorded, not slept: main's wait shows as a sleep of 600 s."""
    slept: list[float] = []
    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=slept.append)
    monkeypatch.setattr(throttle_module, "time", clock)
    with LocalSite() as site:
        site.add("/a", "<html><body>a</body></html>")
        host = site.base.removeprefix("http://")
        throttle = HostThrottle(per_host=1, delay=600.0)
        assert fetch(client, f"{site.base}/a", settings, throttle=throttle).ok and slept == []
        quick = dataclasses.replace(settings, fetch_deadline=1.0)
        late = fetch(client, f"{site.base}/a", quick, throttle=throttle)
        assert slept == []  # main: [600.0 or so]
        assert (late.outcome, late.host, late.unreached) == ("error", None, NOT_SENT)
        assert late.reason == (
            f"deadline: no time left to ask {host}: the 1 s of VEILLE_FETCH_DEADLINE went before "
            "its request (waiting for the host's turn, redirects, robots.txt); not tried"
        )
        assert len(site.hits("/a")) == 1
        patient = dataclasses.replace(settings, fetch_deadline=3600.0)
        assert fetch(client, f"{site.base}/a", patient, throttle=throttle).ok
        assert len(slept) == 1 and 590 < slept[0] <= 600  # the first turn after the first fetch's
        assert len(site.hits("/a")) == 2


def test_a_stream_whose_turn_comes_after_its_deadline_does_not_wait_for_it(
    settings: Settings, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """open_stream (a CC-NEWS WARC file) as fetch: the host's next turn 600 s away and 1 s of
    VEILLE_FETCH_DEADLINE, it gives up at once, holding nothing, with fetch's reason; main
    waited the 600 s for its turn (the throttle took no deadline there), then asked anyway.
    The throttle's sleeps are recorded, not slept."""
    slept: list[float] = []
    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=slept.append)
    monkeypatch.setattr(throttle_module, "time", clock)
    with LocalSite() as site:
        site.add("/a.warc.gz", b"WARC", content_type="application/octet-stream")
        url, host = f"{site.base}/a.warc.gz", site.base.removeprefix("http://")
        throttle = HostThrottle(per_host=1, delay=600.0)
        with open_stream(client, url, settings, throttle=throttle) as (result, stream):
            assert result.ok and stream is not None and stream.read() == b"WARC"
        quick = dataclasses.replace(settings, fetch_deadline=1.0)
        with open_stream(client, url, quick, throttle=throttle) as (late, stream):
            assert slept == [] and stream is None  # main: [600.0 or so], and the file streamed
        assert (late.outcome, late.error_class, late.host, late.unreached) == (
            "error",
            TRANSIENT,
            None,
            NOT_SENT,
        )
        assert late.reason == (
            f"deadline: no time left to ask {host}: the 1 s of VEILLE_FETCH_DEADLINE went before "
            "its request (waiting for the host's turn, redirects, robots.txt); not tried"
        )
        assert len(site.hits("/a.warc.gz")) == 1
        assert throttle.acquire(url, deadline=time.monotonic() + 3600)  # the slot was given back
        assert len(slept) == 1 and 590 < slept[0] <= 600  # the turn given up went to this one
        throttle.release(url)


def test_a_host_slot_not_freed_before_the_deadline_is_given_up() -> None:
    """One request at a time on the host and its slot held: a request with a deadline gives up
    when the deadline comes, holding nothing, rather than waiting for the slot past it."""
    throttle = HostThrottle(per_host=1, delay=0.0)
    url = "http://example.org/a"
    assert throttle.acquire(url)
    assert throttle.acquire(url, deadline=time.monotonic() + 0.05) is None
    throttle.release(url)
    assert throttle.acquire(url, deadline=time.monotonic() + 60) is not None
    throttle.release(url)


@pytest.mark.usefixtures("direct", "clean_db")
def test_sources_never_fetched_do_not_hide_an_offline_run(
    site: LocalSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two hosts that do not resolve and a source whose address is refused (private network):
    that one was never fetched, and says nothing of the network (main counted it as a host
    that answered, and the run gave no hint)."""
    seed_site(site)
    monkeypatch.setenv("VEILLE_ALLOW_PRIVATE_NETWORK", "0")
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "a", "kind": "feed", "url": "http://nouvelles.invalid/rss.xml", "owner": "media"},
            {"name": "b", "kind": "feed", "url": "http://journal.invalid/feed/", "owner": "media"},
            {"name": "c", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
        ],
    )
    code, out, err = _run(["run", "--all", "--sources", str(sources)])
    assert code == 3, out + err
    last = err.rstrip().splitlines()[-1]
    hint = "none of the 2 hosts resolved: is the network up?"
    assert last.startswith(f"veille: Nothing could run ({hint}; 3 of 3 sources in error)"), last


def test_a_fetch_that_sent_nothing_neither_makes_nor_hides_a_hint() -> None:
    """What a run with nothing due reads back from fetch_log names the URL's host even for a
    fetch that sent no request (``not-sent``): that host was not asked, so it is not counted
    (main counted 3 hosts, 2 of them unreached, and said "none of the 3 hosts was reached")."""
    assert offline_hint([("a.invalid", "dns"), ("b.invalid", "dns"), ("c:80", NOT_SENT)]) == (
        "none of the 2 hosts resolved: is the network up?"
    )
    assert offline_hint([("a.invalid", "dns"), ("c:80", NOT_SENT)]) is None  # one host tried


def test_nothing_due_says_which_urls_were_not_tried() -> None:
    at = {"url": datetime(2026, 5, 4, 9, 15, tzinfo=UTC)}
    waiting = Waiting(urls=[("a.invalid", "dns"), ("b.invalid", "dns"), ("c:80", NOT_SENT)], first=at)
    assert nothing_to_do(waiting) == (
        "Nothing to do: no source was due and no URL of the queue; 3 URLs wait for a retry after a "
        "failure, the first at 2026-05-04 09:15 UTC, and the last fetch of each reached no server (2 "
        "hosts did not resolve; 1 URL not tried, no request sent: the fetch's time "
        "(VEILLE_FETCH_DEADLINE) ran out first, or its address or robots.txt refused it): is the "
        "network up?"
    )
    # one host tried: nothing is said of the network, nor of the URL not tried
    one = Waiting(urls=[("a.invalid", "dns"), ("c:80", NOT_SENT)], first=at)
    assert nothing_to_do(one) == (
        "Nothing to do: no source was due and no URL of the queue; 2 URLs wait for a retry after a "
        "failure, the first at 2026-05-04 09:15 UTC."
    )


@pytest.mark.usefixtures("direct")
def test_a_page_with_no_time_left_is_logged_not_sent_and_told_as_not_tried(
    clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A per-host delay longer than VEILLE_FETCH_DEADLINE: the page on the feed's host waits for
    its turn past its deadline, and no request goes. Its fetch_log row says ``not-sent`` (main:
    NULL, "a server answered"), and a run with nothing due reads it so: the two hosts that did
    not resolve are all the hosts tried, and the page is said not tried."""
    # the page's turn comes 8 s after the feed's request started: parsing the feed, queueing
    # and claiming its pages may take 6 s before the page's own 2 s run out (a delay of 3 s
    # left 2 s, of which a loaded machine used 1.4), and the feed has 2 s (robots.txt first)
    monkeypatch.setenv("VEILLE_PER_HOST_DELAY", "8")
    monkeypatch.setenv("VEILLE_FETCH_DEADLINE", "2")
    with LocalSite() as site:
        site.add("/c", "<html><body><p>Une page.</p></body></html>")
        sources = _two_dead_hosts_and_page_c(site, tmp_path)
        code, out, err = _run(["run", "--sources", str(sources)])
        assert code == 1 and "network" not in err, out + err  # the feed's server answered
        assert site.hits("/c") == []  # never asked
        code, out, err = _run(["run", "--sources", str(sources)])
    assert code == 0, out + err
    with clean_db.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT url, unreached, reason FROM fetch_log WHERE kind = 'page' ORDER BY url")
        ).all()
    page = {url: (kind, reason) for url, kind, reason in rows}
    assert page[f"{site.base}/c"][0] == NOT_SENT, rows
    assert (page[f"{site.base}/c"][1] or "").startswith("deadline: no time left to ask 127.0.0.1:")
    assert page["http://nouvelles.invalid/a"][0] == "dns"
    assert (
        "3 URLs wait for a retry after a failure, the first at " in err
        and "and the last fetch of each reached no server (2 hosts did not resolve; 1 URL not tried, "
        "no request sent: "
        in err
    ), err


def test_a_queued_throttle_does_not_count_the_wait_for_a_slot_in_the_deadline() -> None:
    """A web archive's throttle (``queue``): one slot, held 0.3 s by another request (a CC-NEWS
    stream holds its slot for a whole file); a request with 0.05 s of deadline waits for it
    rather than giving up, and its deadline moves on by that wait. The turn (delay) still
    counts: a turn after the deadline is given up at once."""
    throttle = HostThrottle(per_host=1, delay=0.0, queue=True)
    url = "http://example.org/a"
    assert throttle.acquire(url) == math.inf  # no deadline: none to move on
    timer = threading.Timer(0.3, throttle.release, [url])
    timer.start()
    asked = time.monotonic()
    deadline = asked + 0.05
    taken = throttle.acquire(url, deadline=deadline)
    waited = time.monotonic() - asked
    timer.join()
    assert taken is not None and waited >= 0.25
    assert taken - deadline == pytest.approx(waited, abs=0.05)  # the slot's wait, not counted
    throttle.release(url)
    slow = HostThrottle(per_host=1, delay=600.0, queue=True)
    assert slow.acquire(url) is not None
    slow.release(url)
    assert slow.acquire(url, deadline=time.monotonic() + 1) is None  # its turn is 600 s away
