"""Benchmark: what veille's date loaders (``monitors/archive/db.py``: psycopg's date, timestamp
and timestamptz text loaders wrapped so that infinity, a year BC or after 9999 reads as None)
cost ``veille export`` against psycopg's own loaders, on the same rows in the same run.

A scratch database (created and dropped here) is migrated to the head and given ``--articles``
articles over 50 sources (a published date for nine in ten, a modified date for one in three,
a 1,500-character text, one sighting each and a copy's sighting for a quarter: bench/view_days.py's
``fill`` with :data:`COLUMNS`). Each round times, on one engine whose connections keep veille's
loaders and on one whose connections get psycopg's own (``conn.adapters.register_loader`` on
connect), alternately (each side first in every other round):

- ``export``: ``veille export --format jsonl``'s work (``write_jsonl(iter_articles(...))``) to
  ``os.devnull``;
- ``dates``: the articles' three timestamps alone (``published_at``, ``fetched_at``,
  ``modified_at``; streamed as the export streams), the wrapper's worst case, so its cost per
  value shows.

Printed: the median of ``--repeat`` rounds of each, in wall time and in this process's CPU
time (where the loaders run; the server's share is the same on both sides), the ratio veille /
psycopg and the cost per date value read.

    python bench/date_loaders.py [--articles 100000] [--repeat 5]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/date_loaders.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402
from bench.view_days import fill  # noqa: E402

DATES = "SELECT published_at, fetched_at, modified_at FROM articles ORDER BY id"
TYPES = {"date": "DateLoader", "timestamp": "TimestampLoader", "timestamptz": "TimestamptzLoader"}


def own_loaders() -> dict[str, type]:
    """psycopg's own text loaders of the three types (its C ones when it has them)."""
    import psycopg.types.datetime
    from psycopg import _cmodule

    module: Any = _cmodule._psycopg or psycopg.types.datetime
    return {name: getattr(module, cls) for name, cls in TYPES.items()}


#: the articles' columns over bench/view_days.py's (``g``: the article's number, ``at``: its instant)
COLUMNS = {
    "fetched_at": "at + interval '2 hours'",
    "modified_at": "CASE WHEN g % 3 = 0 THEN at + interval '1 day' END",
    "title": "'A headline of some length, number ' || g",
    "text": "repeat('Un texte d''article de quelques mots, ' || g || '. ', 40)",
    "relevance": "(g % 100) / 100.0",
    "language": "'fr'",
}


def export(engine: sa.Engine) -> int:
    """``veille export --format jsonl``'s work, to nowhere; the records written."""
    from monitors.archive.export import iter_articles, write_jsonl

    with Session(engine) as session, open(os.devnull, "w", encoding="utf-8") as out:
        return write_jsonl(iter_articles(session), out)


def dates(engine: sa.Engine) -> int:
    """The three timestamps of every article, streamed; the values read."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=500).execute(sa.text(DATES))
        return sum(len(row) for row in result)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=positive_int, default=100_000)
    ap.add_argument("--repeat", type=positive_int, default=5)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    import psycopg
    from psycopg.pq import Format

    from monitors.archive import db  # veille's loaders are registered on import

    loaders = {
        name: psycopg.adapters.get_loader(psycopg.adapters.types[name].oid, Format.TEXT) for name in TYPES
    }
    wrapped = [name for name, cls in loaders.items() if getattr(cls, "veille_finite", False)]
    own = own_loaders()
    with scratch_database(ADMIN_URL, "veille_bench_date_loaders") as url:
        veille = sa.create_engine(url, pool_size=1, max_overflow=0)
        plain = sa.create_engine(url, pool_size=1, max_overflow=0)

        @sa.event.listens_for(plain, "connect")
        def _own(dbapi_connection: Any, _record: Any) -> None:
            for name, cls in own.items():
                dbapi_connection.adapters.register_loader(name, cls)

        try:
            with plain.connect() as conn:  # the two sides are what they say
                try:
                    conn.execute(sa.text("SELECT timestamptz 'infinity'")).scalar()
                    raise SystemExit("psycopg's own loaders read 'infinity': they were not set")
                except sa.exc.DataError:
                    pass
            with veille.connect() as conn:
                assert conn.execute(sa.text("SELECT timestamptz 'infinity'")).scalar() is None
            start = time.perf_counter()
            filler = sa.create_engine(url, poolclass=sa.pool.NullPool)  # neither side's connection
            with filler.begin() as conn:
                fill(conn, args.articles, COLUMNS)
            filler.dispose()
            print(
                f"{args.articles:,} articles, filled in {time.perf_counter() - start:.0f} s; veille's"
                f" loaders wrap {', '.join(wrapped) or 'nothing'} ({db.__name__}); psycopg's own:"
                f" {', '.join(f'{c.__module__}.{c.__name__}' for c in own.values())}; medians of"
                f" {args.repeat} rounds; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
                flush=True,
            )
            work: dict[str, Callable[[sa.Engine], int]] = {"export": export, "dates": dates}
            walls: dict[tuple[str, str], list[float]] = {}
            cpus: dict[tuple[str, str], list[float]] = {}
            counts: dict[str, int] = {}
            for name, run in work.items():  # warm both engines and the cache
                run(plain)
                counts[name] = run(veille)
            sides = [("psycopg", plain), ("veille", veille)]
            for round_ in range(args.repeat):
                for name, run in work.items():
                    for side, engine in sides if round_ % 2 == 0 else sides[::-1]:  # each first in turn
                        wall, cpu = time.perf_counter(), time.process_time()
                        run(engine)
                        cpus.setdefault((name, side), []).append(time.process_time() - cpu)
                        walls.setdefault((name, side), []).append(time.perf_counter() - wall)
            for name in work:
                values = counts[name] * 3 if name == "export" else counts[name]
                for what, times in (("wall", walls), ("CPU", cpus)):
                    own_s = statistics.median(times[(name, "psycopg")])
                    veille_s = statistics.median(times[(name, "veille")])
                    print(
                        f"{name:<7} {what:<4} psycopg {own_s * 1000:8.1f} ms,"
                        f" veille {veille_s * 1000:8.1f} ms:"
                        f" {veille_s / own_s:.3f}x; {(veille_s - own_s) / values * 1e6:+.3f} us a date value"
                        f" ({values:,} values)",
                        flush=True,
                    )
        finally:
            veille.dispose()
            plain.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
