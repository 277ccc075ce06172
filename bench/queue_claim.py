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

With ``--hot``, the variants are the claim as it is (it sets ``updated_at``, a column of the
index ``url_queue_updated``: no claim is a HOT update) against a claim leaving ``updated_at``
as it was (it then changes no indexed column), each on both claim indexes of
``--indexes``, ``url_queue_updated`` kept; after each round, how many of its claims' row
updates were HOT (the settles change ``state``, the due index's predicate: never HOT). A
side thread samples ``pg_stat_activity`` meanwhile: which backends, of any database, held the
oldest snapshot (``backend_xmin``) or transaction id while the claims ran. Before the rounds,
the claim's plan (``EXPLAIN (ANALYZE, BUFFERS)``) after ``--explain-claims`` settled claims on
each index, with no other transaction and with one of another database holding its
transaction id meanwhile.

    python bench/queue_claim.py [--rows 200000] [--sources 200] [--batch 20] [--claims 100]
        [--workers 1,4] [--rounds 5] [--other-locks 0,1000]
        [--indexes] [--ties 1] [--explain-claims 100] [--hot]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
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
#: --hot: (variant, the claim's index, whether the claim sets updated_at), the baseline first
HOT_VARIANTS = {
    "sets updated_at, next_attempt_at": ("next_attempt_at", True),
    "leaves updated_at, next_attempt_at": ("next_attempt_at", False),
    "sets updated_at, (next_attempt_at, id)": ("(next_attempt_at, id)", True),
    "leaves updated_at, (next_attempt_at, id)": ("(next_attempt_at, id)", False),
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


@contextmanager
def claim_updated_at(sets: bool | None) -> Iterator[None]:
    """``claim_items``' statement setting ``updated_at`` (``True``, as it does by the column's
    onupdate: a change of ``url_queue_updated``'s column) or leaving it as it was (``False``:
    the claim changes no indexed column); ``None``: as it is."""
    kept = queue.claim_statement
    if sets is not None:
        value = sa.func.now() if sets else queue.QueuedUrl.updated_at

        def statement(limit: int, token: int | None, t: datetime) -> sa.Update:
            return kept(limit, token, t).values(updated_at=value)

        queue.claim_statement = statement
    try:
        yield
    finally:
        queue.claim_statement = kept


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
                    engine,
                    holder,
                    batch,
                    variant in ("now", "try-lock") or variant in INDEXES or variant in HOT_VARIANTS,
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
    sets = HOT_VARIANTS[variant][1] if variant in HOT_VARIANTS else None
    with token_check(check), claim_updated_at(sets):
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


def print_rates(
    variants: list[str], rates: dict[str, list[float]], alone: dict[str, list[float]], width: int
) -> None:
    """Each variant's median claims per second, of the step and of its statement alone, its
    rounds, and its ratio to the first variant's."""
    for what, measured in (("the step", rates), ("its statement alone", alone)):
        base = statistics.median(measured[variants[0]])
        for variant in variants:
            median = statistics.median(measured[variant])
            shown = " ".join(f"{r:.0f}" for r in measured[variant])
            print(
                f"  {variant:<{width}} {what:<20} {median:8.0f} claims/s (rounds: {shown})"
                f"  this / {variants[0]} {median / base:5.2f}",
                flush=True,
            )


def vacuum(engine: sa.Engine, analyze: bool = False) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE url_queue" if analyze else "VACUUM url_queue"))


def use_index(engine: sa.Engine, variant: str) -> None:
    """``url_queue_due`` built afresh as ``variant``'s, the table vacuumed and analysed."""
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX IF EXISTS url_queue_due"))
        conn.execute(sa.text(INDEXES[variant]))
    vacuum(engine, analyze=True)


#: a plan node that reads url_queue itself (not url_queue_due): "Seq Scan on url_queue url_queue_1"
_QUEUE_SCAN = re.compile(r"Scan.* on url_queue\b")


def explain_claim(engine: sa.Engine, batch: int) -> str:
    """The claim statement's ``EXPLAIN (ANALYZE, BUFFERS)`` (rolled back) in one line: the
    whole statement's buffers and time, the scan of ``url_queue_due`` (its rows and buffers)
    and the sort above it, if any. On a table of a few rows the planner reads it whole: then
    the line says so, with the node it chose (it raised StopIteration)."""
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
    top = next((line for line in lines if line.startswith("Buffers")), "Buffers: none")  # the statement's
    sorts = [
        line.removeprefix("-> ").split(" (")[0].strip()
        for line in lines
        if "Sort  " in line or "Sort (" in line
    ]
    sort = f"sort above it: {', '.join(sorts) or 'none'}"
    scan = next((i for i, line in enumerate(lines) if "using url_queue_due" in line), None)
    if scan is None:  # a few rows (--rows 10): the planner reads the table whole, no index
        chosen = next(
            (line.removeprefix("-> ").split(" (")[0].strip() for line in lines if _QUEUE_SCAN.search(line)),
            "no scan of url_queue",
        )
        return (
            f"statement {top.removeprefix('Buffers: ')} in {took}; no url_queue_due scan: the"
            f" planner chose {chosen} (a table this small is read whole; give more --rows); {sort}"
        )
    # the scan node's own lines run to the next node ("-> ...")
    own = [scan] + list(
        itertools.takewhile(lambda i: not lines[i].startswith("->"), range(scan + 1, len(lines)))
    )
    scan_buffers = next((lines[i] for i in own if lines[i].startswith("Buffers")), "Buffers: none")
    rows = lines[scan].split("(actual ")[1].rstrip(")")
    return (
        f"statement {top.removeprefix('Buffers: ')} in {took};"
        f" due scan {rows}, {scan_buffers.removeprefix('Buffers: ')}; {sort}"
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


def flushed_updates(engine: sa.Engine) -> tuple[int, int]:
    """:func:`updates` without its wait: the pool's connections are closed first (a backend
    reports its counts as it exits)."""
    engine.dispose()
    time.sleep(1)
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'url_queue'")
        ).one()
    engine.dispose()
    return int(row[0]), int(row[1])


class SnapshotWatch:
    """Samples ``pg_stat_activity`` (every database) every 0.2 s on a connection of its own:
    for each backend seen holding a snapshot (``backend_xmin``) or a transaction id, its
    database, application, state and query start; and the largest age of the oldest of them."""

    SAMPLE = (
        "SELECT pid, coalesce(datname, '-'), coalesce(application_name, ''), coalesce(state, ''),"
        " left(coalesce(query, ''), 60),"
        " age(backend_xmin), age(backend_xid), now() - xact_start"
        " FROM pg_stat_activity WHERE (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)"
        " AND pid <> pg_backend_pid()"
    )

    def __init__(self, url: sa.URL) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.stop = threading.Event()
        # (db, app, query) -> [samples, longest transaction s, oldest backend_xmin's age in xids]
        self.seen: dict[tuple[str, str, str], list[float]] = {}
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            while not self.stop.wait(0.2):
                for _pid, db, app, state, query, xmin_age, _xid_age, xact in conn.execute(
                    sa.text(self.SAMPLE)
                ):
                    key = (db, app or "-", f"{state}: {' '.join(query.split())}")
                    entry = self.seen.setdefault(key, [0.0, 0.0, 0.0])
                    entry[0] += 1
                    entry[2] = max(entry[2], xmin_age or 0)
                    if xact is not None:
                        entry[1] = max(entry[1], xact.total_seconds())

    def __enter__(self) -> SnapshotWatch:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()

    def report(self, top: int = 8) -> None:
        print(
            "  backends seen with a snapshot or a transaction id, by longest transaction then oldest"
            " snapshot (samples, longest transaction, largest age(backend_xmin)):"
        )
        for key in ("longest", "oldest"):
            column = 1 if key == "longest" else 2
            ranked = sorted(self.seen.items(), key=lambda kv: -kv[1][column])[:top]
            for (db, app, query), (samples, longest, oldest) in ranked:
                print(f"    {db} / {app} / {query}: {samples:.0f}, {longest:.1f} s, {oldest:.0f}", flush=True)


def hot_rounds(engine: sa.Engine, url: sa.URL, workers: int, claims: int, batch: int, rounds: int) -> None:
    """--hot: each variant first in turn, its claim index built afresh (then vacuumed); the
    step's and the statement's claims per second and the HOT share of the claims' updates."""
    variants = list(HOT_VARIANTS)
    rates: dict[str, list[float]] = {v: [] for v in variants}
    alone: dict[str, list[float]] = {v: [] for v in variants}
    hot: dict[str, list[float]] = {v: [] for v in variants}
    with SnapshotWatch(url) as watch:
        for turn in range(rounds):
            for variant in variants[turn % len(variants) :] + variants[: turn % len(variants)]:
                use_index(engine, HOT_VARIANTS[variant][0])
                before = flushed_updates(engine)
                step, statement = timed_round(engine, workers, claims, batch, variant)
                after = flushed_updates(engine)
                rates[variant].append(step)
                alone[variant].append(statement)
                hot[variant].append((after[1] - before[1]) / (workers * claims * batch))
    print(f"\n--hot: {workers} worker(s), {claims} claims of {batch} rows each, {rounds} rounds:", flush=True)
    print_rates(variants, rates, alone, 42)
    for variant in variants:
        shown = " ".join(f"{h:.2f}" for h in hot[variant])
        print(f"  {variant:<42} HOT share of the claims' row updates: {shown}", flush=True)
    watch.report()


def held_probe(engine: sa.Engine, batch: int, claims: int, workers: int) -> None:
    """--hot: the claim's plan (claims leaving updated_at) after ``claims`` settled claims by
    each of ``workers`` workers, each index built afresh: with no other transaction, and with
    one of another database holding a transaction id meanwhile (as another test suite's
    migration does): every snapshot taken then has that id as its xmin, so the settled rows'
    versions are not yet dead to all and a scan cannot mark their index entries dead."""
    other = sa.create_engine(ADMIN_URL, poolclass=sa.pool.NullPool)
    try:
        for index in INDEXES:
            variant = next(v for v, (i, sets) in HOT_VARIANTS.items() if i == index and not sets)
            for held in (False, True):
                use_index(engine, index)
                with other.connect() as conn:
                    if held:
                        conn.execute(sa.text("SELECT txid_current()"))
                    timed_round(engine, workers, claims, batch, variant)
                    plan = explain_claim(engine, batch)
                    conn.rollback()
                print(
                    f"  {index}, after {workers} x {claims} settled claims,"
                    f" {'a transaction id held in another database' if held else 'no other transaction'}:"
                    f" {plan}",
                    flush=True,
                )
    finally:
        other.dispose()


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
    ap.add_argument(
        "--hot", action="store_true", help="compare the claim setting updated_at with it leaving it (HOT)"
    )
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
            if args.hot:
                print("\nthe claim's plan, claims leaving updated_at:", flush=True)
                held_probe(engine, args.batch, args.explain_claims, max(args.workers))
                for workers in args.workers:
                    hot_rounds(engine, engine.url, workers, args.claims, args.batch, args.rounds)
                return 0
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
                    print_rates(variants, rates, alone, 22)
        finally:
            side.close()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
