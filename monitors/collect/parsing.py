"""Feed parsing off the polling threads' GIL, in the worker processes of :mod:`monitors.workers`.

Parsing is Python under the GIL (feedparser about 3 ms of CPU for a 10-entry feed, the RSS
2.0 fast path of :mod:`monitors.collect.rss_fast` about 0.8 ms), so sixteen polling threads
parsing in one process queue up behind it. They hand the body to the
``VEILLE_PARSE_WORKERS`` processes instead (bytes in, plain entries out), the same ones that
analyse pages; 0 parses in the calling thread. A worker that dies or runs past the deadline
is replaced, and that feed's poll is a transient error saying so: parsing it again here, as
before, ran a body that had killed a worker twice in the polling process itself (the whole run
at stake), or held the GIL another minute with no deadline, every polling thread waiting. A
feed is parsed here only when no worker could start or its result could not come back.
"""

from __future__ import annotations

from monitors.collect.feeds import FeedError, ParsedFeed, parse_feed
from monitors.workers import (
    CallKilledWorker,
    WorkerDied,
    WorkerResultError,
    WorkerTimeout,
    get_pool,
    shutdown_workers,
    start_workers,
)

#: Seconds a worker may spend on one feed (feedparser takes milliseconds).
PARSE_DEADLINE = 60.0


def start_parsers(workers: int) -> None:
    """Start the worker processes now (they take a moment to load), so the first feeds of a
    poll do not wait for them."""
    start_workers(workers)


def shutdown_parsers() -> None:
    """Stop the worker processes (they also stop when the interpreter exits)."""
    shutdown_workers()


def parse_feed_pooled(content: bytes, base_url: str, content_type: str | None, workers: int) -> ParsedFeed:
    """:func:`monitors.collect.feeds.parse_feed` in a worker process (in this thread with 0
    workers); raises :class:`monitors.collect.feeds.FeedError` the same way."""
    if workers <= 0:
        return parse_feed(content, base_url, content_type)
    size = f"{len(content):,} bytes"
    try:
        return get_pool(workers).call(parse_feed, (content, base_url, content_type), PARSE_DEADLINE)
    except WorkerTimeout as exc:
        took = f"parsing this feed ({size}) took over {PARSE_DEADLINE:g} s; its worker process was stopped"
        raise FeedError(took, transient=True) from exc
    except CallKilledWorker as exc:
        raise FeedError(
            f"parsing this feed ({size}) killed its worker process: {exc}", transient=True
        ) from exc
    except (WorkerDied, WorkerResultError):  # no worker could start, or the answer was lost
        return parse_feed(content, base_url, content_type)
