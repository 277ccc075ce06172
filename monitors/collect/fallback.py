"""A source's fallback URL and its blocked state: when to poll the fallback, what to record.

A source may name a ``fallback`` (often the site's news sitemap, which sites publish for
search engines even when their feeds turn bots away). After :data:`FALLBACK_AFTER` polls in
a row that fail, the last of them for good (blocked, or a permanent error such as a 404),
veille polls the fallback in the same poll and keeps polling it; every
:data:`PRIMARY_RETRY_AFTER` it tries the primary URL again, and goes back to it when it
answers. The primary URL in the sources file is never changed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from monitors.archive.models import Source
from monitors.collect.blocking import BLOCKED
from monitors.collect.poll import PollOutcome

FALLBACK_AFTER = 3  # polls in a row that failed, the last one for good, before the fallback
PRIMARY_RETRY_AFTER = timedelta(days=7)  # on the fallback, try the primary URL again this often


class FallbackColumns(Protocol):
    """The columns :func:`record` reads and writes: an ORM ``Source``, or the store's
    ``SourceHealth`` (the health columns of a locked row, written back in one statement)."""

    fallback_url: str | None
    fallback_since: datetime | None
    blocked_at: datetime | None
    blocked_reason: str | None


def on_fallback(source: Source, now: datetime) -> bool:
    """Poll the fallback instead of the primary URL (not yet time to retry the primary)."""
    return (
        source.fallback_url is not None
        and source.fallback_since is not None
        and now - source.fallback_since < PRIMARY_RETRY_AFTER
    )


def fallback_now(source: Source) -> bool:
    """If the primary URL fails for good on this poll, poll the fallback right away: the
    streak is long enough, or the source was on its fallback before."""
    return source.fallback_url is not None and (
        source.fallback_since is not None or source.consecutive_failures + 1 >= FALLBACK_AFTER
    )


def record(source: FallbackColumns, outcome: PollOutcome, t: datetime) -> str | None:
    """Update the blocked and fallback columns after a poll; returns the error to record
    (the fallback's, with the primary URL's cause after it) or None on success."""
    primary = outcome.primary if outcome.via_fallback else outcome
    if primary is not None and primary.error_class == BLOCKED:
        source.blocked_at, source.blocked_reason = t, primary.error
    elif primary is not None and not primary.error and not primary.not_modified:
        source.blocked_at = source.blocked_reason = None  # the primary URL answered
    if outcome.via_fallback and outcome.primary is not None and not outcome.error:
        source.fallback_since = t  # moved to the fallback (again): the primary is retried later
    elif not outcome.via_fallback and not outcome.error:
        source.fallback_since = None  # the primary URL answered again
    if outcome.via_fallback and outcome.error:
        why = f"; primary URL: {outcome.primary.error}" if outcome.primary is not None else ""
        return f"{outcome.error} (fallback {source.fallback_url}{why})"
    return outcome.error


def suggestion(source: Source, now: datetime) -> str:
    """What ``veille sources`` suggests for a blocked source or one on its fallback."""
    if source.fallback_since is not None and source.fallback_url:
        retry = source.fallback_since + PRIMARY_RETRY_AFTER
        days = max(0, round((retry - now).total_seconds() / 86400))
        cause = f"; primary: {source.blocked_reason}" if source.blocked_reason else ""
        return f"on fallback {source.fallback_url} (primary retried in {days}d{cause})"
    if source.last_error_class != BLOCKED or source.consecutive_failures == 0:
        return ""
    if source.fallback_url:
        n, url = source.consecutive_failures, source.fallback_url
        return f"blocked: fallback {url} tried at {FALLBACK_AFTER} failures in a row ({n} so far)"
    return "blocked: add a fallback (e.g. the site's news sitemap) to this source, or disable it"
