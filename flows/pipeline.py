"""One veille cycle and its summary: poll due sources, then drain the URL queue (the body of
the ``veille-run`` flow, :func:`run_once`), and the per-source rows and the verdict it ends
with.

The steps are beside it: :mod:`flows.polling` (``veille-poll``), :mod:`flows.queue_drain`
(``veille-ingest``), what they share in a process in :mod:`flows.runtime`, their retries in
:mod:`flows.retries`. Orchestration only: every step calls a plain function from ``monitors``.
No Prefect import here: ``veille run`` without a Prefect server runs these steps directly
(:mod:`flows.direct`), and :mod:`flows.runs` wraps the same steps in Prefect flows and tasks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from flows.queue_drain import IngestReport
from flows.runtime import reset_runtime, run_logger
from monitors.archive import queue as claims
from monitors.archive.db import session_scope
from monitors.archive.models import Source
from monitors.archive.polls import BAD_ENTRY, PollSummary
from monitors.archive.schema import ensure_schema
from monitors.collect.sources import SourcesError, SourcesFile, load_sources_file, sources_label

if TYPE_CHECKING:
    from flows.outcome import RunOutcome


def run_once(
    poll: Callable[[], list[PollSummary]], ingest: Callable[[], IngestReport], sources_file: str | None
) -> tuple[list[dict[str, Any]], Any, Any]:
    """One cycle (the body of the ``veille-run`` flow): poll the sources of ``sources_file``,
    then ingest, with a fresh shared runtime; the per-source rows, the verdict
    (:class:`flows.outcome.RunOutcome`) and the database time the cycle started at."""
    from flows.outcome import judge_run
    from monitors.archive.reads import database_now

    ensure_schema()
    with session_scope() as session:
        started = database_now(session)
    reset_runtime()
    try:
        polls = poll()
        names = _source_names()  # before the ingest: a run that loses the database there names its sources
        report = ingest()
    finally:
        reset_runtime()
    rows = summarize(polls, report, names)
    outcome = judge_run(rows, report.interruptions, report.gave_up, fetch_kinds(polls, report), report.left)
    if outcome.empty:
        say_what_waits(outcome, sources_file=sources_file)
    (run_logger().info if outcome.status == "ok" else run_logger().warning)(outcome.message)
    return rows, outcome, started


def say_what_waits(outcome: RunOutcome, drain: bool = False, sources_file: str | None = None) -> None:
    """A run that found nothing due says what waits for a retry (the sources of the file it
    reads, ``sources_file``, none for a drain, and the queue's URLs), and why when no server
    was reached (:func:`flows.outcome.nothing_to_do`); its usual words when nothing waits, or
    the database cannot say."""
    from flows.outcome import nothing_to_do

    try:
        read = None if drain else load_sources_file(sources_file)
    except SourcesError:  # the file changed since the poll read it: its sources cannot be told
        read = None
    names = [spec.name for spec in read.specs] if read else []
    # a file with no source at all, or whose every source is disabled: "no source was due"
    # said nothing of it, and --all would poll nothing either
    empty = none_to_poll(read, sources_file) if read else None
    if empty:
        outcome.nothing = f"Nothing to do: {empty} and the queue was empty."
    try:
        with session_scope() as session:
            found = claims.waiting(session, names)
    except DBAPIError:
        return
    outcome.nothing = nothing_to_do(found, drain, empty) or outcome.nothing


def none_to_poll(read: SourcesFile | None, sources_file: str | None) -> str | None:
    """Why a run of ``sources_file`` (``read``, its sources as read; None: read it here) can
    poll no source, due or not: "FILE has no source" (emptied, every entry commented out) or
    "every source of FILE is disabled"; None when one would be polled once due, or when the
    file or the database cannot tell."""
    try:
        read = read or load_sources_file(sources_file)
    except SourcesError:
        return None
    label = sources_label(sources_file)
    if not read.specs:
        return None if read.bad else f"{label} has no source"
    names = [spec.name for spec in read.specs]
    try:
        with session_scope() as session:
            live = session.scalar(
                select(func.count()).where(Source.name.in_(names), Source.status != "disabled")
            )
    except DBAPIError:
        return None
    if live:
        return None
    return f"{'every source' if len(names) > 1 else 'the one source'} of {label} is disabled"


def fetch_kinds(polls: list[PollSummary], ingest: IngestReport) -> list[tuple[str | None, str | None]]:
    """Each fetch of a cycle, its host and how it reached no server (None where it got an
    answer): each source polled, then each page fetched (the verdict's offline hint,
    :func:`flows.outcome.offline_hint`, decided per host)."""
    return [(p.host, p.unreached) for p in polls if p.outcome != BAD_ENTRY] + [
        (host, kind)
        for host, kind in ingest.unreached  # a list, when a result came back as JSON
    ]


def summarize(polls: list[PollSummary], ingest: IngestReport, names: dict[int, str]) -> list[dict[str, Any]]:
    """One row per source: what its poll found and what became of its pages."""
    per: dict[int, Counter[str]] = defaultdict(Counter)
    for source_id, status, relevant in ingest.statuses:
        per[source_id][status] += 1
        per[source_id]["relevant"] += int(relevant)
    rows = []
    polled = {p.source_id: p for p in polls}
    names = names | {p.source_id: p.name for p in polls if p.name is not None}
    for source_id in sorted(set(polled) | set(per), key=lambda i: names.get(i, "")):
        p = polled.get(source_id)
        c = per[source_id]
        rows.append(
            {
                "source": names.get(source_id, str(source_id)),
                "poll": (p.outcome if p else "not due"),
                "new_urls": p.new if p else 0,
                "stored": c["stored"],
                "revised": c["revised"],  # an article re-fetched with a changed text: no new row
                "duplicates": c["duplicate"] + c["unchanged"],
                "relevant": c["relevant"],
                "failed": c["failed"] + c["skipped"],
                "retry": c["retry"],
                "error": (p.error or p.warning or "") if p else "",
            }
        )
    return rows


def _source_names() -> dict[int, str]:
    from sqlalchemy import select

    from monitors.archive.models import Source

    try:
        with session_scope() as session:
            return dict(session.execute(select(Source.id, Source.name)).all())
    except DBAPIError:
        return {}  # the database went away before the ingest: the rows show source ids


def sources_path(value: str | Path | None) -> str | None:
    return str(value) if value else None


def __getattr__(name: str) -> Any:
    """The flows lived here before :mod:`flows.runs`: deployments made with the entrypoint
    ``flows.pipeline:run_flow`` (or ``ingest_flow``, ``poll_flow``) keep working."""
    if name in {"run_flow", "ingest_flow", "poll_flow"}:
        from flows import runs

        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
