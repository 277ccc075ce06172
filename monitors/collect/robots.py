"""robots.txt: fetched once per site, cached in the process with a TTL, asked before each GET.

Follows RFC 9309: a robots.txt that answers 4xx means no rules (allow all); one that cannot
be reached (5xx, timeout) means disallow all for now, which the caller treats as a
transient failure; more than five redirects means no rules; one over ``VEILLE_MAX_BYTES`` is
read up to that size (the parsing limit, at least 500 KiB). ``Crawl-delay`` is returned so
the throttle can space requests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from monitors.collect.encoding import decode_utf8_text

if TYPE_CHECKING:
    from monitors.collect.http import Client
    from monitors.collect.results import FetchResult
    from monitors.collect.throttle import HostThrottle
    from monitors.settings import Settings

UNREACHABLE_TTL = 300.0


@dataclass(frozen=True)
class RobotsVerdict:
    allowed: bool
    crawl_delay: float = 0.0
    reason: str | None = None
    transient: bool = False  # robots.txt unreachable: try again later
    unreached: str | None = None  # its fetch reached no server: how (monitors.collect.results.UNREACHED)
    #: the URL of the last request robots.txt's fetch sent for this check, None when the rules
    #: came from the cache (or no request went): a request sent now, whose host it tells of
    fetched: str | None = None


@dataclass
class _Entry:
    expires: float
    parser: RobotFileParser | None  # None: no usable robots.txt, everything allowed
    unreachable: str | None = None
    unreached: str | None = None  # the fetch's FetchResult.unreached
    sent_url: str | None = None  # the fetch's FetchResult.sent_url


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class RobotsCache:
    """Per-origin robots.txt rules shared by every thread of the process. ``retry``: what
    follows a robots.txt that could not be fetched, in the fetch's reason: a run's fetch is
    tried again (the source's next poll, the page's next attempt); a ``veille sources check``
    stores nothing and tries nothing again, and says what a run would do."""

    def __init__(self, retry: str = "will retry") -> None:
        self.retry = retry
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._origin_locks: dict[str, threading.Lock] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def check(
        self, client: Client, url: str, settings: Settings, throttle: HostThrottle | None = None
    ) -> RobotsVerdict:
        """May veille's user agent fetch ``url``? Fetches robots.txt when not cached (in one
        of the ``throttle``'s request slots, when given)."""
        site = origin(url)
        entry, fresh = self._entry(client, site, settings, throttle)
        fetched = entry.sent_url if fresh else None
        if entry.unreachable:
            return RobotsVerdict(
                False,
                reason=f"{entry.unreachable} (robots.txt of {site} unreachable; {self.retry})",
                transient=True,
                unreached=entry.unreached,
                fetched=fetched,
            )
        if entry.parser is None:
            return RobotsVerdict(True, fetched=fetched)
        agent = settings.user_agent
        delay = entry.parser.crawl_delay(agent)
        delay_s = min(float(delay or 0.0), settings.max_crawl_delay)
        if not entry.parser.can_fetch(agent, url):
            return RobotsVerdict(False, delay_s, reason=f"disallowed by {site}/robots.txt", fetched=fetched)
        return RobotsVerdict(True, delay_s, fetched=fetched)

    def _entry(
        self, client: Client, site: str, settings: Settings, throttle: HostThrottle | None
    ) -> tuple[_Entry, bool]:
        """The site's rules, and whether they were fetched by this call (not the cache's)."""
        with self._lock:
            entry = self._entries.get(site)
            if entry is not None and entry.expires > time.monotonic():
                return entry, False
            lock = self._origin_locks.setdefault(site, threading.Lock())
        with lock:  # one fetch per site even when many threads ask at once
            with self._lock:
                entry = self._entries.get(site)
                if entry is not None and entry.expires > time.monotonic():
                    return entry, False
            entry = self._load(client, site, settings, throttle)
            with self._lock:
                self._entries[site] = entry
            return entry, True

    def _load(self, client: Client, site: str, settings: Settings, throttle: HostThrottle | None) -> _Entry:
        from monitors.collect.http import fetch

        # a robots.txt over VEILLE_MAX_BYTES is read up to it (RFC 9309 2.5: a parsing limit
        # of at least 500 KiB); refused as too large, it would have meant no rules at all
        if throttle is None:
            result = fetch(client, f"{site}/robots.txt", settings, accept=None, truncate=True)
        else:
            with throttle.slot():
                result = fetch(client, f"{site}/robots.txt", settings, accept=None, truncate=True)
        entry = self._rules(result, settings)
        entry.sent_url = result.sent_url
        return entry

    @staticmethod
    def _rules(result: FetchResult, settings: Settings) -> _Entry:
        """The cache entry a robots.txt fetch's result makes."""
        from monitors.collect.results import TRANSIENT

        now = time.monotonic()
        if result.ok:
            parser = RobotFileParser()
            content = result.content or b""
            text = decode_utf8_text(content)  # UTF-8 as RFC 9309 says, or what its BOM or NULs show
            if len(content) >= settings.max_bytes:  # cut at the cap: its last line may be half a rule
                text = text[: text.rfind("\n") + 1]
            parser.parse(text.splitlines())
            return _Entry(now + settings.robots_ttl, parser)
        if result.error_class == TRANSIENT:
            ttl = min(UNREACHABLE_TTL, settings.robots_ttl)
            return _Entry(now + ttl, None, result.reason or "error", result.unreached)
        return _Entry(now + settings.robots_ttl, None)  # 4xx, refused...: no rules apply


#: A check's words for a robots.txt it could not fetch: the check records nothing and asks
#: nothing again ("will retry" was a run's words), a run would.
CHECK_RETRY = "a check stores nothing; a run would try again"

ROBOTS = RobotsCache()
"""The process-wide cache (robots rules outlive one run's HTTP client)."""
