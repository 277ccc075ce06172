"""A veille cycle or backfill without Prefect: the steps of a cycle (:mod:`flows.pipeline`,
:mod:`flows.polling`, :mod:`flows.queue_drain`; of :mod:`flows.backfill`,
:mod:`flows.archive_backfill`) on a pool of threads.

``veille run`` and ``veille backfill`` take this path when no Prefect server is configured
(:mod:`flows.mode`): starting Prefect's temporary server and recording flow runs in it cost
seconds for a history nobody can see. What a user relies on is kept: the same steps on the
same number of threads (8; 4 for a backfill's batches or jobs, as its flow's task runner), the
same retries (a step that fails for a transient reason is tried again after 2 s, then 10 s, as
``retry_transient`` does in a flow), the same verdict and exit code (:mod:`flows.outcome`), the
log lines on stderr. No artifacts: they live in a Prefect server.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flows.pipeline import run_once
from flows.polling import poll_sources
from flows.queue_drain import drain_queue
from flows.retries import RETRY_DELAYS, is_transient
from flows.runtime import Submit
from monitors.errors import describe

if TYPE_CHECKING:
    from flows.archive_backfill import Plan

#: Threads for the steps, as the flows' ``ThreadPoolTaskRunner(max_workers=8)``.
STEP_THREADS = 8
#: Threads for a backfill's batches or jobs, as the backfill flows' task runners.
BACKFILL_THREADS = 4


def with_retries(
    step: Callable[..., Any], *args: Any, delays: tuple[float, ...] = RETRY_DELAYS, sleep: Any = time.sleep
) -> Any:
    """Call ``step``; when it fails for a transient reason (:func:`flows.retries.is_transient`),
    wait and try again, once per delay; any other failure, or the last one, is raised."""
    for delay in delays:
        try:
            return step(*args)
        except Exception as exc:
            if not is_transient(exc):
                raise
            logging.getLogger("veille").warning(
                "%s failed (%s), retried in %s s", step.__name__, describe(exc), delay
            )
        sleep(delay)
    return step(*args)


def run_direct(
    sources_file: str | None = None, force: bool = False, max_items: int | None = None
) -> tuple[list[dict[str, Any]], Any]:
    """One cycle as ``veille-run`` does it, without Prefect: the per-source rows and the
    verdict (:class:`flows.outcome.RunOutcome`)."""
    rows, outcome, _ = run_cycle(sources_file, force, max_items)
    return rows, outcome


def run_cycle(
    sources_file: str | None, force: bool, max_items: int | None, run_id: str | None = None
) -> tuple[list[dict[str, Any]], Any, Any]:
    """:func:`run_direct`, with ``run_id`` recorded with each fetch (a flow run of a Prefect
    server that records the cycle, :mod:`flows.record`); also the database time it started."""
    with show_logs(), steps() as submit:
        return run_once(
            lambda: poll_sources(sources_file, force, submit, run_id),
            lambda: drain_queue(max_items, submit, run_id)[0],
            sources_file,
        )


def backfill_direct(
    since: datetime,
    until: datetime,
    sources_file: str | None = None,
    names: list[str] | None = None,
    max_fetches: int | None = None,
    recovered: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], Any]:
    """A backfill as ``veille-backfill`` does it, without Prefect (:func:`flows.backfill.backfill`,
    with the losses ``recovered`` before it): the per-source rows and the verdict."""
    from flows.backfill import backfill

    def ingest(pages: int) -> Any:
        with steps() as submit:
            return drain_queue(pages, submit, None)[0]

    with show_logs(), steps(BACKFILL_THREADS) as submit:
        return backfill(since, until, sources_file, names, max_fetches, submit, ingest, None, recovered)


def archive_backfill_direct(
    archive: str,
    since: datetime,
    until: datetime,
    site: str | None = None,
    sources_file: str | None = None,
    relevant_only: bool = False,
    max_fetches: int | None = None,
    planned: Plan | None = None,
) -> tuple[list[dict[str, Any]], Any]:
    """A backfill as ``veille-archive-backfill`` does it, without Prefect
    (:func:`flows.archive_backfill.archive_backfill`, with the check's ``planned`` if given):
    the job rows and the verdict."""
    from flows.archive_backfill import archive_backfill

    with show_logs(), steps(BACKFILL_THREADS) as submit:
        return archive_backfill(
            archive, since, until, site, sources_file, relevant_only, max_fetches, submit, None, planned
        )


@contextmanager
def steps(threads: int = STEP_THREADS) -> Iterator[Submit]:
    """A pool of ``threads`` running steps with the flows' retries: its ``submit``."""
    with ThreadPoolExecutor(threads, thread_name_prefix="step") as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Future[Any]:
            return pool.submit(with_retries, step, *args)

        yield submit


@contextmanager
def show_logs() -> Iterator[None]:
    """While in it, print the ``veille`` logger's lines on stderr, as Prefect prints a flow's:
    INFO and up, or the level of ``PREFECT_LOGGING_LEVEL`` when set (users quiet ``veille run``
    with it). The logger is left as it was found when the outermost one ends: setting it for
    the rest of the process kept a program's (or a test's) own handlers from the library's
    lines after its first direct run (no propagation, the level of that run's environment)."""
    logger = logging.getLogger("veille")
    with _SHOWN.lock:
        if _SHOWN.depth == 0:
            _SHOWN.saved = (logger.level, logger.propagate)
            handler = _Stderr()
            handler.setFormatter(
                logging.Formatter("%(asctime)s.%(msecs)03d | %(levelname)-7s | %(message)s", "%H:%M:%S")
            )
            _SHOWN.handler = handler
            logger.addHandler(handler)
            logger.propagate = False
            level = os.environ.get("PREFECT_LOGGING_LEVEL", "").strip().upper()
            logger.setLevel(level if level in logging.getLevelNamesMapping() else logging.INFO)
        _SHOWN.depth += 1
    try:
        yield
    finally:
        with _SHOWN.lock:
            _SHOWN.depth -= 1
            if _SHOWN.depth == 0 and _SHOWN.handler is not None:
                logger.removeHandler(_SHOWN.handler)
                _SHOWN.handler = None
                logger.setLevel(_SHOWN.saved[0])
                logger.propagate = _SHOWN.saved[1]


class _Shown:
    """How many direct runs of this process show the logs now (nested, or on several threads),
    and what the ``veille`` logger was before the first: restored when the last one ends."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.handler: logging.Handler | None = None
        self.saved: tuple[int, bool] = (logging.NOTSET, True)


_SHOWN = _Shown()


class _Stderr(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is at the time of each line."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass
