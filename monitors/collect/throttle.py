"""Politeness: requests in flight per host and in all, and the delay between two starts on a
host (:class:`HostThrottle`), and a server's ``Retry-After`` read as the seconds to wait."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from monitors.settings import Settings

#: A mark on a host, its monotonic end first (:meth:`HostThrottle.hold`, :meth:`HostThrottle.unreachable`)
_Mark = TypeVar("_Mark", bound=tuple[Any, ...])

#: the longest ``Retry-After`` honoured, in seconds: a day, the longest poll interval's default
#: (``VEILLE_MAX_POLL_INTERVAL``); a longer one is taken as a day
MAX_RETRY_AFTER = 86400.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), at most
    :data:`MAX_RETRY_AFTER`: a server's misprint (milliseconds, a timestamp, twenty digits)
    neither puts a page or a source to sleep for years nor overflows the date of its next try."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - (now or datetime.now(UTC))).total_seconds()), MAX_RETRY_AFTER)


class HostThrottle:
    """Politeness shared by all threads: at most ``per_host`` requests in flight per host, at
    least ``delay`` seconds between the starts of two requests to the same host and, with
    ``total``, at most ``total`` requests in flight in all (``VEILLE_CONCURRENCY``).

    The total is counted on requests, not threads: a polling thread that waits for its feed
    to be parsed holds no request slot, so parsing overlaps with the next requests.

    With ``queue`` (a web archive's throttle), a request waits for a free slot as long as it
    takes and that wait is not counted in its deadline (:meth:`acquire`): a CC-NEWS stream
    holds its slot for a whole WARC file, so the other jobs' requests could wait longer than
    ``VEILLE_FETCH_DEADLINE`` for one and were given up, spending attempts, though the
    archive was never slow. The turn (``delay``) still counts.
    """

    def __init__(self, per_host: int, delay: float, total: int = 0, queue: bool = False) -> None:
        self._per_host = max(1, per_host)
        self._delay = max(0.0, delay)
        self._queue = queue
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}
        self._total = threading.BoundedSemaphore(total) if total > 0 else None
        self._held: dict[str, tuple[float, str]] = {}  # host -> (monotonic end, why)
        self._dead: dict[str, tuple[float, str, str]] = {}  # host:port -> (monotonic end, kind, why)

    @classmethod
    def from_settings(cls, settings: Settings) -> HostThrottle:
        return cls(settings.per_host_concurrency, settings.per_host_delay, settings.concurrency)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``total`` request slots (robots.txt fetches, which have no
        per-host delay of their own)."""
        if self._total is None:
            yield
            return
        with self._total:
            yield

    def hold(self, url: str, seconds: float, why: str) -> None:
        """The host of ``url`` asked to be left alone ``seconds`` (a 429 or 503 with
        ``Retry-After``): :meth:`held` says so of its URLs until then."""
        host = self._host(url)
        end = time.monotonic() + max(0.0, seconds)
        with self._lock:
            if end > self._held.get(host, (0.0, ""))[0]:
                self._held[host] = (end, why)

    def held(self, url: str) -> tuple[float, str] | None:
        """Seconds left of the hold on the host of ``url``, and why (:meth:`hold`); None when
        there is none."""
        mark = self._left(self._held, self._host(url))
        return None if mark is None else (mark[0], mark[1][1])

    def unreachable(self, url: str, seconds: float, kind: str, why: str) -> tuple[float, str, str] | None:
        """The host of ``url`` could not be reached (``kind``: its name did not resolve, it
        refused the connection): :meth:`dead` says so of its URLs for ``seconds``. Keyed by
        host and port: one port of an address refusing says nothing of another's server.
        When another request marked it first, its mark stays and is returned (:meth:`dead`'s
        words), in the same step: of requests that learn it at once, one is the host's."""
        key = self._address(url)
        with self._lock:
            end, first_kind, first_why = self._dead.get(key, (0.0, "", ""))
            left = end - time.monotonic()
            if left > 0:  # the first cause stays: the one its other requests name
                return left, first_kind, first_why
            self._dead[key] = (time.monotonic() + max(0.0, seconds), kind, why)
            return None

    def dead(self, url: str) -> tuple[float, str, str] | None:
        """Seconds left of the mark on the host of ``url`` (:meth:`unreachable`), its kind and
        why; None when there is none."""
        mark = self._left(self._dead, self._address(url))
        return None if mark is None else (mark[0], mark[1][1], mark[1][2])

    def _left(self, marks: dict[str, _Mark], key: str) -> tuple[float, _Mark] | None:
        """Seconds left of the mark ``marks`` holds on ``key`` (a hold, a dead host: its
        monotonic end first), and the mark; None when there is none, an expired one dropped."""
        with self._lock:
            mark = marks.get(key)
            left = -1.0 if mark is None else mark[0] - time.monotonic()
            if mark is None or left <= 0:
                marks.pop(key, None)
                return None
        return left, mark

    @staticmethod
    def _address(url: str) -> str:
        parts = urlsplit(url)
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            port = 0
        return f"{(parts.hostname or '').lower()}:{port}"

    def _host(self, url: str) -> str:
        return (urlsplit(url).hostname or "").lower()

    def acquire(self, url: str, min_delay: float = 0.0, deadline: float | None = None) -> float | None:
        """Wait for the host's turn and take a request slot; once taken, the request's
        deadline (``deadline``, or ``math.inf`` without one), else None.

        With ``deadline`` (a :func:`time.monotonic` instant, the fetch's), give up and return
        None, holding nothing, as soon as it is known the request cannot start before it: its
        turn at the host comes at or after it (found before any sleep, and that turn is left
        to the next request), or no slot frees up by then. A fetch whose time runs out before
        its turn used to sleep the whole per-host delay only to report "no time left".
        With ``queue``, the wait for a free slot is neither bounded by the deadline nor
        counted in it: the deadline returned is ``deadline`` moved on by that wait."""
        host = self._host(url)
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self._per_host))
        taken = self._take(sem, math.inf if deadline is None else deadline)
        if taken is None:
            return None
        deadline = taken
        delay = max(self._delay, min_delay)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            late = start >= deadline
            if not late:
                self._next_start[host] = start + delay
        if late:
            sem.release()
            return None
        if start > now:
            time.sleep(start - now)
        if self._total is not None and (deadline := self._take(self._total, deadline)) is None:
            sem.release()
            return None
        return deadline

    def _take(self, sem: threading.BoundedSemaphore, deadline: float) -> float | None:
        """Acquire ``sem``: the deadline left (:meth:`acquire`'s), None when not by then."""
        if math.isinf(deadline):
            sem.acquire()
            return deadline
        if not self._queue:
            return deadline if sem.acquire(timeout=max(0.0, deadline - time.monotonic())) else None
        asked = time.monotonic()
        sem.acquire()
        return deadline + (time.monotonic() - asked)  # the wait for the slot is not counted

    def release(self, url: str) -> None:
        if self._total is not None:
            self._total.release()
        with self._lock:
            sem = self._sems.get(self._host(url))
        if sem is not None:
            sem.release()
