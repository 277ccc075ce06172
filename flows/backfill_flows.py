"""The Prefect flows of the backfills: ``veille-backfill`` (sitemaps and feeds over a date
window, then the pages in its ``veille-ingest`` subflow) and ``veille-archive-backfill`` (a
web archive, one task per job, also deployed to the work pool).

They wrap the steps of :mod:`flows.backfill` and :mod:`flows.archive_backfill` as
:mod:`flows.runs` wraps a cycle's: each batch of sources and each job is a task run, retried on
transient errors only; each flow ends in a state that says how it went (:mod:`flows.outcome`)
and publishes its table. ``veille backfill`` calls them when a Prefect server is configured
(:mod:`flows.mode`), else runs the same steps directly (:mod:`flows.direct`).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.task_runners import ThreadPoolTaskRunner

from flows import archive_backfill
from flows import backfill as sitemaps
from flows.archive_backfill import Plan
from flows.artifacts import ARCHIVE_BACKFILL_TABLE_KEY, BACKFILL_TABLE_KEY, artifact_key, note
from flows.retries import transient_task
from flows.runs import TASKS, ingest_flow, said_in_flow, submit_task
from flows.runtime import _run_id, connections_named_by_flow
from monitors.collect.archives.common import ARCHIVE_NAMES

TASKS[sitemaps.backfill_batch_task] = transient_task("backfill batch {index}")(sitemaps.backfill_batch_task)
TASKS[archive_backfill.backfill_job_task] = transient_task("archive backfill job {job_id}")(
    archive_backfill.backfill_job_task
)


def publish_note(title: str, message: str) -> None:
    """A backfill with no row publishes its verdict as a short report under no key
    (:func:`flows.artifacts.note`): its run still says in the UI what it came to, and the
    latest table stays the last backfill that had rows."""
    artifact = note(title, message, "Backfill with no row: its verdict (not the latest table)")
    create_markdown_artifact(key=artifact.key, markdown=artifact.data, description=artifact.description)


@flow(name="veille-backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def backfill_flow(
    since: datetime,
    until: datetime,
    sources_file: str | None = None,
    names: list[str] | None = None,
    max_fetches: int | None = None,
    recovered: list[str] | None = None,
) -> list[dict[str, Any]]:
    """:func:`flows.backfill.backfill`, the pages in a ``veille-ingest`` subflow. Ends in a
    state that says how it went, as ``veille-run`` does (:mod:`flows.outcome`), with the
    per-source rows as its result; a body that raised ends Failed with the exception described
    (:func:`flows.runs.said_in_flow`). ``recovered``: the database losses ``veille backfill``
    waited out before the run, counted in its verdict; a deployment's run leaves it out."""
    with connections_named_by_flow():
        try:
            rows, outcome = sitemaps.backfill(
                since,
                until,
                sources_file,
                names,
                max_fetches,
                submit_task,
                lambda pages: ingest_flow(max_items=pages),
                _run_id(),
                recovered or (),
            )
            if rows:
                key = artifact_key(BACKFILL_TABLE_KEY)  # one per VEILLE_INSTANCE, as veille serve's
                create_table_artifact(key=key, table=rows, description="Backfill per source")
            else:
                publish_note("veille backfill", outcome.message)
            return outcome.state(rows)  # type: ignore[return-value]  # a state: its data is the result
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return said_in_flow(exc)


@flow(name="veille-archive-backfill", task_runner=ThreadPoolTaskRunner(max_workers=4))  # type: ignore[arg-type]
def archive_backfill_flow(
    archive: str,
    since: datetime,
    until: date | datetime,  # a day alone ("2025-02-28") is a date: the whole day, as the CLI's
    site: str | None = None,
    sources_file: str | None = None,
    relevant_only: bool = False,
    max_fetches: int | None = None,
    planned: Plan | None = None,
) -> Any:
    """:func:`flows.archive_backfill.archive_backfill`, one task per job. Its final state says
    whether every job finished (Completed), some stopped on an archive error (Completed, named
    Partial) or all did before storing a capture (Failed); its result is the job rows. A body
    that raised ends Failed with the exception described (:func:`flows.runs.said_in_flow`).
    ``planned``: the plan ``veille backfill`` made to check the request, used rather than
    planned again; a deployment's run leaves it out and plans."""
    started = time.monotonic()
    with connections_named_by_flow():
        try:
            rows, outcome = archive_backfill.archive_backfill(
                archive,
                since,
                until,
                site,
                sources_file,
                relevant_only,
                max_fetches,
                submit_task,
                _run_id(),
                planned,
            )
            if rows:
                create_table_artifact(
                    key=artifact_key(ARCHIVE_BACKFILL_TABLE_KEY),
                    table=rows,
                    description=f"Backfill from {ARCHIVE_NAMES[archive]}, {time.monotonic() - started:.0f}s",
                )
            else:
                publish_note(f"veille archive backfill from {ARCHIVE_NAMES[archive]}", outcome.message)
            return outcome.state(rows)
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return said_in_flow(exc)
