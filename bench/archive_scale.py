# ruff: noqa: E501
"""Benchmark: the cost of storing one article as the archive grows (issue 19 item 4).

A scratch database (created and dropped here) is migrated to the real schema and filled to
each size in turn (default 10k, 100k, 1M articles) with generated rows shaped as the pipeline
writes them, so that every index, foreign key and generated column an insert pays is as large
as in a real archive of that size:

- ``articles``: a French text of about 150 words, a title and a description drawn from the
  words of the corpus pages' extracted text (Zipf-like: a word's frequency in the corpus), so
  the ``search`` column (French stemming, accents folded) and its GIN index hold a real
  vocabulary; a 128-value MinHash signature; a published date (``--per-day`` articles a day,
  the newest at the probe day, older ones added as the archive grows); 200 sources; four
  articles per story; a share of near-duplicate clusters.
- per article, as the store writes them: 32 ``article_bands`` rows, a sighting, a queue row
  (fetched) with its listing, a ``fetch_log`` row, two ``article_topics`` rows, an
  ``article_html`` row (a small payload: the real 25 kB pages would take 25 GB at 1M; the
  TOAST index is then smaller than in a real archive).
- per story: a centroid and 24 ``story_keys`` rows (8 names of its own, 16 content words drawn
  from the corpus's story features by how many pages carry them, so common words meet
  thousands of stories, as in bench/stories.py), a ``created`` event.

The rows are generated in this process and copied in (COPY), the secondary indexes dropped
before and rebuilt after (their definitions read from the catalog), then ``VACUUM ANALYZE``:
what a live archive looks like after autovacuum.

At each size, ``--rounds`` batches of the corpus's real articles (the 120 pages analysed once
by veille's own ``analyse_content``, each round with a sentence naming the round in three
paragraphs and distinct URLs) are stored one by one through veille's store path, as ``veille
run`` does after a fetch: ``apply_ingest`` (fetch log, queue row, story and band locks, article
insert, HTML, sightings, topic scores, near-duplicate link, story assignment) and the site's
learned boilerplate, then the commit. Timed per article: wall, CPU of this thread, CPU of the
PostgreSQL backend (``/proc/<pid>/schedstat``), with the commit apart. After each round its
articles are deleted (and the tables vacuumed), so every round at every size meets the same
probes. Printed: per-article means at each size and the ratios to the smallest size (target:
at most 2x at 1M). The machine's load average is printed with every line.

    python bench/archive_scale.py [--sizes 10000,100000,1000000] [--rounds 2] [--nice 10] [--per-day 1400] [--keep-db]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py). The fill to 1M took
54 minutes at a load of 15-20 and takes 11 GB of disk; its PostgreSQL backends can be reniced
with ``--nice N`` (this process too), so other work on the machine goes first.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import pickle
import random
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/archive_scale.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))
from bench.arguments import positive_int, positive_ints  # noqa: E402
from bench.ingest import ADMIN_URL, CORPUS_DIR, load_pages  # noqa: E402
from bench.unwind import create_scratch_db, unwind_on_sigterm  # noqa: E402

#: the probe day: the newest generated articles are published the day before
PROBE_AT = datetime(2025, 2, 10, 9, 0, tzinfo=UTC)
SOURCES = 200
PER_STORY = 4
#: a cluster of near-duplicates every N articles (its root and the next three copies)
CLUSTER_EVERY = 20
TEXT_WORDS, TITLE_WORDS, DESCRIPTION_WORDS = 150, 9, 25
OWN_KEYS, WORD_KEYS = 8, 16
CHUNK = 20_000
#: tables whose secondary indexes are dropped during a fill and rebuilt after
FILLED = (
    "articles",
    "article_bands",
    "article_html",
    "article_topics",
    "sightings",
    "url_queue",
    "url_listings",
    "fetch_log",
    "stories",
    "story_keys",
    "story_events",
)
TOKEN = re.compile(r"[^\W\d_]{2,}")


# --- the real articles ----------------------------------------------------------------------


def analyse_corpus(corpus: Path) -> list[Any]:
    """The corpus pages analysed as veille's workers do (``analyse_content``): ArticleData."""
    from monitors.ingest import AnalysisError, analyse_content
    from monitors.judge.topic import load_topic
    from monitors.judge.topic_set import load_topics
    from monitors.records import QueueItem

    topic, topics = load_topic(), load_topics()
    articles = []
    for n, (_, body) in enumerate(load_pages(corpus)):
        url = f"https://site{n % 12}.bench.invalid/p/{n}"
        item = QueueItem(id=0, source_id=1, url=url, canonical_url=url)
        with contextlib.suppress(AnalysisError):
            articles.append(analyse_content(item, body, url, "text/html", "text/html", topic, topics))
    return articles


def variant_text(text: str, n: int) -> str:
    """``text`` with a sentence naming ``n`` at the end of three of its paragraphs (as the
    page variants of bench/scale_ingest.py)."""
    paragraphs = text.split("\n")
    for k in sorted({len(paragraphs) * q // 4 for q in (1, 2, 3)}):
        paragraphs[k] += f" Mise à jour numéro {n}."
    return "\n".join(paragraphs)


def probes(articles: list[Any], tag: str) -> Iterator[Any]:
    """The real articles of one round: text changed by a sentence naming the round (so a new
    text hash and signature), new URLs, and published the probe day."""
    from monitors.group.dedup import fingerprint

    for n, a in enumerate(articles):
        text = variant_text(a.text, int(tag))
        hashed, sig = fingerprint(text)
        url = f"https://site{n % 12}.bench.invalid/r{tag}/{n}"
        yield replace(
            a,
            url=url,
            canonical_url=url,
            text=text,
            text_hash=hashed,
            signature=sig,
            published_at=PROBE_AT + timedelta(minutes=n),
        )


# --- the generated archive -------------------------------------------------------------------


class Vocabulary:
    """Words and story features of the corpus's articles, with their frequencies."""

    def __init__(self, articles: list[Any]) -> None:
        from monitors.group.stories import features, key_hash

        words: Counter[str] = Counter()
        feats: Counter[str] = Counter()
        for a in articles:
            words.update(w.lower() for w in TOKEN.findall(a.text))
            feats.update(k for k in features(a.text, a.title) if k.startswith("w:"))
        self.words, weights = zip(*words.most_common(), strict=True)
        self.word_cum = list(_cumulative(weights))
        self.features, fweights = zip(*feats.most_common(), strict=True)
        self.feature_cum = list(_cumulative(fweights))
        self.key_of = {f: key_hash(f) for f in self.features}
        self.own_key = key_hash

    def text(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choices(self.words, cum_weights=self.word_cum, k=n))

    def story_features(self, rng: random.Random) -> list[str]:
        return list(dict.fromkeys(rng.choices(self.features, cum_weights=self.feature_cum, k=WORD_KEYS)))


def _cumulative(weights: Any) -> Iterator[float]:
    total = 0.0
    for w in weights:
        total += w
        yield total


def _day_of(article: int, per_day: int) -> datetime:
    """Generated article ``article`` (1 = newest) is published this many days before the probes."""
    return PROBE_AT - timedelta(days=1 + article / per_day)


def _copy(cur: Any, table: str, columns: str, rows: Iterator[str]) -> None:
    buf = io.StringIO()
    buf.writelines(rows)
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write(buf.getvalue())


def _array(values: Any) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _signature(rng: random.Random) -> list[int]:
    return [rng.getrandbits(32) for _ in range(128)]  # MinHash values are 32-bit


def fill(raw: Any, vocab: Vocabulary, have: int, size: int, per_day: int, topics: list[Any]) -> None:
    """Add generated articles ``have+1 .. size`` and everything that goes with them."""
    from monitors.group.dedup import band_keys

    cur = raw.cursor()
    # consistent by construction (stories and articles name each other): no foreign-key triggers
    cur.execute("SET session_replication_role = replica")
    for first in range(have + 1, size + 1, CHUNK):
        last = min(size, first + CHUNK - 1)
        rng = random.Random(first)
        arts, stories, keys = [], [], []
        bands: list[str] = []
        signatures: dict[int, list[int]] = {}
        for i in range(first, last + 1):
            story = (i - 1) // PER_STORY + 1
            at = _day_of(i, per_day)
            pos = (i - 1) % CLUSTER_EVERY
            root = i - pos if pos < 4 else None  # a cluster: the first article and three copies
            sig = signatures.get(root) if root and root != i else None
            sig = list(sig) if sig else _signature(rng)
            if root and root != i:
                for k in rng.sample(range(128), 12):  # a copy: about 90% of the values in common
                    sig[k] = rng.getrandbits(32)
            elif root:
                signatures[i] = sig
            cluster = r"\N" if root is None else str(root)
            dup = r"\N" if root is None or root == i else str(root)
            title, desc = vocab.text(rng, TITLE_WORDS), vocab.text(rng, DESCRIPTION_WORDS)
            text = vocab.text(rng, TEXT_WORDS)
            relevant = "t" if rng.random() < 0.05 else "f"
            arts.append(
                f"{i}\thttps://s{i % SOURCES}.bench.invalid/a/{i}\thttps://s{i % SOURCES}.bench.invalid/a/{i}\t"
                f"{i % SOURCES + 1}\t{title}\t{desc}\t{at.isoformat()}\t{at.isoformat()}\tfr\t0.99\t"
                f"{rng.random():.3f}\t{relevant}\t{text}\t{hashlib.blake2b(str(i).encode(), digest_size=16).hexdigest()}\t"
                f"{_array(sig)}\t{cluster}\t{dup}\t{story}\t0.5\n"
            )
            bands.extend(f"{b}\t{key}\t{i}\n" for b, key in band_keys(sig))
            if (i - 1) % PER_STORY == 0:
                feats = vocab.story_features(rng)
                own = [f"e:bench{story}x{k}" for k in range(OWN_KEYS)]
                centroid = ",".join(f'"{f}": 0.2' for f in own + feats)
                stories.append(
                    f"{story}\t{at.isoformat()}\t{at.isoformat()}\t{i}\t{PER_STORY}\t{PER_STORY}\t{PER_STORY}\t"
                    f"{{{i % SOURCES + 1}}}\t{{{centroid}}}\n"
                )
                day = at.date().isoformat()
                for key in dict.fromkeys([vocab.own_key(f) for f in own] + [vocab.key_of[f] for f in feats]):
                    keys.append(f"{key}\t{day}\t{story}\n")
        _copy(
            cur,
            "stories",
            "id, first_seen, last_seen, article_id, articles, outlets, media, source_ids, centroid",
            iter(stories),
        )
        _copy(
            cur,
            "articles",
            "id, canonical_url, url, source_id, title, description, published_at, fetched_at, language,"
            " language_confidence, relevance, relevant, text, text_hash, signature, cluster_id, duplicate_of,"
            " story_id, story_score",
            iter(arts),
        )
        _copy(cur, "article_bands", "band, key, article_id", iter(bands))
        _copy(cur, "story_keys", "key, day, story_id", iter(keys))
        params = {"a": first, "b": last}
        for sql in (
            "INSERT INTO article_html (article_id, content_type, html_zlib)"
            " SELECT id, 'text/html', decode(repeat(md5(id::text), 8), 'hex') FROM articles WHERE id BETWEEN %(a)s AND %(b)s",
            "INSERT INTO sightings (article_id, source_id, url, first_seen_at)"
            " SELECT id, source_id, url, fetched_at FROM articles WHERE id BETWEEN %(a)s AND %(b)s",
            "INSERT INTO url_queue (id, url, canonical_url, source_id, state, attempts, article_id, feed_title,"
            " discovered_at, next_attempt_at)"
            " SELECT id, url, canonical_url, source_id, 'fetched', 1, id, title, fetched_at, fetched_at"
            " FROM articles WHERE id BETWEEN %(a)s AND %(b)s",
            "INSERT INTO url_listings (queue_id, source_id, url, first_seen_at)"
            " SELECT id, source_id, url, discovered_at FROM url_queue WHERE id BETWEEN %(a)s AND %(b)s",
            "INSERT INTO fetch_log (at, source_id, queue_id, url, kind, status_code, outcome, bytes, elapsed_ms)"
            " SELECT fetched_at, source_id, id, url, 'page', 200, 'ok', 112000, 80 FROM articles"
            " WHERE id BETWEEN %(a)s AND %(b)s",
            "INSERT INTO story_events (story_id, kind, article_id, at)"
            " SELECT id, 'created', article_id, first_seen FROM stories WHERE article_id BETWEEN %(a)s AND %(b)s",
        ):
            cur.execute(sql, params)
        for t in topics:
            cur.execute(
                "INSERT INTO article_topics (article_id, topic, version, score, relevant, terms, evidence, scored_at)"
                " SELECT id, %(topic)s, %(version)s, relevance, relevant, '{}', '{}', fetched_at FROM articles"
                " WHERE id BETWEEN %(a)s AND %(b)s",
                {**params, "topic": t.name, "version": t.version},
            )
        raw.commit()


#: tables whose primary key no foreign key references: dropped during a fill, added back after
UNREFERENCED_KEYS = ("article_bands", "story_keys", "url_listings", "article_topics")


def unreferenced_keys(cur: Any) -> list[tuple[str, str, str]]:
    """(table, constraint, definition) of the primary keys of UNREFERENCED_KEYS."""
    cur.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'p' AND conrelid::regclass::text = ANY(%s) ORDER BY 1",
        (list(UNREFERENCED_KEYS),),
    )
    return list(cur.fetchall())


def secondary_indexes(cur: Any) -> list[tuple[str, str]]:
    """(name, definition) of the filled tables' indexes that back no constraint."""
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " WHERE i.schemaname = 'public' AND i.tablename = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        " ORDER BY i.indexname",
        (list(FILLED),),
    )
    return list(cur.fetchall())


def grow(raw: Any, vocab: Vocabulary, have: int, size: int, per_day: int, topics: list[Any]) -> float:
    """Fill to ``size`` with the secondary indexes dropped, rebuild them, vacuum; seconds taken."""
    t = time.perf_counter()
    cur = raw.cursor()
    indexes, keys = secondary_indexes(cur), unreferenced_keys(cur)
    for name, _ in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    for table, name, _ in keys:
        cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    raw.commit()
    fill(raw, vocab, have, size, per_day, topics)
    cur.execute("SET maintenance_work_mem = '512MB'")
    for table, name, definition in keys:
        cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        cur.execute(definition)
    for seq, table in (
        ("articles_id_seq", "articles"),
        ("stories_id_seq", "stories"),
        ("url_queue_id_seq", "url_queue"),
    ):
        cur.execute(f"SELECT setval('{seq}', greatest(1000000000, (SELECT max(id) FROM {table})))")
    raw.commit()
    vacuum(raw)
    return time.perf_counter() - t


def vacuum(raw: Any) -> None:
    raw.commit()
    raw.autocommit = True
    try:
        for table in (*FILLED, "sources", "site_blocks"):
            raw.execute(f"VACUUM ANALYZE {table}")
    finally:
        raw.autocommit = False


# --- the timed store -------------------------------------------------------------------------


def backend_cpu(pid: int) -> float:
    """CPU seconds of a PostgreSQL backend (local server; /proc/<pid>/schedstat)."""
    with open(f"/proc/{pid}/schedstat") as fh:
        return int(fh.read().split()[0]) / 1e9


def store_round(engine: Any, articles: list[Any], tag: str) -> list[tuple[float, float, float, float]]:
    """Store one round's articles through veille's path, one transaction each as ``veille run``;
    per article (wall of the store, wall of the commit, CPU of this thread, CPU of the backend)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from monitors.archive.articles import apply_ingest
    from monitors.judge.site_profiles import learn
    from monitors.records import IngestOutcome, QueueItem

    with engine.begin() as conn:  # the queue rows, as the poll that found the URLs wrote them
        ids = [
            conn.execute(
                sa.text(
                    "INSERT INTO url_queue (url, canonical_url, source_id) VALUES (:u, :u, :s) RETURNING id"
                ),
                {"u": a.url, "s": n % SOURCES + 1},
            ).scalar_one()
            for n, a in enumerate(articles)
        ]
    timings = []
    for n, (queue_id, a) in enumerate(zip(ids, articles, strict=True)):
        item = QueueItem(
            id=queue_id, source_id=n % SOURCES + 1, url=a.url, canonical_url=a.canonical_url, attempts=1
        )
        out = IngestOutcome(item=item, article=a, status=200, bytes=len(a.html_zlib), elapsed_ms=80)
        with Session(engine) as session:
            pid = session.connection().connection.driver_connection.info.backend_pid  # type: ignore[union-attr]
            server, client, t = backend_cpu(pid), time.thread_time(), time.perf_counter()
            status = apply_ingest(session, out, 4, f"bench-{tag}")
            if status == "stored":
                learn(session, a.site, a.blocks, list(a.title_segments))
            session.flush()
            stored = time.perf_counter()
            session.commit()
            done = time.perf_counter()
            timings.append(
                (stored - t, done - stored, time.thread_time() - client, backend_cpu(pid) - server)
            )
    return timings


def delete_round(engine: Any, tag: str) -> None:
    """Remove a round's articles (triggers clean their bands and stories). Not vacuumed: round
    r meets the dead rows of the r - 1 before it, at every size alike (a vacuum's index scans
    cost minutes at 1M)."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM articles WHERE canonical_url LIKE :p"), {"p": f"%/r{tag}/%"})
        conn.execute(sa.text("DELETE FROM url_queue WHERE canonical_url LIKE :p"), {"p": f"%/r{tag}/%"})
        conn.execute(sa.text("DELETE FROM stories WHERE id >= 1000000000 AND articles = 0"))
        # the lookup keys the round added (generated stories' days are all before the probes')
        conn.execute(sa.text("DELETE FROM story_keys WHERE day >= :d"), {"d": PROBE_AT.date()})
        conn.execute(sa.text("DELETE FROM site_blocks"))


def renice_backend(pid: int, niceness: int) -> None:
    """Set the priority of one of this bench's PostgreSQL backends (needs the right to, else a note)."""
    if not niceness:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, pid, niceness)
    except OSError as exc:
        print(f"(backend {pid} not reniced: {exc})")


def main() -> None:
    import sqlalchemy as sa

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=positive_ints, default="10000,100000,1000000")
    ap.add_argument("--rounds", type=positive_int, default=2, help="timed rounds per size, after one untimed")
    ap.add_argument(
        "--nice", type=int, default=0, help="niceness of this process and of its PostgreSQL backends"
    )
    ap.add_argument(
        "--per-day",
        type=positive_int,
        default=1400,
        help="generated articles a day (a year of the default sources: about 500k)",
    )
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument("--articles-cache", type=Path, help="keep the analysed corpus articles in this file")
    args = ap.parse_args()
    unwind_on_sigterm()  # so the `finally` below drops the scratch database
    sizes = sorted(args.sizes)
    if args.nice:
        os.nice(args.nice)

    t = time.perf_counter()
    if args.articles_cache and args.articles_cache.is_file():
        articles = pickle.loads(args.articles_cache.read_bytes())  # noqa: S301 - our own file
    else:
        articles = analyse_corpus(args.corpus)
        if args.articles_cache:
            args.articles_cache.write_bytes(pickle.dumps(articles))
    vocab = Vocabulary(articles)
    print(
        f"{len(articles)} corpus articles analysed in {time.perf_counter() - t:.0f} s; vocabulary {len(vocab.words)} words,"
        f" {len(vocab.features)} story word features; load {os.getloadavg()[0]:.1f} (2 cores, shared)",
        flush=True,
    )
    from monitors.archive.schema import migrate
    from monitors.judge.topic_set import load_topics

    topics = load_topics()
    name = f"veille_bench_archive_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(False)
    os.environ["VEILLE_DATABASE_URL"] = url
    engine = sa.create_engine(url, pool_size=1, max_overflow=0)
    import psycopg

    raw = None
    try:
        raw = psycopg.connect(sa.make_url(url).set(drivername="postgresql").render_as_string(False))
        migrate(url)
        renice_backend(raw.info.backend_pid, args.nice)
        with raw.cursor() as cur:
            cur.execute(
                "INSERT INTO sources (id, name, kind, url, owner)"
                " SELECT g, 'outlet ' || g, 'feed', 'https://s' || g || '.bench.invalid/feed', 'media'"
                " FROM generate_series(1, %s) g",
                (SOURCES,),
            )
        raw.commit()
        with engine.connect() as conn:  # the one pooled connection the store uses, reniced too
            renice_backend(conn.connection.driver_connection.info.backend_pid, args.nice)  # type: ignore[union-attr]
        results: dict[int, dict[str, float]] = {}
        have = 0
        for size in sizes:
            took = grow(raw, vocab, have, size, args.per_day, topics)
            have = size
            with raw.cursor() as cur:
                cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
                db_size = cur.fetchone()[0]  # type: ignore[index]
            print(
                f"{size:>9} articles generated in {took:.0f} s (database {db_size}); load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            per: list[tuple[float, float, float, float]] = []
            for r in range(args.rounds + 1):
                tag = f"{size}{r:02d}"
                timings = store_round(engine, list(probes(articles, tag)), tag)
                delete_round(engine, tag)
                if r:  # round 0 warms the caches up, untimed
                    per.extend(timings)
            row = {
                "store": statistics.mean(p[0] for p in per) * 1000,
                "store_median": statistics.median(p[0] for p in per) * 1000,
                "commit": statistics.mean(p[1] for p in per) * 1000,
                "client": statistics.mean(p[2] for p in per) * 1000,
                "server": statistics.mean(p[3] for p in per) * 1000,
            }
            row["cpu"] = row["client"] + row["server"]
            results[size] = row
            print(
                f"  per article ({len(per)} stored): store {row['store']:.2f} ms wall (median {row['store_median']:.2f}),"
                f" commit {row['commit']:.2f} ms; CPU {row['cpu']:.2f} ms ({row['client']:.2f} veille,"
                f" {row['server']:.2f} PostgreSQL); load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        base = results[sizes[0]]
        print(f"ratios to the {sizes[0]}-article archive (target at most 2x at {sizes[-1]}):")
        for size, row in results.items():
            print(
                f"  {size:>9}: store wall {row['store'] / base['store']:.2f}x, median {row['store_median'] / base['store_median']:.2f}x,"
                f" CPU {row['cpu'] / base['cpu']:.2f}x (PostgreSQL {row['server'] / base['server']:.2f}x),"
                f" store + commit {(row['store'] + row['commit']) / (base['store'] + base['commit']):.2f}x"
            )
        print(
            f"load average at the end {os.getloadavg()[0]:.1f}; compare ratios within a run, not across runs"
        )
    finally:
        if raw is not None:
            raw.close()
        engine.dispose()
        if not args.keep_db:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
