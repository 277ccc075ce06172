"""Every database write of the pipeline: queue, sources' health, articles, fetch log.

Uniqueness is the database's job (``ON CONFLICT``), so concurrent runs and re-runs are safe.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import orjson
import psycopg
from psycopg.errors import ProgramLimitExceeded
from sqlalchemy import BigInteger, Table, any_, bindparam, func, or_, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from monitors.archive.bulk import as_rows, recordset_insert, recordset_update
from monitors.archive.db import cancelled, session_scope
from monitors.archive.models import (
    Article,
    ArticleHtml,
    ArticleRevision,
    FetchLog,
    QueuedUrl,
    Sighting,
    Source,
)
from monitors.archive.queue import CLAIM_LEASE, claim_items
from monitors.archive.topic_scores import write_topic_scores
from monitors.collect import fallback
from monitors.collect.blocking import BLOCKED
from monitors.collect.http import PERMANENT, TRANSIENT
from monitors.collect.poll import PollOutcome, SourceState
from monitors.collect.schedule import adapt_interval, effective_interval, failure_backoff
from monitors.group.dedup import detect_wire, diff_summary
from monitors.group.neardup import link_and_index
from monitors.group.story_store import assign as assign_story
from monitors.group.story_store import lock_story_keys
from monitors.group.urls import canonicalize_url
from monitors.ingest import ArticleData, IngestOutcome, extraction_columns
from monitors.judge.language import normalize_declared_language
from monitors.settings import Settings, get_settings

FAILING_AFTER = timedelta(days=3)
DISABLE_AFTER_FAILURES = 30
RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 6 * 3600.0


#: What data can fail to be stored with: the database rejects a value (DataError), or the value
#: cannot be sent at all (a lone surrogate psycopg cannot encode, orjson refusing it).
UNSTORABLE: tuple[type[Exception], ...] = (DataError, psycopg.DataError, UnicodeError, orjson.JSONEncodeError)
#: A batch of polls the database would not take as a whole: each source is then tried alone.
_REJECTED: tuple[type[Exception], ...] = (IntegrityError, *UNSTORABLE)


def unstorable(exc: BaseException) -> bool:
    """Whether ``exc`` says that the data cannot be stored (:data:`UNSTORABLE`, or a value over
    one of PostgreSQL's limits, e.g. an index row too large), as opposed to a lost database."""
    return isinstance(exc, UNSTORABLE) or isinstance(getattr(exc, "orig", None), ProgramLimitExceeded)


# what to catch to ask unstorable(): a limit exceeded comes wrapped as an OperationalError
_MAYBE_UNSTORABLE: tuple[type[Exception], ...] = (*UNSTORABLE, OperationalError)
_MAYBE_REJECTED: tuple[type[Exception], ...] = (*_REJECTED, OperationalError)


def now() -> datetime:
    return datetime.now(UTC)


#: A :class:`PollSummary`'s outcome for an entry of the sources file left out as invalid.
BAD_ENTRY = "bad entry"


@dataclass
class PollSummary:
    source_id: int
    outcome: str
    new: int = 0
    known: int = 0
    error: str | None = None
    warning: str | None = None
    unread: int = 0  # child sitemaps a backfill left unread: its fetch budget was spent
    name: str | None = None  # a bad entry of the sources file (outcome "bad entry") has no row


def due_sources(session: Session, ids: list[int], force: bool = False) -> list[SourceState]:
    """Sources among ``ids`` that are not disabled and due for a poll (all of them with force)."""
    query = select(Source).where(Source.id.in_(ids), Source.status != "disabled")
    if not force:
        query = query.where(or_(Source.next_poll_at.is_(None), Source.next_poll_at <= func.now()))
    t = now()
    states = []
    sources = list(session.scalars(query.order_by(Source.id)))
    read = _sitemaps_read(session, [s.id for s in sources if s.kind == "sitemap" or s.fallback_url], t)
    for s in sources:
        use_fallback = fallback.on_fallback(s, t)
        # the validators belong to the URL last polled: none for a primary retried after the fallback
        validators = s.fallback_since is None or use_fallback
        states.append(
            SourceState(
                id=s.id,
                name=s.name,
                kind=s.kind,
                url=s.url,
                etag=s.etag if validators else None,
                last_modified=s.last_modified if validators else None,
                link_pattern=s.link_pattern,
                suggestion_checked_at=_checked_at(s.suggested_feeds),
                fallback_url=s.fallback_url,
                fallback_kind=s.fallback_kind,
                use_fallback=use_fallback,
                fallback_now=fallback.fallback_now(s),
                sitemaps_read=read.get(s.id, {}),
            )
        )
    return states


def _sitemaps_read(session: Session, ids: list[int], t: datetime) -> dict[int, dict[str, datetime]]:
    """Per source, the child sitemaps its polls read within the sitemap window, and when last:
    the poller skips those unchanged since, so a poll cut short goes on with the others."""
    if not ids:
        return {}
    since = t - timedelta(days=get_settings().sitemap_window_days)
    rows = session.execute(
        select(FetchLog.source_id, FetchLog.url, func.max(FetchLog.at))
        .where(
            FetchLog.source_id.in_(ids),
            FetchLog.kind == "sitemap-child",
            FetchLog.outcome == "ok",
            FetchLog.at >= since,
        )
        .group_by(FetchLog.source_id, FetchLog.url)
    )
    out: dict[int, dict[str, datetime]] = {}
    for source_id, url, at in rows:
        if source_id is not None:
            out.setdefault(source_id, {})[url] = at
    return out


def _checked_at(suggestion: dict | None) -> datetime | None:
    try:
        return datetime.fromisoformat(suggestion["checked_at"]) if suggestion else None
    except (KeyError, TypeError, ValueError):
        return None


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


# The page path's statements, built once on the tables and given their values as parameters:
# built on the ORM classes with .values() for every page, each cost 1-2 ms of CPU in
# SQLAlchemy (the values coerced one by one, the ORM's bulk-persistence layer around them).
_INSERT_FETCH_LOG = insert(_table(FetchLog))
_INSERT_ARTICLE = insert(_table(Article)).on_conflict_do_nothing().returning(_table(Article).c.id)
_INSERT_ARTICLE_HTML = insert(_table(ArticleHtml))
_INSERT_SIGHTING = insert(_table(Sighting)).on_conflict_do_nothing(constraint="sightings_unique")
_LOCK_QUEUE_ROW = (
    select(_table(QueuedUrl).c.id).where(_table(QueuedUrl).c.id == bindparam("queue_id")).with_for_update()
)
_UPDATE_QUEUE_ROW = update(_table(QueuedUrl)).where(_table(QueuedUrl).c.id == bindparam("queue_id"))


def log_fetch(session: Session, *, queue_id: int | None = None, **fields: Any) -> None:
    """Add one ``fetch_log`` row (the fields of :func:`_log_row`, plus the queue row it concerns)."""
    # a Core INSERT, not an ORM object: one row per page, nothing reads it back in the session
    session.execute(_INSERT_FETCH_LOG, {**_log_row(**fields), "queue_id": queue_id})


def _queue_rows(outcome: PollOutcome) -> tuple[dict[str, dict], list[dict]]:
    """The outcome's entries as queue rows by canonical URL, and fetch-log rows for the
    entries whose URL is unusable."""
    rows: dict[str, dict] = {}
    skipped: list[dict] = []
    feed_language = normalize_declared_language(outcome.language)
    for entry in outcome.entries:
        try:
            canonical = canonicalize_url(entry.url)
        except ValueError as exc:
            skipped.append(
                _log_row(
                    url=entry.url,
                    kind="entry",
                    outcome="skipped",
                    source_id=outcome.source_id,
                    error_class=PERMANENT,
                    reason=f"unusable entry URL: {exc}",
                )
            )
            continue
        rows.setdefault(
            canonical,
            {
                "url": entry.url,
                "canonical_url": canonical,
                "source_id": outcome.source_id,
                "feed_title": entry.title,
                "feed_author": entry.author,
                "feed_summary": entry.summary,
                "feed_published_at": entry.published_at,
                # an entry's own language (a JSON Feed item's) before the feed's
                "feed_language": normalize_declared_language(entry.language) or feed_language,
            },
        )
    return rows, skipped


def _log_row(
    *,
    url: str,
    kind: str,
    outcome: str,
    run_id: str | None = None,
    source_id: int | None = None,
    status: int | None = None,
    error_class: str | None = None,
    reason: str | None = None,
    size: int | None = None,
    elapsed_ms: int | None = None,
) -> dict:
    """One ``fetch_log`` row with every column set, so rows can go in one multi-row insert."""
    return {
        "url": url,
        "kind": kind,
        "outcome": outcome,
        "run_id": run_id,
        "source_id": source_id,
        "queue_id": None,
        "status_code": status,
        "error_class": error_class,
        "reason": reason,
        "bytes": size,
        "elapsed_ms": elapsed_ms,
    }


def _poll_log_rows(outcome: PollOutcome, run_id: str | None) -> list[dict]:
    result = outcome.fetch
    rows = _poll_log_rows(outcome.primary, run_id) if outcome.primary is not None else []
    rows += [
        _log_row(
            url=result.url,
            kind="fallback" if outcome.via_fallback else outcome.kind,
            outcome=result.outcome if result.outcome == "skipped" or not outcome.error else "error",
            run_id=run_id,
            source_id=outcome.source_id,
            status=result.status,
            error_class=outcome.error_class,
            reason=outcome.error or outcome.warning,
            size=result.size,
            elapsed_ms=result.elapsed_ms,
        )
    ]
    for extra in outcome.extra_fetches:
        rows.append(
            _log_row(
                url=extra.url,
                kind="discovery" if outcome.suggested_feeds is not None else f"{outcome.kind}-child",
                outcome=extra.outcome,
                run_id=run_id,
                source_id=outcome.source_id,
                status=extra.status,
                error_class=extra.error_class,
                reason=extra.reason,
                size=extra.size,
                elapsed_ms=extra.elapsed_ms,
            )
        )
    return rows


def enqueue(session: Session, source_id: int, outcome: PollOutcome) -> tuple[int, int]:
    """Add the outcome's entries to the URL queue in one statement; returns (new, already known)."""
    counts = _enqueue_many(session, [outcome])
    return counts.get(outcome.source_id, (0, 0))


def _enqueue_many(session: Session, outcomes: list[PollOutcome]) -> dict[int, tuple[int, int]]:
    """Queue the entries of several polls in one statement; (new, already known) per source.

    A URL listed by two sources of the batch belongs to the first, as if they were stored
    one after the other. Rows go in canonical-URL order, so two batches inserting the same
    URLs lock them in the same order (no deadlock).
    """
    owned: dict[str, dict] = {}
    listed: dict[int, int] = {}
    skipped: list[dict] = []
    listings: list[dict] = []
    for outcome in outcomes:
        rows, bad = _queue_rows(outcome)
        skipped.extend(bad)
        listed[outcome.source_id] = listed.get(outcome.source_id, 0) + len(rows)
        for canonical, row in rows.items():
            owned.setdefault(canonical, row)
            listings.append({"canonical_url": canonical, "source_id": row["source_id"], "url": row["url"]})
    _insert_log_rows(session, skipped)
    counts = {source_id: (0, n) for source_id, n in listed.items()}
    if not owned:
        return counts
    for source_id, inserted in session.execute(_QUEUE_INSERT, as_rows([owned[k] for k in sorted(owned)])):
        if inserted:  # a re-queued (changed) entry comes back too, but counts as known
            new, known = counts[source_id]
            counts[source_id] = (new + 1, known - 1)
    listings.sort(key=lambda r: (r["canonical_url"], r["source_id"], r["url"]))
    session.execute(_LISTING_INSERT, as_rows(listings))
    return counts


# Every source listing a queued URL is kept; a URL that already led to an article becomes a
# sighting of it at once (a later listing by another feed is not fetched again).
_LISTING_INSERT = text(
    "WITH r AS (SELECT * FROM json_to_recordset(CAST(:rows AS json))"
    " AS r(canonical_url text, source_id bigint, url text)),"
    " l AS (INSERT INTO url_listings (queue_id, source_id, url)"
    " SELECT q.id, r.source_id, r.url FROM r JOIN url_queue q ON q.canonical_url = r.canonical_url"
    " ON CONFLICT DO NOTHING RETURNING queue_id, source_id, url)"
    " INSERT INTO sightings (article_id, source_id, url)"
    " SELECT q.article_id, l.source_id, l.url FROM l JOIN url_queue q ON q.id = l.queue_id"
    " WHERE q.article_id IS NOT NULL ON CONFLICT DO NOTHING"
)


_QUEUE_INSERT = recordset_insert(
    "url_queue",
    {
        "url": "text",
        "canonical_url": "text",
        "source_id": "bigint",
        "feed_title": "text",
        "feed_author": "text",
        "feed_summary": "text",
        "feed_published_at": "timestamptz",
        "feed_language": "text",
    },
    # A fetched entry its own source lists again with another title or date was revised at
    # the source: it is queued again, so the store can keep the earlier version.
    "ON CONFLICT (canonical_url) DO UPDATE SET url = excluded.url, feed_title = excluded.feed_title,"
    " feed_author = excluded.feed_author, feed_summary = excluded.feed_summary,"
    " feed_published_at = excluded.feed_published_at, feed_language = excluded.feed_language,"
    " state = 'pending', reason = 'feed entry changed: fetch again', attempts = 0,"
    " next_attempt_at = now(), claimed_at = NULL, claimed_by = NULL, updated_at = now()"
    " WHERE url_queue.state = 'fetched' AND url_queue.source_id = excluded.source_id"
    " AND (url_queue.feed_title IS DISTINCT FROM excluded.feed_title"
    " OR url_queue.feed_published_at IS DISTINCT FROM excluded.feed_published_at)"
    " RETURNING source_id, xmax = 0 AS inserted",
)
_LOG_INSERT = recordset_insert(
    "fetch_log",
    {
        "url": "text",
        "kind": "text",
        "outcome": "text",
        "run_id": "text",
        "source_id": "bigint",
        "queue_id": "bigint",
        "status_code": "integer",
        "error_class": "text",
        "reason": "text",
        "bytes": "integer",
        "elapsed_ms": "integer",
    },
)


def _insert_log_rows(session: Session, rows: list[dict]) -> None:
    if rows:
        session.execute(_LOG_INSERT, as_rows(rows))


def apply_poll(
    session: Session,
    outcome: PollOutcome,
    run_id: str | None = None,
    settings: Settings | None = None,
) -> PollSummary:
    """Record a poll: fetch log, queue entries, the source's health and its next poll time."""
    return apply_polls(session, [outcome], run_id, settings)[0]


def apply_polls(
    session: Session,
    outcomes: list[PollOutcome],
    run_id: str | None = None,
    settings: Settings | None = None,
) -> list[PollSummary]:
    """Record a batch of polls in a few statements (one multi-row insert per table, the
    sources locked in one query); summaries in the order of ``outcomes``.

    The batch goes in one savepoint; if the database rejects it (a source with data it
    cannot store, e.g. a NUL byte) or cancels it (``statement_timeout``), each source is
    written in its own savepoint instead, and a source that still fails gets its error
    recorded without sinking the others (class transient when cancelled).
    """
    settings = settings or get_settings()
    if not outcomes:
        return []
    # A poll's record may be lost in a crash without harm (the next poll redoes it, and the
    # transaction stays atomic), so it need not wait for the WAL flush.
    session.execute(text("SET LOCAL synchronous_commit = off"))
    try:
        with session.begin_nested():
            return _apply_batch(session, outcomes, run_id, settings)
    except _MAYBE_REJECTED as exc:
        if not (isinstance(exc, IntegrityError) or unstorable(exc) or cancelled(exc)):
            raise
    summaries = []
    for outcome in outcomes:
        try:
            with session.begin_nested():
                summaries.extend(_apply_batch(session, [outcome], run_id, settings))
        except _MAYBE_REJECTED as exc:
            if not (isinstance(exc, IntegrityError) or unstorable(exc) or cancelled(exc)):
                raise
            summaries.append(_record_store_failure(session, outcome, exc, run_id))
    return summaries


def _store_error(exc: Exception) -> str:
    """A store failure in one line: the driver's error and its DETAIL."""
    message = str(getattr(exc, "orig", None) or exc).splitlines()[:2]
    return "; ".join(line.strip() for line in message)


def _record_store_failure(
    session: Session, outcome: PollOutcome, exc: Exception, run_id: str | None
) -> PollSummary:
    reason = _store_error(exc) + " (could not store this poll)"
    # a statement the server cancelled may pass next time: the source stays due
    error_class = TRANSIENT if cancelled(exc) else PERMANENT
    with session.begin_nested():
        row = _log_row(
            url=outcome.fetch.url.replace("\x00", ""),
            kind=outcome.kind,
            outcome="error",
            run_id=run_id,
            source_id=outcome.source_id,
            status=outcome.fetch.status,
            error_class=error_class,
            reason=reason,
        )
        _insert_log_rows(session, [row])
        session.execute(
            update(Source)
            .where(Source.id == outcome.source_id)
            .values(last_polled_at=now(), last_error=reason, last_error_class=error_class)
        )
    return PollSummary(outcome.source_id, "error", error=reason)


@dataclass(slots=True)
class SourceHealth:
    """What a poll reads and writes of its source: the health columns, validators and next
    poll time of a row locked by :func:`_apply_batch`, written back in one statement (the
    ORM's load of whole rows and its flush, an UPDATE per set of changed columns, cost the
    poller more CPU than the statements)."""

    id: int
    status: str
    fallback_url: str | None  # read only
    etag: str | None
    last_modified: str | None
    poll_interval_seconds: int
    declared_interval_seconds: int | None
    last_polled_at: datetime | None
    next_poll_at: datetime | None
    last_success_at: datetime | None
    last_new_item_at: datetime | None
    failing_since: datetime | None
    consecutive_failures: int
    total_failures: int
    last_error: str | None
    last_error_class: str | None
    not_modified_count: int
    new_items_count: int
    fallback_since: datetime | None
    blocked_at: datetime | None
    blocked_reason: str | None
    suggested_feeds: dict[str, Any] | None = None  # not read: a new discovery result, or None to keep


_SOURCES = _table(Source)
_HEALTH_READ = [f.name for f in fields(SourceHealth) if f.name != "suggested_feeds"]
_LOCK_SOURCES = (
    select(*(_SOURCES.c[name] for name in _HEALTH_READ))
    .where(_SOURCES.c.id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
    .order_by(_SOURCES.c.id)
    .with_for_update()
)
_HEALTH_WRITTEN = [f.name for f in fields(SourceHealth) if f.name != "fallback_url"]
_UPDATE_HEALTH = recordset_update(
    "sources",
    "id",
    {name: str(_SOURCES.c[name].type.compile(dialect=postgresql.dialect())) for name in _HEALTH_WRITTEN},
    if_set=("suggested_feeds",),
    extra="updated_at = now()",
)


def _apply_batch(
    session: Session, outcomes: list[PollOutcome], run_id: str | None, settings: Settings
) -> list[PollSummary]:
    ids = sorted({o.source_id for o in outcomes})
    session.flush()  # the caller's pending changes to these sources first, as they were read
    sources = {row[0]: SourceHealth(*row) for row in session.execute(_LOCK_SOURCES, {"ids": ids})}
    present = [o for o in outcomes if o.source_id in sources]
    _insert_log_rows(session, [row for o in present for row in _poll_log_rows(o, run_id)])
    counts = _enqueue_many(session, [o for o in present if not o.error])
    t = now()
    summaries = []
    for outcome in outcomes:
        source = sources.get(outcome.source_id)
        if source is None:
            summaries.append(
                PollSummary(outcome.source_id, "error", error="source deleted while it was polled")
            )
            continue
        new, known = counts.get(outcome.source_id, (0, 0))
        summaries.append(_update_health(source, outcome, new, known, t, settings))
    if sources:
        session.execute(_UPDATE_HEALTH, as_rows([_health_row(h) for h in sources.values()]))
        _expire_loaded(session, sources)
    return summaries


def _health_row(health: SourceHealth) -> dict[str, Any]:
    return {name: getattr(health, name) for name in _HEALTH_WRITTEN}


def _expire_loaded(session: Session, ids: Iterable[int]) -> None:
    """Sources the session holds as ORM objects are read again on their next use."""
    if not session.identity_map:
        return
    for source_id in ids:
        loaded = session.identity_map.get(session.identity_key(Source, source_id))
        if loaded is not None:
            session.expire(loaded)


def _update_health(
    source: SourceHealth, outcome: PollOutcome, new: int, known: int, t: datetime, settings: Settings
) -> PollSummary:
    """A source's health columns and next poll time after one poll."""
    result = outcome.fetch
    low, high = settings.min_poll_interval, settings.max_poll_interval
    summary = PollSummary(outcome.source_id, result.outcome, warning=outcome.warning)
    source.last_polled_at = t
    if outcome.suggested_feeds is not None:
        source.suggested_feeds = outcome.suggested_feeds
    error = fallback.record(source, outcome, t)
    if error:
        summary.outcome, summary.error = "error", error
        source.consecutive_failures += 1
        source.total_failures += 1
        source.last_error = error
        source.last_error_class = outcome.error_class
        source.failing_since = source.failing_since or t
        if outcome.error_class in {TRANSIENT, BLOCKED} or source.fallback_url:
            # a blocked source, or one with a fallback to move to, is looked at again soon
            delay = failure_backoff(source.consecutive_failures, result.retry_after, low, high)
        else:  # permanent: no quick retry, look again after the longest interval
            delay = float(high)
        source.next_poll_at = t + timedelta(seconds=delay)
        if source.consecutive_failures >= DISABLE_AFTER_FAILURES:
            source.status = "disabled"
        elif t - source.failing_since >= FAILING_AFTER and source.status == "active":
            source.status = "failing"
        return summary
    summary.new, summary.known = new, known
    source.consecutive_failures = 0
    source.failing_since = None
    source.last_success_at = t
    if source.status == "failing":
        source.status = "active"
    if outcome.not_modified:
        source.not_modified_count += 1
    else:
        source.etag = result.etag
        source.last_modified = result.last_modified
        source.declared_interval_seconds = outcome.declared_interval
    source.poll_interval_seconds = adapt_interval(
        source.poll_interval_seconds, summary.new, summary.known, low, high
    )
    wait = effective_interval(source.poll_interval_seconds, source.declared_interval_seconds, low, high)
    source.next_poll_at = t + timedelta(seconds=wait)
    if outcome.warning:
        source.last_error, source.last_error_class = outcome.warning, "warning"
    elif outcome.primary is not None:  # on the fallback now: the primary URL's cause stays visible
        source.last_error, source.last_error_class = outcome.primary.error, outcome.primary.error_class
    if summary.new:
        source.new_items_count += summary.new
        source.last_new_item_at = t
    return summary


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, never sooner than the server's Retry-After."""
    backoff = min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = random.uniform(backoff / 2, backoff)
    return max(delay, retry_after or 0.0)


def apply_ingest(session: Session, out: IngestOutcome, max_attempts: int, run_id: str | None = None) -> str:
    """Store an ingest outcome; returns what happened (stored, duplicate, unchanged, revised,
    retry, failed, skipped)."""
    item = out.item
    log_fetch(
        session,
        url=item.url,
        kind="page",
        outcome=out.outcome if out.article or out.outcome != "ok" else "error",
        run_id=run_id,
        source_id=item.source_id,
        queue_id=item.id,
        status=out.status,
        error_class=out.error_class,
        reason=out.reason,
        size=out.bytes,
        elapsed_ms=out.elapsed_ms,
    )
    # the queue row is locked first, as before the article's locks; written once, at the end
    # (Core statements: the ORM's load of the whole row and its flush cost more than the SQL)
    locked = session.execute(_LOCK_QUEUE_ROW, {"queue_id": item.id}).scalar_one_or_none()
    assert locked is not None
    changes: dict[str, Any] = {"claimed_at": None, "claimed_by": None}
    if out.article is None:
        if out.error_class == TRANSIENT and item.attempts < max_attempts:
            changes["state"] = "pending"
            changes["reason"] = f"retry {item.attempts}/{max_attempts}: {out.reason}"
            delay = retry_delay(item.attempts, out.retry_after)
            changes["next_attempt_at"] = now() + timedelta(seconds=delay)
            status = "retry"
        else:
            status = changes["state"] = "skipped" if out.outcome == "skipped" else "failed"
            changes["reason"] = out.reason if out.error_class != TRANSIENT else f"gave up: {out.reason}"
    else:
        status, article_id = store_article(session, out)
        _listing_sightings(session, item.id, article_id)
        changes["state"] = "fetched"
        changes["article_id"] = article_id
        changes["reason"] = (
            None if status in {"stored", "revised", "unchanged"} else status_reason(status, article_id)
        )
    session.execute(_UPDATE_QUEUE_ROW, {**changes, "queue_id": item.id})
    return status


T = TypeVar("T")


def store_or_fail(
    write: Callable[[Session], T],
    out: IngestOutcome,
    run_id: str | None,
    settled: Callable[[str], T],
    max_attempts: int,
) -> T:
    """``write(session)`` in a transaction of its own (a page's store); when the database will not
    take the page's data, that transaction is rolled back, the page is recorded as failed with
    the cause (fetch log and queue row, class permanent) and ``settled("failed")`` is returned,
    so one page's bad data does not stop the worker and is not tried again on every run. A
    store the server cancelled (:func:`cancelled`) is recorded the same way as a transient
    failure: the page is retried later, ``settled("retry")``, and given up after
    ``max_attempts``."""
    try:
        with session_scope() as session:
            return write(session)
    except _MAYBE_UNSTORABLE as exc:
        if cancelled(exc):
            out.article, out.outcome, out.error_class = None, "error", TRANSIENT
            out.reason = f"the database cancelled the store: {_store_error(exc)}"
            with session_scope() as session:
                return settled(apply_ingest(session, out, max_attempts=max_attempts, run_id=run_id))
        if not unstorable(exc):
            raise  # the database went away: the caller waits for it and tries again
        # the page is settled as a permanent failure, the way apply_ingest settles any other
        reason = f"could not store this page: {type(exc).__name__}: {_store_error(exc)}"
        out.article, out.outcome, out.error_class, out.reason = None, "error", PERMANENT, reason
        with session_scope() as session:
            apply_ingest(session, out, max_attempts=1, run_id=run_id)  # attempts: transient only
        return settled("failed")


def status_reason(status: str, article_id: int) -> str:
    return f"same text as article {article_id}" if status == "duplicate" else status


def store_article(session: Session, out: IngestOutcome) -> tuple[str, int]:
    """Insert the article or fold it into the one it duplicates; returns (status, article id).

    A near-duplicate (different text, same story) is stored as its own row and linked to the
    earliest copy by :mod:`monitors.group.neardup`, whose band locks are taken first.
    """
    a = out.article
    assert a is not None
    item = out.item
    story_keys = lock_story_keys(session, a.text, a.title, a.signature)  # band locks too, first
    keys = story_keys.bands
    values = {
        "canonical_url": a.canonical_url,
        "url": a.url,
        "source_id": item.source_id,
        "title": a.title,
        "author": a.author,
        "description": a.description,
        "published_at": a.published_at,
        "language": a.language,
        "language_confidence": a.language_confidence,
        "declared_language": a.declared_language,
        "declared_language_source": a.declared_language_source,
        "relevance": a.relevance,
        "relevant": a.relevant,
        "relevance_terms": a.relevance_terms,
        "relevance_evidence": a.relevance_evidence,
        "topic_version": a.topic_version,
        "text": a.text,
        "text_hash": a.text_hash,
        "wire": detect_wire(a.text, a.author),
        "signature": a.signature,
        **extraction_columns(a),
    }
    archived = {"archived_url": a.archived_url, "captured_at": a.captured_at} if a.archive else {}
    article_id = session.execute(_INSERT_ARTICLE, {**values, **archived}).scalar_one_or_none()
    if article_id is not None:
        session.execute(
            _INSERT_ARTICLE_HTML,
            {"article_id": article_id, "content_type": a.content_type, "html_zlib": a.html_zlib},
        )
        _sighting(session, article_id, item.source_id, a)
        write_topic_scores(session, article_id, a.topic_scores)
        link = link_and_index(session, article_id, a.signature, keys=keys)
        assign_story(
            session,
            article_id,
            text=a.text,
            title=a.title,
            language=a.language,
            at=a.published_at or now(),
            copy_root=link.root,
            keys=story_keys,
            signature=a.signature,
        )
        return "stored", article_id
    same_url = session.execute(
        select(Article).where(Article.canonical_url == a.canonical_url).with_for_update()
    ).scalar_one_or_none()
    same_text_id = session.scalar(select(Article.id).where(Article.text_hash == a.text_hash))
    if same_url is None or (same_text_id is not None and same_text_id != same_url.id):
        assert same_text_id is not None, "insert conflicted on neither unique key"
        _sighting(session, same_text_id, item.source_id, a)
        return "duplicate", same_text_id
    _sighting(session, same_url.id, item.source_id, a)
    if same_url.text_hash == a.text_hash:
        return "unchanged", same_url.id
    session.add(
        ArticleRevision(
            article_id=same_url.id,
            title=same_url.title,
            text=same_url.text,
            text_hash=same_url.text_hash,
            changes=diff_summary(same_url.text, a.text, same_url.title, a.title),
        )
    )
    for key, value in values.items():
        if key not in {"canonical_url", "source_id"}:
            setattr(same_url, key, value)
    same_url.fetched_at = now()
    html = session.get(ArticleHtml, same_url.id)
    if html is not None:
        html.html_zlib, html.content_type, html.fetched_at = a.html_zlib, a.content_type, now()
    session.flush()
    link = link_and_index(
        session, same_url.id, a.signature, keys=keys, cluster_id=same_url.cluster_id, reindex=True
    )
    if same_url.story_id is None:
        # a teaser too short to seed a story, now written out: grouped as a new article is (an
        # article already in a story keeps it, a story is never re-decided)
        assign_story(
            session,
            same_url.id,
            text=a.text,
            title=a.title,
            language=a.language,
            at=a.published_at or same_url.fetched_at,
            copy_root=link.root if link.root != same_url.id else None,
            keys=story_keys,
            # a cluster's root is linked to nothing else (its copies point to it)
            signature=a.signature if link.root is None else None,
        )
    write_topic_scores(session, same_url.id, a.topic_scores)
    return "revised", same_url.id


def _sighting(session: Session, article_id: int, source_id: int, a: ArticleData) -> None:
    """The source saw the article at ``a.url`` (in a web archive, when ``a`` is a capture)."""
    session.execute(
        _INSERT_SIGHTING,
        {
            "article_id": article_id,
            "source_id": source_id,
            "url": a.url,
            "archive": a.archive,
            "archived_url": a.archived_url,
        },
    )


def _listing_sightings(session: Session, queue_id: int, article_id: int) -> None:
    """Every source that listed the queue row's URL saw the article it led to."""
    session.execute(
        text(
            "INSERT INTO sightings (article_id, source_id, url)"
            " SELECT :article_id, source_id, url FROM url_listings WHERE queue_id = :queue_id"
            " ON CONFLICT DO NOTHING"
        ),
        {"article_id": article_id, "queue_id": queue_id},
    )


def queue_counts(session: Session) -> dict[str, int]:
    return dict(session.execute(select(QueuedUrl.state, func.count()).group_by(QueuedUrl.state)).all())


__all__ = [
    "CLAIM_LEASE",
    "PollSummary",
    "apply_ingest",
    "apply_poll",
    "apply_polls",
    "claim_items",
    "due_sources",
    "queue_counts",
]


def apply_backfill(session: Session, outcome: PollOutcome, run_id: str | None = None) -> PollSummary:
    """Record a backfill poll: its fetches in the log and its entries in the queue.

    The source's health, validators and schedule are left alone: a backfill reads the past
    and says nothing of how the source behaves now.
    """
    _insert_log_rows(session, _poll_log_rows(outcome, run_id))
    summary = PollSummary(outcome.source_id, outcome.fetch.outcome, warning=outcome.warning)
    if outcome.error:
        summary.outcome, summary.error = "error", outcome.error
        return summary
    summary.new, summary.known = _enqueue_many(session, [outcome]).get(outcome.source_id, (0, 0))
    return summary
