"""Benchmark: a queue drain's claim step (``ClaimHolder.token``, ``claim_items``, and since
dd14a32 ``ClaimHolder.holds``) as it is, against it before 026a8f1 (no check in the claim's
statement that the token's lock is held, none after it), on the same scratch queue.

A scratch database (created and dropped here) is migrated to the head and filled by
bench/queue_recent.py's ``fill`` (``--rows`` rows over ``--sources`` sources), every row made
pending and due at a random time of the last 30 days, ``VACUUM ANALYZE``. A side connection
holds ``--other-locks`` advisory locks meanwhile, as the other sessions of a busy server do
(``pg_locks`` is read whole by each check). Each claim takes ``--batch`` rows and commits;
its rows are then settled (``fetched``), untimed, as a drain settles them: the next claim
takes fresh rows. ``--workers`` threads claim at once, ``--claims`` claims each, for each
variant in turn (each first in turn, each after a ``VACUUM url_queue``), ``--rounds`` rounds:

- ``before``: ``holder.token()`` then ``claim_items`` without the statement's ``EXISTS``
  on ``pg_locks`` (026a8f1^'s claim step);
- ``now``: ``holder.token()``, ``claim_items``, ``holder.holds(token)`` (what
  ``flows.queue_drain`` runs);
- ``now, statement only``: as ``now`` without ``holds``;
- ``try-lock``: as ``now``, the statement's check a tried shared lock on the token's key
  (``pg_try_advisory_xact_lock_shared``), not a read of ``pg_locks``.

Printed: claims per second of each round, the median per variant and its ratio to
``before``.

With ``--indexes``, the claim step is ``now``'s and the variants are the claim's index
(``url_queue_due``, dropped and built again before each round, then ``VACUUM ANALYZE``):
``next_attempt_at`` (migration 0001's, the baseline) and ``(next_attempt_at, id)`` (a
candidate: the claim's whole order, so that its ``LIMIT`` stops the index scan, no sort), each
first in turn, ratios against the baseline; the claim statement alone is timed too. Before
the rounds, for each index: the claim statement's ``EXPLAIN (ANALYZE, BUFFERS)`` (rolled
back) on a vacuumed queue and again after ``--explain-claims`` settled claims by each of the
most ``--workers`` at once (no vacuum between: the settled rows' index entries are dead), and
how many of the claims' and settles' updates were HOT (``pg_stat_user_tables``).
``--ties`` rows share each ``next_attempt_at`` (a poll's rows, queued in one transaction,
share its ``now()``).

    python bench/queue_claim.py [--rows 200000] [--sources 200] [--batch 20] [--claims 100]
        [--workers 1,4] [--rounds 5] [--other-locks 0,1000]
        [--indexes] [--ties 1] [--explain-claims 100]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/queue_claim.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.queue_recent import fill  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402
from monitors.archive import queue  # noqa: E402

#: the token check of claim_items' statement made a constant (026a8f1^ had none)
NO_CHECK = "SELECT CAST(:space AS int), CAST(:held AS bigint)"
#: a candidate check: a shared lock on the token's key, tried (one lookup in the lock manager,
#: not a copy of the whole lock table): refused while its holder holds the key
TRY_LOCK = "SELECT WHERE NOT pg_try_advisory_xact_lock_shared(CAST(:space AS int), CAST(:held AS int))"
CHECKS = {"before": NO_CHECK, "try-lock": TRY_LOCK}
#: --indexes: (variant, the claim's index url_queue_due), the baseline first
INDEXES = {
    "next_attempt_at": "CREATE INDEX url_queue_due ON url_queue (next_attempt_at) WHERE state = 'pending'",
    "(next_attempt_at, id)": (
        "CREATE INDEX url_queue_due ON url_queue (next_attempt_at, id) WHERE state = 'pending'"
    ),
}
SETTLE = sa.text(
    "UPDATE url_queue SET state = 'fetched', claimed_at = NULL, claimed_by = NULL WHERE id = ANY(:ids)"
)


def counts(text: str) -> list[int]:
    """A comma-separated list of counts (0 allowed: no other lock)."""
    return [int(part) for part in text.split(",")]


@contextmanager
def token_check(statement: str) -> Iterator[None]:
    kept = queue._TOKEN_LIVE
    queue._TOKEN_LIVE = statement
    try:
        yield
    finally:
        queue._TOKEN_LIVE = kept


def claim_step(
    engine: sa.Engine, holder: queue.ClaimHolder, batch: int, check: bool
) -> tuple[list[int], float]:
    """One claim as the drain makes it; the ids claimed and the seconds of the statement."""
    token = holder.token()
    with Session(engine) as session, session.begin():
        start = time.perf_counter()
        items = queue.claim_items(session, batch, token)
        statement = time.perf_counter() - start
    if check:
        assert holder.holds(token)
    return [item.id for item in items], statement


def timed_round(
    engine: sa.Engine, workers: int, claims: int, batch: int, variant: str
) -> tuple[float, float]:
    """Claims per second of ``workers`` threads claiming ``claims`` times each: of the whole
    step, and of its claim statement alone."""
    holder = queue.ClaimHolder(engine)
    holder.token()
    errors: list[BaseException] = []
    spent: list[float] = []
    statements: list[float] = []

    def work() -> None:
        try:
            mine = in_statement = 0.0
            for _ in range(claims):
                start = time.perf_counter()
                ids, statement = claim_step(
                    engine, holder, batch, variant in ("now", "try-lock") or variant in INDEXES
                )
                mine += time.perf_counter() - start
                in_statement += statement
                assert ids, "the queue ran dry: raise --rows"
                with Session(engine) as session, session.begin():  # settled, as a drain does
                    session.execute(SETTLE, {"ids": ids})
            spent.append(mine)
            statements.append(in_statement)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    check = CHECKS.get(variant, queue._TOKEN_LIVE)
    with token_check(check):
        threads = [threading.Thread(target=work) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    holder.close()
    if errors:
        raise errors[0]
    # claims per second of claiming time, summed over the workers (release time left out)
    return workers * claims / statistics.mean(spent), workers * claims / statistics.mean(statements)


def vacuum(engine: sa.Engine, analyze: bool = False) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE url_queue" if analyze else "VACUUM url_queue"))


def use_index(engine: sa.Engine, variant: str) -> None:
    """``url_queue_due`` built afresh as ``variant``'s, the table vacuumed and analysed."""
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS url_queue_due"))
        conn.execute(sa.text(INDEXES[variant]))
    vacuum(engine, analyze=True)


def explain_claim(engine: sa.Engine, batch: int) -> str:
    """The claim statement's ``EXPLAIN (ANALYZE, BUFFERS)`` (rolled back) in one line: the
    whole statement's buffers and time, the scan of ``url_queue_due`` (its rows and buffers)
    and the sort above it, if any."""
    holder = queue.ClaimHolder(engine)
    try:
        statement = queue.claim_statement(batch, holder.token(), queue.now())
        compiled = statement.compile(dialect=engine.dialect)
        with engine.connect() as conn:
            explain = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) " + str(compiled)
            lines = [line.strip() for line in conn.exec_driver_sql(explain, compiled.params).scalars()]
            conn.rollback()
    finally:
        holder.close()
    took = next(line for line in lines if line.startswith("Execution Time")).split(": ")[1]
    top = next(line for line in lines if line.startswith("Buffers"))  # the first: the statement's
    scan = next(i for i, line in enumerate(lines) if "using url_queue_due" in line)
    # the scan node's own lines run to the next node ("-> ...")
    own = [scan] + list(
        itertools.takewhile(lambda i: not lines[i].startswith("->"), range(scan + 1, len(lines)))
    )
    scan_buffers = next((lines[i] for i in own if lines[i].startswith("Buffers")), "Buffers: none")
    rows = lines[scan].split("(actual ")[1].rstrip(")")
    sorts = [
        line.removeprefix("-> ").split(" (")[0].strip()
        for line in lines
        if "Sort  " in line or "Sort (" in line
    ]
    return (
        f"statement {top.removeprefix('Buffers: ')} in {took};"
        f" due scan {rows}, {scan_buffers.removeprefix('Buffers: ')};"
        f" sort above it: {', '.join(sorts) or 'none'}"
    )


def updates(engine: sa.Engine) -> tuple[int, int]:
    """url_queue's updates and HOT updates so far (the statistics of ended transactions)."""
    time.sleep(11)  # an idle backend reports its counts within 10 s (PostgreSQL 15)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
        row = conn.execute(
            sa.text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'url_queue'")
        ).one()
    return int(row[0]), int(row[1])


def explain_indexes(engine: sa.Engine, batch: int, claims: int, workers: int) -> None:
    """Each index's claim plan on a vacuumed queue and after ``claims`` settled claims by
    each of ``workers`` workers at once."""
    for variant in INDEXES:
        use_index(engine, variant)
        print(f"\nthe claim's plan with url_queue_due on {variant}:", flush=True)
        print(f"  vacuumed:               {explain_claim(engine, batch)}", flush=True)
        before = updates(engine)
        timed_round(engine, workers, claims, batch, variant)
        after = updates(engine)
        print(f"  after {workers} x {claims} settled claims: {explain_claim(engine, batch)}", flush=True)
        print(
            f"  their updates: {after[0] - before[0]:,}"
            f" (claimed and settled: {2 * workers * claims * batch:,}),"
            f" HOT {after[1] - before[1]:,}",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=200_000)
    ap.add_argument("--sources", type=positive_int, default=200)
    ap.add_argument("--batch", type=positive_int, default=20)
    ap.add_argument("--claims", type=positive_int, default=100)
    ap.add_argument("--workers", type=counts, default=[1, 4])
    ap.add_argument("--rounds", type=positive_int, default=5)
    ap.add_argument("--other-locks", type=counts, default=[0, 1000])
    ap.add_argument("--indexes", action="store_true", help="compare the claim's index, not its token check")
    ap.add_argument("--ties", type=positive_int, default=1, help="rows sharing each next_attempt_at")
    ap.add_argument("--explain-claims", type=positive_int, default=100)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    with scratch_database(ADMIN_URL, "veille_bench_queue_claim") as url:
        engine = sa.create_engine(url, pool_size=max(args.workers) + 2, max_overflow=2)
        side = engine.connect()
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                fill(conn, args.sources, args.rows, 365)
                # all pending and due, each --ties rows at a time of their own (the claim's
                # order is next_attempt_at, id)
                conn.execute(
                    sa.text(
                        "UPDATE url_queue q SET state = 'pending', next_attempt_at = t.at"
                        " FROM (SELECT k, now() - random() * interval '30 days' AS at"
                        "       FROM generate_series(0, CAST(:rows AS int) / :ties) k) t"
                        " WHERE t.k = q.id / :ties"
                    ),
                    {"rows": args.rows, "ties": args.ties},
                )
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE url_queue"))
                pending = conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'"))
            print(
                f"{args.rows:,} url_queue rows ({pending:,} pending), filled in"
                f" {time.perf_counter() - start:.0f} s; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            variants = ["before", "now", "now, statement only", "try-lock"]
            if args.indexes:
                explain_indexes(engine, args.batch, args.explain_claims, max(args.workers))
                variants = list(INDEXES)
            held = 0
            for others in args.other_locks:
                side.execute(
                    sa.text(
                        "SELECT pg_advisory_lock(1, g)"
                        " FROM generate_series(CAST(:a AS int), CAST(:b AS int)) g"
                    ),
                    {"a": held + 1, "b": others},
                )
                held = max(held, others)
                with engine.connect() as conn:
                    locks = conn.scalar(sa.text("SELECT count(*) FROM pg_locks"))
                for workers in args.workers:
                    print(
                        f"\n{workers} worker(s), {args.claims} claims of {args.batch} rows each,"
                        f" {locks} rows in pg_locks (server-wide):",
                        flush=True,
                    )
                    rates: dict[str, list[float]] = {v: [] for v in variants}
                    alone: dict[str, list[float]] = {v: [] for v in variants}  # the statement's
                    for turn in range(args.rounds):
                        # each variant first in turn, each after a VACUUM: the rows settled by the
                        # last one slow the next claims down until vacuumed (a dead front of the
                        # due index)
                        for variant in variants[turn % len(variants) :] + variants[: turn % len(variants)]:
                            if args.indexes:
                                use_index(engine, variant)  # vacuumed too
                            else:
                                vacuum(engine)
                            step, statement = timed_round(engine, workers, args.claims, args.batch, variant)
                            rates[variant].append(step)
                            alone[variant].append(statement)
                    for what, measured in (("the step", rates), ("its statement alone", alone)):
                        base = statistics.median(measured[variants[0]])
                        for variant in variants:
                            median = statistics.median(measured[variant])
                            shown = " ".join(f"{r:.0f}" for r in measured[variant])
                            print(
                                f"  {variant:<22} {what:<20} {median:8.0f} claims/s (rounds: {shown})"
                                f"  this / {variants[0]} {median / base:5.2f}",
                                flush=True,
                            )
        finally:
            side.close()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
