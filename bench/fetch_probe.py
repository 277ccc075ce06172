# ruff: noqa: E501
"""Probe: the CPU a polling cycle's fetches cost on threads against an event loop.

Decides whether veille should fetch on an asyncio event loop instead of a thread per
request (issue 19 item 4: ``bench/poll.py``'s first cycle within 1.5x of the ideal). Only the
fetch is measured: no feed parsing, no database. The server is bench/poll.py's (a child
process, each feed on its own loopback address 127.1.x.y with its own port, a 404 robots.txt
answered at once, the feed after ``--latency``). Every source costs two GETs, robots.txt then
the feed, ``VEILLE_CONCURRENCY`` (16) requests in flight, by each path:

- threads: veille's path, ``monitors.collect.http.fetch`` as the poller calls it (per-host
  throttle, robots.txt through a ``RobotsCache``, urllib3 pools, address pinned) on the
  poller's pool of threads (``monitors.collect.poll.poll_threads``, 24);
- httpx: ``httpx.AsyncClient`` on one event loop;
- aiohttp: ``aiohttp.ClientSession`` on one event loop (skipped when aiohttp is missing: it is
  not one of veille's dependencies);
- h11: asyncio streams with h11 (httpx's own HTTP/1.1 parser) and a minimal keep-alive pool.

The event-loop paths do what veille would have to rebuild around any async client, as far
as it costs CPU on this path: the address check of each hop (``check_url_allowed``), the size
cap (declared and streamed) and the deadline (``asyncio.timeout``); there are no redirects
here. Printed per run: wall time against the ideal (sources x latency / concurrency), the
CPU of this process per source (``time.process_time``: all its threads) and the server's, the
load average; paths alternate, ``--repeat`` times, and ratios are against the threads path
of the same repetition.

    python bench/fetch_probe.py [--sources 1000] [--latency 0.05] [--repeat 3] [--paths threads,httpx,aiohttp,h11]

Loopback only; no database.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/fetch_probe.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_float, positive_int  # noqa: E402
from bench.poll import _cpu_seconds, host, serve  # noqa: E402  (bench/poll.py's server)
from bench.unwind import unwind_on_sigterm  # noqa: E402

PATHS = ("threads", "httpx", "aiohttp", "h11")


@dataclass
class Fetched:
    """What one path got: feeds answered 200 with a body, robots.txt answered 404."""

    feeds: int = 0
    robots_404: int = 0
    body_bytes: int = 0
    errors: int = 0

    def add(self, robots: bool, status: int | None, size: int) -> None:
        if robots:
            self.robots_404 += status == 404
        elif status == 200 and size > 0:
            self.feeds += 1
            self.body_bytes += size
        if status not in (200, 404):
            self.errors += 1


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


# --- (a) veille's path ------------------------------------------------------------------------


def run_threads(urls: list[str], settings: Any) -> Fetched:
    """``fetch`` for each feed on the poller's pool of threads, robots.txt through a cache."""
    from concurrent.futures import ThreadPoolExecutor

    from monitors.collect.http import fetch, make_client
    from monitors.collect.poll import poll_threads
    from monitors.collect.results import FEED_TYPES
    from monitors.collect.robots import RobotsCache
    from monitors.collect.throttle import HostThrottle

    robots, throttle, got = RobotsCache(), HostThrottle.from_settings(settings), Fetched()
    with make_client(settings) as client, ThreadPoolExecutor(poll_threads(settings)) as pool:
        results = list(
            pool.map(
                lambda u: fetch(client, u, settings, accept=FEED_TYPES, throttle=throttle, robots=robots),
                urls,
            )
        )
    for result in results:
        got.add(False, result.status, result.size)
    # the cache keeps no result for a 404, only that no rules apply: count what it holds
    got.robots_404 = sum(1 for e in robots._entries.values() if e.parser is None and not e.unreachable)  # noqa: SLF001
    return got


# --- the event-loop paths -----------------------------------------------------------------------


class TooLarge(Exception):
    pass


def _check(url: str, settings: Any) -> None:
    """The address check every hop needs (the host here is an IP literal: no DNS)."""
    from monitors.collect.addresses import check_url_allowed

    check_url_allowed(url, settings.allow_private_network)


def _headers(settings: Any) -> dict[str, str]:
    return {
        "User-Agent": settings.user_agent,
        "Accept-Language": "fr,en;q=0.8",
        "Accept-Encoding": "gzip, deflate",
    }


async def _each_source(urls: list[str], settings: Any, get: Callable[[str], Any], got: Fetched) -> None:
    """robots.txt then the feed of every source, ``settings.concurrency`` requests in flight."""
    slots = asyncio.Semaphore(settings.concurrency)

    async def one(url: str) -> None:
        for target, is_robots in ((robots_url(url), True), (url, False)):
            _check(target, settings)
            async with slots:
                try:
                    async with asyncio.timeout(settings.fetch_deadline):
                        status, size = await get(target)
                except (TooLarge, TimeoutError, OSError):
                    status, size = None, 0
            got.add(is_robots, status, size)

    await asyncio.gather(*(one(u) for u in urls))


async def _capped(declared: str, chunks: AsyncIterator[bytes], url: str, settings: Any) -> int:
    """Read a body under the size cap (declared, then as it streams); returns its size."""
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise TooLarge(url)
    body = bytearray()
    async for chunk in chunks:
        body.extend(chunk)
        if len(body) > settings.max_bytes:
            raise TooLarge(url)
    return len(body)


def run_httpx(urls: list[str], settings: Any) -> Fetched:
    import httpx

    async def main() -> Fetched:
        got = Fetched()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=settings.concurrency * 2)
        async with httpx.AsyncClient(
            headers=_headers(settings),
            timeout=httpx.Timeout(settings.timeout),
            limits=limits,
            follow_redirects=False,
            trust_env=False,
        ) as client:

            async def get(url: str) -> tuple[int, int]:
                async with client.stream("GET", url) as response:
                    declared = response.headers.get("content-length", "")
                    size = await _capped(declared, response.aiter_bytes(), url, settings)
                    return response.status_code, size

            await _each_source(urls, settings, get, got)
        return got

    return asyncio.run(main())


def run_aiohttp(urls: list[str], settings: Any) -> Fetched:
    import aiohttp

    async def main() -> Fetched:
        got = Fetched()
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=settings.per_host_concurrency + 1)
        timeout = aiohttp.ClientTimeout(sock_connect=settings.timeout, sock_read=settings.timeout)
        async with aiohttp.ClientSession(
            connector=connector, headers=_headers(settings), timeout=timeout, trust_env=False
        ) as session:

            async def get(url: str) -> tuple[int, int]:
                async with session.get(url, allow_redirects=False) as response:
                    declared = response.headers.get("content-length", "")
                    size = await _capped(declared, response.content.iter_chunked(64 * 1024), url, settings)
                    return response.status, size

            await _each_source(urls, settings, get, got)
        return got

    return asyncio.run(main())


def run_h11(urls: list[str], settings: Any) -> Fetched:
    """asyncio streams + h11; idle connections kept per host, the 32 most recent."""
    import h11

    headers = list(_headers(settings).items())

    async def main() -> Fetched:
        got = Fetched()
        conns: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]] = {}

        async def get(url: str) -> tuple[int, int]:
            parts = urlsplit(url)
            key = parts.netloc
            if key in conns:
                reader, writer, conn = conns.pop(key)
            else:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
                conn = h11.Connection(h11.CLIENT)
            try:
                request = h11.Request(
                    method="GET", target=parts.path or "/", headers=[("Host", key), *headers]
                )
                writer.write(conn.send(request) + conn.send(h11.EndOfMessage()))
                status, body = 0, bytearray()
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        conn.receive_data(await reader.read(64 * 1024))
                    elif isinstance(event, h11.Response):
                        status = event.status_code
                        declared = dict(event.headers).get(b"content-length", b"")
                        if declared.isdigit() and int(declared) > settings.max_bytes:
                            raise TooLarge(url)
                    elif isinstance(event, h11.Data):
                        body.extend(event.data)
                        if len(body) > settings.max_bytes:
                            raise TooLarge(url)
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
            except BaseException:
                writer.close()
                raise
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
                conns[key] = (reader, writer, conn)  # kept for the next request to that host
                if len(conns) > 2 * settings.concurrency:  # as many as the other clients keep
                    oldest = next(iter(conns))
                    conns.pop(oldest)[1].close()
            else:
                writer.close()
            return status, len(body)

        await _each_source(urls, settings, get, got)
        for _, writer, _ in conns.values():
            writer.close()
        return got

    return asyncio.run(main())


RUNNERS: dict[str, Callable[[list[str], Any], Fetched]] = {
    "threads": run_threads,
    "httpx": run_httpx,
    "aiohttp": run_aiohttp,
    "h11": run_h11,
}


def available(name: str) -> bool:
    if name != "aiohttp":
        return True
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sources", type=positive_int, default=1000)
    parser.add_argument(
        "--latency", type=positive_float, default=0.05, help="seconds each feed waits before answering"
    )
    parser.add_argument("--items", type=positive_int, default=10, help="entries per feed")
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--paths", default=",".join(PATHS), help="comma-separated: " + ", ".join(PATHS))
    args = parser.parse_args(argv)
    unwind_on_sigterm()  # so the `finally` below stops the server
    names = [p.strip() for p in args.paths.split(",") if p.strip()]
    unknown = [n for n in names if n not in RUNNERS]
    if unknown:
        parser.error(f"unknown path(s) {', '.join(unknown)}; choose from {', '.join(PATHS)}")
    for name in [n for n in names if not available(n)]:
        print(f"{name}: not installed, skipped (pip install {name}; not a veille dependency)")
        names.remove(name)
    if "threads" not in names:
        names.insert(0, "threads")  # the baseline of every ratio

    os.environ["VEILLE_ALLOW_PRIVATE_NETWORK"] = "1"
    from monitors.settings import get_settings

    settings = get_settings()
    import httpx  # noqa: F401  (imports are not what is measured)

    import monitors.collect.poll  # noqa: F401

    ports = mp.Array("i", args.sources)
    ready, sent, requests = mp.Event(), mp.Value("q", 0), mp.Value("q", 0)
    server = mp.Process(
        target=serve, args=(args.sources, args.latency, args.items, ports, ready, sent, requests), daemon=True
    )
    server.start()
    assert server.pid is not None  # set by start()
    failed = False
    try:
        if not ready.wait(60):
            print("server did not start", file=sys.stderr)
            return 1
        urls = [f"http://{host(i)}:{ports[i]}/rss.xml" for i in range(args.sources)]
        ideal = args.sources * args.latency / settings.concurrency
        print(
            f"{args.sources} sources x (robots.txt + feed after {args.latency * 1000:.0f} ms), "
            f"{settings.concurrency} requests in flight: ideal {ideal:.2f}s; paths {', '.join(names)}"
        )
        for name in names:  # lazy imports and first-use caches, outside the timings
            RUNNERS[name](urls[:2], settings)
        rows: dict[str, list[tuple[float, float, float, float]]] = {n: [] for n in names}
        for rep in range(args.repeat):
            order = names[rep % len(names) :] + names[: rep % len(names)]  # alternate who goes first
            for name in order:
                load = os.getloadavg()[0]
                server_before = _cpu_seconds(server.pid) or 0.0
                requests.value = 0
                cpu0, wall0 = time.process_time(), time.perf_counter()
                got = RUNNERS[name](urls, settings)
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                server_cpu = (_cpu_seconds(server.pid) or 0.0) - server_before
                complete = got.feeds == args.sources and got.robots_404 == args.sources and not got.errors
                failed |= not complete
                rows[name].append((wall, cpu, server_cpu, load))
                print(
                    f"rep {rep + 1} {name:8s} wall {wall:6.2f}s = {wall / ideal:.2f}x ideal, "
                    f"CPU {cpu * 1000 / args.sources:.2f} ms/source ({cpu:.2f}s), server {server_cpu:.2f}s, "
                    f"load {load:.2f}; {got.feeds} feeds ({got.body_bytes:,} bytes), "
                    f"{got.robots_404} robots.txt 404, {requests.value} requests"
                    + ("" if complete else f", {got.errors} errors: INCOMPLETE")
                )
        print("summary (median over repetitions; ratio = this path / threads in the same repetition):")
        base = rows["threads"]
        for name in names:
            walls = [w / ideal for w, _, _, _ in rows[name]]
            cpus = [c * 1000 / args.sources for _, c, _, _ in rows[name]]
            wall_ratio = [w / b[0] for (w, _, _, _), b in zip(rows[name], base, strict=True)]
            cpu_ratio = [
                c / b[1] if b[1] else float("nan") for (_, c, _, _), b in zip(rows[name], base, strict=True)
            ]
            print(
                f"  {name:8s} wall {statistics.median(walls):.2f}x ideal ({min(walls):.2f}-{max(walls):.2f}), "
                f"ratio {statistics.median(wall_ratio):.2f}; CPU {statistics.median(cpus):.2f} ms/source "
                f"({min(cpus):.2f}-{max(cpus):.2f}), ratio {statistics.median(cpu_ratio):.2f}"
            )
    finally:
        server.terminate()
        server.join(5)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
