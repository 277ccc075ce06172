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

    python bench/queue_claim.py [--rows 200000] [--sources 200] [--batch 20] [--claims 100]
        [--workers 1,4] [--rounds 5] [--other-locks 0,1000]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
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


def claim_step(engine: sa.Engine, holder: queue.ClaimHolder, batch: int, check: bool) -> list[int]:
    """One claim as the drain makes it; the ids claimed."""
    token = holder.token()
    with Session(engine) as session, session.begin():
        items = queue.claim_items(session, batch, token)
    if check:
        assert holder.holds(token)
    return [item.id for item in items]


def timed_round(engine: sa.Engine, workers: int, claims: int, batch: int, variant: str) -> float:
    """Claims per second of ``workers`` threads claiming ``claims`` times each."""
    holder = queue.ClaimHolder(engine)
    holder.token()
    errors: list[BaseException] = []
    spent: list[float] = []

    def work() -> None:
        try:
            mine = 0.0
            for _ in range(claims):
                start = time.perf_counter()
                ids = claim_step(engine, holder, batch, variant in ("now", "try-lock"))
                mine += time.perf_counter() - start
                assert ids, "the queue ran dry: raise --rows"
                with Session(engine) as session, session.begin():  # settled, as a drain does
                    session.execute(
                        sa.text(
                            "UPDATE url_queue SET state = 'fetched', claimed_at = NULL, claimed_by = NULL"
                            " WHERE id = ANY(:ids)"
                        ),
                        {"ids": ids},
                    )
            spent.append(mine)
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
    return workers * claims / statistics.mean(spent)


def vacuum(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM url_queue"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=200_000)
    ap.add_argument("--sources", type=positive_int, default=200)
    ap.add_argument("--batch", type=positive_int, default=20)
    ap.add_argument("--claims", type=positive_int, default=100)
    ap.add_argument("--workers", type=counts, default=[1, 4])
    ap.add_argument("--rounds", type=positive_int, default=5)
    ap.add_argument("--other-locks", type=counts, default=[0, 1000])
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    with scratch_database(ADMIN_URL, "veille_bench_queue_claim") as url:
        engine = sa.create_engine(url, pool_size=max(args.workers) + 2, max_overflow=2)
        side = engine.connect()
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                fill(conn, args.sources, args.rows, 365)
                # all pending and due, each at its own time (the claim's order is next_attempt_at, id)
                conn.execute(
                    sa.text(
                        "UPDATE url_queue SET state = 'pending',"
                        " next_attempt_at = now() - random() * interval '30 days'"
                    )
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
                    for turn in range(args.rounds):
                        # each variant first in turn, each after a VACUUM: the rows settled by the
                        # last one slow the next claims down until vacuumed (a dead front of the
                        # due index)
                        for variant in variants[turn % len(variants) :] + variants[: turn % len(variants)]:
                            vacuum(engine)
                            rates[variant].append(
                                timed_round(engine, workers, args.claims, args.batch, variant)
                            )
                    base = statistics.median(rates["before"])
                    for variant in variants:
                        median = statistics.median(rates[variant])
                        shown = " ".join(f"{r:.0f}" for r in rates[variant])
                        print(
                            f"  {variant:<22} {median:8.0f} claims/s (rounds: {shown})"
                            f"  this / before {median / base:5.2f}",
                            flush=True,
                        )
        finally:
            side.close()
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
