"""Feed parsing off the polling threads' GIL: a small pool of worker processes.

feedparser is pure Python (about 6 ms of CPU for a 10-entry feed), so sixteen polling
threads parsing in one process queue up behind the GIL. They hand the body to
``VEILLE_PARSE_WORKERS`` processes instead (bytes in, plain entries out); 0 parses in the
calling thread. A pool that breaks (a worker killed) is replaced and the feed is parsed
in the thread, so a poll never fails because of the pool.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from monitors.feeds import ParsedFeed, parse_feed

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_workers = 0


def _get_pool(workers: int) -> ProcessPoolExecutor:
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=False)
            # spawn, not fork: the parent runs threads (HTTP, database pools, Prefect).
            _pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            _pool_workers = workers
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def start_parsers(workers: int) -> None:
    """Start the worker processes now (they take a moment to import feedparser), so the
    first feeds of a poll do not wait for them."""
    if workers > 0:
        pool = _get_pool(workers)
        for _ in range(workers):
            pool.submit(int)


def shutdown_parsers() -> None:
    """Stop the worker processes (they also stop when the interpreter exits)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


def parse_feed_pooled(content: bytes, base_url: str, content_type: str | None, workers: int) -> ParsedFeed:
    """:func:`monitors.feeds.parse_feed` in a worker process (in this thread with 0
    workers); raises :class:`monitors.feeds.FeedError` the same way."""
    if workers <= 0:
        return parse_feed(content, base_url, content_type)
    pool = _get_pool(workers)
    try:
        return pool.submit(parse_feed, content, base_url, content_type).result()
    except BrokenProcessPool:
        _discard(pool)
        return parse_feed(content, base_url, content_type)
