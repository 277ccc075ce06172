"""The fetch log's writes: a row per fetch (a poll, a child sitemap, a page), its outcome and cause.

Written by the poll store (:mod:`monitors.archive.polls`), the page store
(:mod:`monitors.archive.articles`) and the archive backfill; users query it for what happened.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from monitors.archive.bulk import as_rows, recordset_insert
from monitors.archive.models import FetchLog, table
from monitors.collect.encoding import storable

# built once on the table, given its values as parameters (see monitors.archive.articles)
_INSERT_FETCH_LOG = insert(table(FetchLog))


def log_fetch(session: Session, *, queue_id: int | None = None, **fields: Any) -> None:
    """Add one ``fetch_log`` row (the fields of :func:`log_row`, plus the queue row it concerns)."""
    # a Core INSERT, not an ORM object: one row per page, nothing reads it back in the session
    session.execute(_INSERT_FETCH_LOG, {**log_row(**fields), "queue_id": queue_id})


def _text(value: str | None) -> str | None:
    """``value`` as PostgreSQL's text takes it: NUL dropped, lone surrogates made U+FFFD (one
    such row failed its whole batch, e.g. a CDX page and its job's cursor, on every run)."""
    if value is None or (value.isascii() and "\x00" not in value):
        return value
    return storable(value)


def log_row(
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
    unreached: str | None = None,
    transport: tuple[str, ...] = (),
) -> dict:
    """One ``fetch_log`` row with every column set, so rows can go in one multi-row insert.
    Its texts are made storable (:func:`_text`): an archive's malformed CDX line, logged as it
    came, may hold a NUL or a lone surrogate."""
    return {
        "url": _text(url) or "",
        "kind": kind,
        "outcome": outcome,
        "run_id": run_id,
        "source_id": source_id,
        "queue_id": None,
        "status_code": status,
        "error_class": error_class,
        "reason": _text(reason),
        "bytes": size,
        "elapsed_ms": elapsed_ms,
        "unreached": unreached,
        # what the headers said wrongly (FetchResult.transport): a feed's, a sitemap's, a page's
        "transport": _text("; ".join(transport)) or None,
    }


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
        "unreached": "text",
        "transport": "text",
    },
)


def insert_log_rows(session: Session, rows: list[dict]) -> None:
    """Add the rows of :func:`log_row` in one statement."""
    if rows:
        session.execute(_LOG_INSERT, as_rows(rows))
