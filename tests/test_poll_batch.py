"""Polling at scale: a batch of polls stored in one transaction with per-source results,
a source the database rejects kept apart, sources synced in one statement, feeds parsed in
worker processes, and connections reused after a small error response."""

from __future__ import annotations

import os
import signal
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy import text as sa_text
from sqlalchemy.orm import Session

from monitors import workers
from monitors.archive.models import FetchLog, QueuedUrl, Source
from monitors.archive.polls import apply_poll, apply_polls
from monitors.collect import parsing
from monitors.collect.feeds import FeedEntry, FeedError, parse_feed
from monitors.collect.http import fetch, make_client
from monitors.collect.poll import PollOutcome, SourceState, poll_batches_as_completed
from monitors.collect.results import FEED_TYPES, TRANSIENT, FetchResult
from monitors.collect.robots import RobotsCache
from monitors.collect.sources import parse_sources, sync_sources
from monitors.collect.throttle import HostThrottle
from monitors.settings import get_settings
from tests.site import LocalSite, rss_feed


def _src(db: Session, name: str) -> Source:
    src = Source(name=name, kind="feed", url=f"https://example.org/{name}.xml", owner="media")
    db.add(src)
    db.flush()
    return src


def _ok(source_id: int, urls: list[str], title: str = "Titre") -> PollOutcome:
    fetched = FetchResult(
        f"https://example.org/{source_id}.xml",
        f"https://example.org/{source_id}.xml",
        "ok",
        200,
        b"<rss/>",
        {"etag": f'"v{source_id}"'},
    )
    entries = [FeedEntry(url=u, title=title, published_at=datetime(2025, 2, 10, tzinfo=UTC)) for u in urls]
    return PollOutcome(source_id=source_id, fetch=fetched, entries=entries)


def test_a_batch_is_stored_as_if_one_source_after_the_other(db: Session) -> None:
    a, b, c = _src(db, "batch-a"), _src(db, "batch-b"), _src(db, "batch-c")
    failed = PollOutcome(
        source_id=c.id,
        fetch=FetchResult(c.url, c.url, "error", 503, error_class="transient", reason="HTTP 503"),
        error_class="transient",
        error="HTTP 503",
    )
    summaries = apply_polls(
        db,
        [
            _ok(a.id, ["https://example.org/x/1", "https://example.org/x/2"]),
            _ok(b.id, ["https://example.org/x/2", "https://example.org/x/3"]),
            failed,
        ],
        settings=get_settings(),
    )
    assert [(s.source_id, s.new, s.known, s.error) for s in summaries] == [
        (a.id, 2, 0, None),
        (b.id, 1, 1, None),  # x/2 was listed first by a
        (c.id, 0, 0, "HTTP 503"),
    ]
    owners = dict(db.execute(select(QueuedUrl.canonical_url, QueuedUrl.source_id)).all())
    assert owners == {
        "https://example.org/x/1": a.id,
        "https://example.org/x/2": a.id,
        "https://example.org/x/3": b.id,
    }
    for src in (a, b, c):
        db.refresh(src)
    assert a.etag == f'"v{a.id}"' and a.new_items_count == 2 and a.last_success_at is not None
    assert b.new_items_count == 1 and b.consecutive_failures == 0
    assert c.consecutive_failures == 1 and c.last_error == "HTTP 503" and c.last_success_at is None
    logged = db.scalars(select(FetchLog.source_id).where(FetchLog.source_id.in_([a.id, b.id, c.id])))
    # (the column is nullable, but IN never matches a NULL)
    assert sorted(sid for sid in logged if sid is not None) == sorted([a.id, b.id, c.id])
    # A re-run lists the same URLs: all known now, nothing queued twice.
    again = apply_polls(db, [_ok(a.id, ["https://example.org/x/1", "https://example.org/x/2"])])
    assert (again[0].new, again[0].known) == (0, 2)
    assert db.scalar(select(QueuedUrl.id).where(QueuedUrl.source_id == b.id)) is not None


@pytest.mark.parametrize(
    ("bad_char", "cause"),
    [("\x00", "\\u0000 cannot be converted"), ("\ud800", "surrogates not allowed")],
    ids=["nul", "lone-surrogate"],
)
def test_a_source_the_database_rejects_does_not_sink_the_others(
    db: Session, bad_char: str, cause: str
) -> None:
    """A NUL the database rejects, or a lone surrogate that cannot be sent at all (the batch
    failed whole with it before: the error was not one the per-source retry caught)."""
    good, bad = _src(db, "nul-good"), _src(db, "nul-bad")
    summaries = apply_polls(
        db,
        [
            _ok(good.id, ["https://example.org/n/1"]),
            _ok(bad.id, ["https://example.org/n/2"], title=f"bad {bad_char} title"),
        ],
    )
    assert (summaries[0].outcome, summaries[0].new) == ("ok", 1)
    assert summaries[1].outcome == "error" and "could not store" in (summaries[1].error or "")
    assert cause in (summaries[1].error or "")
    queued = db.scalars(select(QueuedUrl.canonical_url).where(QueuedUrl.source_id.in_([good.id, bad.id])))
    assert list(queued) == ["https://example.org/n/1"]
    db.refresh(bad)
    assert bad.last_error is not None and "could not store" in bad.last_error
    reasons = db.scalars(select(FetchLog.reason).where(FetchLog.source_id == bad.id)).all()
    assert len(reasons) == 1 and "could not store" in (reasons[0] or "")


def test_a_poll_without_discovery_keeps_the_stored_suggestion(db: Session) -> None:
    src = _src(db, "suggested")
    gone = FetchResult(src.url, src.url, "error", 404, error_class="permanent", reason="HTTP 404")
    suggestion = {"feeds": [{"url": "https://example.org/rss", "title": "Fil", "entries": 3}]}

    def failed(suggested: dict) -> PollOutcome:
        return PollOutcome(src.id, gone, error_class="permanent", error="HTTP 404", suggested_feeds=suggested)

    apply_poll(db, failed(suggestion))
    assert src.suggested_feeds == suggestion and src.consecutive_failures == 1
    apply_poll(db, _ok(src.id, ["https://example.org/s/1"]))  # no discovery on this poll
    assert src.suggested_feeds == suggestion and src.consecutive_failures == 0
    newer = {"feeds": [], "homepage": "https://example.org/"}
    apply_poll(db, failed(newer))
    assert src.suggested_feeds == newer


def test_entry_dates_are_stored_to_the_microsecond_with_their_offset(db: Session) -> None:
    src = _src(db, "dated")
    when = datetime(2025, 2, 10, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    outcome = _ok(src.id, [])
    outcome.entries.append(FeedEntry(url="https://example.org/d/1", title="Daté", published_at=when))
    apply_poll(db, outcome)
    stored = db.scalar(select(QueuedUrl.feed_published_at).where(QueuedUrl.source_id == src.id))
    assert stored == when and stored.utcoffset() is not None


def test_a_source_deleted_while_polled_is_reported_not_written(db: Session) -> None:
    summary = apply_poll(db, _ok(987654321, ["https://example.org/gone/1"]))
    assert summary.outcome == "error" and "deleted" in (summary.error or "")
    assert db.scalar(select(QueuedUrl.id).where(QueuedUrl.canonical_url.contains("/gone/"))) is None


def test_sync_of_many_sources_is_one_upsert_in_file_order(db: Session) -> None:
    text = "".join(
        f'[[source]]\nname = "many {i}"\nkind = "feed"\nurl = "https://example.org/{i}.xml"\n'
        f'owner = "media"\n{"enabled = false" if i == 3 else ""}\n\n'
        for i in range(300)
    )
    ids = sync_sources(db, parse_sources(text, "many.toml"))
    names = dict(db.execute(select(Source.id, Source.name).where(Source.id.in_(ids))).all())
    assert [names[i] for i in ids] == [f"many {i}" for i in range(300)]
    status = dict(db.execute(select(Source.name, Source.status).where(Source.id.in_(ids))).all())
    assert status["many 3"] == "disabled" and status["many 4"] == "active"
    moved = text.replace("https://example.org/7.xml", "https://example.org/seven.xml")
    assert sync_sources(db, parse_sources(moved, "many.toml")) == ids
    assert db.scalar(select(Source.url).where(Source.name == "many 7")) == "https://example.org/seven.xml"


FEED = rss_feed(
    "https://ex.fr",
    [(f"Dépêche {k} : l’IA à Paris", f"a/{k}.html", datetime(2025, 2, 10, 9, tzinfo=UTC)) for k in range(5)],
).encode()


def test_feeds_parsed_in_worker_processes_come_out_the_same() -> None:
    in_thread = parse_feed(FEED, "https://ex.fr/rss.xml", "application/rss+xml")
    pooled = parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", "application/rss+xml", 2)
    assert pooled == in_thread and len(pooled.entries) == 5
    assert pooled.entries[0].title == "Dépêche 0 : l’IA à Paris"
    with pytest.raises(FeedError, match="not a feed"):
        parsing.parse_feed_pooled(b"<html><body>no</body></html>", "https://ex.fr/", "text/html", 2)
    assert parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", None, 0) == parse_feed(
        FEED, "https://ex.fr/rss.xml"
    )


def test_a_killed_parse_worker_is_replaced_and_the_feed_still_parsed() -> None:
    pool = workers.get_pool(1)
    assert parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", None, 1).entries  # the worker is up
    [pid] = pool.pids()
    os.kill(pid, signal.SIGKILL)
    parsed = parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", None, 1)
    assert len(parsed.entries) == 5
    assert workers.get_pool(1) is pool and pool.pids() != [pid]  # replaced in the same pool
    parsing.shutdown_parsers()


def test_sources_come_back_in_batches_as_they_answer(site: LocalSite) -> None:
    settings = get_settings()
    for i in range(7):
        site.add(f"/f{i}.xml", rss_feed(site.base, [(f"t{i}", f"p/{i}.html", datetime.now(UTC))]))
    states = [SourceState(i, f"f{i}", "feed", f"{site.base}/f{i}.xml") for i in range(7)]
    with make_client(settings) as client:
        batches = list(
            poll_batches_as_completed(
                client, settings, states, 3, HostThrottle(settings.per_host_concurrency, 0), RobotsCache()
            )
        )
    assert [len(b) for b in batches] == [3, 3, 1]
    assert sorted(o.source_id for b in batches for o in b) == list(range(7))
    assert all(len(o.entries) == 1 for b in batches for o in b)


def test_the_connection_is_reused_after_a_small_error_response(site: LocalSite) -> None:
    settings = get_settings()
    site.add("/feed.xml", rss_feed(site.base, []), content_type="application/rss+xml", etag='"e1"')
    with make_client(settings) as client:
        missing = fetch(client, f"{site.base}/robots.txt", settings, accept=None)
        feed = fetch(client, f"{site.base}/feed.xml", settings, accept=FEED_TYPES)
        again = fetch(client, f"{site.base}/feed.xml", settings, etag=feed.etag, accept=FEED_TYPES)
        after = fetch(client, f"{site.base}/feed.xml", settings, accept=FEED_TYPES)
    assert missing.status == 404 and missing.error_class == "permanent"
    assert feed.ok and again.outcome == "not_modified" and after.ok
    assert len({r["peer"] for r in site.log}) == 1  # one TCP connection for the three requests


def test_a_clean_poll_clears_the_last_error_and_the_warning_label(db: Session) -> None:
    """``last_error`` is the source's current trouble: a clean poll after a warning or a failure
    clears it (``fetch_log`` keeps the history). It stayed, so ``source_health`` labelled a
    source that had recovered ``warning`` for good, and the cookbook's "what failed" listed it."""
    src = _src(db, "recovered")
    warned = _ok(src.id, ["https://example.org/r/1"])
    warned.warning = "feed read with errors: 1 entry left out"
    apply_poll(db, warned)
    assert (src.last_error_class, src.last_error) == ("warning", warned.warning)
    db.flush()
    health = "SELECT health FROM source_health WHERE id = :id"
    assert db.execute(sa_text(health), {"id": src.id}).scalar_one() == "warning"
    apply_poll(db, _ok(src.id, ["https://example.org/r/2"]))
    assert (src.last_error_class, src.last_error) == (None, None)
    db.flush()
    assert db.execute(sa_text(health), {"id": src.id}).scalar_one() == "ok"
    gone = FetchResult(src.url, src.url, "error", 503, error_class="transient", reason="HTTP 503")
    apply_poll(db, PollOutcome(src.id, gone, error_class="transient", error="HTTP 503"))
    assert (src.last_error_class, src.last_error, src.consecutive_failures) == ("transient", "HTTP 503", 1)
    apply_poll(db, _ok(src.id, ["https://example.org/r/3"]))
    assert (src.last_error_class, src.last_error, src.consecutive_failures) == (None, None, 0)
    db.flush()
    assert db.execute(sa_text(health), {"id": src.id}).scalar_one() == "ok"
    logged = db.scalars(select(FetchLog.reason).where(FetchLog.source_id == src.id)).all()
    assert "HTTP 503" in logged  # the history stays in the log


BIG_FEED = rss_feed(
    "https://ex.fr",
    [(f"Dépêche {k}", f"a/{k}.html", datetime(2025, 2, 10, 9, tzinfo=UTC)) for k in range(4000)],
).encode()


def test_a_feed_whose_parse_runs_past_the_deadline_is_a_transient_error_of_its_poll(
    site: LocalSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was parsed again in the polling thread, with no deadline: as long again under the GIL,
    every polling thread waiting on it. Now that source's poll says so; the others are read.

    The big feed's parse (some 0.12 s) gets 0.05 s; the small one's call keeps a minute, as the
    pool's other calls: a round trip to the worker within 0.05 s, which a loaded machine
    missed about once in a hundred runs, is not what this test is about."""
    monkeypatch.setattr(parsing, "PARSE_DEADLINE", 0.05)
    monkeypatch.setenv("VEILLE_PARSE_WORKERS", "1")
    pool_of = parsing.get_pool

    class BigFeedsOnTime:
        """The worker pool, with PARSE_DEADLINE for the big feed only."""

        def __init__(self, size: int) -> None:
            self.pool = pool_of(size)

        def call(self, fn: Any, args: tuple[Any, ...], deadline: float | None = None) -> Any:
            return self.pool.call(fn, args, deadline if args[0] == BIG_FEED else 60.0)

    monkeypatch.setattr(parsing, "get_pool", BigFeedsOnTime)
    settings = get_settings()
    assert settings.parse_workers == 1
    site.add("/big.xml", BIG_FEED.decode(), content_type="application/rss+xml")
    site.add("/small.xml", rss_feed(site.base, [("t", "p/1.html", datetime.now(UTC))]))
    states = [
        SourceState(1, "big", "feed", f"{site.base}/big.xml"),
        SourceState(2, "small", "feed", f"{site.base}/small.xml"),
    ]
    try:
        with make_client(settings) as client:
            throttle = HostThrottle(settings.per_host_concurrency, 0)
            polled = list(poll_batches_as_completed(client, settings, states, 2, throttle, RobotsCache()))
    finally:
        parsing.shutdown_parsers()
    outcomes = {o.source_id: o for batch in polled for o in batch}
    big, small = outcomes[1], outcomes[2]
    assert big.entries == [] and big.error_class == TRANSIENT
    assert big.error is not None and big.error.startswith(
        f"parsing this feed ({len(BIG_FEED):,} bytes) took over 0.05 s"
    )
    assert len(small.entries) == 1 and small.error is None


def test_a_feed_that_kills_its_worker_twice_is_not_parsed_in_the_polling_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A body that killed a fresh worker too (a parser's crash, its memory) would take the
    polling process, the whole run, with it: its poll is a transient error instead. A pool
    that could not start a worker still falls back to this thread."""

    class Pool:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def call(self, *args: object, **kwargs: object) -> object:
            raise self.error

    parsed_here: list[bytes] = []

    def in_thread(content: bytes, base_url: str, content_type: str | None = None) -> object:
        parsed_here.append(content)
        return parse_feed(content, base_url, content_type)

    monkeypatch.setattr(parsing, "parse_feed", in_thread)
    monkeypatch.setattr(
        parsing, "get_pool", lambda n: Pool(workers.CallKilledWorker("the worker died twice"))
    )
    with pytest.raises(
        FeedError, match=r"^parsing this feed \(.* bytes\) killed its worker process"
    ) as raised:
        parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", None, 1)
    assert raised.value.transient and parsed_here == []
    monkeypatch.setattr(
        parsing, "get_pool", lambda n: Pool(workers.WorkerDied("worker did not start within 30 s"))
    )
    assert len(parsing.parse_feed_pooled(FEED, "https://ex.fr/rss.xml", None, 1).entries) == 5
    assert parsed_here == [FEED]
