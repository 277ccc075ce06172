"""Which failures of a step are worth another try (the database or the network hiccuped, not
a bug or bad data), the retries veille's Prefect tasks make of them (:func:`transient_task`;
:mod:`flows.direct` makes the same without Prefect), and a failure told in one line
(:func:`_cause`). Prefect is imported only when a flow defines its tasks.
"""

from __future__ import annotations

from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from urllib3.exceptions import HTTPError as Urllib3Error

from monitors.archive.db import DatabaseUnavailable
from monitors.archive.write_errors import unstorable
from monitors.errors import describe

#: Failures worth another try: the database or the network hiccuped. Not every database
#: error: a constraint violated, bad data or a bug in a query (IntegrityError, DataError,
#: ProgrammingError) fails the same way on every try.
TRANSIENT_ERRORS = (
    DatabaseUnavailable,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    Urllib3Error,
)
#: Seconds before the first and the second retry of a step that failed for a passing reason.
RETRY_DELAYS = (2, 10)


def is_transient(exc: BaseException) -> bool:
    """Whether a step that raised ``exc`` is worth another try (database or network hiccup,
    a connection lost whatever the error says); anything else is a bug or bad data."""
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    # a value over a PostgreSQL limit comes as an OperationalError too, and fails every try
    return (lost or isinstance(exc, TRANSIENT_ERRORS)) and not unstorable(exc)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry a task only when it failed for a passing reason."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - judged below
        return is_transient(exc)
    return False


def transient_task(name: str | None = None, delays: tuple[int, int] = RETRY_DELAYS) -> Any:
    """veille's task decorator: no result cache (tasks read and write the database), and two
    retries, for transient failures only."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(
        cache_policy=NO_CACHE,
        retries=len(delays),
        retry_delay_seconds=list(delays),
        retry_condition_fn=retry_transient,
        task_run_name=name,
    )


def _cause(exc: BaseException) -> str:
    """A database error in one line, cause first."""
    return describe(getattr(exc, "orig", None) or exc)
