"""Benchmark: per-article cost of the near-duplicate lookup and insert against archive size, and
the dedup stage's cost against trafilatura extraction, measured in the same run.

Creates a scratch database (dropped at the end), migrates it to the real schema, plants the
eval set's texts (the pairs of tests/eval/make_dedup_pairs.py, so lookups meet real clusters),
then grows the archive with synthetic articles: random MinHash signatures with their real band keys,
bulk-loaded with binary COPY (article_bands' indexes are dropped for the load and rebuilt,
as a restore would). At each size it times, per probe article and in its own transaction,
what the store does for near-duplicates: ``lock_bands`` (32 advisory locks), then
``link_and_index`` (one indexed lookup on article_bands, verification against the
candidates' signatures, the cluster links, 32 band rows inserted); the article row insert
and the commit are not counted (the store does them with or without dedup). Half the probes
are light edits of planted texts (they find and join a cluster, which grows with every size's
probes: about 7, 14 and 22 copies per planted text after each size's probes), half are
unrelated. The per-article figure is the mean over the probes (the medians of copies and of
unrelated articles are printed apart).
``--warmup`` untimed probes (default 1,000) are stored first at each size, so the timed ones
meet an archive that has been ingesting (on a 128 MB ``shared_buffers``, a buffer pool of
dirty pages, whose eviction writes them back), not only the clean pages the bulk load
leaves. The figure depends on that: at full speed, write-back and checkpoints grow with the
probes stored (README, Benchmarks).

The whole dedup stage per article = text_hash + signature (``fingerprint``, one normalisation
for both, as ingest calls it) + detect_wire on the extracted text (pure, in ingest and store)
+ the database part above; it is compared to ``extract_article`` (trafilatura) on the seed
pages and on the shared corpus's 120 real pages. Targets: database part at the largest size
within 2x of the smallest; dedup stage < 10% of extraction, judged on the real pages (the seed
pages, a few kilobytes of markup around each seed text, are printed for information; they are
judged only when the corpus is missing).

    python bench/dedup.py [--sizes 10000,100000,1000000] [--probes 200] [--warmup 1000] [--admin-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import hashlib  # noqa: E402

import numpy as np  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.arguments import non_negative_int, positive_float, positive_int, positive_ints  # noqa: E402
from bench.stages import CORPUS_DIR, build_page  # noqa: E402
from bench.unwind import create_scratch_db, unwind_on_sigterm  # noqa: E402
from monitors.group.dedup import (  # noqa: E402
    BANDS,
    NUM_PERM,
    ROWS,
    band_keys,
    detect_wire,
    fingerprint,
    signature,
    text_hash,
)
from monitors.group.neardup import LOOKUP_AND_INSERT_SQL, link_and_index, lock_bands, lookup_params  # noqa: E402
from tests.eval.make_dedup_pairs import build_pairs  # noqa: E402

ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHUNK = 50_000  # synthetic articles generated and copied per chunk

INSERT_SQL = sa.text(
    "INSERT INTO articles (canonical_url, url, source_id, text, text_hash, signature)"
    " VALUES (:u, :u, :s, :t, :h, :sig) RETURNING id"
)


# --- binary COPY rows ------------------------------------------------------------------------

_ARTICLE_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("id_len", ">i4"),
        ("id", ">i8"),
        ("cu_len", ">i4"),
        ("cu", "S34"),
        ("u_len", ">i4"),
        ("u", "S34"),
        ("src_len", ">i4"),
        ("src", ">i8"),
        ("text_len", ">i4"),
        ("text", "S20"),
        ("hash_len", ">i4"),
        ("hash", "S64"),
        ("sig_len", ">i4"),
        ("sig_head", ">i4", (5,)),
        ("sig", [("len", ">i4"), ("v", ">i8")], (NUM_PERM,)),
    ]
)
_BAND_ROW = np.dtype(
    [
        ("n", ">i2"),
        ("b_len", ">i4"),
        ("band", ">i2"),
        ("k_len", ">i4"),
        ("key", ">i8"),
        ("a_len", ">i4"),
        ("article", ">i8"),
    ]
)
_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)


def synthetic_chunk(
    first_id: int, count: int, source_id: int, rng: np.random.Generator
) -> tuple[bytes, bytes]:
    """Binary COPY payloads for ``count`` synthetic articles and their BANDS band rows each."""
    ids = np.arange(first_id, first_id + count, dtype=np.int64)
    sigs = rng.integers(0, 2**32 - 1, size=(count, NUM_PERM), dtype=np.uint32)
    rows = np.zeros(count, dtype=_ARTICLE_ROW)
    rows["n"] = 7
    rows["id_len"], rows["id"] = 8, ids
    urls = np.array([f"https://bench.invalid/{i:012d}".encode() for i in ids], dtype="S34")
    rows["cu_len"], rows["cu"] = 34, urls
    rows["u_len"], rows["u"] = 34, urls
    rows["src_len"], rows["src"] = 8, source_id
    rows["text_len"], rows["text"] = 20, np.array([f"synthetic {i:010d}".encode() for i in ids], dtype="S20")
    rows["hash_len"], rows["hash"] = 64, np.array([f"{i:064x}".encode() for i in ids], dtype="S64")
    rows["sig_len"] = 20 + NUM_PERM * 12
    rows["sig_head"] = (1, 0, 20, NUM_PERM, 1)  # ndim, no nulls, int8 oid, length, lower bound
    rows["sig"]["len"] = 8
    rows["sig"]["v"] = sigs
    # Band keys exactly as monitors.group.dedup.band_keys computes them: blake2b over each band's
    # ROWS little-endian uint32 values.
    raw = np.ascontiguousarray(sigs.astype("<u4")).tobytes()
    width = 4 * ROWS
    keys = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(raw[i : i + width], digest_size=8).digest(), "big", signed=True)
            for i in range(0, len(raw), width)
        ),
        dtype=np.int64,
        count=count * BANDS,
    )
    bands = np.zeros(count * BANDS, dtype=_BAND_ROW)
    bands["n"] = 3
    bands["b_len"], bands["band"] = 2, np.tile(np.arange(BANDS, dtype=np.int16), count)
    bands["k_len"], bands["key"] = 8, keys
    bands["a_len"], bands["article"] = 8, np.repeat(ids, BANDS)
    return rows.tobytes(), bands.tobytes()


# --- helpers ---------------------------------------------------------------------------------


def _median(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _mb(engine: sa.Engine, what: str) -> float:
    with engine.connect() as conn:
        return float(conn.scalar(sa.text(f"SELECT {what}")) or 0) / 1e6


def planted_texts() -> list[str]:
    """One side of each eval pair: real texts, in clusters and topic-alike, to plant."""
    pairs = build_pairs()
    return list(dict.fromkeys(p["a"] for p in pairs))


def _edit(text: str, n: int, tag: str) -> str:
    """A light edit: another first line, one paragraph cut, a line added."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 4:
        del lines[1 + n % (len(lines) - 2)]
    return "\n".join([f"Titre réécrit {tag}-{n}", *lines, f"Mise à jour {tag}-{n} : précisions ajoutées."])


def plant(engine: sa.Engine, source_id: int, texts: list[str]) -> None:
    with Session(engine) as session:
        for i, text in enumerate(texts):
            sig = signature(text)
            lock_bands(session, sig)
            article_id = session.execute(
                INSERT_SQL,
                {
                    "u": f"https://planted.invalid/{i}",
                    "s": source_id,
                    "t": text,
                    "h": text_hash(text),
                    "sig": sig,
                },
            ).scalar_one()
            link_and_index(session, article_id, sig)
        session.commit()


def load(url: str, first_id: int, count: int, source_id: int, rng: np.random.Generator) -> dict[str, float]:
    """COPY ``count`` synthetic articles and their band rows; rebuild article_bands' indexes."""
    import psycopg

    timings = {"generate": 0.0, "copy": 0.0, "index": 0.0}
    raw = psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        cur = raw.cursor()
        cur.execute("ALTER TABLE article_bands DROP CONSTRAINT article_bands_pkey")
        cur.execute("DROP INDEX article_bands_article")
        raw.commit()
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            t = time.perf_counter()
            articles, bands = synthetic_chunk(first_id + done, n, source_id, rng)
            timings["generate"] += time.perf_counter() - t
            t = time.perf_counter()
            cols = "id, canonical_url, url, source_id, text, text_hash, signature"
            with cur.copy(f"COPY articles ({cols}) FROM STDIN WITH (FORMAT binary)") as copy:
                copy.write(_HEADER + articles + _TRAILER)
            with cur.copy(
                "COPY article_bands (band, key, article_id) FROM STDIN WITH (FORMAT binary)"
            ) as copy:
                copy.write(_HEADER + bands + _TRAILER)
            raw.commit()
            timings["copy"] += time.perf_counter() - t
            done += n
        t = time.perf_counter()
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute(
            "ALTER TABLE article_bands ADD CONSTRAINT article_bands_pkey PRIMARY KEY (band, key, article_id)"
        )
        cur.execute("CREATE INDEX article_bands_article ON article_bands (article_id)")
        raw.commit()
        timings["index"] = time.perf_counter() - t
        t = time.perf_counter()
        raw.autocommit = True  # VACUUM cannot run in a transaction
        cur.execute("SELECT setval('articles_id_seq', (SELECT max(id) FROM articles))")
        cur.execute("VACUUM ANALYZE articles")
        cur.execute("VACUUM ANALYZE article_bands")
        timings["vacuum"] = time.perf_counter() - t
        # Flush the load's dirty pages now, so the probes do not run beside a checkpoint
        # writing gigabytes (a restore would be followed by one too). Needs pg_checkpoint.
        try:
            cur.execute("CHECKPOINT")
        except psycopg.errors.InsufficientPrivilege:
            print("note: no CHECKPOINT after the load (needs pg_checkpoint)", file=sys.stderr)
    finally:
        raw.close()
    return timings


def measure(
    engine: sa.Engine, source_id: int, planted: list[str], probes: int, tag: str, warmup: int
) -> dict[str, float]:
    """Seconds per probe of lock_bands + link_and_index: median, mean, 90th percentile, and the
    medians of the copies (which join a cluster) and of the unrelated articles apart; counts of
    links found. After ``warmup`` untimed probes."""
    rng = random.Random(f"probes-{tag}")
    times: list[float] = []
    by_kind: dict[bool, list[float]] = {True: [], False: []}
    linked = 0
    for n in range(warmup + probes):
        if n % 2:
            text = _edit(rng.choice(planted), n, tag)
        else:
            text = f"Article sans rapport {tag} {n} " + " ".join(
                f"mot{rng.randrange(10**6)}" for _ in range(300)
            )
        sig = signature(text)
        with Session(engine) as session:
            session.execute(sa.text("SELECT 1"))  # the store's transaction is already open
            start = time.perf_counter()
            keys = lock_bands(session, sig)
            locked = time.perf_counter()
            article_id = session.execute(
                INSERT_SQL,
                {
                    "u": f"https://probe.invalid/{tag}/{n}",
                    "s": source_id,
                    "t": text,
                    "h": text_hash(text),
                    "sig": sig,
                },
            ).scalar_one()
            inserted = time.perf_counter()
            link = link_and_index(session, article_id, sig, keys=keys)
            done = time.perf_counter()
            session.commit()
        if n >= warmup:
            times.append((locked - start) + (done - inserted))
            by_kind[bool(n % 2)].append(times[-1])
            linked += link.root is not None
    times.sort()
    return {
        "median": statistics.median(times),
        "mean": statistics.fmean(times),
        "copies": statistics.median(by_kind[True]),
        "unrelated": statistics.median(by_kind[False]),
        "p90": times[int(len(times) * 0.9)],
        "linked": linked,
        "probes": len(times),
    }


def _baseline(pages: list[bytes], repeat: int) -> tuple[float, float]:
    """(mean over pages of the median extract_article seconds, same for the pure dedup work)."""
    from monitors.judge.extract import ExtractionError, extract_article

    extract_times, pure_times = [], []
    for page in pages:
        try:
            extracted = extract_article(page, "https://example.fr/a")  # also the warm-up
        except ExtractionError:
            continue

        def extract(page: bytes = page) -> object:
            return extract_article(page, "https://example.fr/a")

        extract_times.append(_median(extract, repeat))

        def pure(text: str = extracted.text, author: str | None = extracted.author) -> None:
            fingerprint(text)  # text_hash + signature, as ingest computes them
            detect_wire(text, author)

        pure_times.append(_median(pure, repeat))
    return statistics.fmean(extract_times), statistics.fmean(pure_times)


def extraction_baselines(repeat: int, corpus: Path) -> dict[str, tuple[float, float]]:
    """Baselines on the seed pages (small, built by tests/site.py) and, when present, on the
    120 real pages of the shared corpus (real sizes and markup, the project's benchmark set)."""
    seeds = [build_page(p.read_text("utf-8")).encode() for p in sorted((ROOT / "seeds").glob("*.txt"))]
    out = {"seed pages": _baseline(seeds, repeat)}
    real = sorted(corpus.glob("*.html"))
    if real:
        out[f"corpus ({len(real)} real pages)"] = _baseline(
            [p.read_bytes() for p in real], max(1, repeat // 10)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--admin-url", default=os.environ.get("VEILLE_BENCH_ADMIN_URL", ADMIN_URL))
    parser.add_argument(
        "--sizes", type=positive_ints, default="10000,100000,1000000", help="archive sizes, ascending"
    )
    parser.add_argument("--probes", type=positive_int, default=200, help="timed probe articles per size")
    parser.add_argument(
        "--warmup",
        type=non_negative_int,
        default=1000,
        help="untimed probe articles stored first at each size",
    )
    parser.add_argument(
        "--repeat", type=positive_int, default=20, help="repetitions for the extraction baseline"
    )
    parser.add_argument("--ratio-target", type=positive_float, default=2.0)
    parser.add_argument("--stage-target", type=positive_float, default=0.10)
    parser.add_argument(
        "--corpus",
        type=Path,
        default=CORPUS_DIR,
        help="folder of real pages for the extraction baseline (skipped when empty)",
    )
    args = parser.parse_args(argv)
    unwind_on_sigterm()  # so the `finally` below drops the scratch database
    sizes = sorted(args.sizes)

    from monitors.archive.schema import migrate

    name = f"veille_bench_dedup_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    url = make_url(args.admin_url).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    results: list[tuple[int, dict[str, float], dict[str, float], float]] = []
    try:
        migrate(url)
        with engine.begin() as conn:
            source_id = conn.scalar(
                sa.text(
                    "INSERT INTO sources (name, kind, url, owner)"
                    " VALUES ('bench', 'feed', 'https://b.invalid', 'media') RETURNING id"
                )
            )
        planted = planted_texts()
        plant(engine, source_id, planted)
        rng = np.random.default_rng(20250210)
        with engine.connect() as conn:
            current = conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0
        warmup = args.warmup
        print(
            f"scratch database {name}; {len(planted)} planted eval texts; {warmup} untimed probes"
            " stored before each size's timed ones",
            flush=True,
        )
        print(
            f"{'articles':>10} {'load s':>8} {'index s':>8} {'bands MB':>9} {'db MB':>8} "
            f"{'median ms':>10} {'mean ms':>8} {'p90 ms':>8} {'copies':>7} {'others':>7} {'linked':>7}",
            flush=True,
        )
        for size in sizes:
            t = time.perf_counter()
            with engine.connect() as conn:
                next_id = (conn.scalar(sa.text("SELECT max(id) FROM articles")) or 0) + 1
            timings = load(url, next_id, max(0, size - current), source_id, rng) if size > current else {}
            load_s = time.perf_counter() - t
            with engine.connect() as conn:
                current = conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0
            cost = measure(engine, source_id, planted, args.probes, tag=str(size), warmup=warmup)
            bands_mb = _mb(engine, "pg_total_relation_size('article_bands')")
            db_mb = _mb(engine, "pg_database_size(current_database())")
            results.append((current, cost, timings, load_s))
            linked = f"{int(cost['linked'])}/{int(cost['probes'])}"
            print(
                f"{current:>10,} {load_s:>8.1f} {timings.get('index', 0):>8.1f} {bands_mb:>9.0f} "
                f"{db_mb:>8.0f} {cost['median'] * 1e3:>10.2f} {cost['mean'] * 1e3:>8.2f} "
                f"{cost['p90'] * 1e3:>8.2f} {cost['copies'] * 1e3:>7.2f} "
                f"{cost['unrelated'] * 1e3:>7.2f} {linked:>7}",
                flush=True,
            )
            current += int(cost["probes"]) + warmup
        with engine.connect() as conn:
            sig = signature(planted[0])
            params = lookup_params(0, sig, band_keys(sig))
            raw = conn.connection.driver_connection
            assert raw is not None
            cur = raw.cursor()
            plan = "\n".join(row[0] for row in cur.execute("EXPLAIN " + LOOKUP_AND_INSERT_SQL, params))
        print("lookup plan:\n  " + plan.replace("\n", "\n  "))
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"dropped {name}")

    small, large = results[0], results[-1]
    # per-article cost: the mean (copies and unrelated articles cost differently, so the median
    # of the mix would be the slowest unrelated ones or the fastest copies)
    ratio = large[1]["mean"] / small[1]["mean"]
    ok_ratio = ratio <= args.ratio_target
    print(
        f"\nnear-duplicate lookup + insert, mean per article: {small[1]['mean'] * 1e3:.2f} ms at "
        f"{small[0]:,} articles, {large[1]['mean'] * 1e3:.2f} ms at {large[0]:,}: ratio {ratio:.2f}x "
        f"(target <= {args.ratio_target:.0f}x): {'OK' if ok_ratio else 'OVER TARGET'}"
    )
    baselines = extraction_baselines(args.repeat, args.corpus)
    judged = list(baselines)[-1]  # the real pages when the corpus is there
    ok_stage = True
    for label, (extract_s, pure_s) in baselines.items():
        stage = pure_s + large[1]["mean"]
        share = stage / extract_s
        verdict = "for information"
        if label == judged:
            ok_stage = share < args.stage_target
            verdict = f"target < {args.stage_target:.0%}: {'OK' if ok_stage else 'OVER TARGET'}"
        print(
            f"dedup stage per article on {label}: pure {pure_s * 1e3:.2f} ms (text_hash + signature + wire)"
            f" + database {large[1]['mean'] * 1e3:.2f} ms = {stage * 1e3:.2f} ms; extraction "
            f"{extract_s * 1e3:.2f} ms: {share:.1%} ({verdict})"
        )
    return 0 if ok_ratio and ok_stage else 1


if __name__ == "__main__":
    raise SystemExit(main())
