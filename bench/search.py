"""Benchmark: ``search_articles`` (what ``veille search`` runs) against its definition of
migration 0021 (the baseline), both measured in the same run on the same scratch archive.

A scratch database (created and dropped here) is migrated to the head, and 0021's function is
added beside it as ``search_articles_0021``. It is filled with ``--articles`` articles of
French prose (a title, a description, a text of 300 to 3,000 words, about 2 to 20 kB, every
one naming "sommet"), a tenth of them relevant to the topic ``bench`` (``article_topics``).
Then, interleaved ``--repeat`` times, each query at each limit (``-n 20`` and ``-n 128``) is
timed both ways:

- plain: ``search_articles(q, n)`` against ``search_articles_0021(q, n)``; 0021 parsed every
  hit's whole text again to choose its snippet (``to_tsvector(veille_unaccent(text))``);
- ``--topic``: ``search_articles(q, n, topic => 'bench')`` against what ``veille search
  --topic`` did before: ``search_articles_0021(q, max(10 n, 200))``, then the topic's relevant
  articles kept (``article_topics``) and the first n of them.

``--baseline 0046`` times ``search_articles`` against its definition before migration
0047_snippet_accents (``search_articles_0046``: ``ts_headline`` of the text as stored, where 0047
calls ``veille_headline``), both with and without ``--topic`` (the same arguments each way).
``--baseline 0049`` likewise against its definition before migration 0051 (``search_articles_0049``
calling ``veille_headline_0049``, 0047's snippet, which folded a text holding only common French
accents with a ``translate`` of its own, where 0051 calls ``veille_unaccent`` always: that
matters with ``--without-unaccent``). ``--without-unaccent`` first maps the
``french_unaccent`` configuration to ``french_stem`` alone, as on the embedded server, which has
no ``unaccent`` extension (``veille_headline`` then highlights the folded text and writes the
fragments back from the text).

Printed: the median wall time of each and the ratio baseline / new (how many times faster).
The machine is shared: quote ratios, not times.

    python bench/search.py [--articles 2000] [--repeat 5] [--queries "sommet,sommet IA Elysée"]
                           [--baseline 0021|0046|0049] [--without-unaccent]

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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/search.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.arguments import positive_int  # noqa: E402
from bench.ingest import ADMIN_URL  # noqa: E402
from bench.unwind import scratch_database, unwind_on_sigterm  # noqa: E402

#: French words, accented ones among them (the folding is part of what is measured)
WORDS = str.split(
    "le la les de des du un une et à au aux en pour sur dans par avec sans sous entre président "
    "ministre gouvernement Élysée réunion sommet intelligence artificielle données européen "
    "négociation règlement économie sécurité société été année février déclaration Paris Bruxelles "
    "Grand Palais entreprises chercheurs dirigeants représentants pays développement numérique "
    "énergie électricité centres investissements milliards annoncé précisé détaillé réclament "
    "IA élus député Assemblée nationale opposition majorité réforme santé éducation école hôpital "
    "été très déjà après avant pendant où été général intérêt coopération à côté"
)
TOPIC = "bench"
LIMITS = (20, 128)


def prose(rnd: random.Random, words: int) -> str:
    drawn = rnd.choices(WORDS, weights=[1 / (i + 1) ** 0.5 for i in range(len(WORDS))], k=words)
    drawn[rnd.randrange(words)] = "sommet"
    sentences = [" ".join(drawn[i : i + 18]).capitalize() + "." for i in range(0, words, 18)]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def fill(conn: sa.Connection, count: int) -> None:
    rnd = random.Random(7)
    source = conn.scalar(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner)"
            " VALUES ('bench', 'feed', 'https://b.invalid/', 'media') RETURNING id"
        )
    )
    rows = [
        {
            "u": f"https://b.invalid/{i}",
            "s": source,
            "t": prose(rnd, 10).rstrip("."),
            "d": prose(rnd, 30),
            "x": prose(rnd, rnd.choice((300, 800, 1500, 3000))),
            "h": f"h{i}",
        }
        for i in range(count)
    ]
    conn.execute(
        sa.text(
            "INSERT INTO articles (canonical_url, url, source_id, title, description, text, text_hash)"
            " VALUES (:u, :u, :s, :t, :d, :x, :h)"
        ),
        rows,
    )
    conn.execute(
        sa.text(
            "INSERT INTO article_topics (article_id, topic, version, score, relevant)"
            " SELECT id, :topic, 'v1', 0.5, id % 10 = 0 FROM articles"
        ),
        {"topic": TOPIC},
    )
    conn.execute(sa.text("ANALYZE"))


def interleaved(
    before: Callable[[], int], now: Callable[[], int], repeat: int
) -> tuple[float, float, int, int]:
    """Median seconds of ``before`` and of ``now``, run in turn ``repeat`` times (the same
    machine state for both), and the rows each gave."""
    old, new = [], []
    old_rows = new_rows = 0
    for _ in range(repeat):
        start = time.perf_counter()
        old_rows = before()
        old.append(time.perf_counter() - start)
        start = time.perf_counter()
        new_rows = now()
        new.append(time.perf_counter() - start)
    return statistics.median(old), statistics.median(new), old_rows, new_rows


def compare(conn: sa.Connection, queries: list[str], repeat: int, baseline: str = "0021") -> float:
    """Print each case's times and ratio against ``search_articles_<baseline>``; returns the
    smallest ratio."""

    def rows(sql: str, **params: object) -> Callable[[], int]:
        return lambda: len(conn.execute(sa.text(sql), params).all())

    def topic_before(q: str, n: int) -> Callable[[], int]:
        def run() -> int:  # flows/commands/search.py before 0023
            hits = conn.execute(
                sa.text("SELECT * FROM search_articles_0021(:q, :n)"), {"q": q, "n": max(n * 10, 200)}
            ).all()
            relevant = set(
                conn.scalars(
                    sa.text(
                        "SELECT article_id FROM article_topics WHERE topic = :t AND relevant"
                        " AND article_id = ANY(:ids)"
                    ),
                    {"t": TOPIC, "ids": [h.id for h in hits]},
                )
            )
            return len([h for h in hits if h.id in relevant][:n])

        return run

    print(f"{'query':<22} {'search':<12} {baseline:>9} {'now':>9} {'ratio':>7}  rows")
    worst = float("inf")
    for q in queries:
        for n in LIMITS:
            cases = (
                (
                    f"-n {n}",
                    rows(f"SELECT * FROM search_articles_{baseline}(:q, :n)", q=q, n=n),
                    rows("SELECT * FROM search_articles(:q, :n)", q=q, n=n),
                ),
                (
                    f"-n {n} --topic",
                    topic_before(q, n)
                    if baseline == "0021"
                    else rows(
                        f"SELECT * FROM search_articles_{baseline}(:q, :n, topic => :t)", q=q, n=n, t=TOPIC
                    ),
                    rows("SELECT * FROM search_articles(:q, :n, topic => :t)", q=q, n=n, t=TOPIC),
                ),
            )
            for label, before, now in cases:
                old_t, new_t, old_rows, new_rows = interleaved(before, now, repeat)
                worst = min(worst, old_t / new_t)
                shown = f"{new_rows}" if new_rows == old_rows else f"{new_rows} ({baseline}: {old_rows})"
                print(
                    f"{q!r:<22} {label:<12} {old_t * 1000:>7.0f}ms {new_t * 1000:>7.0f}ms"
                    f" {old_t / new_t:>6.1f}x  {shown}",
                    flush=True,
                )
    return worst


def headlines(conn: sa.Connection, queries: list[str], repeat: int, texts: int = 200) -> None:
    """Print the snippets alone, ``veille_headline_0049`` against ``veille_headline``, of the
    first ``texts`` articles' texts for each query (the same snippets, checked first)."""
    for q in queries:
        params = {"q": q, "n": texts}
        differ = conn.scalar(
            sa.text(
                "SELECT count(*) FROM (SELECT text FROM articles ORDER BY id LIMIT :n) a, search_query(:q) q"
                " WHERE veille_headline(text, q) IS DISTINCT FROM veille_headline_0049(text, q)"
            ),
            params,
        )

        def run(name: str, params: dict[str, object] = params) -> Callable[[], int]:
            statement = sa.text(
                f"SELECT count({name}(text, q)) FROM (SELECT text FROM articles ORDER BY id LIMIT :n) a,"
                " search_query(:q) q"
            )
            return lambda: int(conn.scalar(statement, params) or 0)

        old_t, new_t, _, _ = interleaved(run("veille_headline_0049"), run("veille_headline"), repeat)
        print(
            f"{q!r:<22} veille_headline of {texts} texts {old_t * 1000:>7.0f}ms {new_t * 1000:>7.0f}ms"
            f" {old_t / new_t:>6.2f}x  ({differ} differ)",
            flush=True,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=positive_int, default=2000)
    ap.add_argument("--repeat", type=positive_int, default=5)
    ap.add_argument("--queries", default="sommet,sommet IA Elysée")
    ap.add_argument("--baseline", choices=("0021", "0046", "0049"), default="0021")
    ap.add_argument("--without-unaccent", action="store_true", help="as the embedded server")
    args = ap.parse_args()
    unwind_on_sigterm()  # so the scratch database is dropped on SIGTERM too
    m0021 = importlib.import_module("migrations.versions.0021_search_repeats")
    m0030 = importlib.import_module("migrations.versions.0030_function_search_path")
    m0039 = importlib.import_module("migrations.versions.0039_search_topic_known")
    m0047 = importlib.import_module("migrations.versions.0047_snippet_accents")
    with scratch_database(ADMIN_URL, "veille_bench_search") as url:
        engine = sa.create_engine(url, pool_size=1, max_overflow=0)
        try:
            with engine.begin() as conn:
                conn.execute(
                    sa.text(m0021.NEW_FUNCTION.replace("search_articles(", "search_articles_0021(", 1))
                )
                # 0039's body, search_articles' definition from 0039 to 0046 (its arguments
                # named after the function, search_articles.topic)
                body = m0039.SEARCH_FUNCTION.replace("search_articles", "search_articles_0046")
                conn.execute(sa.text(m0030._in_schema([body])))  # noqa: SLF001
                # 0047's snippet and search_articles, their definitions from 0047 to 0050
                headline = m0047.HEADLINE_FUNCTION.replace("veille_headline(", "veille_headline_0049(")
                body = m0047.SEARCH_FUNCTION.replace("veille_headline(", "veille_headline_0049(")
                body = body.replace("search_articles", "search_articles_0049")
                conn.execute(sa.text(m0030._in_schema([headline, body])))  # noqa: SLF001
                if args.without_unaccent:
                    conn.execute(
                        sa.text(
                            "ALTER TEXT SEARCH CONFIGURATION french_unaccent"
                            " ALTER MAPPING FOR hword, hword_part, word WITH french_stem"
                        )
                    )
                start = time.perf_counter()
                fill(conn, args.articles)
            print(
                f"{args.articles} articles in {time.perf_counter() - start:.0f} s; median of"
                f" {args.repeat} runs, interleaved; load {os.getloadavg()[0]:.1f} (2 cores, shared)"
            )
            with engine.connect() as conn:
                worst = compare(conn, args.queries.split(","), args.repeat, args.baseline)
                if args.baseline == "0049":
                    headlines(conn, args.queries.split(","), args.repeat)
            print(f"\nnew against {args.baseline}: at least {worst:.1f}x faster")
        finally:
            engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
