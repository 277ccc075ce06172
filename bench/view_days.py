"""Benchmark: the views' ``day`` as the head migration writes it (0048: the day on the recorded
local clock, none for a date veille reads as none) against the same views with ``'Europe/Paris'``
written in them (0004 to 0024), on the same rows in the same run; and ``veille_instant``.

A scratch database (created and dropped here) is migrated to the head and given ``--articles``
articles over a year (a tenth undated: their fetch date counts), a third of them relevant, one
sighting each and a copy for a quarter of them, over 50 sources. Each query below is run on
each view's body written five ways: as the earlier migrations wrote it (``AT TIME ZONE
'Europe/Paris'``, the baseline), as migration 0025 wrote it (``AT TIME ZONE (SELECT
veille_local_timezone())``, read once per query), as migration 0042 wrote it (``veille_day(...,
(SELECT veille_local_timezone()))``, its body written out as PostgreSQL inlines it: the same,
NULL for infinity, a year BC or after 9999), as
migration 0048 writes it (0025's cast where the instant is in years 1 to 9999 with eight days
to spare, 0042's function near their ends: the same days) and with the clock read on every row
(``veille_day(...)`` of the instant alone, what the views do not do), each in turn,
``--repeat`` times. Then two queries over an article's instant, bare and through
``veille_instant`` (0046). Printed: the median of each, in the server's CPU time when the
server is on this machine (``/proc/<pid>/schedstat``: the load of a shared machine does not
count there), else in wall time, and the ratios.

    python bench/view_days.py [--articles 300000] [--repeat 10]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/view_days.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

#: the ways a body is written, in the order they run
WAYS = ("baseline", "0025", "0042", "0048", "per row")
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
PUBLISHED = "coalesce(published_at, fetched_at)"
#: (what, a query over an instant of each article): veille_instant's check (0046)
INSTANT_QUERIES = [
    ("first publication per source", "SELECT source_id, min({instant}) FROM articles GROUP BY source_id"),
    ("latest 20 articles", "SELECT id FROM articles ORDER BY {instant} DESC NULLS LAST LIMIT 20"),
]


#: each article's columns as SQL over ``g`` (its number, 1 to n) and ``at`` (its instant, over 2025)
ARTICLE = {
    "canonical_url": "'https://a.bench.invalid/' || g",
    "url": "'https://a.bench.invalid/' || g",
    "source_id": "(SELECT min(id) FROM sources) + g % 50",
    "fetched_at": "at",
    "published_at": "CASE WHEN g % 10 <> 0 THEN at END",
    "text": "'text'",
    "text_hash": "md5(g::text)",
    "relevant": "g % 3 = 0",
}


def fill(conn: sa.Connection, articles: int, columns: dict[str, str] | None = None) -> None:
    """50 sources, ``articles`` articles over 2025 (a tenth undated, a third relevant; ``columns``
    adds to or replaces :data:`ARTICLE`), a sighting each and a copy's for a quarter; analyzed.
    bench/date_loaders.py fills its archive with it too."""
    conn.execute(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner, family)"
            " SELECT 'source ' || g, 'feed', 'https://s' || g || '.bench.invalid/rss',"
            " CASE WHEN g % 5 = 0 THEN 'party' ELSE 'media' END, 'family ' || g % 7"
            " FROM generate_series(1, 50) g"
        )
    )
    values = {**ARTICLE, **(columns or {})}
    conn.execute(
        sa.text(
            f"INSERT INTO articles ({', '.join(values)}) SELECT {', '.join(values.values())}"
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


def backend_cpu(conn: sa.Connection) -> Callable[[], float] | None:
    """Seconds of CPU the connection's server process has used so far, read from
    ``/proc/<pid>/schedstat`` (nanoseconds) when the server is on this machine; else None."""
    path = Path(f"/proc/{conn.execute(sa.text('SELECT pg_backend_pid()')).scalar_one()}/schedstat")
    try:
        path.read_text()
    except OSError:
        return None
    return lambda: int(path.read_text().split()[0]) / 1e9


def timed(engine: sa.Engine, queries: dict[str, str], repeat: int) -> dict[str, float]:
    """Median seconds of each query, run in turn ``repeat`` times (after a run of each to warm
    the cache): the server's CPU when it can be read (a shared machine's load does not count
    there), else the wall time; on one process (no parallel workers) either way."""
    runs: dict[str, list[float]] = {way: [] for way in queries}
    with engine.connect() as conn:
        conn.execute(sa.text("SET max_parallel_workers_per_gather = 0"))
        clock = backend_cpu(conn) or time.perf_counter
        for sql in queries.values():
            conn.execute(sa.text(sql)).all()
        for _ in range(repeat):
            for way, sql in queries.items():
                start = clock()
                conn.execute(sa.text(sql)).all()
                runs[way].append(clock() - start)
    return {way: statistics.median(r) for way, r in runs.items()}


def show(what: str, median: dict[str, float], ratios: list[tuple[str, str]]) -> None:
    """One line: each way's median and the ratios asked for."""
    shown = ", ".join(f"{way} {m * 1000:.0f} ms" for way, m in median.items())
    print(
        f"{what}: {shown}; " + ", ".join(f"{a} / {b} {median[a] / median[b]:.2f}x" for a, b in ratios),
        flush=True,
    )


def as_0042(body: str, undated: Any) -> str:
    """``body`` with 0042's veille_day written out as PostgreSQL inlines it (0048 changed the
    function: NULL before the clock beyond a month from years 1 to 9999)."""
    clamp = undated.FUNCTION.split("SELECT", 1)[1].rsplit("$$", 1)[0].strip()
    clamp = re.sub(r"\bclock\b", "(SELECT veille_local_timezone())", clamp)
    for instant in undated.INSTANTS:
        body = body.replace(
            f"veille_day({instant}, (SELECT veille_local_timezone()))", re.sub(r"\binstant\b", instant, clamp)
        )
    assert "veille_day(" not in body, body
    return body


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=positive_int, default=300_000)
    ap.add_argument("--repeat", type=positive_int, default=10)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    local_clock = importlib.import_module("migrations.versions.0025_local_clock_views")
    undated = importlib.import_module("migrations.versions.0042_view_days_undated")
    inline = importlib.import_module("migrations.versions.0048_view_days_inline")
    bodies: dict[str, dict[str, str]] = {way: {} for way in WAYS}
    for view, body in local_clock._views().items():
        local = body.replace(local_clock.PARIS, local_clock.LOCAL)
        bodies["baseline"][view], bodies["0025"][view] = body, local
        calls = undated._undated(local)  # veille_day(instant, clock): the head's function (0048)
        bodies["0042"][view] = as_0042(calls, undated)
        bodies["0048"][view] = inline.inline(calls)
        bodies["per row"][view] = calls.replace(", (SELECT veille_local_timezone()))", ")")
    instants = {"bare": PUBLISHED, "veille_instant": f"veille_instant({PUBLISHED})"}
    with scratch_database(ADMIN_URL, "veille_bench_view_days") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            start = time.perf_counter()
            with engine.begin() as conn:
                fill(conn, args.articles)
            with engine.connect() as conn:
                measure = "the server's CPU" if backend_cpu(conn) else "wall time"
            print(
                f"{args.articles:,} articles, filled in {time.perf_counter() - start:.0f} s; median of"
                f" {args.repeat} runs of each way in turn, {measure}; load {os.getloadavg()[0]:.1f}"
                " (2 cores, shared)",
                flush=True,
            )
            ratios = [(way, "baseline") for way in WAYS[1:]] + [("0042", "0025"), ("0048", "0025")]
            for what, view, query in QUERIES:
                queries = {way: query.format(body=bodies[way][view]) for way in WAYS}
                show(f"{what} ({view})", timed(engine, queries, args.repeat), ratios)
            for what, query in INSTANT_QUERIES:
                queries = {way: query.format(instant=instant) for way, instant in instants.items()}
                show(what, timed(engine, queries, args.repeat), [("veille_instant", "bare")])
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
