"""Benchmark: ``veille_unaccent`` (migration 0049_unaccent_speed) against 0012's body (one
``translate`` of 56 letters), both measured in the same run on the same scratch database.

A scratch database (created and dropped here) is migrated to the head, and 0012's body is added
beside the function as ``veille_unaccent_0012``. A table holds ``--texts`` texts of French prose
(bench/search.py's words, accented ones among them) cut to ``--size`` characters (about 10 kB),
and the same texts each with a few letters French writes seldom ("Ça", "Muñoz", "cœur", "Ÿ":
the function's slower path), and titles (the first 80 characters). Then, interleaved
``--repeat`` times, each way:

- the function alone over the stored texts (``sum(length(f(text)))``), long, rare and titles;
- the article insert path: ``--texts`` articles inserted into ``articles`` (its generated
  ``search`` column calls the function on the title, the description and the text), rolled
  back; for 0012, the function's body is swapped for 0012's around the insert (not timed).

Before timing, the outputs of both are compared over every stored text (they must be equal).
Printed: the median wall time of each and the ratio 0012 / new (how many times faster). The
machine is shared: quote ratios, not times.

    python bench/unaccent.py [--texts 200] [--size 10000] [--repeat 5]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py).
"""

from __future__ import annotations

import argparse
import importlib
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/unaccent.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.search import interleaved, prose  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

#: letters the new body folds on its slower path (looked for, then replaced one by one)
RARE = " Ça bouge, dit M. Muñoz, au cœur des Ÿvelines."


def fill(conn: sa.Connection, count: int, size: int) -> None:
    rnd = random.Random(7)
    texts = []
    for _ in range(count):
        text = prose(rnd, size // 4)
        while len(text) < size:
            text += "\n\n" + prose(rnd, size // 4)
        texts.append(text[:size])
    conn.execute(sa.text("CREATE TABLE bench_texts (kind text, body text)"))
    conn.execute(
        sa.text("INSERT INTO bench_texts VALUES (:k, :b)"),
        [{"k": "long", "b": t} for t in texts]
        + [{"k": "rare", "b": t[: size - len(RARE) * 4] + RARE * 4} for t in texts]
        + [{"k": "title", "b": t[:80]} for t in texts],
    )
    conn.execute(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner)"
            " VALUES ('bench', 'feed', 'https://b.invalid/', 'media')"
        )
    )
    conn.execute(sa.text("ANALYZE bench_texts"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--texts", type=positive_int, default=200)
    ap.add_argument("--size", type=positive_int, default=10_000, help="characters a long text has")
    ap.add_argument("--repeat", type=positive_int, default=5)
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    m0012 = importlib.import_module("migrations.versions.0012_french_unaccent")
    m0049 = importlib.import_module("migrations.versions.0049_unaccent_speed")
    old_body = m0012.FOLD_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
    with scratch_database(ADMIN_URL, "veille_bench_unaccent") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(old_body.replace("veille_unaccent(", "veille_unaccent_0012(", 1))
                fill(conn, args.texts, args.size)
            with engine.connect() as conn:
                differ = conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM bench_texts"
                        " WHERE veille_unaccent(body) IS DISTINCT FROM veille_unaccent_0012(body)"
                    )
                )
                conn.commit()
                print(
                    f"{args.texts} texts of {args.size} characters (and as many with rare letters, and"
                    f" titles); outputs that differ: {differ}; median of {args.repeat} runs, interleaved;"
                    f" load {os.getloadavg()[0]:.1f} (2 cores, shared)"
                )
                if differ:
                    return 1
                print(f"{'case':<34} {'0012':>9} {'now':>9} {'ratio':>7}")

                def fold(function: str, kind: str) -> int:
                    return int(
                        conn.scalar(
                            sa.text(f"SELECT sum(length({function}(body))) FROM bench_texts WHERE kind = :k"),
                            {"k": kind},
                        )
                    )

                def inserted_with(body: str) -> float:
                    """Seconds to insert the articles (rolled back), the function's body swapped
                    for ``body`` first (committed, not timed)."""
                    conn.exec_driver_sql(body)
                    conn.commit()
                    start = time.perf_counter()
                    conn.execute(
                        sa.text(
                            "INSERT INTO articles (canonical_url, url, source_id, title, description, text,"
                            " text_hash) SELECT 'https://b.invalid/' || n, 'https://b.invalid/' || n,"
                            " (SELECT id FROM sources), left(body, 80), substr(body, 81, 300), body, 'h' || n"
                            " FROM (SELECT body, row_number() OVER () AS n FROM bench_texts"
                            " WHERE kind = 'long') t"
                        )
                    )
                    elapsed = time.perf_counter() - start
                    conn.rollback()
                    return elapsed

                for kind, label in (
                    ("long", f"function, {args.size}-character texts"),
                    ("rare", "function, same with rare letters"),
                    ("title", "function, 80-character titles"),
                ):
                    old_t, new_t, old_n, new_n = interleaved(
                        lambda k=kind: fold("veille_unaccent_0012", k),  # type: ignore[misc]
                        lambda k=kind: fold("veille_unaccent", k),  # type: ignore[misc]
                        args.repeat,
                    )
                    assert old_n == new_n
                    print(f"{label:<34} {old_t * 1000:>7.0f}ms {new_t * 1000:>7.0f}ms {old_t / new_t:>6.1f}x")

                old_times, new_times = [], []
                for _ in range(args.repeat):  # interleaved; the new body is in place at the end
                    old_times.append(inserted_with(old_body))
                    new_times.append(inserted_with(m0049.FOLD_FUNCTION))
                old_t, new_t = statistics.median(old_times), statistics.median(new_times)
                label = f"insert {args.texts} articles"
                print(f"{label:<34} {old_t * 1000:>7.0f}ms {new_t * 1000:>7.0f}ms {old_t / new_t:>6.1f}x")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
