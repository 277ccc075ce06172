"""Which failures of a step are worth another try (the database or the network hiccuped, not
a bug or bad data), the retries veille's Prefect tasks make of them (:func:`transient_task`;
:mod:`flows.direct` makes the same without Prefect), and a failure told in one line
(:func:`_cause`). Prefect is imported only when a flow defines its tasks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError
from urllib3.exceptions import HTTPError as Urllib3Error

from monitors.archive.db import DatabaseUnavailable, database_lost, failed_at, opened_at, rolled_back_cause
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
    # a connection lost, whatever the error says: a PendingRollbackError over the loss too
    lost = database_lost(exc)
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
    """A database error in one line, cause first (a PendingRollbackError by the loss it is
    over: :func:`monitors.archive.db.rolled_back_cause`)."""
    return rolled_back_cause(exc) or describe(getattr(exc, "orig", None) or exc)


T = TypeVar("T")

#: Times a step waits for its lost database and starts again, in one run.
MAX_RECOVERIES = 3


class DatabaseLosses:
    """The database losses a run's steps met (a backfill's batches of sources, its archive
    jobs), as ``veille run``'s ingest workers keep theirs: each step that loses the database
    waits up to ``VEILLE_DB_WAIT`` for it and starts again (its work resumes from what it
    committed), the run's verdict then saying it was interrupted and recovered (partly done,
    exit 1, as ``veille run``); one that stays away is ``gone``, its cause kept, for the run to
    stop with one line rather than go on without a database. Shared by the run's threads.

    :attr:`recovered` holds one entry per interruption, not per step: the steps that lost the
    database at once (a restart, its sessions ended) all wait for it, and were counted one
    loss each ("interrupted 4 times" for an archive backfill of 5 jobs and one restart). A
    step that lost it before another step's wait saw it back lost it in that interruption; so
    did one that met it later on a connection opened before that interruption was met (an
    archive job's session while it read the CDX, used once the database was back: it was
    counted again, "interrupted 2 times" for one outage)."""

    def __init__(self) -> None:
        self.recovered: list[str] = []
        self.gone: str | None = None
        self._lock = threading.Lock()
        #: when (time.monotonic) a step last saw the database back after losing it
        self._back = float("-inf")
        #: when the last interruption counted was met: a connection opened since then was
        #: opened once the database was back (none opens while it is away)
        self._met = float("-inf")

    def reset(self) -> None:
        with self._lock:
            self.recovered, self.gone = [], None
            self._back = self._met = float("-inf")

    def run(self, step: Callable[[], T]) -> T | None:
        """``step()``, started again after each loss of the database that came back within
        ``VEILLE_DB_WAIT`` (at most :data:`MAX_RECOVERIES` times for this step, not for the
        run: a run of many steps outlives many restarts); None when it did not, or another
        step found it gone (the cause in :attr:`gone`). Any other failure goes through."""
        from monitors.archive.db import get_engine
        from monitors.archive.queue import wait_for_database
        from monitors.settings import get_settings

        for attempt in range(MAX_RECOVERIES + 1):
            try:
                return step()
            except Exception as exc:
                if not database_lost(exc):
                    raise
                loss = Loss.of(exc)
            last = attempt == MAX_RECOVERIES or self.gone is not None
            if last or not wait_for_database(get_engine(), get_settings().db_wait):
                break
            self.came_back(loss)
        self.stays_gone(loss.reason)
        return None

    def came_back(self, loss: Loss) -> None:
        """A step that met ``loss`` saw the database back: a new interruption when the loss
        came after the last one was over (its connection opened since that one was met, or,
        a connection refused as it opened, refused after a step saw the database back)."""
        with self._lock:
            if loss.met > self._back if loss.opened is None else loss.opened > self._met:
                self.recovered.append(f"database lost: {loss.reason}")
                self._met = loss.met
            self._back = time.monotonic()

    def stays_gone(self, reason: str) -> None:
        """A step waited for the database in vain: the run's cause, the first one said."""
        with self._lock:
            self.gone = self.gone or reason


class Loss(NamedTuple):
    """A loss of the database a step met: its cause in one line, when (``time.monotonic``) the
    connection it was met on had been opened (:func:`monitors.archive.db.opened_at`; None for
    a connection refused as it opened), and when it was met: when the driver raised it
    (:func:`monitors.archive.db.failed_at`), else now. Not when the step heard of it: a job
    hears of a refusal in one of its capture threads once its other threads are done, and
    a refusal heard of after another step saw the database back was counted again."""

    reason: str
    opened: float | None
    met: float

    @classmethod
    def of(cls, exc: BaseException) -> Loss:
        failed = failed_at(exc)
        return cls(_cause(exc), opened_at(exc), time.monotonic() if failed is None else failed)


def waited_for(step: Callable[[], T], during: str, advice: str) -> tuple[T, list[str]]:
    """``step()`` under a :class:`DatabaseLosses` of its own, a step that runs before a run's
    others (a backfill's plan, its progress bar's start): its result and the losses it waited
    out, for the run's verdict; a database that stays away raises :class:`DatabaseUnavailable`,
    "lost the database ``during`` (cause): ``advice``", one line."""
    losses = DatabaseLosses()
    done = losses.run(step)
    if done is None:
        raise DatabaseUnavailable(f"lost the database {during} ({losses.gone}): {advice}")
    return done, losses.recovered
