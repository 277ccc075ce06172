# ruff: noqa: E501
"""Benchmark: `veille run` end-to-end per page against bare trafilatura on the same bytes.

The 120 real pages of the shared corpus (``../shared/corpus/pages``) are served on loopback
(one host, a threaded HTTP server in a child process) behind one RSS feed; politeness delays
are off (``VEILLE_PER_HOST_DELAY=0``) because every page sits on one host. Each repetition,
alternating so that load from other processes hits both alike:

- bare: ``trafilatura.extract(page_bytes, url=..., with_metadata=True)`` over the 120 pages
  in this process (after one warm-up pass);
- veille: ``veille run --all`` in a fresh process on a fresh scratch database, migrated
  beforehand (untimed, unless ``--cold``) (fetch, extract,
  language, relevance, dedup, store), once with a one-page feed and once with the 120-page
  feed; the per-page figure is (T120 - T1) / 119, so the fixed cost of a run (imports,
  Prefect, migrations) is left out.

Printed: the median per-page figures, both throughputs (pages per second) and their ratio
(target >= 0.85). ``--workers 0,2`` runs ``veille run`` with each ``VEILLE_PARSE_WORKERS``
value in turn in every repetition (0: the page analysis in the ingest threads).

``--quality`` measures what is stored instead of how fast: one ``veille run --all`` over the
feed, then the articles as ``veille export`` writes them are scored against the corpus's
``expected.json`` next to bare trafilatura on the same bytes and URL, with the scores of
``bench/extract.py`` (with-recall, leaks, title, date) for the whole corpus and its fixed
halves. The pages are served on loopback (``/p/<file name>``), so a rule that needs the
page's real host or URL path gets no help here, for veille as for bare trafilatura.

    python bench/ingest.py [--repeat 3] [--corpus DIR] [--pages N] [--keep-db] [--cold] [--workers 0,2]
    python bench/ingest.py --quality      # stored articles against the ground truth
    python bench/ingest.py --stages      # CPU per page of each analysis step, in-process
    python bench/ingest.py --serve       # only serve the feed and pages (for profilers)

Needs a PostgreSQL server (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres,
override with VEILLE_BENCH_ADMIN_URL). Loopback only; each run's scratch database is dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/ingest.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_float, positive_int  # noqa: E402
from bench.unwind import create_scratch_db, unwind_on_sigterm  # noqa: E402
from monitors.judge.extract_eval import shared_corpus_dir  # noqa: E402

#: The shared corpus's real pages, found as bench/extract.py and `veille eval --extraction` find it.
CORPUS_DIR = (shared_corpus_dir(ROOT) or ROOT.parent / "shared" / "corpus") / "pages"
ADMIN_URL = os.environ.get("VEILLE_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
VEILLE = [sys.executable, "-m", "flows.cli"]


def load_pages(corpus: Path, limit: int | None = None) -> list[tuple[str, bytes]]:
    files = sorted(p for p in corpus.iterdir() if p.suffix in {".html", ".htm"})
    return [(p.name, p.read_bytes()) for p in files[:limit]]


# --- server (child process) -----------------------------------------------------------------


def feed_xml(base: str, names: list[str]) -> bytes:
    items = "".join(
        f"<item><title>page {i}</title><link>{base}/p/{quote(name)}</link><guid>{base}/p/{quote(name)}</guid></item>"
        for i, name in enumerate(names)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>bench</title>"
        f"<link>{base}/</link><description>corpus</description>{items}</channel></rss>"
    ).encode()


Route = Callable[[str, str], "tuple[bytes, str] | None"]


def serve_routes(route: Route, port: Any, ready: Any) -> None:
    """Serve ``route(path, base) -> (body, content type)`` (None: 404) on a loopback port."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server: ThreadingHTTPServer  # the one below (BaseServer's address may be a path or bytes)

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802
            found = route(unquote(self.path), f"http://127.0.0.1:{self.server.server_address[1]}")
            body, ctype = found or (b"", "")
            self.send_response(200 if found else 404)
            if found:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    port.value = srv.server_address[1]
    ready.set()
    srv.serve_forever()


def serve(corpus: str, limit: int | None, port: Any, ready: Any) -> None:
    pages = dict(load_pages(Path(corpus), limit))
    names = sorted(pages)

    def route(path: str, base: str) -> tuple[bytes, str] | None:
        # a file name may hold a space, quoted in the feed (the path comes unquoted)
        if path.startswith("/feed-"):
            n = int(path.split("-")[1].split(".")[0])
            return feed_xml(base, names[:n]), "application/rss+xml; charset=utf-8"
        if path.startswith("/p/") and path[3:] in pages:
            return pages[path[3:]], "text/html"
        return None

    serve_routes(route, port, ready)


# --- the two measurements -------------------------------------------------------------------


def bare(pages: list[tuple[str, bytes]], base: str) -> tuple[float, float]:
    """Wall and CPU seconds for trafilatura.extract over every page, as a user would call it."""
    import trafilatura

    t, cpu = time.perf_counter(), time.process_time()
    for name, body in pages:
        trafilatura.extract(body, url=f"{base}/p/{name}", with_metadata=True)
    return time.perf_counter() - t, time.process_time() - cpu


def stages(pages: list[tuple[str, bytes]], repeat: int) -> None:
    """CPU per page of each step of the analysis of a page, as monitors.ingest calls them."""
    import zlib

    import trafilatura

    from monitors.collect.encoding import decode_html
    from monitors.group.dedup import fingerprint
    from monitors.judge.extract import TRAFILATURA_OPTIONS, extract_article
    from monitors.judge.language import detect_language
    from monitors.judge.relevance import score_relevance
    from monitors.judge.topic import load_topic

    topic = load_topic()
    done = {}
    for name, body in pages:
        with contextlib.suppress(ValueError):  # no article text: skipped by the later steps
            done[name] = extract_article(body, f"http://x/{name}", "text/html")
    steps = {
        "bare trafilatura.extract(bytes, with_metadata=True)": lambda n, b: trafilatura.extract(
            b, url=f"http://x/{n}", with_metadata=True
        ),
        "decode_html": lambda n, b: decode_html(b, "text/html"),
        "trafilatura.bare_extraction as veille calls it": lambda n, b: trafilatura.bare_extraction(
            decode_html(b, "text/html"), url=f"http://x/{n}", **TRAFILATURA_OPTIONS
        ),
        "extract_article (decode + extraction + metadata)": lambda n, b: (
            n in done and extract_article(b, f"http://x/{n}", "text/html")
        ),
        "detect_language": lambda n, b: n in done and detect_language(done[n].text, title=done[n].title),
        "score_relevance": lambda n, b: (
            n in done
            and score_relevance(topic, done[n].text, title=done[n].title, description=done[n].description)
        ),
        "fingerprint (MinHash)": lambda n, b: n in done and fingerprint(done[n].text),
        "zlib.compress level 6": lambda n, b: zlib.compress(b, 6),
        "zlib.compress level 1": lambda n, b: zlib.compress(b, 1),
    }
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(repeat):
        for step, fn in steps.items():
            t = time.process_time()
            for name, body in pages:
                fn(name, body)
            times[step].append((time.process_time() - t) / len(pages))
    print(f"CPU per page, median of {repeat} (time.process_time, this process only):")
    for step, ts in times.items():
        print(f"  {statistics.median(ts) * 1000:7.2f} ms  {step}")


def scratch_db() -> tuple[str, str]:
    import sqlalchemy as sa

    name = f"veille_bench_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    create_scratch_db(engine, name)
    engine.dispose()
    return name, sa.make_url(ADMIN_URL).set(database=name).render_as_string(False)


def drop_db(name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def veille_env(url: str, tmp: str, workers: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if workers is not None:
        env["VEILLE_PARSE_WORKERS"] = workers
    env.update(
        VEILLE_DATABASE_URL=url,
        VEILLE_DATA_DIR=tmp,
        VEILLE_ALLOW_PRIVATE_NETWORK="1",
        VEILLE_PER_HOST_DELAY="0",
        VEILLE_RESPECT_ROBOTS="0",
        PYTHONPATH=str(ROOT),
    )
    return env


def migrate(url: str, tmp: str) -> None:
    """Bring a scratch database to the schema head (outside the timed run, as a live archive)."""
    subprocess.run([*VEILLE, "migrate"], env=veille_env(url, tmp), check=True, capture_output=True, cwd=ROOT)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class RunFailed(RuntimeError):
    """A `veille run` of the bench exited non-zero (its last lines say why)."""


def veille_run(
    base: str, n: int, tmp: str, keep: bool, migrated: bool, inspect: Any = None, workers: str | None = None
) -> tuple[float, float, str]:
    """Wall and CPU seconds (the veille process and the children it waited for, not
    PostgreSQL) of `veille run --all` over a feed of ``n`` pages on a fresh database;
    ``inspect(database_url)`` is called on the database before it is dropped."""
    name, url = scratch_db()
    try:
        if migrated:
            migrate(url, tmp)
        sources = Path(tmp) / f"sources-{n}.toml"
        sources.write_text(
            f'[[source]]\nname = "bench"\nkind = "feed"\nurl = "{base}/feed-{n}.xml"\nowner = "media"\n'
        )
        t, cpu = time.perf_counter(), _children_cpu()
        proc = subprocess.run(
            [*VEILLE, "run", "--all", "--sources", str(sources)],
            env=veille_env(url, tmp, workers),
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        elapsed, cpu = time.perf_counter() - t, _children_cpu() - cpu
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
            raise RunFailed(f"veille run over {n} pages failed (exit {proc.returncode}): {tail}")
        last = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if inspect is not None:
            inspect(url)
        return elapsed, cpu, last
    finally:
        if not keep:
            drop_db(name)


def stored_articles(url: str) -> dict[str, dict[str, Any]]:
    """The articles of a scratch database as `veille export` writes them, by page file name."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from monitors.archive.export import iter_articles

    engine = sa.create_engine(url)
    try:
        with Session(engine) as session:
            return {unquote(rec["url"].rsplit("/p/", 1)[-1]): rec for rec in iter_articles(session)}
    finally:
        engine.dispose()


def quality(pages: list[tuple[str, bytes]], corpus: Path, base: str, tmp: str, keep: bool) -> None:
    """Score the stored articles of one `veille run` and bare trafilatura on the same pages."""
    from bench.extract import bare
    from monitors.judge.extract_eval import PARTS, Result, Score, half

    expected_file = corpus.parent / "expected.json"
    expected = json.loads(expected_file.read_text("utf-8")) if expected_file.is_file() else {}
    stored: dict[str, dict[str, Any]] = {}
    _, _, summary = veille_run(
        base, len(pages), tmp, keep, True, inspect=lambda u: stored.update(stored_articles(u))
    )
    print(f"  {summary}")
    scores = {(who, part): Score() for who in ("bare", "veille") for part in PARTS}
    for name, body in pages:
        exp = expected.get(name, {})
        rec = stored.get(name)
        # the day as exported: published_at carries the site's offset when the page gave one
        day = (rec.get("published_at") or "")[:10] or None if rec else None
        results = {
            "bare": bare(body, f"{base}/p/{quote(name)}"),
            "veille": Result(rec["text"], rec["title"], day) if rec else Result(),
        }
        for who, res in results.items():
            scores[(who, "all")].add(name, res, exp)
            scores[(who, half(name))].add(name, res, exp)
    print(f"{len(stored)} of {len(pages)} pages stored by veille run")
    print(
        "{:<8} {:<9} {:>11} {:>6} {:>6} {:>6}".format("who", "pages", "with-recall", "leaks", "title", "date")
    )
    for part in PARTS:
        for who in ("bare", "veille"):
            print(f"{who:<8} {part:<9} {scores[(who, part)].row()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=positive_int, default=3)
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    ap.add_argument("--pages", type=positive_int, default=None, help="use only the first N pages")
    ap.add_argument("--keep-db", action="store_true", help="do not drop the scratch databases")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="let the timed run migrate its new database (default: `veille migrate` first, untimed)",
    )
    ap.add_argument("--target", type=positive_float, default=0.85)
    ap.add_argument(
        "--workers",
        default=None,
        help="comma-separated VEILLE_PARSE_WORKERS values to run in turn (e.g. 0,2); default: the environment's",
    )
    ap.add_argument("--stages", action="store_true", help="only time each analysis step in-process")
    ap.add_argument(
        "--quality",
        action="store_true",
        help="score the articles one veille run stores against the corpus's ground truth, next to bare trafilatura",
    )
    ap.add_argument(
        "--serve",
        action="store_true",
        help="only serve the feeds (/feed-1.xml, /feed-N.xml) and pages until interrupted, for profiling",
    )
    args = ap.parse_args()
    unwind_on_sigterm()  # so the `finally` below stops the page server

    pages = load_pages(args.corpus, args.pages)
    n = len(pages)
    if args.stages:
        stages(pages, args.repeat)
        return
    ctx = mp.get_context("spawn")
    port, ready = ctx.Value("i", 0), ctx.Event()
    server = ctx.Process(target=serve, args=(str(args.corpus), args.pages, port, ready), daemon=True)
    server.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port.value}"
    print(f"{n} pages ({sum(len(b) for _, b in pages) / 1e6:.1f} MB) on {base}, {args.repeat} repetitions")
    if args.serve:
        print(f"feeds: {base}/feed-1.xml and {base}/feed-{n}.xml; Ctrl-C to stop", flush=True)
        try:
            server.join()
        except KeyboardInterrupt:
            server.terminate()
        return
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start (shared)")
    if args.quality:
        try:
            with tempfile.TemporaryDirectory(prefix="veille-bench-") as tmp:
                quality(pages, args.corpus, base, tmp, args.keep_db)
        finally:
            server.terminate()
            server.join(5)
        return

    bare(pages, base)  # warm-up: imports and trafilatura's caches
    variants: list[str | None] = [w.strip() for w in args.workers.split(",")] if args.workers else [None]
    label = {v: f"VEILLE_PARSE_WORKERS={v}" if v is not None else "veille run" for v in variants}
    bares: list[float] = []
    bare_cpus: list[float] = []
    ones: dict[str | None, list[float]] = {v: [] for v in variants}
    fulls: dict[str | None, list[float]] = {v: [] for v in variants}
    cpus: dict[str | None, list[float]] = {v: [] for v in variants}
    failures: dict[str | None, list[str]] = {v: [] for v in variants}
    same_rep_bares: dict[str | None, list[float]] = {v: [] for v in variants}
    try:
        with tempfile.TemporaryDirectory(prefix="veille-bench-") as tmp:
            # Untimed: the first `veille run` in a data folder fills its cache (langdetect's
            # profiles, about 1 s), which would otherwise lengthen the first one-page run only
            # and so flatter the first repetition's per-page figure.
            veille_run(base, 1, tmp, args.keep_db, not args.cold, workers=variants[0])
            for r in range(args.repeat):
                wall, cpu = bare(pages, base)
                bares.append(wall / n)
                bare_cpus.append(cpu / n)
                print(
                    f"  rep {r + 1}: bare {bares[-1] * 1000:.1f} ms/page (cpu {bare_cpus[-1] * 1000:.1f})",
                    flush=True,
                )
                # alternate the variants' order from one repetition to the next
                for v in variants if r % 2 == 0 else variants[::-1]:
                    try:
                        t1, c1, _ = veille_run(base, 1, tmp, args.keep_db, not args.cold, workers=v)
                        tn, cn, summary = veille_run(base, n, tmp, args.keep_db, not args.cold, workers=v)
                    except RunFailed as exc:  # counted and shown; the other runs go on
                        failures[v].append(str(exc))
                        print(f"    {label[v]}: {exc}", flush=True)
                        continue
                    ones[v].append(t1)
                    fulls[v].append(tn)
                    same_rep_bares[v].append(bares[-1])
                    cpus[v].append((cn - c1) / (n - 1))
                    per = (tn - t1) / (n - 1)
                    print(
                        f"    {label[v]}: 1 page {t1:.2f} s, {n} pages {tn:.2f} s -> {per * 1000:.1f} ms/page "
                        f"(cpu {cpus[v][-1] * 1000:.1f}), ratio {bares[-1] / per:.2f}; {summary}",
                        flush=True,
                    )
    finally:
        server.terminate()
        server.join(5)

    b = statistics.median(bares)
    print()
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"bare trafilatura.extract(with_metadata=True): {b * 1000:7.1f} ms/page, {1 / b:6.1f} pages/s "
        f"(median; cpu {statistics.median(bare_cpus) * 1000:.1f} ms/page)"
    )
    for v in variants:
        if failures[v]:
            print(f"{label[v]}: {len(failures[v])} of {args.repeat} repetitions failed (shown above)")
        if not fulls[v]:
            continue
        per_pages = [(tn - t1) / (n - 1) for t1, tn in zip(ones[v], fulls[v], strict=True)]
        p = statistics.median(per_pages)
        ratios = sorted(bb / pp for bb, pp in zip(same_rep_bares[v], per_pages, strict=True))
        print(
            f"{label[v]}, (T{n} - T1) / {n - 1}: {p * 1000:7.1f} ms/page, {1 / p:6.1f} pages/s (median; "
            f"cpu {statistics.median(cpus[v]) * 1000:.1f} ms/page in veille's processes, PostgreSQL not counted; "
            f"fixed cost {statistics.median(ones[v]):.2f} s)"
        )
        print(
            f"  throughput ratio veille/bare: {b / p:.2f} (medians; per repetition "
            f"{', '.join(f'{x:.2f}' for x in ratios)}); target >= {args.target}: "
            f"{'met' if b / p >= args.target else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
