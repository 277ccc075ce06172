# ruff: noqa: E501
"""Benchmark: a long ingest (issue 19 item 4), resident memory as the archive grows.

The 120 pages of the shared corpus are served on loopback under distinct URLs, each copy with
a small text change (a sentence naming its number at the end of three of its paragraphs), behind
feeds of 1,000 items each; one ``veille run --all`` polls them and ingests every page in one
process. The bench samples the resident memory (RSS) of veille's process and of all its
children (the analysis workers, Prefect's temporary server) every half second, and prints
the peak of each stretch up to 10k, 50k and 100k pages done (queue rows no longer pending),
with the stretch's throughput. Flat memory: the peaks stay about the same.

    python bench/scale_ingest.py [--total 100000] [--checkpoints 10000,50000,100000] [--corpus DIR]

Needs a PostgreSQL server (VEILLE_BENCH_ADMIN_URL, as bench/ingest.py); the scratch database
is dropped at the end unless --keep-db. The 100k run takes hours on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/scale_ingest.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))
from bench.arguments import positive_int, positive_ints  # noqa: E402
from bench.ingest import (  # noqa: E402
    CORPUS_DIR,
    VEILLE,
    drop_db,
    load_pages,
    migrate,
    scratch_db,
    serve_routes,
    veille_env,
)
from bench.unwind import stop, unwind_on_sigterm  # noqa: E402

FEED_SIZE = 1000
_PARAGRAPH_END = re.compile(rb"</p>", re.IGNORECASE)


def variant(body: bytes, n: int) -> bytes:
    """Page ``body`` with a sentence naming ``n`` at the end of three paragraphs spread over
    the page (at least one lies in the article's text on almost every corpus page)."""
    ends = [m.start() for m in _PARAGRAPH_END.finditer(body)]
    if not ends:
        return body.replace(b"</body>", f"<p>Version {n}.</p></body>".encode())
    for at in sorted({ends[len(ends) * k // 4] for k in (3, 2, 1)}, reverse=True):
        body = body[:at] + f" Mise à jour numéro {n}.".encode() + body[at:]
    return body


def serve(corpus: str, total: int, port: Any, ready: Any) -> None:
    pages = [body for _, body in load_pages(Path(corpus))]

    def route(path: str, base: str) -> tuple[bytes, str] | None:
        if path.startswith("/feed-"):
            k = int(path[6:].split(".")[0])
            first, last = k * FEED_SIZE, min(total, (k + 1) * FEED_SIZE)
            items = "".join(
                f"<item><title>page {i}</title><link>{base}/p/{i}.html</link><guid>{base}/p/{i}.html</guid></item>"
                for i in range(first, last)
            )
            return (
                f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>feed {k}</title>"
                f"<link>{base}/</link><description>corpus</description>{items}</channel></rss>"
            ).encode(), "application/rss+xml; charset=utf-8"
        if path.startswith("/p/") and path.endswith(".html"):
            i = int(path[3:-5])
            return variant(pages[i % len(pages)], i), "text/html"
        return None

    serve_routes(route, port, ready)


def rss_mb(proc: Any, psutil: Any) -> tuple[float, float, float]:
    """RSS in MB of veille's process, of its largest analysis worker (a spawned child running
    ``spawn_main``; multiprocessing's resource tracker is not one), and of the whole tree."""
    try:
        own = proc.memory_info().rss
        children = proc.children(recursive=True)
    except psutil.Error:
        return 0.0, 0.0, 0.0
    worker = 0
    total = own
    for child in children:
        try:
            rss = child.memory_info().rss
            is_worker = any("spawn_main" in part for part in child.cmdline())
        except psutil.Error:
            continue
        total += rss
        if is_worker:
            worker = max(worker, rss)
    return own / 1e6, worker / 1e6, total / 1e6


def tree_cpu(proc: Any, seen: dict[int, float], psutil: Any) -> float:
    """CPU seconds (user + system) of veille's process and its children, summed over every
    process seen so far (one that exited counts with its last sample: summing the live ones
    only read 0 for the last stretch, which ends as the workers exit)."""
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        procs = []
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        seen[p.pid] = max(seen.get(p.pid, 0.0), t.user + t.system)
    return sum(seen.values())


def backends_cpu(conn: Any, seen: dict[int, float], psutil: Any) -> float:
    """CPU seconds of the PostgreSQL backends serving the scratch database (local server),
    summed over every backend seen so far (a closed one counts with its last sample)."""
    import sqlalchemy as sa

    for pid in conn.scalars(
        sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    ):
        try:
            t = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        seen[pid] = max(seen.get(pid, 0.0), t.user + t.system)
    return sum(seen.values())


def main() -> None:
    import psutil
    import sqlalchemy as sa

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--total", type=positive_int, default=100_000)
    ap.add_argument("--checkpoints", type=positive_ints, default="10000,50000,100000")
    ap.add_argument("--corpus", type=Path, default=CORPUS_DIR)
    ap.add_argument("--keep-db", action="store_true")
    ap.add_argument(
        "--log", type=Path, default=None, help="veille run's output (default: in the scratch folder)"
    )
    args = ap.parse_args()
    unwind_on_sigterm()  # so the clean-up below stops veille run and the server, drops the database
    checkpoints = sorted(c for c in args.checkpoints if c <= args.total)

    ctx = mp.get_context("spawn")
    port, ready = ctx.Value("i", 0), ctx.Event()
    server = ctx.Process(target=serve, args=(str(args.corpus), args.total, port, ready), daemon=True)
    server.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port.value}"
    feeds = -(-args.total // FEED_SIZE)
    print(
        f"{args.total} pages behind {feeds} feeds on {base}; load average {os.getloadavg()[0]:.2f} (2 cores, shared)"
    )
    name, url = scratch_db()
    engine = sa.create_engine(url)
    try:
        with tempfile.TemporaryDirectory(prefix="veille-scale-") as tmp, contextlib.ExitStack() as running:
            migrate(url, tmp)
            sources = Path(tmp) / "sources.toml"
            sources.write_text(
                "".join(
                    f'[[source]]\nname = "feed {k}"\nkind = "feed"\nurl = "{base}/feed-{k}.xml"\nowner = "media"\n\n'
                    for k in range(feeds)
                )
            )
            env = veille_env(url, tmp)
            log_path = args.log or Path(tmp) / "veille-run.log"
            log = log_path.open("w")  # a file, not a pipe: a pipe nobody reads blocks veille when full
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*VEILLE, "run", "--all", "--sources", str(sources)],
                env=env,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                text=True,
            )
            running.callback(stop, proc)  # still running when the bench unwinds: SIGTERM, as a user would
            watched = psutil.Process(proc.pid)
            peak_own = peak_worker = peak_all = 0.0
            stretch_own = stretch_worker = stretch_all = 0.0
            last_done, last_t = 0, started
            backends: dict[int, float] = {}
            veille_procs: dict[int, float] = {}
            last_cpu = last_db_cpu = 0.0
            pending = list(checkpoints)
            next_count = 0.0
            while True:
                exited = proc.poll() is not None  # one last count after veille's exit
                own, worker, everything = rss_mb(watched, psutil)
                # CPU sampled as often as RSS: a process's last sample is what counts once it
                # exits (the workers and the backends end with the run's last stretch).
                cpu = tree_cpu(watched, veille_procs, psutil)
                with engine.connect() as conn:
                    db_cpu = backends_cpu(conn, backends, psutil)
                peak_own, peak_all = max(peak_own, own), max(peak_all, everything)
                peak_worker = max(peak_worker, worker)
                stretch_own, stretch_all = max(stretch_own, own), max(stretch_all, everything)
                stretch_worker = max(stretch_worker, worker)
                now = time.perf_counter()
                if now >= next_count or exited:
                    next_count = now + 5
                    with engine.connect() as conn:
                        done = (
                            conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state <> 'pending'"))
                            or 0
                        )
                    while pending and done >= pending[0]:
                        rate = (done - last_done) / max(now - last_t, 1e-9)
                        per = max(done - last_done, 1)
                        print(
                            f"  {pending[0]:>7} pages done at {now - started:7.0f} s: peak RSS since the last line "
                            f"veille {stretch_own:6.0f} MB, largest analysis worker {stretch_worker:6.0f} MB, "
                            f"all its processes {stretch_all:6.0f} MB; {rate:5.1f} pages/s; "
                            f"CPU per page {(cpu - last_cpu) / per * 1000:5.1f} ms veille (all its processes), "
                            f"{(db_cpu - last_db_cpu) / per * 1000:5.1f} ms PostgreSQL; "
                            f"load {os.getloadavg()[0]:.1f}",
                            flush=True,
                        )
                        pending.pop(0)
                        last_done, last_t, last_cpu, last_db_cpu = done, now, cpu, db_cpu
                        stretch_own = stretch_worker = stretch_all = 0.0
                if exited:
                    break
                time.sleep(0.5)
            log.close()
            out = log_path.read_text(errors="replace")
            print(f"veille run exited {proc.returncode} after {time.perf_counter() - started:.0f} s")
            print("  " + (out.strip().splitlines() or [""])[-1])
            with engine.connect() as conn:
                states: dict[str, int] = dict(
                    conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all()
                )
                articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
            print(
                f"queue: {states}; articles: {articles}; peak RSS veille {peak_own:.0f} MB, "
                f"largest analysis worker {peak_worker:.0f} MB, all {peak_all:.0f} MB"
            )
    finally:
        engine.dispose()
        server.terminate()
        if not args.keep_db:
            drop_db(name)


if __name__ == "__main__":
    main()
