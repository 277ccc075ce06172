"""The steps of the ``veille-poll`` flow: the sources file synced into the database, the due
sources polled in batches (one step each, :func:`poll_batch_task`), the file's bad entries
made rows of the run's report; and whether a cycle would find anything to do
(:func:`nothing_due`). No Prefect import, as for every step (:mod:`flows.pipeline`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from flows.commands.common import counted
from flows.retries import _cause
from flows.runtime import Submit, run_logger, runtime
from monitors.archive.db import session_scope
from monitors.archive.polls import BAD_ENTRY, PollSummary, apply_polls, due_sources
from monitors.archive.schema import ensure_schema
from monitors.collect.poll import POLL_BATCH, PollOutcome, SourceState, poll_many
from monitors.collect.sources import (
    BadEntry,
    load_sources,
    load_sources_file,
    record_problems,
    sources_label,
    sync_sources,
)

#: Seconds between two progress lines of a poll in the run's log ("polled 20 of 49 sources").
PROGRESS_SECONDS = 5.0

#: A bar of the poll's progress: given the sources due, it yields what to call with the sources
#: polled and the note ("3 in error") as each one answers (:func:`show_poll_bar`).
Bar = Callable[[int], AbstractContextManager[Callable[[int, str], None]]]
_bar: Bar | None = None


@contextmanager
def show_poll_bar(bar: Bar) -> Iterator[None]:
    """While in the block, the polls of this process show their progress with ``bar`` too
    (``veille run`` on a terminal: a progress bar on stderr, :func:`flows.commands.progress.counter`)."""
    global _bar
    _bar = bar
    try:
        yield
    finally:
        _bar = None


class PollProgress:
    """How far a poll has gone, told as each source answers (it is the ``handle`` of
    :func:`monitors.collect.poll.poll_many`, on the polling threads): a line in the run's log
    (``polled 20 of 49 sources (3 in error)``) when the first source answers, then at most one
    every :data:`PROGRESS_SECONDS`, and the bar of :func:`show_poll_bar` if one is shown. The
    run said nothing from "49 due" until every source had answered. A batch tried again does
    not count its sources twice."""

    def __init__(self, total: int, logger: Any, update: Callable[[int, str], None] | None = None) -> None:
        self.total, self.logger, self.update = total, logger, update
        self.polled: set[int] = set()
        self.failed: set[int] = set()
        self.last = -math.inf
        self.lock = threading.Lock()

    def __call__(self, source: SourceState, outcome: PollOutcome) -> PollOutcome:
        with self.lock:
            self.polled.add(source.id)
            if outcome.error:
                self.failed.add(source.id)
            else:
                self.failed.discard(source.id)
            polled, failed = len(self.polled), len(self.failed)
            now = time.monotonic()
            say = polled < self.total and now - self.last >= PROGRESS_SECONDS
            if say:
                self.last = now
            if self.update is not None:
                self.update(polled, f"{failed} in error")
        if say:
            self.logger.info("polled %d of %s (%d in error)", polled, counted(self.total, "source"), failed)
        return outcome


def _keep(_: SourceState, outcome: PollOutcome) -> PollOutcome:
    return outcome


def poll_batches(due: list[SourceState], size: int = POLL_BATCH) -> list[list[SourceState]]:
    """Split the due sources into batches: one Prefect task per batch, not per source."""
    return [due[i : i + size] for i in range(0, len(due), size)]


def poll_batch_task(
    batch: list[SourceState],
    run_id: str | None,
    index: int,
    count: int,
    progress: PollProgress | None = None,
) -> list[PollSummary]:
    """Poll a batch of sources on the shared pool (``progress`` told as each one answers), then
    store the batch in one transaction (the body of the task ``poll batch N``)."""
    rt = runtime()
    handle = progress or _keep
    outcomes = poll_many(rt.client, rt.settings, batch, handle, rt.throttle, rt.robots, rt.pool)
    with session_scope() as session:
        summaries = apply_polls(session, outcomes, run_id, rt.settings)
    logger = run_logger()
    # one line per source in error, one for the batch: the run summary artifact has every source
    for source, summary in zip(batch, summaries, strict=True):
        if summary.error:
            logger.warning("%s: %s", source.name, summary.error)
    new = sum(s.new for s in summaries)
    failed = sum(1 for s in summaries if s.error)
    polled, entries = counted(len(summaries), "source"), counted(new, "new entry")
    logger.info("%s polled: %s, %d in error", polled, entries, failed)
    return summaries


def skipped_entries(bad: list[BadEntry]) -> list[PollSummary]:
    """Warn of each bad entry of the sources file on the run's log, cause first, and give its
    row of the run's report (poll ``bad entry``, which makes the run Partial,
    :func:`flows.outcome.judge_run`): left out, the file's other sources are read."""
    logger = run_logger()
    for entry in bad:
        logger.warning("%s (sources file entry skipped; the file's other sources are read)", entry)
    return [
        PollSummary(-number, BAD_ENTRY, error=f"skipped: {entry}", name=entry.name)
        for number, entry in enumerate(bad, start=1)
    ]


def poll_sources(
    sources_file: str | None, force: bool, submit: Submit, run_id: str | None
) -> list[PollSummary]:
    """Sync the sources file into the database (its bad entries into ``source_problems``) and
    poll the sources that are due, one step per batch of sources (the body of the
    ``veille-poll`` flow)."""
    logger = run_logger()
    ensure_schema()
    read = load_sources_file(sources_file)
    with session_scope() as session:
        ids = sync_sources(session, read.specs)
        record_problems(session, read)
        due = due_sources(session, ids, force=force)
    logger.info(
        "%d source%s in %s, %d due",
        len(ids),
        "" if len(ids) == 1 else "s",
        sources_label(sources_file),
        len(due),
    )
    skipped = skipped_entries(read.bad)  # left out, the others polled: each is a row of the report
    bar = _bar
    if bar is None or not due:
        return _poll_due(due, submit, run_id, PollProgress(len(due), logger)) + skipped
    with bar(len(due)) as update:
        return _poll_due(due, submit, run_id, PollProgress(len(due), logger, update)) + skipped


def _poll_due(
    due: list[SourceState], submit: Submit, run_id: str | None, progress: PollProgress
) -> list[PollSummary]:
    """Poll the due sources, one step per batch; a batch not recorded is a row in error for
    each of its sources."""
    logger = run_logger()
    batches = poll_batches(due)
    futures = [submit(poll_batch_task, b, run_id, i, len(b), progress) for i, b in enumerate(batches)]
    summaries: list[PollSummary] = []
    for future, batch in zip(futures, batches, strict=True):
        try:
            summaries.extend(future.result())
        except Exception as exc:  # noqa: BLE001 - e.g. the database stayed away through the retries
            reason = f"poll not recorded: {_cause(exc)}"
            logger.error("%s: %s", counted(len(batch), "source"), reason)
            summaries.extend(PollSummary(source.id, "error", error=reason) for source in batch)
    return summaries


def poll_message(summaries: list[PollSummary]) -> str:
    """The ``veille-poll`` run's state message: what its polls came to (the parent run judges
    the whole cycle; the subflow, Completed with no message, said nothing of its sources)."""
    bad = sum(1 for s in summaries if s.outcome == BAD_ENTRY)
    polled = [s for s in summaries if s.outcome != BAD_ENTRY]
    if not polled:
        said = "No source was due"
    else:
        errors = sum(1 for s in polled if s.outcome == "error")
        new = counted(sum(s.new for s in polled), "new entry", "new entries")
        said = f"{counted(len(polled), 'source')} polled ({errors} in error), {new}"
    if bad:
        said += f"; {counted(bad, 'bad entry', 'bad entries')} of the sources file left out"
    return said + "."


def nothing_due(sources_file: str | None) -> bool:
    """Whether a cycle would find nothing to do: no source of the file due, no URL pending
    (syncing the sources file into the database, as the cycle does first)."""
    from sqlalchemy import select

    from monitors.archive.models import QueuedUrl

    ensure_schema()
    specs = load_sources(sources_file)
    with session_scope() as session:
        ids = sync_sources(session, specs)
        if due_sources(session, ids, force=False):
            return False
        pending = select(QueuedUrl.id).where(QueuedUrl.state == "pending").limit(1)
        return session.execute(pending).first() is None
