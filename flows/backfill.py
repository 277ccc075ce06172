"""Backfill: read the sources' past (sitemaps, and feeds as far back as they go) over a date
window, queue what was published in it, then ingest the queue.

The steps, without Prefect (as :mod:`flows.pipeline` for a cycle): :mod:`flows.backfill_flows`
wraps them in the ``veille-backfill`` flow, :mod:`flows.direct` runs them on threads when no
Prefect server is configured (``VEILLE_PREFECT``, :mod:`flows.mode`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError

from flows.archive_backfill import FetchBudget
from flows.artifacts import BACKFILL_TABLE_KEY, artifact_key
from flows.commands.common import counted
from flows.outcome import NOT_READ, RunOutcome, disabled_words, judge_run, some_names
from flows.pipeline import _source_names, fetch_kinds, summarize
from flows.polling import poll_batches, skipped_entries
from flows.queue_drain import IngestReport
from flows.retries import DatabaseLosses, _cause, is_transient
from flows.runtime import Submit, reset_runtime, run_logger, runtime
from monitors.archive.db import DatabaseUnavailable, cancelled, session_scope
from monitors.archive.polls import PollSummary, apply_backfill, due_sources
from monitors.archive.queue import queue_counts
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.collect.sources import (
    SourcesFile,
    SourceSpec,
    load_sources_file,
    record_problems,
    sources_label,
    sync_sources,
)
from monitors.dates import article_day
from monitors.settings import BACKFILL_BUDGET, get_settings, stopped_at_budget

#: Kinds whose documents carry dates; a listing page shows only what is current.
BACKFILL_KINDS = ("sitemap", "feed")


#: The fetch budget of the backfill in progress in this process (set by :func:`backfill`).
_budget = FetchBudget(0)
#: The database losses of its batches (reset by :func:`backfill`).
_losses = DatabaseLosses()


def backfill_batch_task(
    batch: list[SourceState], since: datetime, until: datetime, run_id: str | None, index: int
) -> list[PollSummary]:
    """Read a batch of sources over the window (concurrently), then record them. Every request
    (a source's document, each child sitemap) is taken from the run's fetch budget: a source
    met once it is spent is not read, a child sitemap is left unread (the body of the task
    ``backfill batch N``)."""
    rt = runtime()

    def allow() -> bool:
        return _budget.take(1) == 1

    def read(source: SourceState) -> PollOutcome | None:
        if not allow():
            return None
        outcome = poll_source(
            rt.client, rt.settings, source, rt.throttle, rt.robots, window=(since, until), allow=allow
        )
        if outcome.fetch.held:  # not asked: its host on hold, or unreachable earlier in the run
            _budget.give_back(1)
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(rt.settings.concurrency, len(batch)))) as pool:
        outcomes = list(pool.map(read, batch))
    # what was read is recorded again once a lost database is back, not read again
    recorded = _losses.run(lambda: _record(batch, outcomes, run_id))
    lost = f"backfill not recorded: database lost: {_losses.gone}"
    summaries = [PollSummary(s.id, "error", error=lost) for s in batch] if recorded is None else recorded
    logger = run_logger()
    for source, outcome, summary in zip(batch, outcomes, summaries, strict=True):
        if summary.error:
            logger.warning("%s: %s", source.name, summary.error)
        elif outcome is None:
            continue  # the budget left it unread: one line for all of them (:func:`unread_line`)
        else:
            logger.info(
                "%s: %d URLs in the window (%d new), %d outside it",
                source.name,
                summary.new + summary.known,
                summary.new,
                outcome.ignored,
            )
    return summaries


def _record(
    batch: list[SourceState], outcomes: list[PollOutcome | None], run_id: str | None
) -> list[PollSummary]:
    """Record what each source of the batch listed in the window, in one transaction (a lost
    database rolls it back whole: it is recorded again once back, :data:`_losses`)."""
    summaries = []
    with session_scope() as session:
        for source, outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                summaries.append(
                    PollSummary(source.id, NOT_READ, warning=f"{NOT_READ}: the fetch budget was spent")
                )
                continue
            try:
                with session.begin_nested():  # one source's record does not sink the batch's
                    summary = apply_backfill(session, outcome, run_id)
            except DBAPIError as exc:
                if is_transient(exc) and not cancelled(exc):
                    raise  # the database went away: recorded again once it is back
                summaries.append(
                    PollSummary(source.id, "error", error=f"backfill not recorded: {_cause(exc)}")
                )
                continue
            if outcome.unread:
                summary.unread = outcome.unread
                note = f"{outcome.unread} child sitemap(s) not read: the fetch budget was spent"
                summary.warning = f"{note}; {summary.warning}" if summary.warning else note
            summaries.append(summary)
    return summaries


def unread_line(summaries: list[PollSummary]) -> str | None:
    """One line for the sources the fetch budget left unread, if any: how many, that the next
    run reads them, and where to see which. A line per source said the same thing 37 times on
    the default sources."""
    unread = sum(1 for s in summaries if s.outcome == NOT_READ)
    if not unread:
        return None
    return (
        f"{counted(unread, 'source')} not read: the fetch budget ({BACKFILL_BUDGET}) was spent"
        " before them; the next backfill reads them. Which ones: the rows `not read` in the"
        f" backfill's table (printed by `veille backfill`; the artifact {artifact_key(BACKFILL_TABLE_KEY)} of"
        " its flow run in the Prefect UI)"
    )


def _sync(read: SourcesFile, specs: list[SourceSpec]) -> list[SourceState]:
    """Record the sources file's ``specs`` and its bad entries, in one transaction; the
    sources, each due (a backfill reads every one)."""
    with session_scope() as session:
        ids = sync_sources(session, specs)
        record_problems(session, read)
        return due_sources(session, ids, force=True)


def _budget_spent(budget: FetchBudget, summaries: list[PollSummary]) -> str | None:
    """The line saying the backfill spent its budget and what it left, if so: the queued URLs
    (fetched by the same command again, or `veille run`), and the sources and child sitemaps
    not read (read by the same command again only within a budget that covers them)."""
    if budget.spent < budget.limit:
        return None
    with session_scope() as session:
        left = queue_counts(session).get("pending", 0)
    sources = sum(1 for s in summaries if s.outcome == NOT_READ)
    children = sum(s.unread for s in summaries)
    if not (left or sources or children):
        return None
    line = stopped_at_budget(budget.limit, "fetches", BACKFILL_BUDGET, left, "queued URL(s)", "run")
    unread = [f"{n} {what}" for n, what in ((sources, "source(s)"), (children, "child sitemap(s)")) if n]
    if unread:
        line += (
            f"; {' and '.join(unread)} not read: the listing is read again from the start by the"
            " next run, so give it a budget that covers it"
        )
    return line


def backfill(
    since: datetime,
    until: datetime,
    sources_file: str | None,
    names: list[str] | None,
    max_fetches: int | None,
    submit: Submit,
    ingest: Callable[[int], IngestReport],
    run_id: str | None,
    recovered: Sequence[str] = (),
) -> tuple[list[dict[str, Any]], RunOutcome]:
    """Queue what the sitemap and feed sources list for [since, until], then ingest it, at most
    ``max_fetches`` requests in all (default ``VEILLE_BACKFILL_MAX_FETCHES``): the sources'
    documents and child sitemaps first, then the pages; the rest stays queued, for the next
    backfill (or ``veille run``) to fetch, and the run is partly done, saying so.

    Each batch of sources is a step run by ``submit`` (with ``run_id`` recorded with each
    fetch), the pages are ingested by ``ingest(pages)``. The per-source rows and the verdict,
    as a ``veille run``'s (:mod:`flows.outcome`); ``recovered``: the database losses `veille
    backfill` waited out before the run (reading its progress bar's start), counted in it."""
    logger = run_logger()
    if since > until:
        raise ValueError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    reset_runtime()
    _losses.reset()
    try:
        read = load_sources_file(sources_file)
        specs, bad = read.specs, read.bad
        if names:  # the named sources, and the bad entries of those names
            bad = [b for b in bad if b.name in names]
            unknown = sorted(set(names) - {s.name for s in specs} - {b.name for b in bad})
            if unknown:
                raise ValueError(f"no source named {', '.join(map(repr, unknown))} in the sources file")
            specs = [s for s in specs if s.name in names]
        # the file's sources recorded, waiting for a database lost meanwhile (done again once back)
        synced = _losses.run(lambda: _sync(read, specs))
        if synced is None:
            raise DatabaseUnavailable(
                f"lost the database during the backfill's recording of the sources file ({_losses.gone}):"
                " what was committed stays; run `veille backfill` again"
            )
        sources = synced
        left_out = skipped_entries(bad)  # each warned of, a row of the report: the run is Partial
        usable = [s for s in sources if s.kind in BACKFILL_KINDS]
        skipped = [s.name for s in sources if s.kind not in BACKFILL_KINDS]
        if skipped:
            logger.warning("listing sources cannot reach back in time, skipped: %s", ", ".join(skipped))
        logger.info(
            "backfill %s .. %s over %s",
            article_day(since),
            article_day(until),
            counted(len(usable), "source"),
        )
        global _budget
        budget = _budget = FetchBudget(max_fetches or get_settings().backfill_max_fetches)
        batches = poll_batches(usable)
        futures = [
            submit(backfill_batch_task, batch, since, until, run_id, i) for i, batch in enumerate(batches)
        ]
        summaries: list[PollSummary] = []
        for future, batch in zip(futures, batches, strict=True):
            try:
                summaries.extend(future.result())
            except Exception as exc:  # noqa: BLE001 - a batch failed through its retries: the others go on
                reason = f"backfill not recorded: {_cause(exc)}"
                logger.error("%s: %s", counted(len(batch), "source"), reason)
                summaries.extend(PollSummary(source.id, "error", error=reason) for source in batch)
        if _losses.gone:  # the sources' listings read cannot be queued: no ingest without a database
            raise DatabaseUnavailable(
                "lost the database during the backfill's queueing of what the sources' sitemaps and"
                f" feeds list ({_losses.gone}): what was committed stays; run `veille backfill` again"
            )
        if line := unread_line(summaries):
            logger.warning(line)
        summaries += left_out
        # the pages get what the listing (the sources' documents, child sitemaps) left
        pages = budget.take(budget.limit)
        source_names = _source_names()  # before the ingest: a run that loses the database there names them
        report = ingest(pages) if pages else IngestReport()  # it waits for a lost database
        budget.give_back(pages - report.fetched)  # a page deferred (its host dead or on hold) fetched nothing
        stopped = _budget_spent(budget, summaries)
    finally:
        reset_runtime()
    # the run's rows and verdict, as a `veille run`'s: a backfill whose every source failed
    # is no Completed run with exit code 0
    rows = summarize(summaries, report, source_names)
    outcome = judge_run(
        rows,
        # the command's losses before the run, the listings' record's, then the ingest's
        [*recovered, *_losses.recovered, *report.interruptions],
        report.gave_up,
        fetch_kinds(summaries, report),
        report.left,
        verb="read",
    )
    if outcome.empty:  # "no source was due" are a cycle's words: a backfill reads every source
        usable_names = {s.name for s in sources}
        disabled = [spec.name for spec in specs if spec.name not in usable_names]
        outcome.nothing = nothing_to_backfill(sources_file, bool(specs), skipped, disabled)
    if stopped:
        logger.warning(stopped)
        outcome.problems.append(stopped)
        if outcome.status == "ok":
            outcome.status = "partial"  # work left for the next run, as a run cut short
    (logger.info if outcome.status == "ok" else logger.warning)(outcome.message)
    return rows, outcome


def nothing_to_backfill(
    sources_file: str | None, any_source: bool, listings: list[str], disabled: Sequence[str] = ()
) -> str:
    """The message of a backfill that read no source: its file has none, or none of its
    sources (those named) is a sitemap or a feed that can reach back (``listings``), or they
    are ``disabled``; each named, as the terminal's log line names the listings (the flow run's
    note said "the sources read are disabled", not which)."""
    if not any_source:
        return f"Nothing to do: {sources_label(sources_file)} has no source."
    why = []
    if listings:
        why.append(
            f"{counted(len(listings), 'listing source')} cannot reach back in time: {some_names(listings)}"
        )
    if disabled:
        why.append(disabled_words(disabled))
    return f"Nothing to do: no sitemap or feed source to backfill ({'; '.join(why)})."


def __getattr__(name: str) -> Any:
    """The flow lived here before :mod:`flows.backfill_flows`; importing it here keeps working."""
    if name == "backfill_flow":
        from flows import backfill_flows

        return backfill_flows.backfill_flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
