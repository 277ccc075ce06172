"""All of veille's HTTP: the module that talks to the network. One fetch function that never
raises for network trouble (:func:`fetch`), a stream for a body too large to hold
(:func:`open_stream`), the connection pools (:class:`Client`), the deadline on a response's
status line and headers, and the reading of a response.

Every outcome comes back as a :class:`~monitors.collect.results.FetchResult` with a class, so
callers can tell a permanent failure (404, refused address, oversized or non-HTML body: record
once, do not retry) from a transient one (timeout, 5xx, 429: retry later with backoff). What is
no network I/O lives beside it, by what it owns: the result and its classifiers
(``results.py``), the network failures' reasons and kinds (``failures.py``), the address guard
(``addresses.py``), content codings (``codings.py``), politeness (``throttle.py``) and the meta
refresh (``refresh.py``).
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import http.client
import itertools
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.client import BadStatusLine, HTTPException, LineTooLong, RemoteDisconnected
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    LocationValueError,
    NewConnectionError,
    ProtocolError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from monitors.collect.addresses import PrivateAddress, RefusedAddress, Unresolvable, check_url_allowed
from monitors.collect.blocking import CHALLENGE_MAX_BYTES, block_reason
from monitors.collect.codings import Decoder, content_codings, undecodable
from monitors.collect.cookies import Jar, cookie_header, keep_cookies
from monitors.collect.failures import network_reason, network_said, unreached_kind
from monitors.collect.refresh import meta_refresh, refresh_refused
from monitors.collect.results import (
    CONNECT_TIMEOUT,
    DNS,
    HTML_TYPES,
    NO_ROUTE,
    NOT_ASKED,
    NOT_ASKED_AGAIN,
    NOT_SENT,
    PERMANENT,
    REFUSED,
    TLS_TIMEOUT,
    TRANSIENT,
    FetchResult,
    accepted_type,
)
from monitors.collect.robots import UNREACHABLE_TTL
from monitors.collect.throttle import HostThrottle, parse_retry_after
from monitors.errors import said
from monitors.settings import Settings

if TYPE_CHECKING:
    from monitors.collect.robots import RobotsCache

#: How a host that failed so is known to be gone for this run: its name did not resolve, it
#: refused the connection, no route led to it. Its other requests of the run are deferred
#: (``fetch``'s ``throttle``). A timeout is no such sign (a slow page is not a dead host).
DEAD_HOST = frozenset({DNS, REFUSED, NO_ROUTE})
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
#: Answers whose ``Retry-After`` puts the whole host on hold (``fetch``'s ``hold_host``; RFC
#: 9110: too many requests from this client, the service unavailable for that long)
HOLD_STATUSES = frozenset({429, 503})
MAX_REDIRECTS = 5
DRAIN_MAX_BYTES = 64 * 1024
#: http.client refuses an answer of more than 100 header lines ("got more than 100 headers");
#: sites send more (a Set-Cookie per tracker, long CSP and Link lists), so, as HTTPie and many
#: scrapers do, veille reads up to 1,000. Still bounded: 64 KiB a line, and the status line and
#: headers must come before VEILLE_FETCH_DEADLINE.
MAX_HEADERS = 1000
http.client._MAXHEADERS = max(http.client._MAXHEADERS, MAX_HEADERS)  # type: ignore[attr-defined]


class _Watchdog:
    """Shuts a socket down when its deadline passes. http.client reads a response's status
    line and headers with one timeout per read, so a server sending a byte every few seconds
    would hold the request past VEILLE_FETCH_DEADLINE for as long as it likes (100 header
    lines of 64 KiB); at the deadline the read in flight ends and the request fails.
    One thread for all requests, started when first needed."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._watched: dict[int, socket.socket] = {}
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cond:
            token = next(self._tokens)
            self._watched[token] = sock
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="veille-http-deadline", daemon=True)
                self._thread.start()
            self._cond.notify()
            return token

    def unwatch(self, token: int) -> bool:
        """Stop watching; False when the deadline came first (the socket was shut down)."""
        with self._cond:
            return self._watched.pop(token, None) is not None

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._watched:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                when, token = self._heap[0]
                left = when - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
                sock = self._watched.pop(token)
                with contextlib.suppress(OSError):  # the plain socket's: under TLS too
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):  # a forked child has no watchdog thread: it starts its own
    os.register_at_fork(after_in_child=_WATCHDOG._reset)
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("veille_http_deadline", default=None)


class _DeadlineMixin:
    """A connection whose wait for the response's status line and headers ends at the
    deadline :meth:`Client.open` was given (the body's reads are bounded by ``_read``)."""

    sock: socket.socket | None

    def getresponse(self) -> Any:
        deadline = _DEADLINE.get()
        if deadline is None or self.sock is None:
            return super().getresponse()  # type: ignore[misc]
        token = _WATCHDOG.watch(self.sock, deadline)
        late = TimeoutError("status line and headers still coming at the deadline")
        try:
            response = super().getresponse()  # type: ignore[misc]
        except Exception:
            if not _WATCHDOG.unwatch(token):  # what the shutdown broke is the deadline's doing
                raise late from None
            raise
        if not _WATCHDOG.unwatch(token):  # headers cut short by the shutdown are no response
            response.close()
            raise late
        return response


class _Connection(_DeadlineMixin, HTTPConnection):
    pass


class TLSHandshakeTimeout(ConnectTimeoutError):
    """A TCP connection accepted whose TLS handshake did not complete in time: no server
    answered the ClientHello (urllib3 reports it as a read timeout, as if a request had gone)."""


class _TLSConnection(_DeadlineMixin, HTTPSConnection):
    def connect(self) -> None:
        # urllib3 raises its own ConnectTimeoutError when the TCP connection takes too long; a
        # socket timeout out of connect() is the TLS handshake's
        try:
            super().connect()
        except TimeoutError as exc:
            raise TLSHandshakeTimeout(self, f"TLS handshake with {self.host} not completed in time") from exc


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class Client:
    """veille's HTTP connection pools: a urllib3 ``PoolManager`` with veille's User-Agent,
    timeouts, no retries and no redirects (``fetch`` follows them itself, checking each hop).

    urllib3 rather than httpx: less CPU per request, which is what a polling cycle over many
    feeds spends (bench/poll.py, alternating runs: the poller's CPU for a first cycle of 2,000
    requests went from 3.96-4.41 s to 2.96-3.40 s).
    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(self, settings: Settings) -> None:
        self.headers = {
            "User-Agent": settings.user_agent,
            "Accept-Language": "fr,en;q=0.8",
            "Accept-Encoding": "gzip, deflate",
        }
        self._pools = urllib3.PoolManager(
            num_pools=max(settings.concurrency * 2, 10),  # hosts whose connections are kept
            maxsize=max(1, settings.per_host_concurrency) + 1,  # kept per host (+1: robots.txt)
            block=False,
            timeout=urllib3.Timeout(connect=settings.timeout, read=settings.timeout),
            retries=False,
        )
        self._pools.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}

    def open(
        self,
        url: str,
        headers: dict[str, str],
        address: str | None = None,
        timeout: urllib3.Timeout | None = None,
        deadline: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send a GET and return the response with its body unread. With ``address``, connect
        to that IP, the URL's host going in the Host header, TLS SNI and certificate check.
        With ``deadline`` (a ``time.monotonic()`` value), a status line and headers still
        arriving then are cut off (a transient network error)."""
        reset = _DEADLINE.set(deadline)
        try:
            return self._open(url, headers, address, timeout)
        finally:
            _DEADLINE.reset(reset)

    def _open(
        self, url: str, headers: dict[str, str], address: str | None, timeout: urllib3.Timeout | None
    ) -> urllib3.BaseHTTPResponse:
        headers = {**self.headers, **headers}
        options: dict[str, Any] = {"preload_content": False, "decode_content": True, "redirect": False}
        if timeout is not None:
            options["timeout"] = timeout
        if address is None:
            return self._pools.request("GET", url, headers=headers, retries=False, **options)
        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme == "https"
        pool = self._pools.connection_from_host(
            address,
            parts.port or (443 if https else 80),
            parts.scheme,
            pool_kwargs={"server_hostname": host, "assert_hostname": host} if https else None,
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers["Host"] = parts.netloc.rpartition("@")[2]
        return pool.urlopen("GET", target, headers=headers, retries=False, **options)

    def close(self) -> None:
        self._pools.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_client(settings: Settings) -> Client:
    """A client with veille's User-Agent, timeouts and connection pools; no env proxies."""
    return Client(settings)


def refusal(url: str, final_url: str, exc: RefusedAddress, **extra: Any) -> FetchResult:
    """A fetch refused before its request (a URL veille must not go to), a permanent failure,
    marked when the address is only refused by ``VEILLE_ALLOW_PRIVATE_NETWORK``."""
    private = isinstance(exc, PrivateAddress)
    return FetchResult(
        url,
        final_url,
        "refused",
        error_class=PERMANENT,
        reason=str(exc),
        sent=False,
        private_address=private,
        **extra,
    )


def fetch(
    client: Client,
    url: str,
    settings: Settings,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: tuple[str, ...] | None = HTML_TYPES,
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
    extra_headers: dict[str, str] | None = None,
    truncate: bool = False,
    max_bytes: int | None = None,
    follow_refresh: bool = False,
    hold_host: bool = False,
) -> FetchResult:
    """GET ``url`` with conditional headers, redirects checked hop by hop, size capped.

    With a ``throttle``, each hop waits for its host's turn (per-host politeness); with
    ``robots``, each hop must be allowed by its site's robots.txt, whose Crawl-delay the
    throttle honours. ``accept=None`` takes any content type. ``extra_headers`` go with
    every hop (a ``Range`` for a WARC record). With ``truncate``, a body over
    ``VEILLE_MAX_BYTES`` is cut there and kept rather than refused (robots.txt: RFC 9309 lets
    a crawler ignore what lies past its parsing limit, not the rules before it). ``max_bytes``
    replaces ``VEILLE_MAX_BYTES`` as the cap (sitemaps: ``VEILLE_SITEMAP_MAX_BYTES``).
    With ``follow_refresh`` (articles), one HTML meta refresh is followed as a redirect
    (:func:`meta_refresh`): a hop like the others, checked and counted the same way.
    With ``hold_host`` (articles, sources) and a ``throttle``, a 429 or 503 with ``Retry-After`` puts
    its host on hold in the throttle for that long, and a hop to a host on hold is not asked
    (``held``): a rate-limited site's other pages (and feeds) were each asked in the same
    second, each answered 429, a page spending one of its attempts.
    With a ``throttle``, a host that did not resolve or refused the connection (:data:`DEAD_HOST`)
    is marked unreachable for :data:`~monitors.collect.robots.UNREACHABLE_TTL` seconds, and a hop
    to it is not asked (``held``, deferred): with no network, each of a host's pages was tried,
    each spending an attempt (and a backfill's fetch budget) on the same cause.
    """
    started = time.monotonic()
    deadline = started + settings.fetch_deadline
    headers: dict[str, str] = dict(extra_headers or {})
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    result: FetchResult
    visited = [url]  # each hop's URL: a meta refresh back to one is a loop
    refreshed = False
    sent: str | None = None  # the URL of the last request sent, the offline hint's (FetchResult.host)
    jar: Jar = {}  # the cookies its redirects set, sent on the later hops (monitors.collect.cookies)
    late = False  # the throttle gave the host's turn up: it comes after the deadline
    try:
        for _ in range(MAX_REDIRECTS + 1):
            dead = throttle.dead(current) if throttle is not None else None
            if dead is not None:  # unreachable earlier in this run: not asked again (DEAD_HOST)
                result = _dead(url, current, *dead)
                result.last_sent = sent
                break
            unresolved: Unresolvable | None = None
            try:
                address: str | None = check_url_allowed(current, settings.allow_private_network)
            except Unresolvable as exc:  # reported below, after robots.txt says why it failed too
                address, unresolved = None, exc
            crawl_delay = 0.0
            if robots is not None and settings.respect_robots:
                verdict = robots.check(client, current, settings, throttle)
                sent = verdict.fetched or sent
                if not verdict.allowed:
                    if verdict.unreached in DEAD_HOST and throttle is not None:
                        # the requests of a host wait for its robots.txt's fetch and learn at
                        # once that it failed: the first to mark the host is its try, the
                        # others are deferred
                        kind, why = verdict.unreached or DNS, verdict.reason or ""
                        if earlier := throttle.unreachable(current, UNREACHABLE_TTL, kind, why):
                            result = _dead(url, current, *earlier)
                            result.last_sent = sent
                            break
                    result = FetchResult(
                        url,
                        current,
                        "error" if verdict.transient else "skipped",
                        error_class=TRANSIENT if verdict.transient else PERMANENT,
                        reason=verdict.reason,
                        unreached=verdict.unreached,  # robots.txt's fetch reached no server
                    )
                    if not verdict.transient:  # disallowed: the page's request never went
                        result.sent, result.last_sent = False, sent
                    break
                crawl_delay = verdict.crawl_delay
            if unresolved is not None:
                raise unresolved
            if throttle is not None:
                taken = throttle.acquire(current, crawl_delay, deadline)
                if taken is None:
                    result = not_tried(url, settings, current)  # its turn at the host comes too late
                    result.last_sent, late = sent, True
                    break
                deadline = taken  # an archive's wait for a free slot is not counted in it
            try:
                on_hold = throttle.held(current) if hold_host and throttle is not None else None
                if on_hold is not None:  # checked in the host's slot: none asks it after the 429
                    result = _held(url, current, *on_hold)
                else:
                    cookie = cookie_header(jar, current)
                    result = _get_once(
                        client,
                        url,
                        current,
                        {**headers, "Cookie": cookie} if cookie else headers,
                        settings,
                        accept,
                        address,
                        deadline,
                        truncate,
                        max_bytes,
                    )
                    if (
                        hold_host
                        and throttle is not None
                        and result.status in HOLD_STATUSES
                        and result.retry_after
                    ):
                        why = f"HTTP {result.status} with Retry-After {result.retry_after:.0f} s"
                        throttle.hold(current, result.retry_after, why)
            finally:
                if throttle is not None:
                    throttle.release(current)
            if not result.sent:  # no time left for it
                result.last_sent = sent
            if result.outcome == "redirect":
                keep_cookies(jar, current, result.headers.get("set-cookie", ""))
                sent, current = current, result.final_url
                visited.append(current)
                continue
            refresh = meta_refresh(result) if follow_refresh else None
            if refresh is None or refresh.split("#", 1)[0] == current.split("#", 1)[0]:
                break  # no refresh, or a reload of this very page: the page is what it holds
            if failure := refresh_refused(refresh, current, visited, refreshed):
                result = FetchResult(
                    url, current, "error", result.status, error_class=PERMANENT, reason=failure
                )
                break
            sent, current, refreshed = current, refresh, True
            visited.append(current)
        else:
            result = FetchResult(  # the last redirect's target was not asked
                url,
                current,
                "error",
                error_class=PERMANENT,
                reason=too_many_redirects(visited),
                sent=False,
                last_sent=sent,
            )
    except RefusedAddress as exc:
        result = refusal(url, current, exc, last_sent=sent)
    except Unresolvable as exc:
        result = FetchResult(url, current, "error", error_class=TRANSIENT, reason=str(exc), unreached=DNS)
    if (
        result.outcome == "error"
        and result.error_class == TRANSIENT
        and (late or time.monotonic() >= deadline)
    ):
        host = urlsplit(result.final_url).netloc
        if result.sent:
            result.reason = (
                f"deadline: no complete answer from {host} within {settings.fetch_deadline:g} s "
                f"(VEILLE_FETCH_DEADLINE; {result.reason})"
            )
        else:  # the time went before the request did: its host was never asked
            result.reason = no_time_left(host, settings)
    if throttle is not None and result.unreached in DEAD_HOST and not result.held:
        # its name did not resolve, it refused the connection: its other requests of the run
        # are deferred rather than each spending a page's attempt (a fetch budget) on it
        throttle.unreachable(result.final_url, UNREACHABLE_TTL, result.unreached or "", result.reason or "")
    if result.sent_url is None and result.unreached is None:
        result.unreached = NOT_SENT  # no request went: no server was asked
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


def no_time_left(host: str, settings: Settings) -> str:
    """Why a request was not sent: ``VEILLE_FETCH_DEADLINE`` went before it could be."""
    return (
        f"deadline: no time left to ask {host}: the {settings.fetch_deadline:g} s of "
        "VEILLE_FETCH_DEADLINE went before its request (waiting for the host's turn, "
        "redirects, robots.txt); not tried"
    )


def not_tried(url: str, settings: Settings, current: str | None = None) -> FetchResult:
    """The result of a request whose turn at its host comes after the fetch's deadline
    (:meth:`HostThrottle.acquire` gave it up): transient, not sent, nothing waited for."""
    current = current or url
    reason = no_time_left(urlsplit(current).netloc, settings)
    return FetchResult(url, current, "error", error_class=TRANSIENT, reason=reason, sent=False)


def too_many_redirects(visited: list[str]) -> str:
    """Why a fetch stopped after :data:`MAX_REDIRECTS` hops, cause first: a loop (the last
    hop's target asked before: the site sends its reader round) or a long chain (none asked
    twice), with the chain's last URLs. "too many redirects" alone did not say which, and a
    loop is the site's fault (a cookie or consent check) where a chain may only be long."""
    *asked, target = visited
    shown = [u if len(u) <= 200 else u[:200] + "..." for u in visited[-4:]]
    chain = " -> ".join(["..."] * (len(visited) > 4) + shown)
    if target.split("#", 1)[0] in {u.split("#", 1)[0] for u in asked}:
        return f"too many redirects: a loop, {shown[-2]} redirects to {shown[-1]}, asked before ({chain})"
    return (
        f"too many redirects: a chain of more than {MAX_REDIRECTS} hops, no URL asked twice "
        f"({chain}, not asked)"
    )


class TooSlow(TimeoutError):
    """A stream whose server sends less than ``VEILLE_STREAM_MIN_RATE`` bytes a second over
    ``VEILLE_STREAM_RATE_WINDOW`` seconds of waiting for it (:class:`RateFloor`): a transient
    network failure, as a read timeout is."""


class RateFloor:
    """The least a stream must bring: ``rate`` bytes a second on average over each ``window``
    seconds spent waiting for the server (as curl's ``--speed-limit``/``--speed-time``).

    Each read is bounded by ``VEILLE_TIMEOUT``, the body as a whole by nothing: a server that
    trickles (a byte every few seconds) held its stream, and the web archive's request slot,
    for ever, and every other job of a backfill queued behind it. Only the time spent in
    reads counts: the caller's work on what it read (a batch committed) is not the server's
    slowness. A ``rate`` of 0 sets no floor."""

    def __init__(self, host: str, rate: float, window: float) -> None:
        self.host, self.rate, self.window = host, rate, window
        self._bytes = 0  # in the window so far
        self._waited = 0.0  # seconds spent in reads in the window so far

    @classmethod
    def of(cls, url: str, settings: Settings) -> RateFloor:
        return cls(urlsplit(url).netloc, settings.stream_min_rate, settings.stream_rate_window)

    def add(self, count: int, seconds: float) -> None:
        """Count a read of ``count`` bytes that took ``seconds``; raises :class:`TooSlow` at
        the end of a window whose average is under the rate."""
        if self.rate <= 0:
            return
        self._bytes += count
        self._waited += seconds
        if self._waited < self.window:
            return
        if self._bytes < self.rate * self._waited:
            raise TooSlow(
                f"too slow: {self.host} sent {self._bytes} bytes in {self._waited:.1f} s, under "
                f"{self.rate:g} B/s (VEILLE_STREAM_MIN_RATE over VEILLE_STREAM_RATE_WINDOW "
                f"{self.window:g} s)"
            )
        self._bytes, self._waited = 0, 0.0


class Stream:
    """The body of :func:`open_stream`'s response, read as :func:`fetch` reads one: a gzip or
    deflate body decoded by :class:`Decoder` (urllib3 reads the identity of ``gzip, identity``
    as deflate and fails: the stream was retried as cut), other codings by urllib3. Every read
    counts towards its :class:`RateFloor` (``floor``), which may raise :class:`TooSlow`."""

    def __init__(
        self, response: urllib3.BaseHTTPResponse, decoder: Decoder | None, floor: RateFloor | None = None
    ) -> None:
        self.response = response
        self.status = response.status
        self._decoder = decoder
        self._floor = floor
        self._decoded = bytearray()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left when ``size`` is negative); fewer
        only at its end."""
        while size < 0 or len(self._decoded) < size:
            # what has arrived, not a full block: a body sent a byte at a time meets the floor
            asked = time.monotonic()
            if self._decoder is None:
                chunk = self.response.read1(64 * 1024)
            else:
                chunk = self.response.read1(64 * 1024, decode_content=False)
            if self._floor is not None:
                self._floor.add(len(chunk), time.monotonic() - asked)
            if not chunk:
                break
            self._decoded += chunk if self._decoder is None else self._decoder.decode(chunk, sys.maxsize)
        end = len(self._decoded) if size < 0 else size
        data = bytes(self._decoded[:end])
        del self._decoded[:end]
        return data


@contextlib.contextmanager
def open_stream(
    client: Client,
    url: str,
    settings: Settings,
    *,
    throttle: HostThrottle | None = None,
    extra_headers: dict[str, str] | None = None,
) -> Iterator[tuple[FetchResult, Stream | None]]:
    """GET ``url`` for a body too large to hold (a WARC file of a gigabyte): the result (its
    status and headers, or why it failed, as :func:`fetch` says it) and, when it is a success,
    the body to read from (:class:`Stream`: decoded as fetch decodes one, although the request
    asks for no coding; one veille cannot decode is a permanent failure), each read bounded
    by ``VEILLE_TIMEOUT`` and the body by a floor on its rate (:class:`RateFloor`: a read
    under it raises :class:`TooSlow`), with no overall deadline (the status line and headers
    have ``VEILLE_FETCH_DEADLINE``) and no size cap. No redirect is followed. The request holds its
    throttle slot until the block ends (a stream is a request in flight); when its turn at the
    host comes after that deadline, it is not waited for: a transient failure, not sent, as
    :func:`fetch` gives."""
    headers = {"Accept-Encoding": "identity", **(extra_headers or {})}
    started = time.monotonic()
    response: urllib3.BaseHTTPResponse | None = None
    acquired = False
    try:
        try:
            address = check_url_allowed(url, settings.allow_private_network)
        except RefusedAddress as exc:
            yield refusal(url, url, exc, unreached=NOT_SENT), None
            return
        except Unresolvable as exc:
            yield FetchResult(url, url, "error", error_class=TRANSIENT, reason=str(exc), unreached=DNS), None
            return
        deadline = started + settings.fetch_deadline
        if throttle is not None:
            taken = throttle.acquire(url, deadline=deadline)
            if taken is None:  # its turn comes too late: not waited for
                late = not_tried(url, settings)
                late.unreached = NOT_SENT  # no server was asked
                yield late, None
                return
            acquired, deadline = True, taken  # the wait for a free archive slot is not counted
        timeout = urllib3.Timeout(connect=settings.timeout, read=settings.timeout)
        try:
            response = client.open(url, headers, address, timeout, deadline)
        except (Urllib3Error, OSError) as exc:
            yield _failure(url, url, exc), None
            return
        if response.status >= 300:
            try:
                result, _ = _read(response, url, url, settings, None, deadline)
            except (Urllib3Error, OSError) as exc:
                result = _failure(url, url, exc)
            if result.outcome == "redirect":
                reason = f"HTTP {response.status} redirect to {result.final_url} (not followed for a stream)"
                result = FetchResult(url, url, "error", response.status, error_class=PERMANENT, reason=reason)
            result.elapsed_ms = int((time.monotonic() - started) * 1000)
            yield result, None
            return
        hdrs = _headers(response)
        codings = content_codings(hdrs.get("content-encoding", ""))
        if not Decoder.supported(codings):
            yield undecodable(url, url, response.status, hdrs, codings, headers["Accept-Encoding"]), None
            return
        ok = FetchResult(url, url, "ok", response.status, headers=hdrs)
        ok.elapsed_ms = int((time.monotonic() - started) * 1000)
        yield ok, Stream(response, Decoder.of(codings), RateFloor.of(url, settings))
    finally:
        if response is not None:
            response.close()
            response.release_conn()
        if acquired and throttle is not None:
            throttle.release(url)


def _get_once(
    client: Client,
    url: str,
    current: str,
    headers: dict[str, str],
    settings: Settings,
    accept: tuple[str, ...] | None,
    address: str | None = None,
    deadline: float | None = None,
    truncate: bool = False,
    max_bytes: int | None = None,
) -> FetchResult:
    deadline = deadline if deadline is not None else time.monotonic() + settings.fetch_deadline
    left = deadline - time.monotonic()
    if left <= 0:
        return FetchResult(
            url, current, "error", error_class=TRANSIENT, reason="timeout: no time left", sent=False
        )
    timeout = urllib3.Timeout(connect=min(settings.timeout, left), read=min(settings.timeout, left))
    try:
        response = client.open(current, headers, address, timeout, deadline)
    except (Urllib3Error, OSError) as exc:
        return _failure(url, current, exc)
    consumed = False
    try:
        asked = next(
            (v for k, v in [*headers.items(), *client.headers.items()] if k.lower() == "accept-encoding"), ""
        )
        result, consumed = _read(
            response, url, current, settings, accept, deadline, truncate, max_bytes, asked
        )
        return result
    except (Urllib3Error, OSError) as exc:
        return _failure(url, current, exc)
    finally:
        # a connection goes back to its pool only with its body read to the end
        if not consumed:
            response.close()
        response.release_conn()


def _failure(url: str, current: str, exc: Exception) -> FetchResult:
    """A request that raised: timeouts and network trouble are transient, a URL urllib3
    cannot use or a body it cannot decode (bad gzip) permanent."""
    # urllib3's NewConnectionError (refused, DNS failure) subclasses its ConnectTimeoutError
    if isinstance(exc, Urllib3Timeout) and not isinstance(exc, NewConnectionError):
        host = urlsplit(current).netloc
        if isinstance(exc, TLSHandshakeTimeout):  # accepted, but no TLS server answered
            unreached: str | None = TLS_TIMEOUT
            what = "no TLS handshake (connection accepted) with"
        else:
            unreached = CONNECT_TIMEOUT if isinstance(exc, ConnectTimeoutError) else None
            what = "no connection to" if unreached else "no answer from"
        reason = f"timeout: {what} {host}"
        return FetchResult(url, current, "error", error_class=TRANSIENT, reason=reason, unreached=unreached)
    if isinstance(exc, LocationValueError):
        return FetchResult(url, current, "error", error_class=PERMANENT, reason=f"invalid URL: {said(exc)}")
    if isinstance(exc, DecodeError):
        reason = f"body could not be decoded: {network_said(exc)}"
        return FetchResult(url, current, "error", error_class=PERMANENT, reason=reason)
    # urllib3 wraps what http.client raised reading the status line and headers
    cause = exc.args[1] if isinstance(exc, ProtocolError) and len(exc.args) > 1 else None
    host = urlsplit(current).netloc
    if isinstance(cause, LineTooLong) or (type(cause) is HTTPException and "headers" in str(cause)):
        # the server's answer, each time: no retry will read it
        limits = f"{http.client._MAXHEADERS} headers, 64 KiB a line"  # type: ignore[attr-defined]
        reason = f"response from {host} over http.client's limits ({limits}): {cause}"
        return FetchResult(url, current, "error", error_class=PERMANENT, reason=reason)
    if type(cause).__name__ == "IncompleteRead":  # http.client's or urllib3's
        reason = f"body cut short: {host} closed the connection before its end ({cause})"
        return FetchResult(url, current, "error", error_class=TRANSIENT, reason=reason)
    if isinstance(cause, BadStatusLine) and not isinstance(cause, RemoteDisconnected):
        reason = f"not an HTTP response from {host}: status line {str(cause)[:80]!r}"
        return FetchResult(url, current, "error", error_class=TRANSIENT, reason=reason)
    reason = network_reason(exc, current)
    return FetchResult(
        url, current, "error", error_class=TRANSIENT, reason=reason, unreached=unreached_kind(exc)
    )


def _headers(response: urllib3.BaseHTTPResponse) -> dict[str, str]:
    """The response's headers, names in lowercase, values without NUL characters: PostgreSQL
    text cannot hold one, and a source's ``ETag`` or ``Last-Modified`` is stored with its poll
    (one with a NUL lost every poll of the source: "could not store this poll"). Several
    ``Set-Cookie`` lines are kept, one a line."""
    out = {k.lower(): v.replace("\x00", "") for k, v in response.headers.items()}
    cookies = response.headers.getlist("set-cookie")
    if len(cookies) > 1:
        out["set-cookie"] = "\n".join(c.replace("\x00", "") for c in cookies)
    return out


def _read(
    response: urllib3.BaseHTTPResponse,
    url: str,
    current: str,
    settings: Settings,
    accept: tuple[str, ...] | None,
    deadline: float,
    truncate: bool = False,
    max_bytes: int | None = None,
    asked: str = "",
) -> tuple[FetchResult, bool]:
    """The response as a result, and whether its body was read to the end (with
    ``truncate``, a body over the cap is its first ``max_bytes`` bytes, not an error; the cap
    is ``max_bytes``, else ``VEILLE_MAX_BYTES``). ``asked`` is the request's ``Accept-Encoding``."""
    cap = settings.max_bytes if max_bytes is None else max_bytes
    hdrs = _headers(response)
    status = response.status
    if status in {301, 302, 303, 307, 308} and "location" in hdrs:
        drained = _drain(response, hdrs)
        location = _location(hdrs["location"])
        try:
            target = urljoin(current, location)
        except ValueError as exc:
            reason = f"redirect to a malformed URL: {location!r} ({exc})"
            return FetchResult(url, current, "error", status, error_class=PERMANENT, reason=reason), drained
        return FetchResult(url, target, "redirect", status, headers=hdrs), drained
    if status == 304:
        drained = _drain(response, hdrs)
        return FetchResult(url, current, "not_modified", status, headers=hdrs), drained
    if 300 <= status < 400:
        # a redirect with no target (a proxy dropped its Location): its body is the server's
        # "Moved Permanently" stub, which was read as the page (stored as an article)
        drained = _drain(response, hdrs)
        reason = (
            f"HTTP {status} {response.reason or ''}".strip()
            + " without a Location header: no address to follow"
        )
        return FetchResult(
            url, current, "error", status, headers=hdrs, error_class=PERMANENT, reason=reason
        ), drained
    if status >= 400:
        page, drained = _peek(response, DRAIN_MAX_BYTES)
        transient = status in TRANSIENT_STATUSES
        blocked = block_reason(status, response.reason or "", hdrs, page)
        return FetchResult(
            url,
            current,
            "error",
            status,
            headers=hdrs,
            error_class=TRANSIENT if transient else PERMANENT,
            reason=blocked or f"HTTP {status} {response.reason or ''}".strip(),
            retry_after=parse_retry_after(hdrs.get("retry-after")),
            blocked=blocked is not None,
        ), drained
    ctype = hdrs.get("content-type", "").split(";")[0].strip().lower()
    if accept is not None and ctype and not accepted_type(ctype, accept):
        if ctype in HTML_TYPES:  # a challenge page where a feed or sitemap was expected?
            page, drained = _peek(response, CHALLENGE_MAX_BYTES)
            if blocked := block_reason(status, response.reason or "", hdrs, page):
                return _challenge(url, current, status, hdrs, blocked), drained
        return FetchResult(
            url,
            current,
            "skipped",
            status,
            headers=hdrs,
            error_class=PERMANENT,
            reason=f"content type {ctype} is not one veille reads here",
        ), False
    codings = content_codings(hdrs.get("content-encoding", ""))
    if not Decoder.supported(codings):
        return undecodable(url, current, status, hdrs, codings, asked), False
    declared = hdrs.get("content-length", "")
    if declared.isdigit() and int(declared) > cap and not truncate:
        return _too_large(url, current, status, hdrs, cap), False
    body = bytearray()
    complete = True
    decoder = Decoder.of(codings)
    while True:
        # what has arrived, not a full chunk: a body sent a byte at a time meets the deadline
        left = deadline - time.monotonic()
        if left <= 0:
            reason = f"timeout: body from {urlsplit(current).netloc} still coming at the deadline"
            return FetchResult(
                url, current, "error", status, headers=hdrs, error_class=TRANSIENT, reason=reason
            ), False
        _socket_timeout(response, min(settings.timeout, left))
        if decoder is None:
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
        else:
            raw = response.read1(64 * 1024, decode_content=False)
            if not raw:
                if cut := decoder.cut_short():
                    reason = f"body cut short: {urlsplit(current).netloc} sent {cut}; tried again later"
                    return FetchResult(
                        url, current, "error", status, headers=hdrs, error_class=TRANSIENT, reason=reason
                    ), True
                break
            chunk = decoder.decode(raw, cap - len(body) + 1)
        body.extend(chunk)
        if len(body) > cap:
            if not truncate:
                return _too_large(url, current, status, hdrs, cap), False
            del body[cap:]
            complete = False
            break
    small_html = len(body) <= CHALLENGE_MAX_BYTES and (not ctype or ctype in HTML_TYPES)
    if small_html and (blocked := block_reason(status, response.reason or "", hdrs, bytes(body))):
        return _challenge(url, current, status, hdrs, blocked), complete
    lies = (decoder.plain,) if decoder is not None and decoder.plain else ()
    return FetchResult(url, current, "ok", status, bytes(body), hdrs, transport=lies), complete


def _held(url: str, current: str, left: float, why: str) -> FetchResult:
    """A request not sent: its host is on hold ``left`` seconds more (:meth:`HostThrottle.hold`)."""
    host = urlsplit(current).netloc
    reason = f"{NOT_ASKED}{host} answered {why} to an earlier request; asked again after it"
    return FetchResult(
        url, current, "error", error_class=TRANSIENT, reason=reason, retry_after=left, sent=False, held=True
    )


def _dead(url: str, current: str, left: float, kind: str, why: str) -> FetchResult:
    """A request not sent: its host could not be reached earlier in this run
    (:meth:`HostThrottle.unreachable`), deferred as a host on hold is: no attempt spent. Its
    reason is the host's cause, then :data:`~monitors.collect.results.NOT_ASKED_AGAIN`."""
    result = _held(url, current, left, why)  # not sent, deferred: as a host on hold
    result.reason, result.unreached = f"{why}{NOT_ASKED_AGAIN}", kind
    return result


def _location(value: str) -> str:
    """A ``Location`` header's URL: its bytes read as UTF-8 when they are UTF-8. http.client
    reads header bytes as Latin-1, so a server that writes an accented path raw
    (``/actualité/``, as browsers and requests follow it) sent veille to ``/actualitÃ©/``, a
    404, and the article was lost as gone; bytes that are no UTF-8 stay Latin-1."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _challenge(url: str, current: str, status: int, hdrs: dict[str, str], reason: str) -> FetchResult:
    """A challenge page served with a success status: blocked, worth retrying later."""
    return FetchResult(
        url, current, "error", status, headers=hdrs, error_class=TRANSIENT, reason=reason, blocked=True
    )


def _peek(response: urllib3.BaseHTTPResponse, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of a body read for inspection (an error or challenge page), and
    whether that was all of it (then the connection can be reused). Decoded as :func:`_read`
    decodes a body (urllib3 reads the identity of ``gzip, identity`` as deflate, fails, and
    the page went unread)."""
    decoder = Decoder.of(content_codings(response.headers.get("content-encoding", "")))
    try:
        if decoder is None:
            data = response.read(limit + 1)
        else:
            out = bytearray()
            while len(out) <= limit and (raw := response.read1(64 * 1024, decode_content=False)):
                out += decoder.decode(raw, limit + 1 - len(out))
            data = bytes(out)
    except (Urllib3Error, OSError):
        return b"", False
    return data[:limit], len(data) <= limit


def _socket_timeout(response: urllib3.BaseHTTPResponse, seconds: float) -> None:
    """Bound the next read of the response's socket (urllib3 sets it again per request)."""
    sock = getattr(getattr(response, "_connection", None), "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(seconds, 0.001))


def _drain(response: urllib3.BaseHTTPResponse, hdrs: dict[str, str]) -> bool:
    """Read a small body nobody needs (error page, redirect, 304), so the connection can be
    reused: the next request to that host (the feed after its robots.txt, the target of a
    redirect) would otherwise open a new one. True when the body was read."""
    declared = hdrs.get("content-length", "")
    if response.status in {204, 304} or (declared.isdigit() and int(declared) <= DRAIN_MAX_BYTES):
        with contextlib.suppress(Urllib3Error, OSError):  # then the connection is just closed
            response.read()
            return True
    return False


def _too_large(url: str, current: str, status: int, hdrs: dict[str, str], cap: int) -> FetchResult:
    return FetchResult(
        url,
        current,
        "error",
        status,
        headers=hdrs,
        error_class=PERMANENT,
        reason=f"body larger than the {cap} byte cap",
    )
