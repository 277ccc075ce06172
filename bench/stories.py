"""Benchmark: story assignment per article against archive size, and memory over a long run.

Creates a scratch database (dropped at the end), migrates it to the real schema and grows a
synthetic archive: ``size`` articles, four per story, spread at ``--per-day`` articles a day
(1,400: a year of the default sources is about 500k), each story with a 60-feature centroid
and 24 lookup keys (8 of its own names and numbers, 16 words drawn from a Zipf-like
vocabulary of 5,000, so common words meet thousands of stories in a window). Articles and
stories are generated in SQL; ``story_keys`` rows are computed in Python (blake2b, as the store
does) and bulk-copied.

After loading, ``VACUUM ANALYZE`` (what autovacuum does to an insert-only table: the key
lookup is then an index-only scan).

At each size it runs what :func:`monitors.archive.articles.store_article` runs per probe article, each in
its own transaction with the article row inserted first (not timed): the one lock statement
(band keys and story keys, :func:`monitors.group.story_store.lock_story_keys`), the near-duplicate
lookup (:func:`monitors.group.neardup.link_and_index`) and :func:`monitors.group.story_store.assign`
(candidate lookup with the nearest stories' possible copies, scoring, the edit-tolerant copy
check, the one write statement), each timed; the commit is not timed. Half the probes are
about an existing story of the last days (they join it), half are new events. The baseline,
measured in the same run, is the near-duplicate lookup of the same articles, and the same
probes at the smallest size: the target is <= 5 ms per article at 1M.

``--long N`` then stores N more articles the same way (each committed) and prints the
process's resident memory and its peak (``ru_maxrss``) every N/10 articles: it must stay flat
(nothing accumulates per article in the process).

    python bench/stories.py [--sizes 10000,100000,1000000] [--probes 200] [--long 100000]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import resource
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import non_negative_int, positive_float, positive_int, positive_ints  # noqa: E402
from bench.unwind import create_scratch_db, unwind_on_sigterm  # noqa: E402
from monitors.group.dedup import signature  # noqa: E402
from monitors.group.neardup import link_and_index  # noqa: E402
from monitors.group.stories import key_hash  # noqa: E402
from monitors.group.story_store import assign, lock_story_keys  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START = datetime(2024, 1, 1, tzinfo=UTC)
VOCABULARY = 5000
KEYS_PER_STORY = 24
OWN_KEYS = 8


def _word(rng: random.Random) -> str:
    """A vocabulary word, Zipf-like: word k drawn with probability ~ 1/k."""
    return f"mot{int(VOCABULARY ** rng.random())}"


def _story_features(story: int) -> tuple[list[str], list[str]]:
    """(own names/numbers, words) of a synthetic story, deterministic."""
    rng = random.Random(story)
    own = [f"nom{story}x{i}" for i in range(OWN_KEYS - 2)] + [f"{story % 977}{i},5" for i in range(2)]
    words = [_word(rng) for _ in range(60)]
    return own, words


def _text(story: int, variant: int) -> str:
    """An article about a synthetic story: its names capitalised, its numbers, its words."""
    own, words = _story_features(story)
    rng = random.Random(story * 1000 + variant)
    names = " ".join(n.capitalize() if not n[0].isdigit() else n + " millions" for n in own)
    body = " ".join(rng.sample(words, 40))
    return f"{names} ; {body} ; suite {variant} {' '.join(_word(rng) for _ in range(60))}."


def _keys(story: int) -> list[int]:
    own, words = _story_features(story)
    feats = [f"e:{n}" for n in own if not n[0].isdigit()] + [
        f"n:{n.replace(',', '.')}e6" for n in own if n[0].isdigit()
    ]
    feats += [f"w:{w[:6]}" for w in dict.fromkeys(words)][: KEYS_PER_STORY - len(feats)]
    return [key_hash(f) for f in feats]


def load(engine: sa.Engine, size: int, first_story: int, per_day: int) -> None:
    """Grow the archive to ``size`` articles (four per story), generated server-side."""
    with engine.begin() as conn:
        have = conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0
        if have >= size:
            return
        stories_from, stories_to = have // 4 + 1, size // 4
        conn.execute(
            sa.text(
                """
                INSERT INTO stories (id, first_seen, last_seen, articles, outlets, media, centroid)
                SELECT g, :start + make_interval(days => (g * 4 / :per_day)::int),
                       :start + make_interval(days => (g * 4 / :per_day)::int, hours => 6), 4, 4, 4,
                       (SELECT jsonb_object_agg('w:mot' || ((g * 7 + k * 131) % 5000), 0.12)
                        FROM generate_series(1, 52) k)
                       || jsonb_build_object('e:nom' || g || 'x0', 0.3, 'e:nom' || g || 'x1', 0.3)
                FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g
                """
            ),
            {"start": START, "per_day": per_day, "a": stories_from, "b": stories_to},
        )
        conn.execute(sa.text("SELECT setval('stories_id_seq', (SELECT max(id) FROM stories))"))
        conn.execute(
            sa.text(
                """
                INSERT INTO articles (canonical_url, url, source_id, text, text_hash, story_id, story_score,
                                      published_at)
                SELECT 'https://bench.invalid/' || g, 'https://bench.invalid/' || g, 1,
                       'synthetic ' || g, md5(g::text) || g, (g - 1) / 4 + 1, 0.5,
                       :start + make_interval(days => (g / :per_day)::int)
                FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) g
                """
            ),
            {"start": START, "per_day": per_day, "a": have + 1, "b": size},
        )
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        buf = io.StringIO()
        for story in range(stories_from, stories_to + 1):
            day = (START + timedelta(days=story * 4 // per_day)).date().isoformat()
            for key in dict.fromkeys(_keys(story)):
                buf.write(f"{key}\t{day}\t{story}\n")
        with cur.copy("COPY story_keys (key, day, story_id) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        raw.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("stories", "story_keys", "articles"):
            conn.execute(sa.text(f"VACUUM ANALYZE {table}"))


def probe(
    engine: sa.Engine,
    n: int,
    size: int,
    per_day: int,
    tag: str,
    rng: random.Random,
    session: Session | None = None,
) -> tuple[float, float, float]:
    """Seconds for one story assignment (half join a story of the archive's last days, half are
    new), for the near-duplicate lookup of the same article in the same transaction (baseline),
    and for the lock statement both share. In its own committed transaction, or in
    ``session``'s (left open)."""
    last_story = size // 4
    story = last_story - rng.randrange(200) if n % 2 == 0 else 10_000_000 + n + size
    text = _text(story, 100 + n)
    at = START + timedelta(days=last_story * 4 // per_day)
    if session is not None:
        return _probe(session, n, tag, text, at)
    with Session(engine) as own:
        timings = _probe(own, n, tag, text, at)
        own.commit()
        return timings


def _probe(session: Session, n: int, tag: str, text: str, at: datetime) -> tuple[float, float, float]:
    article_id = session.execute(
        sa.text(
            "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, published_at)"
            " VALUES (:u, :u, 1, :t, :h, :at) RETURNING id"
        ),
        {"u": f"https://probe.invalid/{tag}/{n}", "t": text, "h": uuid.uuid4().hex, "at": at},
    ).scalar_one()
    sig = signature(text)
    start = time.perf_counter()
    keys = lock_story_keys(session, text, None, sig)
    locks = time.perf_counter() - start
    start = time.perf_counter()
    link_and_index(session, article_id, sig, keys=keys.bands)
    dedup = time.perf_counter() - start
    backend = session.connection().connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
    server, client = _backend_cpu(backend), time.thread_time()
    start = time.perf_counter()
    assign(session, article_id, text=text, title=None, language="fr", at=at, keys=keys, signature=sig)
    took = time.perf_counter() - start
    CPU["client"] += time.thread_time() - client
    CPU["server"] += _backend_cpu(backend) - server
    CPU["n"] += 1
    return took, dedup, locks


#: CPU seconds spent by assign() in this thread and in the PostgreSQL backend serving it
#: (/proc/<pid>/schedstat: nanoseconds on a CPU), summed over the probes since the last reset:
#: what an assignment costs whatever the load (waiting for a core is not counted).
CPU = {"client": 0.0, "server": 0.0, "n": 0.0}


def _backend_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0]) / 1e9


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--admin-url", default=os.environ.get("VEILLE_BENCH_ADMIN_URL", ADMIN_URL))
    parser.add_argument("--sizes", type=positive_ints, default="10000,100000,1000000")
    parser.add_argument("--probes", type=positive_int, default=200)
    parser.add_argument("--per-day", type=positive_int, default=1400)
    parser.add_argument(
        "--long", type=non_negative_int, default=100000, help="articles of the memory run (0: none)"
    )
    parser.add_argument("--target-ms", type=positive_float, default=5.0)
    args = parser.parse_args(argv)
    unwind_on_sigterm()  # so the `finally` below drops the scratch database
    sizes = args.sizes
    name = f"veille_bench_stories_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    os.environ["VEILLE_DATABASE_URL"] = url
    engine = sa.create_engine(url)
    rng = random.Random(20250210)
    try:
        from monitors.archive.schema import migrate

        migrate(url)
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO sources (id, name, kind, url, owner) VALUES (1, 'b', 'feed', 'x', 'media')"
                )
            )
        print(f"scratch database {name}; {args.probes} probes per size; {args.per_day} articles a day")
        results: dict[int, float] = {}
        for size in sizes:
            t0 = time.perf_counter()
            load(engine, size, 1, args.per_day)
            loaded = time.perf_counter() - t0
            for n in range(20):  # warm-up, untimed
                probe(engine, n, size, args.per_day, f"warm{size}", rng)
            CPU.update(client=0.0, server=0.0, n=0.0)
            pairs = [probe(engine, n, size, args.per_day, f"s{size}", rng) for n in range(args.probes)]
            client_ms, server_ms = (CPU[k] / CPU["n"] * 1000 for k in ("client", "server"))
            times = [story for story, _, _ in pairs]
            joins, news = times[0::2], times[1::2]
            results[size] = statistics.mean(times) * 1000
            dedup_ms = statistics.mean(d for _, d, _ in pairs) * 1000
            locks_ms = statistics.mean(lk for _, _, lk in pairs) * 1000
            with engine.connect() as conn:
                keys = conn.scalar(sa.text("SELECT count(*) FROM story_keys"))
                created = conn.scalar(sa.text("SELECT count(*) FROM story_events WHERE kind = 'created'"))
            print(f"  stories created by the probes so far: {created} (the rest joined one)")
            print(
                f"{size:>9} articles ({keys} story keys, loaded in {loaded:.0f} s): assignment mean"
                f" {results[size]:.2f} ms (median joining {statistics.median(joins) * 1000:.2f} ms,"
                f" new story {statistics.median(news) * 1000:.2f} ms); near-duplicate lookup of the"
                f" same articles {dedup_ms:.2f} ms ({results[size] / dedup_ms:.1f}x); the lock statement"
                f" both share {locks_ms:.2f} ms"
            )
            print(
                f"  CPU per assignment: {client_ms + server_ms:.2f} ms ({client_ms:.2f} ms in this process,"
                f" {server_ms:.2f} ms in PostgreSQL's backend); the rest of the wall time is waiting"
            )
        base = results[sizes[0]]
        for size, ms in results.items():
            print(f"  {size:>9}: {ms:.2f} ms per article, {ms / base:.2f}x the {sizes[0]}-article archive")
        largest = results[sizes[-1]]
        verdict = "met" if largest <= args.target_ms else "NOT met"
        print(f"target <= {args.target_ms} ms per article at {sizes[-1]}: {largest:.2f} ms, {verdict}")
        if args.long:
            print(f"memory over {args.long} assignments (resident MB of this process):")
            step = max(1, args.long // 10)
            last = sizes[-1]
            start = time.perf_counter()
            samples = []
            # The archive grows as it would: a new article every 86400 / per_day seconds, half
            # of them about a story of the last days; committed every 100 articles.
            with Session(engine) as session:
                for n in range(args.long):
                    probe(engine, n, last + n, args.per_day, "long", rng, session)
                    if (n + 1) % 100 == 0:
                        session.commit()
                    if (n + 1) % step == 0:
                        samples.append(_rss_mb())
                        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
                        each = (time.perf_counter() - start) / (n + 1) * 1000
                        print(f"  {n + 1:>7}: {samples[-1]:.1f} MB, peak {peak:.1f} MB ({each:.2f} ms each)")
                session.commit()
            growth = samples[-1] - samples[0]
            print(f"growth from the first to the last sample: {growth:+.1f} MB")
        print("machine shared with other engineers: compare ratios within a run, not across runs")
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
