"""Poll outcomes written: their entries queued (``url_queue``, ``url_listings``), their fetches
in the fetch log, the sources' health and next poll time; which sources are due.

Uniqueness is the database's job (``ON CONFLICT``), so concurrent runs and re-runs are safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    SQLColumnExpression,
    and_,
    any_,
    bindparam,
    case,
    func,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from monitors.archive.bulk import as_rows, recordset_insert, recordset_update
from monitors.archive.db import cancelled
from monitors.archive.fetch_log import insert_log_rows, log_row
from monitors.archive.models import FetchLog, Source, table
from monitors.archive.queue import now
from monitors.archive.write_errors import UNSTORABLE, store_error, unstorable
from monitors.collect import fallback
from monitors.collect.blocking import BLOCKED
from monitors.collect.poll import PollOutcome, SourceState
from monitors.collect.results import PERMANENT, PRIVATE_ADDRESS, TRANSIENT
from monitors.collect.schedule import adapt_interval, effective_interval, failure_backoff
from monitors.group.urls import canonicalize_url
from monitors.language_tags import normalize_declared_language
from monitors.settings import Settings, get_settings

FAILING_AFTER = timedelta(days=3)
DISABLE_AFTER_FAILURES = 30


#: A batch of polls the database would not take as a whole: each source is then tried alone.
_REJECTED: tuple[type[Exception], ...] = (IntegrityError, *UNSTORABLE)
# what to catch to ask unstorable(): a limit exceeded comes wrapped as an OperationalError
_MAYBE_REJECTED: tuple[type[Exception], ...] = (*_REJECTED, OperationalError)


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
    unreached: str | None = None  # the failed fetch reached no server: how (FetchResult.unreached)
    host: str | None = None  # its fetch's last request's host (None: none sent, or not recorded)


def next_poll() -> SQLColumnExpression[datetime | None]:
    """When a source is next polled (NULL: now), the one definition of "due" that
    :func:`due_sources` and ``veille sources`` (:mod:`monitors.collect.health`) share: its
    ``next_poll_at``, but now for one whose address ``VEILLE_ALLOW_PRIVATE_NETWORK`` refused
    while the setting is on (the setting refused it, not the source: it waited a permanent
    failure's day)."""
    if not get_settings().allow_private_network:
        return Source.next_poll_at
    refused = and_(Source.consecutive_failures > 0, Source.last_error_class == PRIVATE_ADDRESS)
    return case((refused, null()), else_=Source.next_poll_at)


def due_sources(session: Session, ids: list[int], force: bool = False) -> list[SourceState]:
    """Sources among ``ids`` that are not disabled and due for a poll (:func:`next_poll`; all
    of them with force)."""
    query = select(Source).where(Source.id.in_(ids), Source.status != "disabled")
    if not force:
        when = next_poll()
        query = query.where(or_(when.is_(None), when <= func.now()))
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
                log_row(
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
                "feed_published_explicit": entry.published_explicit,
                # an entry's own language (a JSON Feed item's) before the feed's
                "feed_language": normalize_declared_language(entry.language) or feed_language,
            },
        )
    return rows, skipped


def _poll_log_rows(outcome: PollOutcome, run_id: str | None) -> list[dict]:
    result = outcome.fetch
    rows = _poll_log_rows(outcome.primary, run_id) if outcome.primary is not None else []
    rows += [
        log_row(
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
            unreached=result.unreached,
            transport=result.transport,
        )
    ]
    for extra in outcome.extra_fetches:
        rows.append(
            log_row(
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
                unreached=extra.unreached,
                transport=extra.transport,
            )
        )
    return rows


def enqueue(session: Session, source_id: int, outcome: PollOutcome) -> tuple[int, int]:
    """Add the outcome's entries to the URL queue in one statement; returns (new, already known)."""
    counts = _enqueue_many(session, [outcome])
    return counts.get(outcome.source_id, (0, 0))


def _enqueue_many(
    session: Session, outcomes: list[PollOutcome], found_by: str = "poll"
) -> dict[int, tuple[int, int]]:
    """Queue the entries of several polls in one statement; (new, already known) per source.
    ``found_by`` marks the rows it adds (``poll``, or ``backfill`` for the site's past: not
    the source's new items of the week in ``veille sources``).

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
            owned.setdefault(canonical, row | {"found_by": found_by})
            listings.append({"canonical_url": canonical, "source_id": row["source_id"], "url": row["url"]})
    insert_log_rows(session, skipped)
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
        "feed_published_explicit": "boolean",
        "feed_language": "text",
        "found_by": "text",
    },
    # A fetched entry its own source lists again with another title or date was revised at
    # the source: it is queued again, so the store can keep the earlier version.
    "ON CONFLICT (canonical_url) DO UPDATE SET url = excluded.url, feed_title = excluded.feed_title,"
    " feed_author = excluded.feed_author, feed_summary = excluded.feed_summary,"
    " feed_published_at = excluded.feed_published_at,"
    " feed_published_explicit = excluded.feed_published_explicit, feed_language = excluded.feed_language,"
    " state = 'pending', reason = 'feed entry changed: fetch again', attempts = 0,"
    " next_attempt_at = now(), claimed_at = NULL, claimed_by = NULL, updated_at = now()"
    " WHERE url_queue.state = 'fetched' AND url_queue.source_id = excluded.source_id"
    " AND (url_queue.feed_title IS DISTINCT FROM excluded.feed_title"
    " OR url_queue.feed_published_at IS DISTINCT FROM excluded.feed_published_at)"
    " RETURNING source_id, xmax = 0 AS inserted",
)


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


def _record_store_failure(
    session: Session, outcome: PollOutcome, exc: Exception, run_id: str | None
) -> PollSummary:
    reason = store_error(exc) + " (could not store this poll)"
    # a statement the server cancelled may pass next time: the source stays due
    error_class = TRANSIENT if cancelled(exc) else PERMANENT
    with session.begin_nested():
        row = log_row(
            url=outcome.fetch.url.replace("\x00", ""),
            kind=outcome.kind,
            outcome="error",
            run_id=run_id,
            source_id=outcome.source_id,
            status=outcome.fetch.status,
            error_class=error_class,
            reason=reason,
        )
        insert_log_rows(session, [row])
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


_SOURCES = table(Source)
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
    insert_log_rows(session, [row for o in present for row in _poll_log_rows(o, run_id)])
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


def _summary(outcome: PollOutcome) -> PollSummary:
    """A poll's summary before its counts: its outcome, warning and the host its fetch's last
    request went to (None when it sent none: refused, disallowed, no time left)."""
    fetched = outcome.fetch
    return PollSummary(outcome.source_id, fetched.outcome, warning=outcome.warning, host=fetched.host)


def _update_health(
    source: SourceHealth, outcome: PollOutcome, new: int, known: int, t: datetime, settings: Settings
) -> PollSummary:
    """A source's health columns and next poll time after one poll."""
    result = outcome.fetch
    low, high = settings.min_poll_interval, settings.max_poll_interval
    summary = _summary(outcome)
    source.last_polled_at = t
    if outcome.suggested_feeds is not None:
        source.suggested_feeds = outcome.suggested_feeds
    error = fallback.record(source, outcome, t)
    if error:
        summary.outcome, summary.error, summary.unreached = "error", error, result.unreached
        refused = result.private_address  # refused by VEILLE_ALLOW_PRIVATE_NETWORK, not the source
        if not refused and source.consecutive_failures and source.last_error_class == PRIVATE_ADDRESS:
            # the setting let it through and the source fails on its own: its count starts here
            source.consecutive_failures, source.failing_since = 0, None
        source.consecutive_failures += 1
        source.total_failures += 1
        source.last_error = error
        # a refusal of the address by the setting is told apart: lifted, it is polled at once
        source.last_error_class = PRIVATE_ADDRESS if refused else outcome.error_class
        source.failing_since = source.failing_since or t
        if outcome.error_class in {TRANSIENT, BLOCKED} or source.fallback_url:
            # a blocked source, or one with a fallback to move to, is looked at again soon
            delay = failure_backoff(source.consecutive_failures, result.retry_after, low, high)
        else:  # permanent: no quick retry, look again after the longest interval
            delay = float(high)
        source.next_poll_at = t + timedelta(seconds=delay)
        if source.consecutive_failures >= DISABLE_AFTER_FAILURES and not refused:
            # refusals by the setting never disable: disabled, the source would stay off once
            # the setting is on (due_sources skips it), with nothing saying so
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
    elif not outcome.via_fallback:  # over (fetch_log keeps the history); on the fallback, the
        # primary URL's cause stays until the primary answers again
        source.last_error, source.last_error_class = None, None
    if summary.new:
        source.new_items_count += summary.new
        source.last_new_item_at = t
    return summary


def apply_backfill(session: Session, outcome: PollOutcome, run_id: str | None = None) -> PollSummary:
    """Record a backfill poll: its fetches in the log and its entries in the queue.

    The source's health, validators and schedule are left alone: a backfill reads the past
    and says nothing of how the source behaves now.
    """
    insert_log_rows(session, _poll_log_rows(outcome, run_id))
    summary = _summary(outcome)
    if outcome.error:
        summary.outcome, summary.error, summary.unreached = "error", outcome.error, outcome.fetch.unreached
        return summary
    counts = _enqueue_many(session, [outcome], found_by="backfill")
    summary.new, summary.known = counts.get(outcome.source_id, (0, 0))
    return summary
