"""Backfill flow: read the sources' past (sitemaps, and feeds as far back as they go) over a
date window, queue what was published in it, then ingest the queue."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows.outcome import judge_run
from flows.pipeline import (
    _run_id,
    _source_names,
    poll_batches,
    reset_runtime,
    runtime,
    summarize,
    transient_task,
)
from flows.runs import ingest_flow
from monitors.archive.db import session_scope
from monitors.archive.store import PollSummary, apply_backfill, due_sources, queue_counts
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.collect.sources import load_sources, sync_sources
from monitors.dates import article_day
from monitors.settings import BACKFILL_BUDGET, get_settings, stopped_at_budget

#: Kinds whose documents carry dates; a listing page shows only what is current.
BACKFILL_KINDS = ("sitemap", "feed")


@transient_task("backfill batch {index}")
def backfill_batch_task(
    batch: list[SourceState], since: datetime, until: datetime, run_id: str | None, index: int
) -> list[PollSummary]:
    """Read a batch of sources over the window (concurrently), then record them."""
    rt = runtime()

    def read(source: SourceState) -> PollOutcome:
        return poll_source(rt.client, rt.settings, source, rt.throttle, rt.robots, window=(since, until))

    with ThreadPoolExecutor(max_workers=max(1, min(rt.settings.concurrency, len(batch)))) as pool:
        outcomes = list(pool.map(read, batch))
    summaries = []
    with session_scope() as session:
        for outcome in outcomes:
            summaries.append(apply_backfill(session, outcome, run_id))
    logger = get_run_logger()
    for source, outcome, summary in zip(batch, outcomes, summaries, strict=True):
        if summary.error:
            logger.warning("%s: %s", source.name, summary.error)
        else:
            logger.info(
                "%s: %d URLs in the window (%d new), %d outside it",
                source.name,
                summary.new + summary.known,
                summary.new,
                outcome.ignored,
            )
    return summaries


def _budget_spent(budget: int, fetched: int) -> str | None:
    """The line saying the backfill spent its budget and how many queued URLs it left, if so."""
    if fetched < budget:
        return None
    with session_scope() as session:
        left = queue_counts(session).get("pending", 0)
    if not left:
        return None
    return stopped_at_budget(budget, "page fetches", BACKFILL_BUDGET, left, "queued URL(s)", "run")


@flow(name="veille-backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def backfill_flow(
    since: datetime,
    until: datetime,
    sources_file: str | None = None,
    names: list[str] | None = None,
    max_fetches: int | None = None,
) -> list[dict[str, Any]]:
    """Queue what the sitemap and feed sources list for [since, until], then ingest it, at most
    ``max_fetches`` pages (default ``VEILLE_BACKFILL_MAX_FETCHES``): the rest stays queued, for
    the next backfill (or ``veille run``) to fetch, and the run is partly done, saying so.

    Ends in a state that says how it went, as ``veille-run`` does (:mod:`flows.outcome`), with
    the per-source rows as its result."""
    logger = get_run_logger()
    if since > until:
        raise ValueError(f"--since {since.isoformat()} is after --until {until.isoformat()}")
    reset_runtime()
    try:
        specs = load_sources(sources_file)
        if names:
            unknown = sorted(set(names) - {s.name for s in specs})
            if unknown:
                raise ValueError(f"no source named {', '.join(map(repr, unknown))} in the sources file")
            specs = [s for s in specs if s.name in names]
        with session_scope() as session:
            ids = sync_sources(session, specs)
            sources = due_sources(session, ids, force=True)
        usable = [s for s in sources if s.kind in BACKFILL_KINDS]
        skipped = [s.name for s in sources if s.kind not in BACKFILL_KINDS]
        if skipped:
            logger.warning("listing sources cannot reach back in time, skipped: %s", ", ".join(skipped))
        logger.info("backfill %s .. %s over %d sources", article_day(since), article_day(until), len(usable))
        run_id = _run_id()
        futures = [
            backfill_batch_task.submit(batch, since, until, run_id, i)
            for i, batch in enumerate(poll_batches(usable))
        ]
        summaries = [s for f in futures for s in f.result()]
        budget = max_fetches or get_settings().backfill_max_fetches
        ingest = ingest_flow(max_items=budget)
        stopped = _budget_spent(budget, len(ingest.statuses))
    finally:
        reset_runtime()
    # the run's rows and verdict, as a `veille run`'s: a backfill whose every source failed
    # is no Completed run with exit code 0
    rows = summarize(summaries, ingest, _source_names())
    outcome = judge_run(rows, ingest.interruptions, ingest.gave_up)
    if stopped:
        logger.warning(stopped)
        outcome.problems.append(stopped)
        if outcome.status == "ok":
            outcome.status = "partial"  # work left for the next run, as a run cut short
    (logger.info if outcome.status == "ok" else logger.warning)(outcome.message)
    if rows:
        create_table_artifact(key="veille-backfill-summary", table=rows, description="Backfill per source")
    return outcome.state(rows)  # type: ignore[return-value]  # a state: its data is the result
