"""Benchmark: ``polls._sitemaps_read`` (the child sitemaps read within the sitemap window, one
query per batch of due sources) on a large ``fetch_log``, with and without an index of its own.

A scratch database (created and dropped here) is migrated to the head and given ``--sources``
sources (a quarter of them sitemaps, the rest feeds with a fallback sitemap: both are asked
about) and ``--rows`` ``fetch_log`` rows over ``--days`` days, shaped as a live archive logs
them: mostly page fetches (``page``), polls (``feed``, ``sitemap``) and, for the sitemap
sources, the child sitemaps each poll read (``sitemap-child``, ``--child-share`` of the rows).
Then ``_sitemaps_read`` is timed on batches of 50 sources (as a poll batch asks) with the
indexes the schema has (the baseline: ``source_id``'s, ``at``'s) and with
``--index`` added (``CREATE INDEX ... ; ANALYZE``), in the order baseline, index, baseline, so
the machine's state is measured on both sides. Printed: the median per batch of each and the
ratio baseline / with the index; rows read by each plan (``EXPLAIN (ANALYZE, BUFFERS)``).

    python bench/sitemaps_read.py [--rows 2000000] [--sources 400] [--days 180] [--repeat 5]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/sitemaps_read.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

INDEX = (
    "CREATE INDEX fetch_log_sitemap_children ON fetch_log (source_id, at)"
    " WHERE kind = 'sitemap-child' AND outcome = 'ok'"
)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
BATCH = 50


def fill(conn: sa.Connection, sources: int, rows: int, days: int, child_share: float) -> None:
    sitemaps = sources // 4
    conn.execute(
        sa.text(
            "INSERT INTO sources (id, name, kind, url, owner, fallback_url)"
            " SELECT g, 'source ' || g, CASE WHEN g <= :sitemaps THEN 'sitemap' ELSE 'feed' END,"
            "        'https://s' || g || '.bench.invalid/feed', 'media',"
            "        CASE WHEN g > :sitemaps THEN 'https://s' || g || '.bench.invalid/sitemap.xml' END"
            " FROM generate_series(1, :n) g"
        ),
        {"n": sources, "sitemaps": sitemaps},
    )
    # each row: a source (children only for sitemap sources), a time over the days before NOW
    conn.execute(
        sa.text(
            """
            INSERT INTO fetch_log (at, source_id, url, kind, status_code, outcome)
            SELECT CAST(:now AS timestamptz) - random() * make_interval(days => :days),
                   CASE WHEN child THEN 1 + (g % :sitemaps) ELSE 1 + (g % :sources) END,
                   CASE WHEN child THEN 'https://s' || (1 + g % :sitemaps) || '.bench.invalid/sitemap-'
                                        || (g % 40) || '.xml'
                        ELSE 'https://s' || (1 + g % :sources) || '.bench.invalid/article/' || g END,
                   CASE WHEN child THEN 'sitemap-child' WHEN g % 12 = 0 THEN 'feed' ELSE 'page' END,
                   200, CASE WHEN g % 20 = 0 THEN 'error' ELSE 'ok' END
            FROM (SELECT g, random() < :share AS child FROM generate_series(1, :rows) g) r
            """
        ),
        {
            "now": NOW,
            "days": days,
            "sources": sources,
            "sitemaps": sitemaps,
            "rows": rows,
            "share": child_share,
        },
    )
    conn.execute(sa.text("ANALYZE fetch_log"))


def batches(sources: int) -> list[list[int]]:
    ids = list(range(1, sources + 1))
    return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]


def timed(engine: sa.Engine, repeat: int, sources: int) -> tuple[float, int]:
    """Median seconds of one ``_sitemaps_read`` call per batch; the children found in all."""
    from monitors.archive.polls import _sitemaps_read

    runs: list[float] = []
    found = 0
    with Session(engine) as session:
        for _ in range(repeat):
            for ids in batches(sources):
                start = time.perf_counter()
                read = _sitemaps_read(session, ids, NOW)
                runs.append(time.perf_counter() - start)
                found += sum(len(v) for v in read.values())
    return statistics.median(runs), found // repeat


def plan(engine: sa.Engine) -> str:
    """The plan's first line and its buffers, for the first batch's query as the store sends it."""
    from monitors.archive.models import FetchLog

    since = NOW - timedelta(days=7)
    query = (
        sa.select(FetchLog.source_id, FetchLog.url, sa.func.max(FetchLog.at))
        .where(
            FetchLog.source_id.in_(batches(BATCH)[0]),
            FetchLog.kind == "sitemap-child",
            FetchLog.outcome == "ok",
            FetchLog.at >= since,
        )
        .group_by(FetchLog.source_id, FetchLog.url)
    )
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        lines = [r[0] for r in conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))]
    scans = [line.strip() for line in lines if "Scan" in line or "Buffers" in line]
    return "; ".join(scans[:4])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=positive_int, default=2_000_000)
    ap.add_argument("--sources", type=positive_int, default=400)
    ap.add_argument("--days", type=positive_int, default=180)
    ap.add_argument("--child-share", type=float, default=0.02)
    ap.add_argument("--repeat", type=positive_int, default=5)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    with scratch_database(ADMIN_URL, "veille_bench_sitemaps") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.begin() as conn:
                present = conn.scalar(sa.text("SELECT to_regclass('fetch_log_sitemap_children') IS NOT NULL"))
                if present:  # the schema has it: the baseline is the schema without it
                    conn.execute(sa.text("DROP INDEX fetch_log_sitemap_children"))
                start = time.perf_counter()
                fill(conn, args.sources, args.rows, args.days, args.child_share)
            print(
                f"{args.rows:,} fetch_log rows, {args.sources} sources, {args.days} days, filled in"
                f" {time.perf_counter() - start:.0f} s; median per batch of {BATCH} sources, {args.repeat}"
                f" rounds; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            results = []
            for label, create in (("baseline", False), ("index", True), ("baseline", False)):
                with engine.begin() as conn:
                    if create:
                        conn.execute(sa.text(INDEX))
                    else:
                        conn.execute(sa.text("DROP INDEX IF EXISTS fetch_log_sitemap_children"))
                    conn.execute(sa.text("ANALYZE fetch_log"))
                seconds, found = timed(engine, args.repeat, args.sources)
                results.append((label, seconds))
                shown = f"{label:<9} {seconds * 1000:>8.2f} ms per batch, {found} children; {plan(engine)}"
                print(shown, flush=True)
            base = statistics.median([s for label, s in results if label == "baseline"])
            indexed = next(s for label, s in results if label == "index")
            print(f"\nbaseline / with the index: {base / indexed:.1f}x")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
