# ruff: noqa: E501
"""Benchmark: one polling cycle over 1,000 local feeds that each answer after 50 ms.

A server process (asyncio, one listening socket per feed on its own loopback address
127.1.x.y, so per-host politeness applies as in the wild) serves RSS feeds with ETags and a
404 robots.txt. veille polls them through the real code path and stores into a scratch
PostgreSQL database created for the run and dropped after. Two paths are measured:

- library: ``monitors.collect.poll.poll_batches_as_completed`` + ``monitors.archive.polls.apply_polls``
  (thread pool of ``VEILLE_CONCURRENCY``, one transaction per batch of 50 outcomes);
- direct: ``flows.polling.poll_sources`` on the direct run's pool of threads, as ``veille
  run`` polls without a Prefect server (``flows/direct.py``), the sync of the sources file
  into the database included;
- flow: ``flows.runs.poll_flow`` (Prefect, one task per batch of sources, the same
  pool), including the sync of the sources file into the database, called as ``veille run``
  calls its flows with a Prefect server (``flows.runtime.direct_run``: no flow-run
  heartbeats; here on Prefect's temporary server).

Each path runs a first cycle (every feed answers 200) and a second one (every feed answers
304 to the conditional GET). Printed: wall time, ratio to the latency-bound ideal
(feeds x latency / concurrency; target <= 1.5) and bytes the server sent in each cycle
(target: the 304 cycle at least 5x cheaper); the CPU of each process taking part; how full
the request slots were and how long a request held one (robots.txt fetches apart).

    python bench/poll.py [--feeds 1000] [--latency 0.05] [--items 10] [--paths library,direct,flow]

Needs a PostgreSQL server (default postgresql+psycopg://postgres@127.0.0.1:5432/postgres,
override with VEILLE_BENCH_ADMIN_URL). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_float, positive_int  # noqa: E402
from bench.unwind import create_scratch_db, unwind_on_sigterm  # noqa: E402

ADMIN_URL = os.environ.get("VEILLE_BENCH_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def host(i: int) -> str:
    return f"127.1.{i // 250}.{i % 250 + 1}"


def feed_body(i: int, items: int) -> bytes:
    base = f"http://{host(i)}"
    when = datetime(2025, 2, 10, 9, tzinfo=UTC)
    entries = "".join(
        f"<item><title>Dépêche {k} du fil {i} : sommet de l’IA</title><link>{base}/article/{i}-{k}.html</link>"
        f"<guid>{base}/article/{i}-{k}.html</guid><pubDate>{format_datetime(when - timedelta(minutes=k))}</pubDate>"
        f"<description>Résumé de la dépêche {k}, publiée par le fil {i}.</description></item>"
        for k in range(items)
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss version='2.0'><channel>"
        f"<title>Fil {i}</title><link>{base}/</link><description>bench</description>{entries}</channel></rss>"
    ).encode()


# --- server (child process) -----------------------------------------------------------------


def serve(
    n: int, latency: float, items: int, ports: Any, ready: Any, sent: Synchronized, requests: Synchronized
) -> None:
    async def main() -> None:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, i: int) -> None:
            body, etag = feed_body(i, items), f'"feed-{i}-v1"'.encode()
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    lines = head.decode("latin-1").split("\r\n")
                    path = lines[0].split(" ")[1]
                    headers = {
                        k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)
                    }
                    if path == "/robots.txt":
                        status, payload, extra = b"404 Not Found", b"", b""
                    else:
                        await asyncio.sleep(latency)
                        if headers.get("if-none-match", "").encode() == etag:
                            status, payload, extra = b"304 Not Modified", b"", b"ETag: " + etag + b"\r\n"
                        else:
                            status, payload = b"200 OK", body
                            extra = (
                                b"Content-Type: application/rss+xml; charset=utf-8\r\nETag: " + etag + b"\r\n"
                            )
                    out = (
                        b"HTTP/1.1 "
                        + status
                        + b"\r\n"
                        + extra
                        + b"Content-Length: "
                        + str(len(payload)).encode()
                        + b"\r\n\r\n"
                        + payload
                    )
                    # counted before the answer leaves: a client that has its answer finds its
                    # request counted (counted after, the last request of one run could land in
                    # the next run's count, once the caller has reset it)
                    with sent.get_lock():
                        sent.value += len(out)
                    with requests.get_lock():
                        requests.value += 1
                    writer.write(out)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        servers = []
        for i in range(n):

            def on_connect(
                r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int = i
            ) -> Coroutine[Any, Any, None]:
                return handle(r, w, i)

            srv = await asyncio.start_server(on_connect, host(i), 0, backlog=64)
            ports[i] = srv.sockets[0].getsockname()[1]
            servers.append(srv)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


# --- CPU accounting (Linux /proc) ------------------------------------------------------------


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (None: gone, or no /proc)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as fh:
            return [int(c) for c in fh.read().split()]
    except OSError:
        return []


def _postgres_backends(url: str) -> list[int]:
    """Server processes serving the scratch database, when PostgreSQL runs on this machine."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.scalars(
                sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            ).all()
    finally:
        engine.dispose()
    return [int(p) for p in pids if os.path.exists(f"/proc/{p}")]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def cpu_snapshot(server_pid: int, url: str) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process taking part in a cycle, by role."""
    me = os.getpid()
    children = [c for c in _children(me) if c != server_pid]
    workers = [c for c in children if "multiprocessing" in _cmdline(c)]
    roles = {
        "poller": [me],
        "parse workers": workers,
        "other children (Prefect's server)": [c for c in children if c not in workers],
        "bench server": [server_pid],
        "PostgreSQL": _postgres_backends(url),
    }
    out: dict[str, dict[int, float]] = {}
    for role, pids in roles.items():
        out[role] = {p: t for p in pids if (t := _cpu_seconds(p)) is not None}
    return out


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict[str, float]:
    """CPU seconds each role used between two snapshots (processes born in between count fully)."""
    return {
        role: sum(t - before.get(role, {}).get(pid, 0.0) for pid, t in pids.items())
        for role, pids in after.items()
    }


class SlotLog:
    """When each of ``VEILLE_CONCURRENCY``'s request slots was taken and given back, by kind
    (robots.txt fetches take theirs with ``HostThrottle.slot``, every other request with
    ``acquire``/``release``): how full the slots were, and how long a request held one.
    Installed on the class for the bench's run, so every path's throttle reports here."""

    def __init__(self) -> None:
        import threading

        self.events: list[tuple[float, int]] = []  # (time, +1 taken / -1 given back)
        self.held: dict[str, list[float]] = {"feed": [], "robots.txt": []}
        self._started: dict[int, float] = {}
        self._ident = threading.get_ident

    def install(self) -> None:
        import contextlib
        from collections.abc import Iterator

        from monitors.collect.throttle import HostThrottle

        log, acquire, release, slot = self, HostThrottle.acquire, HostThrottle.release, HostThrottle.slot

        # the first parameter named as the method's, so the patch has the method's signature
        def timed_acquire(
            self: HostThrottle, url: str, min_delay: float = 0.0, deadline: float | None = None
        ) -> float | None:
            taken = acquire(self, url, min_delay, deadline)
            if taken is None:
                return None  # given up: no slot held, no release to come
            log._started[log._ident()] = log._taken()
            return taken

        def timed_release(self: HostThrottle, url: str) -> None:
            log._given("feed", log._started.pop(log._ident()))
            release(self, url)

        @contextlib.contextmanager
        def timed_slot(self: HostThrottle) -> Iterator[None]:
            with slot(self):
                taken = log._taken()
                try:
                    yield
                finally:
                    log._given("robots.txt", taken)

        HostThrottle.acquire = timed_acquire  # type: ignore[method-assign]
        HostThrottle.release = timed_release  # type: ignore[method-assign]
        HostThrottle.slot = timed_slot  # type: ignore[method-assign]

    def _taken(self) -> float:
        now = time.perf_counter()
        self.events.append((now, 1))
        return now

    def _given(self, kind: str, taken: float) -> None:
        now = time.perf_counter()
        self.events.append((now, -1))
        self.held[kind].append(now - taken)

    def clear(self) -> None:
        self.events.clear()
        for held in self.held.values():
            held.clear()

    def report(self, slots: int, latency: float) -> str:
        """Mean slots in use between the first slot taken and the last given back, the share of
        that time all were in use, and the mean time a request held its slot, by kind."""
        events = sorted(self.events)
        if not events:
            return "no request slot taken"
        in_use, area, full, last = 0, 0.0, 0.0, events[0][0]
        for when, step in events:
            area += in_use * (when - last)
            full += (when - last) if in_use >= slots else 0.0
            in_use, last = in_use + step, when
        span = max(events[-1][0] - events[0][0], 1e-9)
        kinds = ", ".join(
            f"{kind} {1000 * sum(held) / len(held):.1f} ms x {len(held)}"
            for kind, held in self.held.items()
            if held
        )
        return (
            f"request slots: {area / span:.1f} of {slots} in use on average, all {slots} for "
            f"{full / span:.0%} of the time; held per request: {kinds} (server latency: "
            f"{1000 * latency:.0f} ms for feeds, none for robots.txt); {area:.1f} slot-seconds"
        )


# --- client ---------------------------------------------------------------------------------


def create_database() -> tuple[str, Any]:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"veille_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), admin


def drop_database(url: str, admin: Any) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from monitors.archive.db import dispose_engines

    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def reset_tables() -> None:
    import sqlalchemy as sa

    from monitors.archive.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(
            sa.text("TRUNCATE fetch_log, sightings, url_queue, articles, sources RESTART IDENTITY CASCADE")
        )


def run_library_cycle(sources_file: str) -> tuple[int, int]:
    """Sync, then poll every source and store the outcomes in batches as they come in;
    returns (sources polled, new URLs)."""
    from monitors.archive.db import session_scope
    from monitors.archive.polls import apply_polls, due_sources
    from monitors.collect.http import make_client
    from monitors.collect.poll import POLL_BATCH, poll_batches_as_completed
    from monitors.collect.robots import ROBOTS
    from monitors.collect.sources import load_sources, sync_sources
    from monitors.collect.throttle import HostThrottle
    from monitors.settings import get_settings

    settings = get_settings()
    with session_scope() as session:
        due = due_sources(session, sync_sources(session, load_sources(sources_file)), force=True)
    throttle = HostThrottle.from_settings(settings)
    summaries = []
    with make_client(settings) as client:
        for batch in poll_batches_as_completed(client, settings, due, POLL_BATCH, throttle, ROBOTS):
            with session_scope() as session:
                summaries.extend(apply_polls(session, batch, None, settings))
    return len(summaries), sum(s.new for s in summaries)


def run_flow_cycle(sources_file: str) -> tuple[int, int]:
    """The poll flow as ``veille run`` calls it (in this process: ``direct_run``)."""
    from flows.runs import poll_flow
    from flows.runtime import direct_run, reset_runtime

    reset_runtime()
    try:
        with direct_run():
            summaries = poll_flow(sources_file, force=True)
    finally:
        reset_runtime()
    return len(summaries), sum(s.new for s in summaries)


def run_direct_cycle(sources_file: str) -> tuple[int, int]:
    """The poll step as ``veille run`` runs it without a Prefect server (flows/direct.py): the
    same batches on a pool of 8 threads, with the retries of transient failures."""
    from concurrent.futures import ThreadPoolExecutor

    from flows.direct import STEP_THREADS, with_retries
    from flows.polling import poll_sources
    from flows.runtime import reset_runtime

    reset_runtime()
    try:
        with ThreadPoolExecutor(STEP_THREADS) as pool:
            summaries = poll_sources(
                sources_file, True, lambda step, *a: pool.submit(with_retries, step, *a), None
            )
    finally:
        reset_runtime()
    return len(summaries), sum(s.new for s in summaries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--feeds", type=positive_int, default=1000)
    parser.add_argument(
        "--latency", type=positive_float, default=0.05, help="seconds each feed waits before answering"
    )
    parser.add_argument("--items", type=positive_int, default=10, help="entries per feed")
    parser.add_argument(
        "--paths", default="library,direct,flow", help="comma-separated: library, direct, flow"
    )
    parser.add_argument("--target", type=positive_float, default=1.5)
    args = parser.parse_args(argv)
    unwind_on_sigterm()  # so the `finally` below drops the database and stops the server

    tmp = Path(tempfile.mkdtemp(prefix="veille-bench-"))
    # removed at exit, after the handlers registered later (Prefect's server) have run
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    os.environ["VEILLE_ALLOW_PRIVATE_NETWORK"] = "1"
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

    ports = mp.Array("i", args.feeds)
    ready, sent, requests = mp.Event(), mp.Value("q", 0), mp.Value("q", 0)
    server = mp.Process(
        target=serve, args=(args.feeds, args.latency, args.items, ports, ready, sent, requests), daemon=True
    )
    server.start()
    assert server.pid is not None  # set by start()
    if not ready.wait(60):
        print("server did not start", file=sys.stderr)
        return 1
    sources_file = tmp / "sources.toml"
    sources_file.write_text(
        "".join(
            f'[[source]]\nname = "feed {i}"\nkind = "feed"\nurl = "http://{host(i)}:{ports[i]}/rss.xml"\nowner = "media"\n\n'
            for i in range(args.feeds)
        ),
        encoding="utf-8",
    )
    url, admin = create_database()
    failed = False
    try:  # from here on, the scratch database is dropped whatever happens
        os.environ["VEILLE_DATABASE_URL"] = url
        from monitors.archive.schema import migrate
        from monitors.collect.robots import ROBOTS
        from monitors.settings import get_settings

        migrate(url)
        settings = get_settings()
        slots = SlotLog()
        slots.install()
        ideal = args.feeds * args.latency / settings.concurrency
        print(
            f"{args.feeds} feeds x {args.latency * 1000:.0f} ms, {args.items} entries each, "
            f"concurrency {settings.concurrency} (per host: {settings.per_host_concurrency}, "
            f"{settings.per_host_delay}s apart): ideal {ideal:.2f}s"
        )
        runners = {"library": run_library_cycle, "direct": run_direct_cycle, "flow": run_flow_cycle}
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        # Import what the cycles use before timing them (scipy and Prefect alone take seconds);
        # caches that fill on first use (public-suffix list, parse workers) are timed.
        import flows.pipeline  # noqa: F401
        import flows.polling  # noqa: F401
        import monitors.archive.articles  # noqa: F401
        import monitors.archive.polls  # noqa: F401
        import monitors.collect.poll  # noqa: F401

        for name in [p.strip() for p in args.paths.split(",") if p.strip()]:
            if name == "flow":
                from prefect import flow

                import flows.runs  # noqa: F401

                @flow
                def warm() -> None:  # start Prefect's ephemeral API outside the timings
                    return None

                warm()
            reset_tables()
            ROBOTS.clear()
            figures = []
            for cycle in (1, 2):
                sent.value, requests.value = 0, 0
                cpu_before = cpu_snapshot(server.pid, url)
                slots.clear()
                started = time.perf_counter()
                polled, new = runners[name](str(sources_file))
                wall = time.perf_counter() - started
                cpu = cpu_used(cpu_before, cpu_snapshot(server.pid, url))
                figures.append((wall, sent.value, requests.value))
                print(
                    f"{name:8s} cycle {cycle} ({'200s' if cycle == 1 else '304s'}): {polled} sources, "
                    f"{new} new URLs, {requests.value} requests, {sent.value:,} bytes sent, "
                    f"wall {wall:.2f}s = {wall / ideal:.2f}x ideal"
                )
                if sum(cpu.values()) > 0:
                    total = sum(cpu.values())
                    parts = ", ".join(f"{role} {sec:.2f}" for role, sec in cpu.items() if sec > 0)
                    print(
                        f"{'':8s}   CPU {total:.2f}s ({parts}); on {cores} cores that is at least "
                        f"{total / cores:.2f}s of wall time = {total / cores / ideal:.2f}x ideal"
                    )
                print(f"{'':8s}   {slots.report(settings.concurrency, args.latency)}")
            (w1, b1, _), (w2, b2, _) = figures
            ok_time, ok_bytes = w1 / ideal <= args.target, b1 >= 5 * max(b2, 1)
            failed |= not (ok_time and ok_bytes)
            print(
                f"{name:8s} result: first cycle {w1 / ideal:.2f}x ideal (target <= {args.target}: "
                f"{'met' if ok_time else 'NOT met'}); 304 cycle {b1 / max(b2, 1):.1f}x fewer bytes "
                f"(target >= 5: {'met' if ok_bytes else 'NOT met'})"
            )
    finally:
        drop_database(url, admin)
        server.terminate()
        server.join(5)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
