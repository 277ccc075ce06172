"""Polling stage: one source in, the entries it lists out (no database here).

Three kinds: ``feed`` (RSS 2.0, RSS 1.0/RDF, Atom, JSON Feed 1.0/1.1), ``sitemap`` (index, gzipped, Google
News; only URLs dated within the window), ``listing`` (an HTML page of article links).
A feed that fails for good triggers feed discovery on its site; the result is a suggestion.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from monitors.collect.blocking import BLOCKED
from monitors.collect.discovery import discover_feeds
from monitors.collect.feeds import FeedEntry, FeedError, bad_dates_note
from monitors.collect.http import Client, fetch
from monitors.collect.listing import find_article_links
from monitors.collect.parsing import parse_feed_pooled, start_parsers
from monitors.collect.results import (
    FEED_TYPES,
    HTML_TYPES,
    PERMANENT,
    TRANSIENT,
    FetchResult,
    empty_is_transient,
    wall_in_the_way,
)
from monitors.collect.robots import RobotsCache
from monitors.collect.sitemaps import SITEMAP_TYPES, SitemapError, SitemapUrl, parse_sitemap
from monitors.collect.throttle import HostThrottle
from monitors.dates import FUTURE_SLACK
from monitors.errors import describe
from monitors.not_found import soft_404
from monitors.settings import Settings, stopped_at_budget

#: the warning of a poll of a feed that says it is finished (a JSON Feed's ``"expired": true``)
EXPIRED = (
    'the feed says it is finished ("expired": true): it will not update again;'
    " disable the source or find its new feed"
)
MAX_CHILD_SITEMAPS = 20
MAX_SITEMAP_DEPTH = 2
# A child sitemap read at least this long after its lastmod is taken as unchanged since: the
# read time is when the fetch was logged, a little after the request.
READ_MARGIN = timedelta(minutes=15)
REDISCOVER_AFTER = timedelta(days=7)
POLL_BATCH = 50  # sources stored per transaction (and polled per Prefect task)
T = TypeVar("T")


@dataclass(frozen=True)
class SourceState:
    """What the poller needs to know of a source."""

    id: int
    name: str
    kind: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    link_pattern: str | None = None
    suggestion_checked_at: datetime | None = None
    fallback_url: str | None = None
    fallback_kind: str | None = None
    use_fallback: bool = False  # on the fallback already: poll it instead of the primary URL
    fallback_now: bool = False  # if the primary fails for good on this poll, try the fallback
    # child sitemap URL -> when a poll last read it (fetch_log): one unchanged since is not read again
    sitemaps_read: dict[str, datetime] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class PollOutcome:
    source_id: int
    fetch: FetchResult
    entries: list[FeedEntry] = field(default_factory=list)
    warning: str | None = None  # partial success, e.g. a malformed feed that still had entries
    error_class: str | None = None
    error: str | None = None
    language: str | None = None  # what the feed declares (<language>, xml:lang), as written
    kind: str = "feed"
    extra_fetches: list[FetchResult] = field(default_factory=list)  # sitemap children, discovery
    declared_interval: int | None = None  # seconds, from the feed's ttl / sy:updatePeriod
    suggested_feeds: dict[str, Any] | None = None  # discovery result, for a person to review
    ignored: int = 0  # sitemap URLs left out: older than the window or undated
    unread: int = 0  # child sitemaps a backfill left unread: its fetch budget was spent
    via_fallback: bool = False  # the entries (or the error) come from the source's fallback URL
    primary: PollOutcome | None = None  # the primary URL's failed poll, when it led to the fallback

    @property
    def fails_for_good(self) -> bool:
        """Blocked, or a permanent failure: what a fallback is for."""
        return self.error_class in {BLOCKED, PERMANENT}

    @property
    def not_modified(self) -> bool:
        return self.fetch.outcome == "not_modified"


def poll_threads(settings: Settings) -> int:
    """Polling threads: one per request slot (``VEILLE_CONCURRENCY``, enforced by
    :class:`~monitors.collect.throttle.HostThrottle`) plus half as many again, which parse a feed, read a
    sitemap or wait for a parse worker while holding no request slot, so the slots stay busy
    with requests. bench/poll.py, alternating runs: first cycle 1.80x-2.34x of the ideal with
    one thread per slot, 1.55x-1.76x with these; more threads did not help in our runs."""
    concurrency = max(1, settings.concurrency)
    return concurrency + max(1, concurrency // 2)


_ACCEPT = {"feed": FEED_TYPES, "sitemap": SITEMAP_TYPES, "listing": HTML_TYPES}


def poll_source(
    client: Client,
    settings: Settings,
    source: SourceState,
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
    now: datetime | None = None,
    window: tuple[datetime, datetime] | None = None,
    allow: Callable[[], bool] | None = None,
) -> PollOutcome:
    """Fetch a source with conditional GET and list its entries.

    With a ``window`` (since, until) the poll is a backfill: no conditional GET (the whole
    document is wanted), and only entries dated within the window are kept. ``allow()``, when
    given, is asked before each request after the first (a child sitemap, the fallback URL):
    False leaves it unread (a backfill's fetch budget, spent).

    A source with a fallback URL is polled there instead when it is on its fallback
    (``use_fallback``), or right after its primary URL failed for good (blocked, or a
    permanent error) when its streak of failures calls for it (``fallback_now``).
    """
    fallback_kind = source.fallback_kind or "sitemap"
    if source.fallback_url and source.use_fallback:
        outcome = _poll_url(
            client, settings, source, fallback_kind, source.fallback_url, throttle, robots, now, window, allow
        )
        outcome.via_fallback = True
        return outcome
    outcome = _poll_url(
        client, settings, source, source.kind, source.url, throttle, robots, now, window, allow
    )
    if source.fallback_url and source.fallback_now and outcome.fails_for_good and (allow is None or allow()):
        fallback = _poll_url(
            client,
            settings,
            dataclasses.replace(source, etag=None, last_modified=None),
            fallback_kind,
            source.fallback_url,
            throttle,
            robots,
            now,
            window,
            allow,
        )
        fallback.via_fallback, fallback.primary = True, outcome
        return fallback
    if source.kind == "feed" and _feed_is_gone(outcome) and _discovery_due(source, now):
        result = outcome.fetch
        outcome.suggested_feeds, fetches = discover_feeds(
            client, settings, source.url, result, throttle=throttle, robots=robots
        )
        outcome.suggested_feeds["because"] = outcome.error
        outcome.extra_fetches.extend(fetches)
    return outcome


def _poll_url(
    client: Client,
    settings: Settings,
    source: SourceState,
    kind: str,
    url: str,
    throttle: HostThrottle | None,
    robots: RobotsCache | None,
    now: datetime | None,
    window: tuple[datetime, datetime] | None,
    allow: Callable[[], bool] | None = None,
) -> PollOutcome:
    """Fetch one URL of a source as ``kind`` and list its entries (no discovery, no fallback)."""
    result = fetch(
        client,
        url,
        settings,
        etag=None if window else source.etag,
        last_modified=None if window else source.last_modified,
        accept=_ACCEPT.get(kind, FEED_TYPES),
        throttle=throttle,
        robots=robots,
        max_bytes=settings.sitemap_max_bytes if kind == "sitemap" else None,
        hold_host=True,  # a site's other feeds are not asked in the second after its 429
    )
    # a listing sent to a consent wall read the wall's links as the site's articles
    result = wall_in_the_way(empty_is_transient(result))
    outcome = PollOutcome(source_id=source.id, fetch=result, kind=kind)
    if not result.ok:
        if result.outcome != "not_modified":
            outcome.error_class = BLOCKED if result.blocked else result.error_class
            outcome.error = result.reason
    else:
        try:
            if kind == "feed":
                _read_feed(outcome, result, settings.parse_workers)
            elif kind == "sitemap":
                when = now or datetime.now(UTC)
                read = source.sitemaps_read
                _read_sitemap(client, settings, outcome, result, throttle, robots, when, window, read, allow)
            elif kind == "listing":
                _read_listing(outcome, result, source.link_pattern)
            else:
                outcome.error_class = PERMANENT
                outcome.error = f"unknown source kind {kind!r}"
        except Exception as exc:  # noqa: BLE001 - one source's body must not stop the others' polls
            outcome.entries, outcome.warning, outcome.error_class = [], None, PERMANENT
            outcome.error = f"could not read this {kind}: {describe(exc)} (a fault in veille or a library)"
    if window is not None and kind == "feed":
        kept = [e for e in outcome.entries if e.published_at and window[0] <= e.published_at <= window[1]]
        outcome.ignored += len(outcome.entries) - len(kept)
        outcome.entries = kept
    return outcome


def _read_feed(outcome: PollOutcome, result: FetchResult, workers: int) -> None:
    try:
        ctype = result.headers.get("content-type")
        parsed = parse_feed_pooled(result.content or b"", result.final_url, ctype, workers)
    except FeedError as exc:
        outcome.error_class, outcome.error = TRANSIENT if exc.transient else PERMANENT, str(exc)
        return
    outcome.entries = parsed.entries
    outcome.language = parsed.language
    outcome.declared_interval = parsed.update_period_seconds
    said = []
    if parsed.expired:  # a feed's own word, not a fault of it: said first, it asks for a person
        said.append(f"{EXPIRED} ({len(parsed.entries)} entries read)")
    if parsed.bozo_reason:
        # a well-formed feed with some bad entry dates is no malformed feed: the words say which
        what = "malformed feed" if parsed.malformed else "bad entry dates"
        said.append(f"{what}, {len(parsed.entries)} entries read: {parsed.bozo_reason}")
    if said:
        outcome.warning = "; ".join(said)


def _read_listing(outcome: PollOutcome, result: FetchResult, link_pattern: str | None) -> None:
    outcome.entries = find_article_links(
        result.content or b"", result.final_url, link_pattern, result.headers.get("content-type")
    )
    if not outcome.entries:
        # a listing page removed in a redesign, answered 200 with the site's "page introuvable"
        # page, is a failure with its cause (it was a warning, the source healthy for good)
        gone = soft_404(result.content or b"", "listing page")
        if gone:
            outcome.error_class, outcome.error = PERMANENT, gone
            return
        how = f"matching link_pattern {link_pattern!r}" if link_pattern else "that look like articles"
        outcome.warning = f"listing page has no links {how}"


def _read_sitemap(
    client: Client,
    settings: Settings,
    outcome: PollOutcome,
    first: FetchResult,
    throttle: HostThrottle | None,
    robots: RobotsCache | None,
    now: datetime,
    window: tuple[datetime, datetime] | None = None,
    read_before: dict[str, datetime] | None = None,
    allow: Callable[[], bool] | None = None,
) -> None:
    """List the sitemap's URLs dated within the window, reading an index's children.

    A poll makes at most ``VEILLE_SITEMAP_MAX_FETCHES`` requests: the children beyond are left,
    counted in the warning, and the sitemap's validators are not kept, so the next poll reads
    the index again and, skipping the children read since they last changed
    (``read_before``), goes on with those left. A backfill reads them all, as long as
    ``allow()`` (its fetch budget) says yes: those it leaves are counted in ``unread``."""
    # zones' slack after now, as for a page's and a feed's dates (monitors.dates.impossible):
    # a site printing Paris time as UTC dates its newest URLs an hour or two ahead, and these
    # were left out, for good once the sitemap answered 304 Not Modified
    since, until = window or (now - timedelta(days=settings.sitemap_window_days), now + FUTURE_SLACK)
    budget = settings.sitemap_max_fetches - 1 if window is None else None  # the first fetch spent
    read_before = read_before if window is None else None
    left = 0  # children not read for want of budget
    problems: list[str] = []
    urls: list[SitemapUrl] = []
    pending: list[tuple[FetchResult, int]] = [(first, 0)]
    read = {first.url, first.final_url}  # each sitemap once: an index may list itself or a parent
    first_cut = False  # the sitemap's own body ended inside it: the next poll must read it whole
    while pending:
        result, depth = pending.pop(0)
        try:
            ctype = result.headers.get("content-type")
            parsed = parse_sitemap(
                result.content or b"", ctype, settings.sitemap_max_bytes, base_url=result.final_url
            )
        except SitemapError as exc:
            if result is first:
                outcome.error_class, outcome.error = PERMANENT, str(exc)
                return
            problems.append(f"{exc} ({result.final_url})")
            # its fetch_log row says why, and is no read child: the next poll tries it again
            result.outcome, result.error_class, result.reason = "error", PERMANENT, str(exc)
            continue
        if parsed.cut_short:
            kind = TRANSIENT if parsed.ended_early else PERMANENT  # a body cut may come whole
            if result is first and not parsed.urls and not parsed.sitemaps:
                outcome.error_class, outcome.error = kind, parsed.cut_short
                return
            first_cut = first_cut or (result is first and parsed.ended_early)
            problems.append(f"{parsed.cut_short} ({result.final_url})")
            if result is not first and parsed.ended_early:
                # its entries so far are kept; its row is no read child: the next poll reads it again
                result.outcome, result.error_class, result.reason = "error", TRANSIENT, parsed.cut_short
            elif result is not first:  # read, in part, as it will be again: its row says why
                result.reason = parsed.cut_short
        urls.extend(parsed.urls)
        if not parsed.is_index:
            continue
        if depth >= MAX_SITEMAP_DEPTH:
            problems.append(f"sitemap index nested too deep, not followed ({result.final_url})")
            continue
        # A child last modified before the window cannot hold URLs of the window. Polls read
        # the most recent children first; a backfill those modified closest after its start
        # (monthly archives of the window come before later ones).
        children = [c for c in parsed.sitemaps if c.date_end is None or c.date_end >= since]
        outcome.ignored += len(parsed.sitemaps) - len(children)
        if read_before:
            children = [c for c in children if not _unchanged_since_read(c, read_before)]
        fresh = list({c.url: c for c in children if c.url not in read}.values())
        if len(fresh) < len(children):
            again = len(children) - len(fresh)
            problems.append(
                f"{again} child sitemap(s) listed again or already read, skipped ({result.final_url})"
            )
            children = fresh
        oldest = datetime.min.replace(tzinfo=UTC)
        children.sort(key=lambda c: c.lastmod or oldest, reverse=window is None)
        if len(children) > MAX_CHILD_SITEMAPS:
            extra = len(children) - MAX_CHILD_SITEMAPS
            problems.append(f"{extra} child sitemaps beyond the first {MAX_CHILD_SITEMAPS} skipped")
        for n, child in enumerate(children[:MAX_CHILD_SITEMAPS]):
            if child.url in read:  # listed by another index of this poll meanwhile
                continue
            if budget is not None and len(outcome.extra_fetches) >= budget:
                left += len([c for c in children[n:MAX_CHILD_SITEMAPS] if c.url not in read])
                break
            if allow is not None and not allow():
                outcome.unread += len([c for c in children[n:MAX_CHILD_SITEMAPS] if c.url not in read])
                break
            read.add(child.url)
            got = empty_is_transient(
                fetch(
                    client,
                    child.url,
                    settings,
                    accept=SITEMAP_TYPES,
                    throttle=throttle,
                    robots=robots,
                    max_bytes=settings.sitemap_max_bytes,
                    hold_host=True,
                )
            )
            outcome.extra_fetches.append(got)
            if got.ok and got.final_url != child.url and got.final_url in read:
                continue  # a redirect to a sitemap read already
            read.add(got.final_url)
            if got.ok:
                pending.append((got, depth + 1))
            else:
                problems.append(f"{got.reason} ({child.url})")
    seen: set[str] = set()
    undated = 0
    unread: list[str] = []
    unread_news: list[str] = []
    for u in urls:
        if u.url in seen:
            continue
        seen.add(u.url)
        undated += u.date is None
        if u.unread_date:
            unread.append(u.unread_date)
        if u.unread_news_date:
            unread_news.append(u.unread_news_date)
        # a lastmod of a month or a year ("2025-02") is kept when that period meets the window
        if u.date is None or (u.date_end or u.date) < since or u.date > until:
            outcome.ignored += 1
            continue
        # lastmod decides the window only: it is the page's last change, not its publication
        outcome.entries.append(
            FeedEntry(
                url=u.url,
                title=u.news_title,
                published_at=u.news_date,
                published_explicit=u.news_date is not None,  # <news:publication_date>
            )
        )
    if left or first_cut:
        # the next poll must read the sitemap again, not be told it has not changed
        kept = {k: v for k, v in first.headers.items() if k not in {"etag", "last-modified"}}
        outcome.fetch = dataclasses.replace(first, headers=kept)
    if left:
        problems.insert(
            0,
            stopped_at_budget(
                settings.sitemap_max_fetches,
                "requests",
                "VEILLE_SITEMAP_MAX_FETCHES",
                left,
                "child sitemap(s)",
                "poll",
            ),
        )
    if unread:
        # a <lastmod> that is no date ("garbage", "2025-02-30") left its URL undated, out of the
        # window, as a feed's bad entry dates are said
        taken = "taken as absent (an undated URL is not taken)"
        problems.append(bad_dates_note(unread, "URL", "URLs", taken))
    if unread_news:
        # a news:publication_date that is no date beside a readable <lastmod>: the URL is taken by
        # its last change and stored with no publication date, said as the undated URLs' are
        taken = "taken as absent (the URL dated by its <lastmod>, its publication unknown)"
        problems.append(bad_dates_note(unread_news, "URL news", "URLs", taken))
    if undated and undated == len(seen):
        # a sitemap that dates nothing (WordPress's wp-sitemap.xml) gives no URL, ever: said,
        # or the source reads "ok, 0 entries" at every poll and the user never learns why
        written = "no <lastmod> or news date veille can read" if unread else "no <lastmod>, no news date"
        problems.append(
            f"no date on any of its {undated} URL{'s' if undated > 1 else ''} ({written}): veille takes"
            " a sitemap's URLs by their date (the last VEILLE_SITEMAP_WINDOW_DAYS days, a"
            " backfill's window), so none was taken; follow the site's feed, news sitemap or"
            " listing page instead"
        )
    if problems:
        outcome.warning = f"{len(problems)} sitemap problem(s): " + "; ".join(problems[:3])


def _unchanged_since_read(child: SitemapUrl, read_before: dict[str, datetime]) -> bool:
    """Was this child sitemap read by an earlier poll after its last change?"""
    at = read_before.get(child.url)
    return at is not None and child.date_end is not None and child.date_end <= at - READ_MARGIN


def _feed_is_gone(outcome: PollOutcome) -> bool:
    """A permanent failure that discovery may fix: 404, 410, not a feed, wrong content type."""
    if outcome.error_class != PERMANENT:
        return False
    r = outcome.fetch
    return (
        r.status in {404, 410}
        or (r.ok and outcome.error is not None)
        or (r.outcome == "skipped" and (r.reason or "").startswith("content type"))
    )


def _discovery_due(source: SourceState, now: datetime | None) -> bool:
    last = source.suggestion_checked_at
    return last is None or (now or datetime.now(UTC)) - last >= REDISCOVER_AFTER


def poll_many(
    client: Client,
    settings: Settings,
    sources: Iterable[SourceState],
    handle: Callable[[SourceState, PollOutcome], T],
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
    executor: Executor | None = None,
) -> list[T]:
    """Poll sources concurrently (on ``poll_threads(settings)`` threads unless an executor is
    given; the throttle, ``HostThrottle.from_settings`` by default, caps the requests in
    flight at ``settings.concurrency``) and pass each outcome to ``handle`` in the worker thread (e.g.
    to store it)."""

    throttle = throttle or HostThrottle.from_settings(settings)

    def one(source: SourceState) -> T:
        return handle(source, poll_source(client, settings, source, throttle, robots))

    start_parsers(settings.parse_workers)

    if executor is not None:
        return [f.result() for f in [executor.submit(one, s) for s in sources]]
    with ThreadPoolExecutor(max_workers=poll_threads(settings), thread_name_prefix="poll") as pool:
        return [f.result() for f in [pool.submit(one, s) for s in sources]]


def poll_batches_as_completed(
    client: Client,
    settings: Settings,
    sources: Iterable[SourceState],
    batch_size: int,
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
    executor: Executor | None = None,
) -> Iterator[list[PollOutcome]]:
    """Poll sources concurrently and yield their outcomes in batches of ``batch_size`` as
    they answer, so the caller can store one batch while the next ones are being polled."""

    start_parsers(settings.parse_workers)
    throttle = throttle or HostThrottle.from_settings(settings)

    def run(pool: Executor) -> Iterator[list[PollOutcome]]:
        futures = [pool.submit(poll_source, client, settings, s, throttle, robots) for s in sources]
        batch: list[PollOutcome] = []
        for future in as_completed(futures):
            batch.append(future.result())
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    if executor is not None:
        yield from run(executor)
        return
    with ThreadPoolExecutor(max_workers=poll_threads(settings), thread_name_prefix="poll") as pool:
        yield from run(pool)
