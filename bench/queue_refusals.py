"""Benchmark: the queue drain's re-queue of pages refused for their private address
(``queue.requeue_private_refusals``, run at the start of every drain while
``VEILLE_ALLOW_PRIVATE_NETWORK`` is on) on a large ``url_queue``, without and with migration
0051's partial index ``url_queue_private_refusals``; and what that index costs the queue's
inserts.

A scratch database (created and dropped here) is migrated to the head, the index dropped (the
baseline), and filled by bench/queue_recent.py's ``fill`` (``--rows`` rows over ``--sources``
sources and 365 days, 5% failed without that reason), ``--refused`` of the failed rows given
the refusal's reason (``[private-address] refused: ...``), then ``VACUUM ANALYZE``.

- the re-queue (the real function, the setting on) is timed ``--repeat`` times, each rolled
  back (so each finds the same ``--refused`` rows), in the order baseline, index, baseline;
  and once with the index and main's statement before 0051 (the marker bound as a parameter:
  ``LIKE :marker || '%'``, which no partial index predicate matches);
- the poll's queue insert of 100 new URLs (bench/queue_recent.py's ``timed_inserts``, one
  committed transaction each) ``--insert-batches`` times with the baseline and with the index
  in turn, for ``--insert-rounds`` rounds.

Printed: the median of each, its ratio to the baseline's and the plan's scans and buffers.

    python bench/queue_refusals.py [--rows 1000000] [--sources 2000] [--refused 20] [--repeat 7]
        [--insert-batches 50] [--insert-rounds 3]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/queue_refusals.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import non_negative_int, positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.queue_recent import compare_inserts, fill, plan, use  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

_0051 = importlib.import_module("migrations.versions.0051_refusals_index_headline")
#: migration 0051's index, under the name bench/queue_recent.py's ``use`` drops again
INDEX = _0051.REFUSALS_INDEX.replace("IF NOT EXISTS url_queue_private_refusals", "bench_queue_recent")
#: the rest of a refused page's reason (as queue.REFUSED_PRIVATE's rows have it)
REFUSED_HOST = "s1.bench.invalid resolves to non-public address 10.0.0.1"
#: the re-queue before 0051: the marker bound
BOUND = (
    "UPDATE url_queue q SET state = 'pending', reason = NULL, attempts = 0,"
    " next_attempt_at = now(), updated_at = now()"
    " WHERE q.state = 'failed' AND q.reason LIKE :marker || '%'"
    " AND NOT EXISTS (SELECT 1 FROM archive_captures c WHERE c.queue_id = q.id)"
)


def timed_requeue(engine: sa.Engine, repeat: int, bound: bool = False) -> tuple[float, int]:
    """Median seconds of one re-queue (rolled back), and the rows it queued again."""
    from monitors.archive.queue import REFUSED_PRIVATE, requeue_private_refusals

    runs: list[float] = []
    found = 0
    for _ in range(repeat):
        with Session(engine) as session:
            start = time.perf_counter()
            if bound:
                found = int(session.execute(sa.text(BOUND), {"marker": REFUSED_PRIVATE}).rowcount)  # type: ignore[attr-defined]
            else:
                found = requeue_private_refusals(session)
            runs.append(time.perf_counter() - start)
            session.rollback()
    return statistics.median(runs), found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=1_000_000)
    ap.add_argument("--sources", type=positive_int, default=2000)
    ap.add_argument("--refused", type=non_negative_int, default=20)
    ap.add_argument("--repeat", type=positive_int, default=7)
    ap.add_argument("--insert-batches", type=positive_int, default=50)
    ap.add_argument("--insert-rounds", type=positive_int, default=3)
    args = ap.parse_args()
    os.environ["VEILLE_ALLOW_PRIVATE_NETWORK"] = "1"  # the re-queue runs only then
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    from monitors.archive.queue import _REQUEUE_PRIVATE, REFUSED_PRIVATE

    with scratch_database(ADMIN_URL, "veille_bench_queue_refusals") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                conn.execute(sa.text("DROP INDEX url_queue_private_refusals"))  # the baseline
                fill(conn, args.sources, args.rows, 365)
                conn.execute(
                    sa.text(
                        "UPDATE url_queue SET reason = :reason WHERE id IN"
                        " (SELECT id FROM url_queue WHERE state = 'failed' ORDER BY random() LIMIT :n)"
                    ),
                    {
                        "reason": f"{REFUSED_PRIVATE}refused: {REFUSED_HOST}",
                        "n": args.refused,
                    },
                )
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE url_queue"))
                size = conn.scalar(sa.text("SELECT pg_size_pretty(pg_table_size('url_queue'))"))
            print(
                f"{args.rows:,} url_queue rows ({size}), {args.refused} refused for their address,"
                f" filled in {time.perf_counter() - start:.0f} s; load {os.getloadavg()[0]:.1f}"
                " (2 cores, shared)",
                flush=True,
            )
            print(f"\nrequeue_private_refusals, median of {args.repeat} (rolled back):", flush=True)
            timed: list[tuple[str, float]] = []
            for label, create, bound in [
                ("baseline", None, False),
                ("index (0051)", INDEX, False),
                ("index, the marker bound (main)", INDEX, True),
                ("baseline", None, False),
            ]:
                index_size = use(engine, create)
                seconds, found = timed_requeue(engine, args.repeat, bound)
                timed.append((label, seconds))
                statement = BOUND if bound else _REQUEUE_PRIVATE.text
                shown = plan(engine, statement, {"marker": REFUSED_PRIVATE} if bound else None)
                print(
                    f"{label:<32} {seconds * 1000:9.3f} ms ({found} queued again)"
                    f"{f'; index {index_size}' if index_size else ''}\n    {shown}",
                    flush=True,
                )
            compare_inserts(
                engine, [("index (0051)", INDEX)], args.insert_batches, args.insert_rounds, args.sources, 32
            )
            base = statistics.median([s for label, s in timed if label == "baseline"])
            print()
            for label, seconds in timed:
                if label != "baseline":
                    print(f"{label:<32} re-queue baseline / this {base / seconds:7.1f}x")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
