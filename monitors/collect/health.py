"""Source health as rows a person reads: the ``veille sources`` table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitors.archive.models import QueuedUrl, Source
from monitors.archive.polls import next_poll
from monitors.collect import fallback
from monitors.collect.blocking import BLOCKED
from monitors.collect.sources import SourceSpec


def shorten_middle(text: str, width: int) -> str:
    """``text`` on one line, at most ``width`` characters, cut in the middle when too long.

    Errors are written cause first; the start (the cause) and the end (the URL or the
    detail) are kept and " … " marks what was left out, so a cut never hides the cause."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    if width < 8:
        return text[:width]
    tail = width // 4
    head = width - tail - 1
    return f"{text[:head].rstrip()}…{text[len(text) - tail :].lstrip()}"


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    delta = value - now
    seconds = abs(delta.total_seconds())
    if seconds < 90:
        text = f"{int(seconds)}s"
    elif seconds < 5400:
        text = f"{int(seconds // 60)}min"
    elif seconds < 2 * 86400:
        text = f"{seconds / 3600:.1f}h"
    else:
        text = f"{seconds / 86400:.0f}d"
    return f"in {text}" if delta.total_seconds() > 0 else f"{text} ago"


def _next(status: str, at: datetime | None, now: datetime) -> str:
    if status == "disabled":
        return "never (disabled)"
    return "due" if at is None or at <= now else _when(at, now)


def suggestion_text(suggestion: dict[str, Any] | None) -> str:
    """The feeds discovery found for a source, or why there are none."""
    if not suggestion:
        return ""
    feeds = suggestion.get("feeds") or []
    if not feeds:
        return f"no feed found on {suggestion.get('homepage')}"
    return "try: " + ", ".join(f["url"] for f in feeds)


def source_rows(
    session: Session, names: list[str] | None = None, *, failing: bool = False
) -> list[dict[str, Any]]:
    """One row per source: name, kind, owner, status, last success, new items in 7 days (found
    by live polling, not by a backfill), next poll, interval, failures, discovered feeds, last
    error (cause first); by owner and name. With ``failing``, only the sources whose last poll
    failed (failures in a row), worst first: the most failures in a row, then the longest since
    the last success (never first)."""
    now = session.scalar(select(func.now()))
    assert now is not None
    recent = (
        select(QueuedUrl.source_id, func.count().label("n"))
        # what live polling found: a backfill queues the past with today's discovered_at
        .where(QueuedUrl.discovered_at >= now - timedelta(days=7), QueuedUrl.found_by == "poll")
        .group_by(QueuedUrl.source_id)
        .subquery()
    )
    query = (
        select(Source, func.coalesce(recent.c.n, 0), next_poll())  # when due, as a run sees it
        .outerjoin(recent, recent.c.source_id == Source.id)
        .order_by(Source.owner, Source.name)
    )
    if failing:
        query = (
            query.where(Source.consecutive_failures > 0)
            .order_by(None)
            .order_by(
                Source.consecutive_failures.desc(),
                Source.last_success_at.asc().nulls_first(),
                Source.owner,
                Source.name,
            )
        )
    if names:
        query = query.where(Source.name.in_(names))
    rows = []
    for s, new_7d, next_at in session.execute(query).all():
        error = ""
        if s.last_error:
            error = f"[{s.last_error_class}] {s.last_error}" if s.last_error_class else s.last_error
        status = s.status
        if s.fallback_since is not None:
            status += " (on fallback)"
        elif s.consecutive_failures and s.last_error_class == BLOCKED:
            status += " (blocked)"
        suggested = "; ".join(
            x for x in (fallback.suggestion(s, now), suggestion_text(s.suggested_feeds)) if x
        )
        rows.append(
            {
                "name": s.name,
                "kind": s.kind,
                "owner": s.owner,
                "status": status,
                "last_success": _when(s.last_success_at, now),
                "new_7d": new_7d,
                "next_poll": _next(s.status, next_at, now),
                "interval": f"{s.poll_interval_seconds // 60}min",
                "failures": s.consecutive_failures,
                "suggested": suggested,
                "last_error": error,  # last: printed whole, never cut
            }
        )
    return rows


def source_count(session: Session) -> int:
    """How many sources the archive holds (what ``veille sources --failing`` counts against)."""
    return session.scalar(select(func.count()).select_from(Source)) or 0


def new_source_row(spec: SourceSpec) -> dict[str, Any]:
    """The row of a source a sources file names but the archive does not hold yet."""
    return {
        "name": spec.name,
        "kind": spec.kind,
        "owner": spec.owner,
        "status": "new" if spec.enabled else "disabled",
        "last_success": "-",
        "new_7d": 0,
        "next_poll": "due (not in the archive yet)" if spec.enabled else "never (disabled)",
        "interval": "-",
        "failures": 0,
        "suggested": "",
        "last_error": "",
    }
