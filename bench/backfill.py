# ruff: noqa: E501
"""Benchmark: an archive backfill against `veille run` on the same pages, side by side.

A server process (threaded, loopback) serves N article pages (default 10,000: the five seed
pages of tests/site.py, each copy made distinct by a numbered paragraph, so every page is
stored as its own article) in two ways:

- live, at ``/live/<i>.html``, listed by ``--feeds`` RSS feeds (what ``veille run`` polls,
  then fetches);
- as a simulated Wayback Machine: a CDX server (``/cdx/search/cdx``, JSON, pages of
  ``VEILLE_ARCHIVE_PAGE_SIZE`` captures with resume keys) and raw ``id_`` captures (what
  ``veille backfill --from wayback`` reads).

Before the rounds, each path reads ``--warmup`` other pages (default 200) once, untimed, so
that neither pays the process's first-use costs (imports, connection pools, the analysis
workers' start) inside a timed round. The pages are cut into ``--rounds`` rounds (default 5
of 2,000 pages); in each round both paths run, in alternating order (the machine's load drifts, a shared machine's more so), each
on an emptied scratch database (created for the run, dropped after) with the same settings (no
per-host or per-archive delay, the same requests in flight), its flow called as its command
calls it: ``veille run`` polls the round's feeds then ingests; the backfill reads the round's
window of capture times. Printed per round and path: pages stored, wall time, pages per
second, CPU per page of this process; then over all rounds the ratio of throughputs backfill /
run (target >= 0.90), the same per CPU second, and the backfill's resident memory at the end of
each round (target: flat).

    python bench/backfill.py [--pages 10000] [--feeds 20] [--rounds 5] [--warmup 200]

Needs a PostgreSQL server (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres,
override with VEILLE_BENCH_ADMIN_URL). Loopback only.
"""

from __future__ import annotations

import argparse
import atexit
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import non_negative_int, positive_float, positive_int  # noqa: E402
from bench.poll import create_database, drop_database  # noqa: E402 - the same scratch database as bench/poll.py
from bench.unwind import unwind_on_sigterm  # noqa: E402

SITE = "www.bench-media.fr"
WHEN = datetime(2025, 2, 10, 12, tzinfo=UTC)


def page_html(templates: list[str], i: int) -> bytes:
    base = templates[i % len(templates)]
    extra = f"<p>Suivi du sommet, dépêche numéro {i} : la mise à jour {i} de notre fil sur l'intelligence artificielle.</p>"
    return base.replace("</article>", extra + "</article>", 1).encode("utf-8")


def timestamp(i: int) -> str:
    return (WHEN + timedelta(seconds=i)).strftime("%Y%m%d%H%M%S")


def index_of(cdx_timestamp: str) -> int:
    """The page whose capture has this timestamp (page i is captured i seconds after WHEN)."""
    when = datetime.strptime(cdx_timestamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return int((when - WHEN).total_seconds())


def original(i: int) -> str:
    return f"https://{SITE}/2025/02/sommet-ia-depeche-{i:05d}.html"


def serve(pages: int, feeds: int, warmup: int, port: Any, ready: Any) -> None:
    """The live site and the simulated archive, in their own process: the timed pages
    [0, pages), listed by ``feeds`` feeds, and the warm-up pages [pages, pages + warmup),
    listed by ``/feed/warm.xml``."""
    from tests.site import seed_pages

    templates = [p.html for p in seed_pages()]
    per_feed = -(-pages // feeds)
    total = pages + warmup

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def reply(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            path = self.path
            if path.startswith("/live/"):
                return self.reply(200, "text/html; charset=utf-8", page_html(templates, int(path[6:-5])))
            if path == "/feed/warm.xml":
                return self.reply(200, "application/rss+xml", self.feed(range(pages, total), "warm"))
            if path.startswith("/feed/"):
                n = int(path[6:-4])
                items = range(n * per_feed, min(pages, (n + 1) * per_feed))
                return self.reply(200, "application/rss+xml", self.feed(items, str(n)))
            if path.startswith("/web/"):
                ts, url = path[5:].split("/", 1)
                i = int(url.rsplit("-", 1)[1][:5])
                return self.reply(200, "text/html; charset=utf-8", page_html(templates, i))
            if path.startswith("/cdx/search/cdx"):
                return self.reply(200, "application/json", self.cdx(parse_qs(urlsplit(path).query)))
            return self.reply(404, "text/plain", b"not found")

        def feed(self, listed: range, name: str) -> bytes:
            base = f"http://127.0.0.1:{port.value}"
            items = "".join(
                f"<item><title>Dépêche {i}</title><link>{base}/live/{i}.html</link><guid>{base}/live/{i}.html</guid>"
                f"<pubDate>{format_datetime(WHEN)}</pubDate></item>"
                for i in listed
            )
            return (
                f"<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel><title>Fil {name}</title>"
                f"<link>{base}/</link><description>bench</description><language>fr</language>{items}</channel></rss>"
            ).encode()

        def cdx(self, q: dict[str, list[str]]) -> bytes:
            fields = q["fl"][0].split(",")
            low = index_of(q["from"][0])
            high = min(total, index_of(q["to"][0]) + 1)
            start = int(unquote(q["resumeKey"][0])) if "resumeKey" in q else max(0, low)
            limit = int(q.get("limit", ["500"])[0])
            rows: list[Any] = [fields]
            for i in range(start, min(high, start + limit)):
                rec = {
                    "urlkey": f"fr,bench-media)/2025/02/sommet-ia-depeche-{i:05d}.html",
                    "timestamp": timestamp(i),
                    "original": original(i),
                    "mimetype": "text/html",
                    "statuscode": "200",
                    "digest": f"D{i}",
                    "length": "9000",
                }
                rows.append([rec[f] for f in fields])
            if start + limit < high:
                rows += [[], [str(start + limit)]]
            return json.dumps(rows).encode()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_port
    ready.set()
    server.serve_forever()


class Memory:
    """Resident memory of this process, sampled every half second while a path runs."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self) -> None:
        start = time.perf_counter()
        while not self.stop.wait(0.5):
            self.samples.append((time.perf_counter() - start, self.rss()))

    def __enter__(self) -> Memory:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        self.samples.append((self.samples[-1][0] + 0.5 if self.samples else 0.0, self.rss()))

    def quartiles(self) -> list[int]:
        """RSS at the end of each quarter of the run."""
        end = self.samples[-1][0]
        return [
            max((r for t, r in self.samples if t <= end * q), default=self.samples[0][1])
            for q in (0.25, 0.5, 0.75, 1.0)
        ]


def reset_tables() -> None:
    import sqlalchemy as sa

    from monitors.archive.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(
            sa.text(
                "TRUNCATE fetch_log, sightings, article_revisions, article_bands, article_html, url_listings,"
                " archive_captures, backfill_jobs, url_queue, articles, sources RESTART IDENTITY CASCADE"
            )
        )


def stored() -> int:
    import sqlalchemy as sa

    from monitors.archive.db import get_engine

    with get_engine().connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0)


#: What each path calls, imported by :func:`main` before the warm-up and the rounds (the
#: settings set first): a path imported in its first call counted its import time (flows.runs,
#: flows.backfill_flows) in its own column only.
FLOWS: dict[str, Any] = {}


def import_flows() -> None:
    """Import both paths' flows, outside every timing."""
    from flows.backfill_flows import archive_backfill_flow
    from flows.runs import run_flow
    from flows.runtime import direct_run

    FLOWS.update(run=run_flow, backfill=archive_backfill_flow, direct_run=direct_run)


def run_path(sources: Path, first: int, count: int) -> None:
    with FLOWS["direct_run"]():
        FLOWS["run"](str(sources), force=True)


def backfill_path(sources: Path, first: int, count: int) -> None:
    """The captures of pages [first, first + count): a window of their capture times."""
    since = WHEN + timedelta(seconds=first)
    with FLOWS["direct_run"]():
        FLOWS["backfill"]("wayback", since, since + timedelta(seconds=count - 1), sources_file=str(sources))


def cpu_seconds() -> float:
    """CPU time of this process (user + system, all threads)."""
    t = os.times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pages", type=positive_int, default=10_000)
    parser.add_argument("--feeds", type=positive_int, default=20, help="feeds listing the live pages")
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=5,
        help="rounds of pages/rounds pages, the paths' order alternating",
    )
    parser.add_argument(
        "--warmup",
        type=non_negative_int,
        default=200,
        help="pages each path reads once, untimed, before the rounds",
    )
    parser.add_argument("--target", type=positive_float, default=0.90)
    args = parser.parse_args(argv)
    rounds = max(1, args.rounds)
    if args.feeds < rounds or args.feeds % rounds or args.pages % args.feeds:
        # each round polls its own feeds, each listing pages/feeds pages: otherwise a round's
        # `veille run` has no feed (a division by zero at the end) or not the round's pages
        parser.error(
            f"--feeds ({args.feeds}) must be a multiple of --rounds ({rounds}) and divide --pages ({args.pages})"
        )
    unwind_on_sigterm()  # so the `finally` below drops the database and stops the server
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # each path's line as it ends

    tmp = Path(tempfile.mkdtemp(prefix="veille-bench-"))
    # removed at exit, after the handlers registered later (Prefect's server) have run
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ["VEILLE_ALLOW_PRIVATE_NETWORK"] = "1"
    os.environ["VEILLE_RESPECT_ROBOTS"] = "0"  # the archive path asks no robots.txt either
    os.environ["VEILLE_PER_HOST_DELAY"] = "0"
    os.environ["VEILLE_WAYBACK_DELAY"] = "0"
    os.environ.setdefault("VEILLE_PER_HOST_CONCURRENCY", "8")
    os.environ.setdefault("VEILLE_ARCHIVE_CONCURRENCY", os.environ["VEILLE_PER_HOST_CONCURRENCY"])
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

    port, ready = mp.Value("i", 0), mp.Event()
    server = mp.Process(target=serve, args=(args.pages, args.feeds, args.warmup, port, ready), daemon=True)
    server.start()
    if not ready.wait(60):
        print("server did not start", file=sys.stderr)
        return 1
    base = f"http://127.0.0.1:{port.value}"
    os.environ["VEILLE_WAYBACK_URL"] = base
    archive = tmp / "archive.toml"
    archive.write_text(
        f'[[source]]\nname = "bench media"\nkind = "feed"\nurl = "https://{SITE}/rss.xml"\nowner = "media"\n',
        encoding="utf-8",
    )
    url, admin = create_database()
    try:  # from here on, the scratch database is dropped whatever happens
        os.environ["VEILLE_DATABASE_URL"] = url
        from monitors.archive.schema import migrate
        from monitors.settings import get_settings

        migrate(url)
        settings = get_settings()
        print(
            f"{args.pages} pages; veille run: {args.feeds} feeds, backfill: Wayback CDX pages of "
            f"{settings.archive_page_size}; concurrency {settings.concurrency}, {settings.per_host_concurrency} "
            f"per host / {settings.archive_concurrency} per archive, no delay; {os.cpu_count()} CPUs (shared)"
        )
        from prefect import flow

        import_flows()  # both paths' imports outside the timings, the warm-up's too

        @flow
        def warm() -> None:  # start Prefect's ephemeral API outside the timings
            return None

        warm()
        if args.warmup > 0:  # both paths once, untimed: neither pays the process's first-use costs
            warm_feed = tmp / "warm.toml"
            warm_feed.write_text(
                f'[[source]]\nname = "fil warm"\nkind = "feed"\nurl = "{base}/feed/warm.xml"\nowner = "media"\n',
                encoding="utf-8",
            )
            for name, sources, fn in (("run", warm_feed, run_path), ("backfill", archive, backfill_path)):
                reset_tables()
                started = time.perf_counter()
                fn(sources, args.pages, args.warmup)
                print(
                    f"warm-up {name:8s}: {stored()} pages in {time.perf_counter() - started:.1f}s (not counted)"
                )
        rounds = max(1, args.rounds)
        per_round = args.pages // rounds
        feeds_per_round = args.feeds // rounds
        totals: dict[str, list[float]] = {"run": [0, 0.0, 0.0], "backfill": [0, 0.0, 0.0]}
        memory_ends: list[int] = []
        for r in range(rounds):
            live = tmp / f"live{r}.toml"
            live.write_text(
                "".join(
                    f'[[source]]\nname = "fil {n}"\nkind = "feed"\nurl = "{base}/feed/{n}.xml"\nowner = "media"\n\n'
                    for n in range(r * feeds_per_round, (r + 1) * feeds_per_round)
                ),
                encoding="utf-8",
            )
            paths = {"run": (live, run_path), "backfill": (archive, backfill_path)}
            order = ["run", "backfill"] if r % 2 == 0 else ["backfill", "run"]
            for name in order:
                sources, fn = paths[name]
                reset_tables()
                with Memory() as memory:
                    cpu, started = cpu_seconds(), time.perf_counter()
                    fn(sources, r * per_round, per_round)
                    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
                n = stored()
                totals[name][0] += n
                totals[name][1] += wall
                totals[name][2] += cpu
                if name == "backfill":
                    memory_ends.append(memory.quartiles()[-1])
                mib = " / ".join(f"{q / 2**20:.0f}" for q in memory.quartiles())
                print(
                    f"round {r + 1}/{rounds} {name:8s}: {n} pages in {wall:.1f}s = {n / wall:.1f} pages/s, "
                    f"{cpu / max(n, 1) * 1000:.1f} ms CPU per page in this process; RSS at each quarter {mib} MiB"
                )
    finally:
        drop_database(url, admin)
        server.terminate()
    (rn, rw, rc), (bn, bw, bc) = totals["run"], totals["backfill"]
    ratio = (bn / bw) / (rn / rw)
    cpu_ratio = (rc / rn) / (bc / bn)
    growth = (memory_ends[-1] - memory_ends[0]) / 2**20
    print(
        f"total: run {int(rn)} pages in {rw:.1f}s = {rn / rw:.1f} pages/s; backfill {int(bn)} pages in {bw:.1f}s = "
        f"{bn / bw:.1f} pages/s\n"
        f"backfill throughput / run throughput = {ratio:.2f} (target >= {args.target}: "
        f"{'met' if ratio >= args.target else 'NOT met'}); per CPU second of this process: {cpu_ratio:.2f}\n"
        f"backfill RSS at the end of each round: {' / '.join(f'{m / 2**20:.0f}' for m in memory_ends)} MiB "
        f"({growth:+.0f} MiB from the first to the last)"
    )
    return 0 if ratio >= args.target and bn == rn == per_round * rounds else 1


if __name__ == "__main__":
    sys.exit(main())
