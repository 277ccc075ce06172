"""All of veille's HTTP: one fetch function that never raises for network trouble.

Every outcome comes back as a :class:`FetchResult` with a class, so callers can tell a
permanent failure (404, refused address, oversized or non-HTML body: record once, do not
retry) from a transient one (timeout, 5xx, 429: retry later with backoff).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import errno
import heapq
import http.client
import ipaddress
import itertools
import os
import re
import socket
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape as html_unescape
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
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    SSLError,
)
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.response import HTTPResponse

from monitors.collect.blocking import CHALLENGE_MAX_BYTES, block_reason
from monitors.settings import Settings

if TYPE_CHECKING:
    from monitors.collect.robots import RobotsCache

PERMANENT = "permanent"
TRANSIENT = "transient"
TRANSIENT_STATUSES = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
MAX_REDIRECTS = 5
#: the longest ``Retry-After`` honoured, in seconds: a day, the longest poll interval's default
#: (``VEILLE_MAX_POLL_INTERVAL``); a longer one is taken as a day
MAX_RETRY_AFTER = 86400.0
DRAIN_MAX_BYTES = 64 * 1024
#: http.client refuses an answer of more than 100 header lines ("got more than 100 headers");
#: sites send more (a Set-Cookie per tracker, long CSP and Link lists), so, as HTTPie and many
#: scrapers do, veille reads up to 1,000. Still bounded: 64 KiB a line, and the status line and
#: headers must come before VEILLE_FETCH_DEADLINE.
MAX_HEADERS = 1000
http.client._MAXHEADERS = max(http.client._MAXHEADERS, MAX_HEADERS)  # type: ignore[attr-defined]

HTML_TYPES = ("text/html", "application/xhtml+xml")
FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "application/x-rss+xml",
    "application/feed+json",
    "application/json",
    "text/plain",
    "text/html",  # some servers label feeds as HTML; the parser decides
    "application/octet-stream",
)


_XML_TYPE = re.compile(r"[a-z]+/(?:x-)?(?:[a-z0-9.-]+\+)?xml")
_JSON_TYPE = re.compile(r"[a-z]+/(?:x-)?(?:[a-z0-9.-]+\+)?json")


def accepted_type(ctype: str, accept: tuple[str, ...]) -> bool:
    """Is ``ctype`` (lowercase, no parameters) one of ``accept``? Where XML is accepted, so is
    any XML label (``text/rss+xml``, ``application/x-atom+xml``, ``text/x-xml``), likewise
    for JSON, and where ``application/octet-stream`` is, Amazon S3's ``binary/octet-stream``:
    the parser decides on the body, as it does for ``text/xml``."""
    if ctype in accept:
        return True
    if _XML_TYPE.fullmatch(ctype):
        return "application/xml" in accept
    if _JSON_TYPE.fullmatch(ctype):
        return "application/json" in accept
    return ctype == "binary/octet-stream" and "application/octet-stream" in accept


@dataclass
class FetchResult:
    """What one GET produced, success or not."""

    url: str
    final_url: str
    outcome: str  # ok | not_modified | error | refused | skipped
    status: int | None = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error_class: str | None = None  # permanent | transient
    reason: str | None = None
    retry_after: float | None = None
    elapsed_ms: int = 0
    blocked: bool = False  # refused as a bot: 401/403/429 or a challenge page (monitors.collect.blocking)
    #: the failure never reached a server: how (a key of :data:`UNREACHED`, or :data:`NOT_SENT`
    #: when the fetch sent no request at all), else None
    unreached: str | None = None
    #: False when the request for ``final_url`` was never sent: its address refused (private
    #: network), robots.txt disallowed it, or no time was left for it
    sent: bool = True
    #: with ``sent`` False, the URL of the last request the fetch did send (a redirect's, or
    #: the robots.txt fetched for this check), None when it sent none
    last_sent: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    @property
    def sent_url(self) -> str | None:
        """The URL of the last request the fetch sent, None when it sent none."""
        return self.final_url if self.sent else self.last_sent

    @property
    def host(self) -> str | None:
        """The host whose answer, or failure to answer (``unreached``), the fetch's last request
        says something of, as the offline hint counts hosts (:func:`host_of`); None when the
        fetch sent no request: a fetch never tried says nothing of its host."""
        return host_of(self.sent_url) if self.sent_url else None

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")

    @property
    def size(self) -> int:
        return len(self.content or b"")


def empty_is_transient(result: FetchResult) -> FetchResult:
    """A success with an empty body (or blanks only) where a document was expected (a feed,
    a sitemap, a listing, an article), as a transient error: a server that answers 200 with
    nothing is, as a rule, between two deploys or serving a cache entry gone wrong, and the
    same URL answers the next time. As a permanent failure the page was lost for good and a
    feed sent to discovery. mediacloud/rss-fetcher counts it a soft error, retried with backoff,
    as veille does timeouts and 5xx. robots.txt (empty: no rule) and the web archives' index
    answers (an empty CDX answer: no capture) are not read through this; a Wayback capture is
    (:func:`monitors.collect.archives.captures.fetch_capture`)."""
    if not result.ok or (result.content or b"").strip():
        return result
    host = urlsplit(result.final_url).netloc
    size = len(result.content or b"")
    what = "an empty body" if not size else f"a blank body ({size} bytes of whitespace)"
    reason = f"empty answer: {host} sent HTTP {result.status} with {what}; tried again later"
    return dataclasses.replace(result, outcome="error", error_class=TRANSIENT, reason=reason)


def home_is_gone(result: FetchResult) -> FetchResult:
    """An article's URL redirected to a home page (its site's, or a new domain's), as a
    permanent error: sites send a removed article's URL there, and the home page was stored as
    the article, its text the site's front page."""
    if not result.ok or result.final_url == result.url:
        return result
    final, first = urlsplit(result.final_url), urlsplit(result.url)
    if final.path not in {"", "/"} or final.query or first.path in {"", "/"}:
        return result
    reason = f"redirected to the home page {result.final_url}: the article is gone"
    return dataclasses.replace(result, outcome="error", error_class=PERMANENT, reason=reason, content=None)


class RefusedAddress(Exception):
    """The URL points somewhere veille must not go (private network, odd scheme)."""


class Unresolvable(Exception):
    """The URL's host does not resolve (transient: DNS may come back)."""


def check_url_allowed(url: str, allow_private: bool) -> str:
    """Refuse non-http(s) URLs and, unless allowed, any address that is not global (private,
    loopback, link-local, shared 100.64.0.0/10, reserved, multicast...). Returns the address
    to connect to: the host is resolved here, once, and the fetch connects to that address
    (no second lookup that DNS rebinding could answer differently)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is what raises for a bad one
    except ValueError as exc:
        raise RefusedAddress(f"refused: malformed URL ({exc})") from exc
    if parts.scheme not in {"http", "https"}:
        raise RefusedAddress(f"refused: scheme {parts.scheme or '(none)'!r} is not http(s)")
    host = parts.hostname
    if not host:
        raise RefusedAddress("refused: URL has no host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError) as exc:
            detail = getattr(exc, "strerror", None) or str(exc)
            raise Unresolvable(f"host {host} does not resolve (DNS: {detail})") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not allow_private:
        for addr in addresses:
            if not is_public(addr):
                raise RefusedAddress(
                    f"refused: {host} resolves to non-public address {addr} "
                    "(set VEILLE_ALLOW_PRIVATE_NETWORK=1 to allow)"
                )
    return str(addresses[0])


def is_public(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether veille may connect to ``addr``: a global unicast address (IPv4 inside IPv6
    judged as IPv4)."""
    if isinstance(addr, ipaddress.IPv6Address):
        inner = addr.ipv4_mapped or addr.sixtofour
        if inner is not None:
            addr = inner
    return addr.is_global and not addr.is_multicast


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
    try:
        for _ in range(MAX_REDIRECTS + 1):
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
                throttle.acquire(current, min_delay=crawl_delay)
            try:
                result = _get_once(
                    client, url, current, headers, settings, accept, address, deadline, truncate, max_bytes
                )
            finally:
                if throttle is not None:
                    throttle.release(current)
            if not result.sent:  # no time left for it
                result.last_sent = sent
            if result.outcome == "redirect":
                sent, current = current, result.final_url
                visited.append(current)
                continue
            refresh = meta_refresh(result) if follow_refresh else None
            if refresh is None or refresh.split("#", 1)[0] == current.split("#", 1)[0]:
                break  # no refresh, or a reload of this very page: the page is what it holds
            if failure := _refresh_refused(refresh, current, visited, refreshed):
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
                reason="too many redirects",
                sent=False,
                last_sent=sent,
            )
    except RefusedAddress as exc:
        result = FetchResult(
            url, current, "refused", error_class=PERMANENT, reason=str(exc), sent=False, last_sent=sent
        )
    except Unresolvable as exc:
        result = FetchResult(url, current, "error", error_class=TRANSIENT, reason=str(exc), unreached=DNS)
    if result.outcome == "error" and time.monotonic() >= deadline and result.error_class == TRANSIENT:
        host = urlsplit(result.final_url).netloc
        if result.sent:
            result.reason = (
                f"deadline: no complete answer from {host} within {settings.fetch_deadline:g} s "
                f"(VEILLE_FETCH_DEADLINE; {result.reason})"
            )
        else:  # the time went before the request did: its host was never asked
            result.reason = (
                f"deadline: no time left to ask {host}: the {settings.fetch_deadline:g} s of "
                "VEILLE_FETCH_DEADLINE went before its request (waiting for the host's turn, "
                "redirects, robots.txt); not tried"
            )
    if result.sent_url is None and result.unreached is None:
        result.unreached = NOT_SENT  # no request went: no server was asked
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    return result


#: The longest meta refresh delay followed, in seconds: a stub's "redirected in 5 seconds";
#: a page that reloads itself, or goes to the home page, after minutes is a page to read.
REFRESH_MAX_DELAY = 10.0
_REFRESH_HINT = re.compile(rb"http-equiv\s*=\s*[\"']?\s*refresh", re.I)
_REFRESH_TAG = re.compile(rb"<meta\b[^>]*?http-equiv\s*=\s*[\"']?\s*refresh\b[^>]*>", re.I)
_REFRESH_CONTENT = re.compile(rb"""\scontent\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
#: what a browser running scripts does not read: comments, and <noscript> (a "please enable
#: JavaScript" page that a refresh there leads to is no article)
_NOT_READ = re.compile(rb"<!--.*?-->|<noscript\b.*?</noscript\s*>", re.I | re.S)


def meta_refresh(result: FetchResult) -> str | None:
    """Where an HTML page's ``<meta http-equiv="refresh" content="0; url=...">`` sends a
    browser (the URL, resolved against the page's), when it does so within
    :data:`REFRESH_MAX_DELAY` seconds; None for any other page, or a refresh with no URL (a
    reload). Read as the HTML standard reads ``content``: a delay, then ``;`` or ``,``, an
    optional ``url=``, the URL, quoted or not."""
    body = result.content or b""
    if not result.ok or result.content_type not in {"", *HTML_TYPES} or not _REFRESH_HINT.search(body):
        return None
    for tag in _REFRESH_TAG.finditer(_NOT_READ.sub(b"", body)):
        content = _REFRESH_CONTENT.search(tag.group(0))
        if content is None:
            continue
        raw = next(g for g in content.groups() if g is not None)
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("cp1252", "replace")
        target = _refresh_url(html_unescape(value))
        if target is not None:
            try:
                return urljoin(result.final_url, target)
            except ValueError:
                return target  # refused as a malformed URL by the next hop's check
    return None


def _refresh_url(value: str) -> str | None:
    """The URL of a refresh's ``content`` when its delay is short enough, else None."""
    m = re.match(r"\s*(\d*)(?:\.[\d.]*)?", value)
    if m is None or not m.group(0).strip():
        return None
    if m.group(1) and int(m.group(1)) > REFRESH_MAX_DELAY:
        return None
    rest = value[m.end() :].lstrip(" \t\n\r\f")
    if rest[:1] in {";", ","}:
        rest = rest[1:].lstrip(" \t\n\r\f")
    if named := re.match(r"url\s*=\s*", rest, re.I):
        rest = rest[named.end() :]
    if rest[:1] in {"'", '"'}:
        rest = rest[1:].split(rest[0], 1)[0]
    rest = rest.strip()
    return rest or None


def _refresh_refused(target: str, current: str, visited: list[str], refreshed: bool) -> str | None:
    """Why a meta refresh from ``current`` to ``target`` is not followed (a permanent failure),
    or None: a URL that is not http(s), one fetched already (a loop), a second refresh."""
    try:
        scheme = urlsplit(target).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme not in {"http", "https"}:
        return f"meta refresh to a non-http URL: {current} refreshes to {target[:200]!r}"
    if target in visited:
        return f"meta refresh loop: {current} refreshes to {target}, already fetched"
    if refreshed:
        return f"meta refresh again: {current} refreshes to {target} (veille follows one meta refresh)"
    return None


class Stream:
    """The body of :func:`open_stream`'s response, read as :func:`fetch` reads one: a gzip or
    deflate body decoded by :class:`_Decoder` (urllib3 reads the identity of ``gzip, identity``
    as deflate and fails: the stream was retried as cut), other codings by urllib3."""

    def __init__(self, response: urllib3.BaseHTTPResponse, decoder: _Decoder | None) -> None:
        self.response = response
        self.status = response.status
        self._decoder = decoder
        self._decoded = bytearray()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the body (all that is left when ``size`` is negative); fewer
        only at its end."""
        if self._decoder is None:
            return self.response.read(size)
        while size < 0 or len(self._decoded) < size:
            raw = self.response.read1(64 * 1024, decode_content=False)
            if not raw:
                break
            self._decoded += self._decoder.decode(raw, sys.maxsize)
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
    by ``VEILLE_TIMEOUT`` but with no overall deadline (the status line and headers have
    ``VEILLE_FETCH_DEADLINE``) and no size cap. No redirect is followed. The request holds its
    throttle slot until the block ends (a stream is a request in flight)."""
    headers = {"Accept-Encoding": "identity", **(extra_headers or {})}
    started = time.monotonic()
    response: urllib3.BaseHTTPResponse | None = None
    acquired = False
    try:
        try:
            address = check_url_allowed(url, settings.allow_private_network)
        except RefusedAddress as exc:
            refused = FetchResult(
                url, url, "refused", error_class=PERMANENT, reason=str(exc), sent=False, unreached=NOT_SENT
            )
            yield refused, None
            return
        except Unresolvable as exc:
            yield FetchResult(url, url, "error", error_class=TRANSIENT, reason=str(exc), unreached=DNS), None
            return
        if throttle is not None:
            throttle.acquire(url)
            acquired = True
        timeout = urllib3.Timeout(connect=settings.timeout, read=settings.timeout)
        try:
            response = client.open(url, headers, address, timeout, started + settings.fetch_deadline)
        except (Urllib3Error, OSError) as exc:
            yield _failure(url, url, exc), None
            return
        if response.status >= 300:
            try:
                result, _ = _read(response, url, url, settings, None, started + settings.fetch_deadline)
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
        if not _Decoder.supported(codings):
            yield _undecodable(url, url, response.status, hdrs, codings, headers["Accept-Encoding"]), None
            return
        ok = FetchResult(url, url, "ok", response.status, headers=hdrs)
        ok.elapsed_ms = int((time.monotonic() - started) * 1000)
        yield ok, Stream(response, _Decoder.of(codings))
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
        return FetchResult(url, current, "error", error_class=PERMANENT, reason=f"invalid URL: {exc}")
    if isinstance(exc, DecodeError):
        reason = f"body could not be decoded: {_describe(exc)}"
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
    (one with a NUL lost every poll of the source: "could not store this poll")."""
    return {k.lower(): v.replace("\x00", "") for k, v in response.headers.items()}


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
        try:
            target = urljoin(current, hdrs["location"])
        except ValueError as exc:
            reason = f"redirect to a malformed URL: {hdrs['location']!r} ({exc})"
            return FetchResult(url, current, "error", status, error_class=PERMANENT, reason=reason), drained
        return FetchResult(url, target, "redirect", status), drained
    if status == 304:
        drained = _drain(response, hdrs)
        return FetchResult(url, current, "not_modified", status, headers=hdrs), drained
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
    if not _Decoder.supported(codings):
        return _undecodable(url, current, status, hdrs, codings, asked), False
    declared = hdrs.get("content-length", "")
    if declared.isdigit() and int(declared) > cap and not truncate:
        return _too_large(url, current, status, hdrs, cap), False
    body = bytearray()
    complete = True
    decoder = _Decoder.of(codings)
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
    return FetchResult(url, current, "ok", status, bytes(body), hdrs), complete


#: the first two bytes of every gzip member (RFC 1952)
GZIP_MAGIC = b"\x1f\x8b"


def content_codings(header: str) -> list[str]:
    """The codings a ``Content-Encoding`` header names, in the order applied, lower case,
    without ``identity`` (no coding: ``gzip, identity`` is gzip) and empty items."""
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and c != "identity"]


def _undecodable(
    url: str, current: str, status: int, hdrs: dict[str, str], codings: list[str], asked: str
) -> FetchResult:
    """A body in a coding veille cannot decode (brotli, zstd: not installed), sent although the
    request asked for ``asked`` (its ``Accept-Encoding``: gzip or deflate, identity for a WARC
    file or range): a permanent failure (the server answers the same way next time), not its
    compressed bytes stored and extracted as a page, or read as a WARC file."""
    host = urlsplit(current).netloc
    reason = (
        f"unsupported content-encoding: {', '.join(codings)}: {host} compressed its answer in a way "
        f"veille cannot decode (it asked for {asked})"
    )
    return FetchResult(url, current, "error", status, headers=hdrs, error_class=PERMANENT, reason=reason)


class _Decoder:
    """A gzip or deflate body (``Content-Encoding``) decoded here rather than by urllib3, to
    know whether its compressed stream came whole: urllib3, as zlib, gives what a stream that
    stops before its end holds as if it were all (a server or proxy that compresses on the fly
    and fails midway still ends the chunked body properly, or sends the Content-Length of what
    it sent), and the article was stored with its text cut. Two codings (``deflate, gzip``) are
    left to urllib3, as one it decodes and veille does not (``br`` with brotli installed); one
    neither decodes is refused before the body is read (:func:`_undecodable`). Bad data is
    urllib3's :class:`DecodeError`, as it was (a permanent failure: "body could not be decoded")."""

    ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}

    @classmethod
    def supported(cls, codings: list[str]) -> bool:
        """Whether veille or urllib3 decodes each of ``codings`` (:func:`content_codings`)."""
        return all(c in cls.ENCODINGS or c in HTTPResponse.CONTENT_DECODERS for c in codings)

    @classmethod
    def of(cls, codings: list[str]) -> _Decoder | None:
        """The decoder for a body in ``codings`` (:func:`content_codings`); None when it is in
        none, or urllib3 decodes it (two codings, or one veille does not)."""
        return cls(codings[0]) if len(codings) == 1 and codings[0] in cls.ENCODINGS else None

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._obj = zlib.decompressobj(self.ENCODINGS[encoding])
        self._received = 0
        self._raw = False  # "deflate" sent as raw deflate, without zlib's header (urllib3 reads it)
        self._members = 0  # gzip members after the first (a stream may hold several)
        self._member_out = 0  # bytes the current member gave
        self._head = b""  # the first bytes (two at most) of the member after the first in progress
        self._trailer = False  # data after a whole gzip stream that is no gzip member: ignored

    def decode(self, data: bytes, room: int) -> bytes:
        """What ``data`` decodes to, at most ``room`` bytes (more means the body is over its
        cap: what is left is not decoded, a gzip bomb never expands in memory)."""
        first = self._received == 0
        self._received += len(data)
        out = bytearray()
        while data and not self._trailer and len(out) < room:
            if self._members and len(self._head) < 2:
                self._head += data[: 2 - len(self._head)]
            try:
                got = self._obj.decompress(data, room - len(out))
            except zlib.error as exc:
                if first and not out and self.encoding == "deflate" and not self._raw:
                    self._raw, self._obj = True, zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                if self._members:  # junk after a whole gzip member, ignored as urllib3 does
                    self._trailer = True
                    break
                raise DecodeError(f"{self.encoding} data is corrupt: {exc}") from exc
            out += got
            self._member_out += len(got)
            data = b""
            if self._obj.eof and self._obj.unused_data and self.encoding != "deflate":
                data, self._members, self._member_out = self._obj.unused_data, self._members + 1, 0
                self._head = b""
                self._obj = zlib.decompressobj(self.ENCODINGS[self.encoding])
        return bytes(out)

    def cut_short(self) -> str | None:
        """Why the body, all of it received, is no whole compressed stream; None when it is (or
        when what stops early after a whole gzip member starts no member: padding, a zero or a
        newline too short for zlib to refuse). A member after the first is one from its magic
        bytes (``1f 8b``, or its ``1f`` alone): one cut before giving a byte is cut all the same."""
        if self._received == 0 or self._trailer or self._obj.eof:
            return None
        if self._members and not self._member_out and not GZIP_MAGIC.startswith(self._head):
            return None
        return (
            f"a {self.encoding} body whose compressed stream stops before its end "
            f"({self._received} bytes, all that its HTTP framing announced)"
        )


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
    decoder = _Decoder.of(content_codings(response.headers.get("content-encoding", "")))
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


def _describe(exc: BaseException) -> str:
    """An exception as a reason: its message, without urllib3's object addresses and
    connection prefixes (``HTTPConnection(host='x', port=80): ``)."""
    text = str(exc) or type(exc).__name__
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>: ", "", text)
    return re.sub(r"^\w*Connection(?:Pool)?\(host='[^']*', port=\d+\): ", "", text)


def network_reason(exc: BaseException, url: str) -> str:
    """A network failure as a reason that starts with its cause: ``host x does not resolve``,
    ``connection refused by x``, then the details (errno text), never the other way round."""
    host = urlsplit(url).netloc
    text = _describe(exc)
    errno_text = re.search(r"\[Errno -?\d+\] ([^)\]]+)", text)
    detail = errno_text.group(1).strip() if errno_text else text
    if isinstance(exc, NameResolutionError) or "Failed to resolve" in text:
        return f"host {urlsplit(url).hostname} does not resolve (DNS: {detail})"
    if "Connection refused" in text:
        return f"connection refused by {host}"
    if "Connection reset" in text or "RemoteDisconnected" in text:
        return f"connection reset by {host} ({detail})"
    if isinstance(exc, SSLError) or "SSL" in text:
        return f"TLS error with {host}: {text}"
    return f"network: {text}"


def unreached_kind(exc: BaseException) -> str | None:
    """How a request that raised ``exc`` failed to reach a server (a key of :data:`UNREACHED`),
    from the exception's type and errno, not its words; None when a connection was made (a
    reset, a TLS error, a bad answer: a server was there)."""
    if isinstance(exc, NameResolutionError):
        return DNS
    if not isinstance(exc, NewConnectionError):
        return None
    cause = exc.__cause__  # urllib3 raises it from the OSError of connect()
    if isinstance(cause, ConnectionRefusedError):
        return REFUSED
    if isinstance(cause, OSError) and cause.errno in _NO_ROUTE:
        return NO_ROUTE
    return None


DNS, REFUSED, CONNECT_TIMEOUT, NO_ROUTE = "dns", "refused", "connect-timeout", "no-route"
TLS_TIMEOUT = "tls-timeout"
#: The ways a fetch fails before reaching a server (:attr:`FetchResult.unreached`, the
#: ``unreached`` column of ``fetch_log``), and what each says of the host. A TLS handshake
#: that never completes reached no HTTPS server either: something took the TCP connection (a
#: captive portal, a filtering proxy or firewall does so for every host) but nothing answered.
UNREACHED = {
    DNS: "did not resolve",
    REFUSED: "refused the connection",
    CONNECT_TIMEOUT: "took no connection in time",
    NO_ROUTE: "was unreachable",
    TLS_TIMEOUT: "accepted the connection but completed no TLS handshake in time",
}


#: A fetch that sent no request at all (:attr:`FetchResult.host` None): its address refused
#: (``VEILLE_ALLOW_PRIVATE_NETWORK``), robots.txt's rules from the cache disallowing it, or
#: ``VEILLE_FETCH_DEADLINE`` spent before its request went (waiting for its host's turn: a
#: per-host or crawl delay). No server was asked, so it says nothing of its host or the network:
#: not a key of :data:`UNREACHED`, and the offline hints leave it out. NULL in ``fetch_log`` says
#: a server answered one of the fetch's requests (a redirect's first hop, the robots.txt fetched).
NOT_SENT = "not-sent"


def host_of(url: str) -> str:
    """The server a URL's fetch goes to, as the offline hint counts hosts: its ``host:port``
    (lower case, without user info), the same in ``monitors.archive.queue``'s SQL."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


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


class HostThrottle:
    """Politeness shared by all threads: at most ``per_host`` requests in flight per host, at
    least ``delay`` seconds between the starts of two requests to the same host and, with
    ``total``, at most ``total`` requests in flight in all (``VEILLE_CONCURRENCY``).

    The total is counted on requests, not threads: a polling thread that waits for its feed
    to be parsed holds no request slot, so parsing overlaps with the next requests.
    """

    def __init__(self, per_host: int, delay: float, total: int = 0) -> None:
        import threading

        self._per_host = max(1, per_host)
        self._delay = max(0.0, delay)
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}
        self._total = threading.BoundedSemaphore(total) if total > 0 else None

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

    def _host(self, url: str) -> str:
        return (urlsplit(url).hostname or "").lower()

    def acquire(self, url: str, min_delay: float = 0.0) -> None:
        import threading

        host = self._host(url)
        with self._lock:
            sem = self._sems.setdefault(host, threading.BoundedSemaphore(self._per_host))
        sem.acquire()
        delay = max(self._delay, min_delay)
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, 0.0))
            self._next_start[host] = start + delay
        if start > now:
            time.sleep(start - now)
        if self._total is not None:
            self._total.acquire()

    def release(self, url: str) -> None:
        if self._total is not None:
            self._total.release()
        with self._lock:
            sem = self._sems.get(self._host(url))
        if sem is not None:
            sem.release()
