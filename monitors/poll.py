"""Polling stage: one source in, the entries it lists out (no database here)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from monitors.feeds import FeedEntry, FeedError, parse_feed
from monitors.http import FEED_TYPES, PERMANENT, FetchResult, HostThrottle, fetch
from monitors.settings import Settings


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


@dataclass
class PollOutcome:
    source_id: int
    fetch: FetchResult
    entries: list[FeedEntry] = field(default_factory=list)
    warning: str | None = None  # partial success, e.g. a malformed feed that still had entries
    error_class: str | None = None
    error: str | None = None
    language: str | None = None  # what the feed declares (<language>, xml:lang), as written

    @property
    def not_modified(self) -> bool:
        return self.fetch.outcome == "not_modified"


def poll_source(
    client: httpx.Client,
    settings: Settings,
    source: SourceState,
    throttle: HostThrottle | None = None,
) -> PollOutcome:
    """Fetch a source with conditional GET and list its entries."""
    result = fetch(
        client,
        source.url,
        settings,
        etag=source.etag,
        last_modified=source.last_modified,
        accept=FEED_TYPES,
        throttle=throttle,
    )
    outcome = PollOutcome(source_id=source.id, fetch=result)
    if not result.ok:
        if result.outcome != "not_modified":
            outcome.error_class = result.error_class
            outcome.error = result.reason
        return outcome
    if source.kind != "feed":
        outcome.error_class = PERMANENT
        outcome.error = f"source kind {source.kind!r} is not supported yet"
        return outcome
    try:
        parsed = parse_feed(result.content or b"", result.final_url, result.headers.get("content-type"))
    except FeedError as exc:
        outcome.error_class = PERMANENT
        outcome.error = str(exc)
        return outcome
    outcome.entries = parsed.entries
    outcome.language = parsed.language
    if parsed.bozo_reason:
        outcome.warning = f"malformed feed, {len(parsed.entries)} entries read: {parsed.bozo_reason}"
    return outcome
