# ruff: noqa: E501
"""Errors are written cause first and never cut before the cause; one failed poll counts as
one error in ``source_health.errors_last_day``, whatever discovery fetched around it."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from flows.commands.common import print_table
from flows.maintenance import RescoreOutcome, maintenance_report
from monitors.archive.models import Source
from monitors.archive.polls import apply_poll
from monitors.collect.health import shorten_middle
from monitors.collect.http import Client, fetch
from monitors.collect.poll import SourceState, poll_source
from monitors.collect.robots import RobotsCache
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed

LONG_URL = "http://nonexistent-host.invalid/" + "rubrique/" * 12 + "feed.xml"


def test_unresolvable_host_reads_cause_first(client: Client, settings: Settings) -> None:
    direct = fetch(client, "http://nonexistent-host.invalid/feed.xml", settings)
    assert direct.error_class == "transient"
    assert (direct.reason or "").startswith("host nonexistent-host.invalid does not resolve (DNS: ")
    via_robots = fetch(client, "http://nonexistent-host.invalid/feed.xml", settings, robots=RobotsCache())
    reason = via_robots.reason or ""
    assert reason.startswith("host nonexistent-host.invalid does not resolve"), reason
    assert reason.endswith("(robots.txt of http://nonexistent-host.invalid unreachable; will retry)")
    assert "HTTPConnection(" not in reason


def test_refused_connection_reads_cause_first(client: Client, settings: Settings, closed_port: int) -> None:
    port = closed_port
    result = fetch(client, f"http://127.0.0.1:{port}/feed.xml", settings)
    assert result.reason == f"connection refused by 127.0.0.1:{port}"


@hypothesis_settings(deadline=None)  # a shared machine: timing is not what this test checks
@given(st.text(min_size=0, max_size=400), st.integers(min_value=8, max_value=200))
def test_shorten_middle_keeps_the_start_and_fits(value: str, width: int) -> None:
    short = shorten_middle(value, width)
    flat = " ".join(value.split())
    assert len(short) <= width and "\n" not in short
    if len(flat) <= width:
        assert short == flat
    else:  # the first half at least (the cause) survives, and the cut shows
        assert short.startswith(flat[: width // 2].rstrip()) and "…" in short


def test_tables_and_report_keep_the_cause_and_the_end() -> None:
    error = f"host nonexistent-host.invalid does not resolve (DNS: Name or service not known) (robots.txt of {LONG_URL} unreachable; will retry)"
    out = io.StringIO()
    print_table([{"source": "Site", "poll": "error", "error": error}], out=out, width=60)
    assert out.getvalue().splitlines()[1] == f"Site    error  {error}"  # the last column is whole
    out = io.StringIO()
    print_table([{"error": error, "source": "Site"}], out=out, width=80)
    line = out.getvalue().splitlines()[1]
    assert line.startswith("host nonexistent-host.invalid does not resolve (DNS: Name")
    assert line.endswith("…" + error[-20:] + "  Site") and len(line) == 80 + 2 + 4
    report = maintenance_report(
        [{"name": "Site", "health": "erroring", "consecutive_failures": 1, "last_error": error}],
        {},
        RescoreOutcome(topic_version="1", stale=0, rescored=0, changed_side=0, note="unchanged"),
    )
    row = next(ln for ln in report.splitlines() if ln.startswith("| Site"))
    assert "does not resolve (DNS: Name or service not known)" in row and "will retry)" in row


def test_one_404_poll_is_one_error_of_the_day(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    site.add("/old.xml", "gone", status=404, content_type="text/plain")
    site.add(
        "/",
        "<html><head><link rel='alternate' type='application/rss+xml' href='/a.xml'>"
        "<link rel='alternate' type='application/rss+xml' href='/b.xml'></head></html>",
    )
    site.add("/a.xml", "nope", status=404, content_type="text/plain")
    site.add(
        "/b.xml",
        rss_feed(site.base, [("Un", "a/1.html", datetime.now(UTC))]),
        content_type="application/rss+xml",
    )
    src = Source(name="Flux mort", kind="feed", url=f"{site.base}/old.xml", owner="media")
    db.add(src)
    db.flush()
    out = poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url))
    assert len(out.extra_fetches) == 3  # homepage and two candidates, one of them a 404 too
    apply_poll(db, out, settings=settings)
    db.flush()
    logged = db.execute(text("SELECT count(*) FROM fetch_log WHERE source_id = :i"), {"i": src.id}).scalar()
    errors = db.execute(
        text("SELECT errors_last_day FROM source_health WHERE id = :i"), {"i": src.id}
    ).scalar()
    assert (logged, errors) == (4, 1)
