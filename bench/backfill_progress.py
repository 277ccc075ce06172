"""Benchmark: ``veille backfill``'s progress bar (the count ``QueueProgress`` sends twice a
second while a backfill runs) on a large ``url_queue``, as it was (``discovered_at >= :start OR
updated_at >= :start``, which no index serves) and as it is (``updated_at >= :start``, a range
of migration 0045's ``url_queue_updated``), with candidates of another meaning; and what the
index costs the queue's inserts and claims.

A scratch database (created and dropped here) is migrated to the head (the baseline drops
``url_queue_updated``) and filled as ``bench/queue_recent.py`` fills it (``--rows`` rows over
``--days`` days, ``VACUUM ANALYZE``); then a backfill is played: its start is taken, it queues
``--queued`` new URLs (found by a backfill, three quarters of them settled) and claims
``--claimed`` older pending ones (as a drain does); ``ANALYZE``.

- the count is timed ``--repeat`` times each: baseline (the old statement, the schema without
  the index), the new statement with the index, the old statement with the index, the
  rows changed or claimed since the start (a candidate for claims that would leave
  ``updated_at``: the rows claimed since and still pending, read from ``url_queue_due``;
  the backfill played here claims as claims do, setting ``updated_at``: every count finds
  the same rows), and a partial index of the backfill's rows by discovery time
  (``found_by = 'backfill'``, which counts neither a re-queued entry nor an older pending URL
  the drain fetches), then the baseline again;
- the poll's queue insert (``bench.queue_recent.timed_inserts``) and a claim of 100 rows (one
  committed ``UPDATE`` of claimed_at, attempts and updated_at, as ``claim_items``, on rows
  not claimed before) are timed ``--insert-batches`` times with and without the index, for
  ``--insert-rounds`` rounds in turn.

    python bench/backfill_progress.py [--rows 1000000] [--queued 2000] [--claimed 500]
        [--repeat 15] [--insert-batches 50] [--insert-rounds 3]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/backfill_progress.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.arguments import non_negative_int, positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.queue_recent import fill, plan, timed_inserts, use  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402
from flows.commands.backfill import PROGRESS_COUNTS  # noqa: E402

BEFORE = (
    "SELECT count(*), count(*) FILTER (WHERE state <> 'pending')"
    " FROM url_queue WHERE discovered_at >= :start OR updated_at >= :start"
)
#: the candidates, under queue_recent's scratch index name (``use`` drops and creates it)
INDEX = "CREATE INDEX bench_queue_recent ON url_queue (updated_at)"  # url_queue_updated, migration 0045's
BACKFILL_ONLY = (
    "SELECT count(*), count(*) FILTER (WHERE state <> 'pending')"
    " FROM url_queue WHERE found_by = 'backfill' AND discovered_at >= :start"
)
#: a candidate for claims that would leave updated_at (so that a claim changes no indexed
#: column and can be a HOT update: bench/queue_claim.py --hot): the rows changed since the
#: start, or claimed since and still pending (a row's other changes set updated_at), the
#: second arm a range of url_queue_due (the due rows, whose claimed_at is then read)
CLAIMS_APART = (
    "SELECT count(*), count(*) FILTER (WHERE state <> 'pending') FROM url_queue WHERE updated_at >= :start"
    " OR (state = 'pending' AND next_attempt_at <= now() AND claimed_at >= :start)"
)
PARTIAL = "CREATE INDEX bench_queue_recent ON url_queue (discovered_at) WHERE found_by = 'backfill'"
CLAIM_BATCH = 100


def play_backfill(engine: sa.Engine, queued: int, claimed: int) -> datetime:
    """A backfill's start, then its new URLs and its claims of older pending ones."""
    with engine.begin() as conn:
        start: datetime = conn.scalar(sa.text("SELECT now()"))
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO url_queue (url, canonical_url, source_id, state, found_by)"
                " SELECT 'https://s1.bench.invalid/past/' || g, 'https://s1.bench.invalid/past/' || g, 1,"
                " CASE WHEN g % 4 = 0 THEN 'pending' ELSE 'fetched' END, 'backfill'"
                " FROM generate_series(1, :n) g"
            ),
            {"n": queued},
        )
        conn.execute(
            sa.text(
                "UPDATE url_queue SET claimed_at = now(), attempts = attempts + 1, updated_at = now()"
                " WHERE id IN (SELECT id FROM url_queue WHERE state = 'pending' AND updated_at < :start"
                " ORDER BY id LIMIT :n)"
            ),
            {"start": start, "n": claimed},
        )
    return start


def timed_count(engine: sa.Engine, statement: str, start: datetime, repeat: int) -> tuple[float, tuple]:
    """Median seconds of the count on a fresh connection each time (as the bar's); its result."""
    runs: list[float] = []
    result: tuple = ()
    for _ in range(repeat):
        with engine.connect() as conn:
            t = time.perf_counter()
            result = tuple(conn.execute(sa.text(statement), {"start": start}).one())
            runs.append(time.perf_counter() - t)
    return statistics.median(runs), result


def timed_claims(engine: sa.Engine, batches: int, after: int) -> tuple[list[float], int]:
    """Seconds of each committed claim of ``CLAIM_BATCH`` fetched rows never claimed here
    (ids above ``after``, in order); the last id claimed."""
    runs: list[float] = []
    with engine.connect() as conn:
        for _ in range(batches):
            ids = conn.scalars(
                sa.text("SELECT id FROM url_queue WHERE id > :a AND state = 'fetched' ORDER BY id LIMIT :n"),
                {"a": after, "n": CLAIM_BATCH},
            ).all()
            conn.commit()
            after = ids[-1]
            t = time.perf_counter()
            conn.execute(
                sa.text(
                    "UPDATE url_queue SET claimed_at = now(), attempts = attempts + 1, updated_at = now()"
                    " WHERE id = ANY(:ids)"
                ),
                {"ids": list(ids)},
            )
            conn.commit()
            runs.append(time.perf_counter() - t)
    return runs, after


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=1_000_000)
    ap.add_argument("--sources", type=positive_int, default=2000)
    ap.add_argument("--days", type=positive_int, default=365)
    ap.add_argument("--queued", type=positive_int, default=2000)
    ap.add_argument("--claimed", type=non_negative_int, default=500)
    ap.add_argument("--repeat", type=positive_int, default=15)
    ap.add_argument("--insert-batches", type=positive_int, default=50)
    ap.add_argument("--insert-rounds", type=positive_int, default=3)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    with scratch_database(ADMIN_URL, "veille_bench_backfill_progress") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            t0 = time.perf_counter()
            with engine.begin() as conn:
                # the schema has it (migration 0045): the baseline is the schema without it
                conn.execute(sa.text("DROP INDEX IF EXISTS url_queue_updated"))
                fill(conn, args.sources, args.rows, args.days)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE url_queue"))
                size = conn.scalar(sa.text("SELECT pg_size_pretty(pg_table_size('url_queue'))"))
            start = play_backfill(engine, args.queued, args.claimed)
            print(
                f"{args.rows:,} url_queue rows ({size}), {args.sources} sources, {args.days} days, filled in"
                f" {time.perf_counter() - t0:.0f} s; a backfill queued {args.queued} and claimed"
                f" {args.claimed} older ones; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            print(f"\nthe bar's count, median of {args.repeat}:", flush=True)
            steps = [
                ("baseline (OR, no index)", BEFORE, None),
                ("updated_at >= :start, url_queue_updated", PROGRESS_COUNTS, INDEX),
                ("OR, url_queue_updated", BEFORE, INDEX),
                ("+ claimed since, _updated + _due", CLAIMS_APART, INDEX),
                ("backfill's new rows, partial index", BACKFILL_ONLY, PARTIAL),
                ("baseline (OR, no index)", BEFORE, None),
            ]
            counted: list[tuple[str, float]] = []
            for label, statement, create in steps:
                index_size = use(engine, create)
                seconds, result = timed_count(engine, statement, start, args.repeat)
                counted.append((label, seconds))
                scans = plan(engine, statement, {"start": start})
                print(
                    f"{label:<42} {seconds * 1000:8.2f} ms {result}"
                    f"{f'; index {index_size}' if index_size else ''}\n    {scans}",
                    flush=True,
                )
            print(
                f"\nmedian of {args.insert_batches} x {args.insert_rounds} rounds: a poll's insert of 100 new"
                f" URLs (statement + commit), a claim of {CLAIM_BATCH} rows (committed):",
                flush=True,
            )
            inserted: dict[str, tuple[list[float], list[float], list[float]]] = {}
            after = 0
            for _ in range(args.insert_rounds):
                for label, create in [("baseline", None), ("url_queue_updated", INDEX)]:
                    use(engine, create)
                    statements, commits = timed_inserts(engine, args.insert_batches, args.sources)
                    claims, after = timed_claims(engine, args.insert_batches, after)
                    runs = inserted.setdefault(label, ([], [], []))
                    runs[0].extend(statements)
                    runs[1].extend(commits)
                    runs[2].extend(claims)
            use(engine, None)
            base = [statistics.median(runs) for runs in inserted["baseline"]]
            for label, runs in inserted.items():
                m = [statistics.median(r) for r in runs]
                print(
                    f"{label:<20} insert {m[0] * 1000:6.2f} + {m[1] * 1000:6.2f} ms ({m[0] / base[0]:.2f}x,"
                    f" {m[1] / base[1]:.2f}x), claim {m[2] * 1000:6.2f} ms ({m[2] / base[2]:.2f}x)",
                    flush=True,
                )
            print()
            before = statistics.median([s for label, s in counted if label.startswith("baseline")])
            for label, seconds in counted:
                if not label.startswith("baseline"):
                    print(f"{label:<42} count baseline / this {before / seconds:7.1f}x")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
