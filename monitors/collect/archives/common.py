"""What every archive shares: the archives' names, a failed request (:class:`ArchiveError`),
a capture and a CDX page, the throttle per archive, GET with retries and backoff, CDX times.

All HTTP goes through :func:`monitors.collect.http.fetch`, with a throttle per archive (its delay is
the archive's rate limit) and retries with backoff for 5xx, timeouts and 429 (whose
``Retry-After`` is honoured). The CDX paging is ours rather than ``cdx_toolkit``'s: that
library sends its own requests (``requests``), around veille's HTTP module, politeness and
fetch log, and hides the page and resume key a job must store to resume.
"""

from __future__ import annotations

import dataclasses
import html
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlsplit

from monitors.collect.http import HOLD_STATUSES, Client, fetch
from monitors.collect.results import PERMANENT, TRANSIENT, FetchResult, empty_is_transient
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings

WAYBACK = "wayback"
COMMONCRAWL = "commoncrawl"
CCNEWS = "ccnews"
ARCHIVES = (WAYBACK, COMMONCRAWL, CCNEWS)
ARCHIVE_NAMES = {
    WAYBACK: "Internet Archive (Wayback Machine)",
    COMMONCRAWL: "Common Crawl",
    CCNEWS: "Common Crawl News (CC-NEWS)",
}
MAX_RETRY_AFTER = 600.0

Sleep = Callable[[float], None]
ListT = TypeVar("ListT")


class ArchiveError(Exception):
    """An archive request that failed for good (after its retries); the message says why,
    ``attempts`` holds every try (for the fetch log)."""

    def __init__(self, message: str, attempts: list[FetchResult] | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts or []


@dataclass(frozen=True)
class Capture:
    """One capture of a page in an archive."""

    archive: str
    original: str
    captured_at: datetime
    archived_url: str
    mime: str | None = None
    status: int | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None


@dataclass
class CdxPage:
    """One page of a CDX answer: its captures, the lines it could not read (with why), the
    cursor of the next page (``None`` when this was the last) and the requests it took."""

    captures: list[Capture] = field(default_factory=list)
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (line, reason)
    resume_key: str | None = None
    fetches: list[FetchResult] = field(default_factory=list)


def throttles(settings: Settings) -> dict[str, HostThrottle]:
    """One throttle per archive: ``VEILLE_ARCHIVE_CONCURRENCY`` requests in flight per archive
    host, starts at least the archive's delay apart (its rate limit). Requests queue for a
    slot, that wait outside their ``VEILLE_FETCH_DEADLINE`` (``queue``): a CC-NEWS stream holds
    one for a whole file, and a job waiting behind it is no sign of a slow archive."""
    per = max(1, settings.archive_concurrency)
    commoncrawl = HostThrottle(per, settings.commoncrawl_delay, queue=True)  # CC-NEWS: the same server
    wayback = HostThrottle(per, settings.wayback_delay, queue=True)
    return {WAYBACK: wayback, COMMONCRAWL: commoncrawl, CCNEWS: commoncrawl}


def backoff_delay(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """The wait before retry ``attempt + 1``: exponential with full jitter, never sooner than
    the archive's ``Retry-After``; both capped at :data:`MAX_RETRY_AFTER`, so many retries
    (``VEILLE_ARCHIVE_RETRIES=40``) wait ten minutes each at most, not 2**39 base seconds
    (and 1,024 or more no longer overflow a float)."""
    backoff = min(settings.archive_retry_base * 2.0 ** min(attempt, 64), MAX_RETRY_AFTER)
    return max(random.uniform(backoff / 2, backoff), min(retry_after or 0.0, MAX_RETRY_AFTER))


_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)


def html_is_transient(result: FetchResult) -> FetchResult:
    """A success whose body is an HTML page where the archive's data was expected (a CDX page,
    collinfo.json, a CC-NEWS file list, a WARC record's range), as a transient error naming the
    page: a busy archive or a proxy before it answers 200 with an error page, and read as the
    data its lines were malformed (the page skipped for good, its cursor moved on), its JSON
    unreadable or its record truncated (the capture failed for good)."""
    body = (result.content or b"").lstrip()
    if not result.ok or not body.startswith(b"<"):
        return result
    found = _TITLE.search(body[:8192])
    title = " ".join(html.unescape(found[1].decode("utf-8", "replace")).split())[:100] if found else ""
    return not_data(result, title)


def not_data(result: FetchResult, title: str = "") -> FetchResult:
    """``result``, an HTML page where the archive's data was expected, as a transient error
    naming it (:func:`html_is_transient`; a WARC file's stream answered with a page)."""
    host = urlsplit(result.final_url).netloc
    page = f"an HTML page ({title})" if title else "an HTML page"
    reason = f"not the archive's data: {host} sent HTTP {result.status} with {page}"
    return dataclasses.replace(result, outcome="error", error_class=TRANSIENT, reason=reason, content=None)


def wait_for_pause(throttle: HostThrottle | None, url: str, sleep: Sleep) -> None:
    """Wait out the pause the archive asked of this client (:func:`pause_asked`) before asking it."""
    held = throttle.held(url) if throttle is not None else None
    if held is not None:
        sleep(min(held[0], MAX_RETRY_AFTER))


def pause_asked(throttle: HostThrottle | None, result: FetchResult) -> None:
    """A 429 or 503 with ``Retry-After`` asks this client to leave the archive alone that long
    (at most :data:`MAX_RETRY_AFTER`): every job's requests wait, not just the one answered so
    (the Internet Archive blocks a client that keeps asking after its 429s)."""
    if throttle is not None and result.status in HOLD_STATUSES and result.retry_after:
        why = f"HTTP {result.status} with Retry-After {result.retry_after:.0f} s"
        throttle.hold(result.final_url, min(result.retry_after, MAX_RETRY_AFTER), why)


def archive_get(
    client: Client,
    url: str,
    settings: Settings,
    throttle: HostThrottle | None,
    *,
    accept: tuple[str, ...] | None = None,
    extra_headers: dict[str, str] | None = None,
    sleep: Sleep = time.sleep,
    empty_transient: bool = False,
    data: bool = False,
) -> list[FetchResult]:
    """GET from an archive, retrying transient failures (5xx, timeouts, 429; with
    ``empty_transient``, an empty 200 too; with ``data``, an HTML page where the archive's
    data was expected) with exponential backoff and full jitter, never sooner than the archive's
    ``Retry-After``; every attempt is returned (the last one is the outcome), for the fetch
    log."""
    attempts: list[FetchResult] = []
    for attempt in range(max(0, settings.archive_retries) + 1):
        wait_for_pause(throttle, url, sleep)
        result = fetch(client, url, settings, accept=accept, throttle=throttle, extra_headers=extra_headers)
        pause_asked(throttle, result)
        if empty_transient:
            result = empty_is_transient(result)
        if data:
            result = html_is_transient(result)
        attempts.append(result)
        if result.error_class != TRANSIENT or result.held or attempt >= settings.archive_retries:
            break  # a request not sent (its host unreachable earlier in the run) is deferred, not retried
        sleep(backoff_delay(settings, attempt, result.retry_after))
    return attempts


def ok_or_raise(attempts: list[FetchResult], what: str) -> FetchResult:
    """The last attempt when it succeeded, else :class:`ArchiveError` saying why (``what`` first)."""
    last = attempts[-1]
    if not last.ok:
        tries = f" after {len(attempts)} attempts" if len(attempts) > 1 else ""
        raise ArchiveError(f"{what}: {last.reason or last.outcome}{tries} ({last.url})", attempts)
    return last


def read_list(
    attempts: list[FetchResult], what: str, parse: Callable[[bytes], ListT]
) -> tuple[ListT, list[FetchResult]]:
    """An archive's answer (a list: ``collinfo.json``, a ``warc.paths.gz``; a CDX answer) read
    from the last attempt, and the attempts (for the fetch log); the :class:`ArchiveError` of
    one that failed holds them too, and of one answered but unreadable, them with the last
    one an error saying why (the fetch log shows why, not an ``ok``), of class ``permanent`` as
    an unreadable capture's (:mod:`~monitors.collect.archives.captures`) and a body that is no
    feed: asking again gets the same answer."""
    last = ok_or_raise(attempts, what)
    try:
        return parse(last.content or b""), attempts
    except ArchiveError as exc:
        unreadable = dataclasses.replace(last, outcome="error", error_class=PERMANENT, reason=str(exc))
        exc.attempts = [*attempts[:-1], unreadable]
        raise


def cdx_time(when: datetime) -> str:
    """A CDX timestamp (14 digits, UTC)."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_cdx_time(value: str) -> datetime:
    """A CDX timestamp (4 to 14 digits, UTC) as an aware datetime; ValueError if malformed."""
    if not value.isdigit() or not 4 <= len(value) <= 14:
        raise ValueError(f"bad timestamp {value!r}")
    padded = value + "0101000000"[len(value) - 4 :] if len(value) < 14 else value
    return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def http_url(value: object) -> str:
    """``value`` when it is an http(s) URL; ValueError if not."""
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


def json_failure(exc: BaseException) -> str:
    """Why an archive's JSON could not be read; json's own message, or for a document nested
    deeper than Python's recursion limit (which json.loads raises as RecursionError), that."""
    if isinstance(exc, RecursionError):
        return "nested too deep to read (RecursionError)"
    return str(exc)


def iso_time(value: object) -> datetime:
    """An ISO 8601 time (``Z`` for UTC) as an aware datetime, UTC when it names no zone;
    ValueError if malformed."""
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
