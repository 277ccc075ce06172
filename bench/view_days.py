"""Benchmark: the views' ``day`` as the head migration writes it (0042: the day on the recorded
local clock, none for a date veille reads as none) against the same views with ``'Europe/Paris'``
written in them (0004 to 0024), on the same rows in the same run.

A scratch database (created and dropped here) is migrated to the head and given ``--articles``
articles over a year (a tenth undated: their fetch date counts), a third of them relevant, one
sighting each and a copy for a quarter of them, over 50 sources. Each query below is run on
each view's body written four ways: as the earlier migrations wrote it (``AT TIME ZONE
'Europe/Paris'``, the baseline), as migration 0025 wrote it (``AT TIME ZONE (SELECT
veille_local_timezone())``, read once per query), as migration 0042 writes it (``veille_day(...,
(SELECT veille_local_timezone()))``: the same, NULL for infinity, a year BC or after 9999) and
with the clock read on every row (``veille_day(...)`` of the instant alone, what the views do not
do), in that order, twice. Printed: the median of ``--repeat`` runs of each and the ratios to
the baseline and of 0042 to 0025.

    python bench/view_days.py [--articles 300000] [--repeat 5]

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
if str(ROOT) not in sys.path:  # run as `python bench/view_days.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

#: the ways a body is written, in the order they run
WAYS = ("baseline", "0025", "0042", "per row")
#: (what, the view whose body is read, the query over it as ``v``)
QUERIES = [
    ("articles per day", "articles_with_source", "SELECT day, count(*) FROM ({body}) v GROUP BY day"),
    (
        "one day's articles",
        "articles_with_source",
        "SELECT count(*) FROM ({body}) v WHERE day = DATE '2025-03-01'",
    ),
    (
        "relevant per day and source",
        "relevant_sightings",
        "SELECT day, source, count(*) FROM ({body}) v GROUP BY day, source",
    ),
]


def fill(conn: sa.Connection, articles: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner, family)"
            " SELECT 'source ' || g, 'feed', 'https://s' || g || '.bench.invalid/rss',"
            " CASE WHEN g % 5 = 0 THEN 'party' ELSE 'media' END, 'family ' || g % 7"
            " FROM generate_series(1, 50) g"
        )
    )
    conn.execute(
        sa.text(
            "INSERT INTO articles (canonical_url, url, source_id, fetched_at, published_at, text, text_hash,"
            " relevant)"
            " SELECT 'https://a.bench.invalid/' || g, 'https://a.bench.invalid/' || g,"
            "        (SELECT min(id) FROM sources) + g % 50,"
            "        at, CASE WHEN g % 10 <> 0 THEN at END, 'text', md5(g::text), g % 3 = 0"
            " FROM (SELECT g, timestamptz '2025-01-01 00:00+00'"
            "                 + g * make_interval(secs => 31536000.0 / :n) AS at"
            "       FROM generate_series(1, :n) g) t"
        ),
        {"n": articles},
    )
    conn.execute(
        sa.text("INSERT INTO sightings (article_id, source_id, url) SELECT id, source_id, url FROM articles")
    )
    conn.execute(
        sa.text(
            "INSERT INTO sightings (article_id, source_id, url)"
            " SELECT a.id, (SELECT min(id) FROM sources) + (a.source_id + 7) % 50, a.url || '?copy'"
            " FROM articles a WHERE a.id % 4 = 0"
        )
    )
    conn.execute(sa.text("ANALYZE"))


def timed(engine: sa.Engine, sql: str, repeat: int) -> float:
    """Median seconds of ``sql``, after one run to warm the cache."""
    runs = []
    with engine.connect() as conn:
        conn.execute(sa.text(sql)).all()
        for _ in range(repeat):
            start = time.perf_counter()
            conn.execute(sa.text(sql)).all()
            runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=positive_int, default=300_000)
    ap.add_argument("--repeat", type=positive_int, default=5)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    local_clock = importlib.import_module("migrations.versions.0025_local_clock_views")
    undated = importlib.import_module("migrations.versions.0042_view_days_undated")
    bodies: dict[str, dict[str, str]] = {way: {} for way in WAYS}
    for view, body in local_clock._views().items():
        local = body.replace(local_clock.PARIS, local_clock.LOCAL)
        bodies["baseline"][view], bodies["0025"][view] = body, local
        bodies["0042"][view] = undated._undated(local)
        bodies["per row"][view] = bodies["0042"][view].replace(", (SELECT veille_local_timezone()))", ")")
    with scratch_database(ADMIN_URL, "veille_bench_view_days") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                fill(conn, args.articles)
            print(
                f"{args.articles:,} articles, filled in {time.perf_counter() - start:.0f} s; median of"
                f" {args.repeat} runs; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            for what, view, query in QUERIES:
                seconds: dict[str, list[float]] = {way: [] for way in WAYS}
                for _ in range(2):
                    for way in WAYS:
                        seconds[way].append(timed(engine, query.format(body=bodies[way][view]), args.repeat))
                median = {way: statistics.median(s) for way, s in seconds.items()}
                shown = ", ".join(f"{way} {m * 1000:.0f} ms" for way, m in median.items())
                ratios = ", ".join(
                    f"{way} / baseline {median[way] / median['baseline']:.2f}x" for way in WAYS[1:]
                )
                print(
                    f"{what} ({view}): {shown}; {ratios}; 0042 / 0025 {median['0042'] / median['0025']:.2f}x",
                    flush=True,
                )
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
