"""Ingest outcomes written: articles, their revisions and sightings, and the queue row settled
(fetched, retried later, failed or skipped), each page's fetch in the fetch log.

Uniqueness is the database's job (``ON CONFLICT``), so concurrent runs and re-runs are safe.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from monitors.archive.db import cancelled, session_scope
from monitors.archive.fetch_log import log_fetch
from monitors.archive.models import Article, ArticleHtml, ArticleRevision, QueuedUrl, Sighting, table
from monitors.archive.queue import REFUSED_PRIVATE, now
from monitors.archive.write_errors import UNSTORABLE, store_error, unstorable
from monitors.collect.results import PERMANENT, TRANSIENT
from monitors.errors import describe
from monitors.group.dedup import SIGNATURE_SCHEME, detect_wire, diff_summary
from monitors.group.neardup import link_and_index
from monitors.group.story_store import assign as assign_story
from monitors.group.story_store import lock_story_keys, show_revision
from monitors.records import ArticleData, IngestOutcome, extraction_columns

RETRY_BASE_SECONDS = 60.0
RETRY_MAX_SECONDS = 6 * 3600.0


# what to catch to ask unstorable(): a limit exceeded comes wrapped as an OperationalError
_MAYBE_UNSTORABLE: tuple[type[Exception], ...] = (*UNSTORABLE, OperationalError)


# The page path's statements, built once on the tables and given their values as parameters:
# built on the ORM classes with .values() for every page, each cost 1-2 ms of CPU in
# SQLAlchemy (the values coerced one by one, the ORM's bulk-persistence layer around them).
_INSERT_ARTICLE = insert(table(Article)).on_conflict_do_nothing().returning(table(Article).c.id)
_INSERT_ARTICLE_HTML = insert(table(ArticleHtml))
_INSERT_SIGHTING = insert(table(Sighting)).on_conflict_do_nothing(constraint="sightings_unique")
_LOCK_QUEUE_ROW = (
    select(table(QueuedUrl).c.id).where(table(QueuedUrl).c.id == bindparam("queue_id")).with_for_update()
)
_UPDATE_QUEUE_ROW = update(table(QueuedUrl)).where(table(QueuedUrl).c.id == bindparam("queue_id"))
_UPSERT_TOPIC_SCORES = text(
    "INSERT INTO article_topics (article_id, topic, version, score, relevant, terms, evidence, scored_at)"
    " VALUES (:article_id, :topic, :version, :score, :relevant, :terms, CAST(:evidence AS jsonb), now())"
    " ON CONFLICT (article_id, topic) DO UPDATE SET version = EXCLUDED.version, score = EXCLUDED.score,"
    " relevant = EXCLUDED.relevant, terms = EXCLUDED.terms, evidence = EXCLUDED.evidence,"
    " scored_at = EXCLUDED.scored_at"
)


def write_topic_scores(session: Session, article_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert an article's ``article_topics`` rows (from ``topic_row``; also a rescore's:
    :mod:`monitors.archive.topic_scores`). Here, not there: an article's writes load no judging
    module (``tests/test_layers.py``)."""
    if rows:
        session.execute(_UPSERT_TOPIC_SCORES, [{**row, "article_id": article_id} for row in rows])


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
        unreached=out.unreached,
        transport=out.transport,
    )
    # the queue row is locked first, as before the article's locks; written once, at the end
    # (Core statements: the ORM's load of the whole row and its flush cost more than the SQL)
    locked = session.execute(_LOCK_QUEUE_ROW, {"queue_id": item.id}).scalar_one_or_none()
    assert locked is not None
    changes: dict[str, Any] = {"claimed_at": None, "claimed_by": None}
    if out.article is None:
        if out.deferred:  # not asked (its host on hold: a Retry-After): no attempt spent
            changes["state"] = "pending"
            changes["attempts"] = max(0, item.attempts - 1)
            changes["reason"] = out.reason
            changes["next_attempt_at"] = now() + timedelta(seconds=out.retry_after or 0.0)
            status = "retry"
        elif out.error_class == TRANSIENT and item.attempts < max_attempts:
            changes["state"] = "pending"
            changes["reason"] = f"retry {item.attempts}/{max_attempts}: {out.reason}"
            delay = retry_delay(item.attempts, out.retry_after)
            changes["next_attempt_at"] = now() + timedelta(seconds=delay)
            status = "retry"
        else:
            status = changes["state"] = "skipped" if out.outcome == "skipped" else "failed"
            changes["reason"] = out.reason if out.error_class != TRANSIENT else f"gave up: {out.reason}"
            if out.private_address:  # queued again once the setting allows the address
                changes["reason"] = f"{REFUSED_PRIVATE}{out.reason}"
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
            out.reason = f"the database cancelled the store: {store_error(exc)}"
            with session_scope() as session:
                return settled(apply_ingest(session, out, max_attempts=max_attempts, run_id=run_id))
        if not unstorable(exc):
            raise  # the database went away: the caller waits for it and tries again
        # the page is settled as a permanent failure, the way apply_ingest settles any other
        reason = f"could not store this page: {describe(exc, message=store_error(exc))}"
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
    story_keys = lock_story_keys(session, a.text, a.title, a.signature, a.language)  # band locks first
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
        "signature_scheme": SIGNATURE_SCHEME,  # a revision's new signature is of this scheme too
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
    published, evidence = same_url.published_at, same_url.extraction_evidence
    for key, value in values.items():
        if key not in {"canonical_url", "source_id"}:
            setattr(same_url, key, value)
    if published is not None:
        # the article keeps its day (the views' publication date, else first fetch): a revision
        # that drops or moves the date does not move it (a date the first version lacked is taken)
        same_url.published_at = published
        same_url.extraction_evidence = _kept_date_evidence(same_url.extraction_evidence, evidence)
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
            at=same_url.published_at or same_url.fetched_at,  # its day, which a revision keeps
            copy_root=link.root if link.root != same_url.id else None,
            keys=story_keys,
            # a cluster's root is linked to nothing else (its copies point to it)
            signature=a.signature if link.root is None else None,
        )
    else:
        show_revision(session, same_url.id)
    write_topic_scores(session, same_url.id, a.topic_scores)
    return "revised", same_url.id


def _kept_date_evidence(new: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any] | None:
    """The revision's extraction evidence with the first version's ``published_*`` entries
    (where the kept date came from, ``published_local``: the offset the page gave it, so the
    outputs keep the site's clock) in place of the revision's."""
    if not any(key.startswith("published_") for key in (*(new or {}), *(old or {}))):
        return new
    kept = {key: value for key, value in (new or {}).items() if not key.startswith("published_")}
    return kept | {key: value for key, value in (old or {}).items() if key.startswith("published_")}


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
