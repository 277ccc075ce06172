"""Benchmark: ``veille sources``' new items in 7 days (``health.source_rows``: the URLs live
polling queued for each source in the last 7 days, by ``url_queue.discovered_at``, which no
index covered before migration 0044) on a large ``url_queue``, with the schema's other indexes
(the baseline) and with an index of its own; and what that index costs the queue's inserts.

A scratch database (created and dropped here) is migrated to the head and given ``--sources``
sources and ``--rows`` ``url_queue`` rows discovered over ``--days`` days (found by live
polling for 85% of them, by a backfill 10%, a web archive 5%; mostly fetched; a feed title
and a 150-character summary each, as a feed gives), then ``VACUUM ANALYZE`` (as autovacuum
leaves a table) and the rows of the last ``--fresh-days`` days updated once more (fetched
since that vacuum: their pages are not all-visible, so an index-only scan still reads them).

- ``source_rows`` (what ``veille sources`` prints, every source) is timed ``--repeat`` times
  with the schema's indexes (the baseline) and with each candidate of ``CANDIDATES``
  (``CREATE INDEX``; ``ANALYZE``), in the order baseline, candidates, baseline;
- the poll's queue insert (``polls._QUEUE_INSERT``, the real statement) of 100 new URLs, one
  committed transaction each as a poll batch writes them, is timed ``--insert-batches`` times
  with the baseline and each candidate in turn, for ``--insert-rounds`` rounds (the rows
  deleted and the table vacuumed after each), so both sides see the same moments of the
  machine: the statement and its commit apart.

Printed: the median of each, its ratio to the baseline's, the plan's scans and buffers for the
count (``EXPLAIN (ANALYZE, BUFFERS)``) and each index's size.

    python bench/queue_recent.py [--rows 1000000] [--sources 2000] [--days 365] [--repeat 7]
        [--fresh-days 3] [--insert-batches 50] [--insert-rounds 3]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/queue_recent.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import non_negative_int, positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

#: (label, statement) of each index tried, dropped again after its step
CANDIDATES = [
    ("discovered_at", "CREATE INDEX bench_queue_recent ON url_queue (discovered_at)"),
    (  # url_queue_poll_discovered, migration 0044's
        "partial (discovered_at, source_id) poll",
        "CREATE INDEX bench_queue_recent ON url_queue (discovered_at, source_id) WHERE found_by = 'poll'",
    ),
    (
        "partial (source_id, discovered_at) poll",
        "CREATE INDEX bench_queue_recent ON url_queue (source_id, discovered_at) WHERE found_by = 'poll'",
    ),
]
COUNT = (
    "SELECT source_id, count(*) FROM url_queue"
    " WHERE discovered_at >= now() - interval '7 days' AND found_by = 'poll' GROUP BY source_id"
)
INSERT_BATCH = 100


def fill(conn: sa.Connection, sources: int, rows: int, days: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO sources (id, name, kind, url, owner)"
            " SELECT g, 'source ' || g, 'feed', 'https://s' || g || '.bench.invalid/feed', 'media'"
            " FROM generate_series(1, :n) g"
        ),
        {"n": sources},
    )
    conn.execute(
        sa.text(
            """
            INSERT INTO url_queue (url, canonical_url, source_id, state, attempts, next_attempt_at,
                                   feed_title, feed_summary, feed_published_at, discovered_at,
                                   found_by, updated_at)
            SELECT 'https://s' || s || '.bench.invalid/article/' || g,
                   'https://s' || s || '.bench.invalid/article/' || g,
                   s, CASE WHEN g % 50 = 0 THEN 'pending' WHEN g % 20 = 0 THEN 'failed' ELSE 'fetched' END,
                   1, at, 'A headline of some length for entry ' || g,
                   repeat('summary words ', 11), at, at,
                   CASE WHEN r < 0.85 THEN 'poll' WHEN r < 0.95 THEN 'backfill' ELSE 'archive' END, at
            FROM (SELECT g, 1 + (g % :sources) AS s, random() AS r,
                         now() - random() * make_interval(days => :days) AS at
                  FROM generate_series(1, :rows) g) x
            """
        ),
        {"sources": sources, "rows": rows, "days": days},
    )


def timed_rows(engine: sa.Engine, repeat: int) -> tuple[float, int]:
    """Median seconds of one ``source_rows`` call (every source); the new items it counted."""
    from monitors.collect.health import source_rows

    runs: list[float] = []
    total = 0
    for _ in range(repeat):
        with Session(engine) as session:
            start = time.perf_counter()
            rows = source_rows(session)
            runs.append(time.perf_counter() - start)
            total = sum(r["new_7d"] for r in rows)
    return statistics.median(runs), total


def timed_inserts(engine: sa.Engine, batches: int, sources: int) -> tuple[list[float], list[float]]:
    """Seconds of each committed poll insert of ``INSERT_BATCH`` new URLs: the statement's and
    the commit's; the rows are deleted and the table vacuumed afterwards, so each step starts
    from the same table."""
    from monitors.archive.bulk import as_rows
    from monitors.archive.polls import _QUEUE_INSERT

    tag = uuid.uuid4().hex[:8]
    statements: list[float] = []
    commits: list[float] = []
    for b in range(batches):
        rows = [
            {
                "url": f"https://s{sid}.bench.invalid/new-{tag}/{b}/{i}",
                "canonical_url": f"https://s{sid}.bench.invalid/new-{tag}/{b}/{i}",
                "source_id": sid,
                "feed_title": f"A new headline {b} {i}",
                "feed_author": None,
                "feed_summary": "summary words " * 11,
                "feed_published_at": None,
                "feed_language": "fr",
                "found_by": "poll",
            }
            for i in range(INSERT_BATCH)
            for sid in [1 + (b * INSERT_BATCH + i) % sources]
        ]
        rows.sort(key=lambda r: str(r["canonical_url"]))
        with Session(engine) as session:
            start = time.perf_counter()
            session.execute(_QUEUE_INSERT, as_rows(rows)).all()
            done = time.perf_counter()
            session.commit()
            statements.append(done - start)
            commits.append(time.perf_counter() - done)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM url_queue WHERE url LIKE :p"), {"p": f"%/new-{tag}/%"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM url_queue"))
    return statements, commits


def use(engine: sa.Engine, create: str | None) -> str:
    """Drop the bench's index, create ``create`` if given, ANALYZE; the index's size."""
    size = ""
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS bench_queue_recent"))
        if create:
            conn.execute(sa.text(create))
            size = conn.scalar(sa.text("SELECT pg_size_pretty(pg_relation_size('bench_queue_recent'))"))
        conn.execute(sa.text("ANALYZE url_queue"))
    return size


def compare_inserts(
    engine: sa.Engine,
    candidates: list[tuple[str, str]],
    batches: int,
    rounds: int,
    sources: int,
    width: int = 40,
) -> None:
    """Print the median of :func:`timed_inserts` with the baseline and with each candidate
    index (label, ``CREATE INDEX``), in turn for ``rounds`` rounds (so both sides see the same
    moments of the machine), and its ratio to the baseline's; the bench's index dropped after."""
    print(
        f"\ninserts of {INSERT_BATCH} new URLs, median of {batches} x {rounds} rounds (statement + commit):",
        flush=True,
    )
    inserted: dict[str, tuple[list[float], list[float]]] = {}
    for _ in range(rounds):
        for label, create in [("baseline", None), *candidates]:
            use(engine, create)
            statements, commits = timed_inserts(engine, batches, sources)
            inserted.setdefault(label, ([], []))
            inserted[label][0].extend(statements)
            inserted[label][1].extend(commits)
    use(engine, None)
    base_statement = statistics.median(inserted["baseline"][0])
    base_commit = statistics.median(inserted["baseline"][1])
    for label, (statements, commits) in inserted.items():
        statement, commit = statistics.median(statements), statistics.median(commits)
        print(
            f"{label:<{width}} {statement * 1000:6.2f} + {commit * 1000:6.2f} ms"
            f" ({statement / base_statement:.2f}x, {commit / base_commit:.2f}x the baseline's)",
            flush=True,
        )


def plan(engine: sa.Engine, statement: str = COUNT, params: dict[str, object] | None = None) -> str:
    """The scans and buffers of ``statement`` (the count), as the plan shows them."""
    with engine.connect() as conn:
        lines = [r[0] for r in conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}"), params or {})]
    scans = [line.strip().split("  (")[0] for line in lines if "Scan" in line]
    buffers = [line.strip() for line in lines if "Buffers" in line]
    return "; ".join(scans[:2] + buffers[:1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=1_000_000)
    ap.add_argument("--sources", type=positive_int, default=2000)
    ap.add_argument("--days", type=positive_int, default=365)
    ap.add_argument("--repeat", type=positive_int, default=7)
    ap.add_argument("--fresh-days", type=non_negative_int, default=3)
    ap.add_argument("--insert-batches", type=positive_int, default=50)
    ap.add_argument("--insert-rounds", type=positive_int, default=3)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    with scratch_database(ADMIN_URL, "veille_bench_queue_recent") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                # the schema has it (migration 0044): the baseline is the schema without it
                conn.execute(sa.text("DROP INDEX IF EXISTS url_queue_poll_discovered"))
                fill(conn, args.sources, args.rows, args.days)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE url_queue"))
                conn.execute(
                    sa.text(
                        "UPDATE url_queue SET updated_at = now()"
                        " WHERE discovered_at >= now() - make_interval(days => :days)"
                    ),
                    {"days": args.fresh_days},
                )
                size = conn.scalar(sa.text("SELECT pg_size_pretty(pg_table_size('url_queue'))"))
            print(
                f"{args.rows:,} url_queue rows ({size}), {args.sources} sources, {args.days} days"
                f" (the last {args.fresh_days} updated since the last vacuum), filled in"
                f" {time.perf_counter() - start:.0f} s; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            print(f"\nsource_rows, median of {args.repeat}:", flush=True)
            counted: list[tuple[str, float]] = []
            for label, create in [("baseline", None), *CANDIDATES, ("baseline", None)]:
                index_size = use(engine, create)
                seconds, found = timed_rows(engine, args.repeat)
                counted.append((label, seconds))
                print(
                    f"{label:<40} {seconds * 1000:8.2f} ms ({found} new in 7 days)"
                    f"{f'; index {index_size}' if index_size else ''}\n    {plan(engine)}",
                    flush=True,
                )
            compare_inserts(engine, CANDIDATES, args.insert_batches, args.insert_rounds, args.sources)
            base = statistics.median([s for label, s in counted if label == "baseline"])
            print()
            for label, seconds in counted:
                if label != "baseline":
                    print(f"{label:<40} source_rows baseline / index {base / seconds:5.1f}x")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
