"""The Prefect flows of a veille cycle: ``veille-run`` (poll, then ingest), with its two
subflows ``veille-poll`` and ``veille-ingest`` (also deployed on its own as drain-queue).

They wrap the steps of a cycle (:mod:`flows.pipeline`, :mod:`flows.polling`,
:mod:`flows.queue_drain`): each batch of sources and each ingest worker is a task run, retried
on transient errors only (:func:`flows.retries.retry_transient`); each flow ends in a state that
says how it went (:mod:`flows.outcome`) and publishes its artifacts. ``veille run`` calls them
when a Prefect server is configured (:mod:`flows.mode`).
"""

from __future__ import annotations

import contextvars
import encodings.idna  # noqa: F401 - a request's host name goes through it (end_interrupted)
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from prefect import flow
from prefect.client import orchestration
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.context import get_run_context
from prefect.futures import PrefectFuture
from prefect.states import Crashed
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from sqlalchemy.exc import DBAPIError

from flows import bare_threads, polling, queue_drain, signals
from flows.pipeline import _source_names, run_once, say_what_waits, summarize
from flows.polling import poll_sources
from flows.queue_drain import IngestReport, drain_queue
from flows.retries import _cause, transient_task
from flows.runtime import _run_id, connections_named_by_flow, run_logger
from monitors.archive.polls import PollSummary
from monitors.errors import describe

#: The steps as Prefect tasks, named as the UI shows them.
TASKS = {
    polling.poll_batch_task: transient_task("poll batch {index} ({count} sources)")(polling.poll_batch_task),
    queue_drain.ingest_worker_task: transient_task("ingest worker {worker}")(queue_drain.ingest_worker_task),
}


#: This process's flow runs in progress, outermost first (what a signal marks Interrupted).
_ACTIVE: list[str] = []


@contextmanager
def _interruptible() -> Iterator[None]:
    """Around a flow's body: the command's SIGTERM and SIGINT handler rather than Prefect's
    (which waits for the task runs in flight, a minute and more when they are inside requests),
    and the run's id for :func:`_mark_interrupted`."""
    signals.reclaim()
    run_id = _run_id()
    if run_id:
        _ACTIVE.append(run_id)
    try:
        yield
    finally:
        if run_id:
            _ACTIVE.remove(run_id)


def _mark_interrupted(signal_name: str) -> None:
    """The flow runs in progress end Crashed, named Interrupted (at most 3 s spent on it)."""
    if _ACTIVE:
        mark_interrupted(list(reversed(_ACTIVE)), signal_name)


def mark_interrupted(runs: list[str], signal_name: str, subflows: bool = False) -> None:
    """``runs`` (flow run ids, with their subflows still running when ``subflows``) end
    Crashed, named Interrupted, with the signal in their message (:func:`end_interrupted`)."""
    message = f"Interrupted by {signal_name}: what was not stored is left for the next run."
    end_interrupted(runs, message, subflows)


def end_interrupted(runs: list[str], message: str, subflows: bool = False) -> None:
    """``runs`` (flow run ids, with their subflows still running when ``subflows``) end
    Crashed, named Interrupted, with ``message`` (what interrupted them); at most 3 s spent on
    it, on a thread of its own. Forced, so the deployment's concurrency slot is released too.
    It imports nothing (what it uses is imported with this module, the idna codec of its
    request's host name too): called on the way out of a signal, an import waits for the import
    system's locks, which the signal may find the main thread holding."""

    def mark() -> None:
        with orchestration.get_client(sync_client=True) as client:
            ids: list[Any] = list(runs)
            if subflows:
                running = FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
                )
                children = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(r) for r in runs]),
                        state=running,
                    )
                )
                ids = [c.id for c in children] + ids  # innermost first
            for run_id in ids:
                client.set_flow_run_state(run_id, Crashed(name="Interrupted", message=message), force=True)

    # in a bare thread (flows.bare_threads.bounded): threading.Thread.start takes threading's module
    # lock, which the main thread may hold where the signal found it (the hook then waited for
    # it until the hooks' 15 s were up, and no run was marked)
    bare_threads.bounded(contextvars.copy_context(), mark, 3.0)


signals.on_signal(_mark_interrupted)


def submit_task(step: Any, *args: Any) -> PrefectFuture[Any]:
    """Run a step of a cycle (:data:`TASKS`) as a task run of the current flow.

    A collection argument (a batch of sources) goes in ``quote``: the steps take no futures,
    so Prefect need not walk each source looking for one and copy the batch before the task
    starts (in the polling process, on its one GIL: bench/README.md, "the flow path's Prefect
    bookkeeping")."""
    return TASKS[step].submit(*(quote(a) if isinstance(a, list | tuple | dict) else a for a in args))


@flow(name="veille-poll", task_runner=ThreadPoolTaskRunner(max_workers=8))  # type: ignore[arg-type]
def poll_flow(sources_file: str | None = None, force: bool = False) -> list[PollSummary]:
    """Sync the sources file into the database and poll the sources that are due."""
    from prefect.states import Completed

    with connections_named_by_flow():
        try:
            with _interruptible():
                summaries = poll_sources(sources_file, force, submit_task, _run_id())
            # a state: its data is the result; its message what the polls came to
            return Completed(message=polling.poll_message(summaries), data=summaries)  # type: ignore[return-value]
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return raised_in_flow(exc)


@flow(name="veille-ingest", task_runner=ThreadPoolTaskRunner(max_workers=8))  # type: ignore[arg-type]
def ingest_flow(max_items: int | None = None) -> IngestReport:
    """Fetch, extract, score and store every due URL of the queue; run on its own, it ends
    in a state that says how it went and publishes its report (with :class:`IngestReport`
    as its result)."""
    with connections_named_by_flow():
        try:
            with _interruptible():
                report, since = drain_queue(max_items, submit_task, _run_id())
            if _is_subflow():
                return report  # the parent run judges and reports
            return _finish_drain(report, since)
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return said_in_flow(exc)


def said_in_flow(exc: Exception) -> Any:
    """The Failed state of a body that raised; a database lost for good is said in one line,
    as the command says it, not with a traceback in the run's log (:func:`raised_in_flow`)."""
    from flows.outcome import raised
    from monitors.archive.db import DatabaseUnavailable

    if isinstance(exc, DatabaseUnavailable):
        run_logger().error("%s", exc)
        return raised(exc)
    return raised_in_flow(exc)


def raised_in_flow(exc: Exception) -> Any:
    """A flow whose body raised ``exc``: its traceback in the run's log, as Prefect logs it, and
    the Failed state that describes it (:func:`flows.outcome.raised`)."""
    from flows.outcome import raised

    run_logger().error("Encountered exception during execution: %s", describe(exc), exc_info=exc)
    return raised(exc)


def _is_subflow() -> bool:
    try:
        return get_run_context().flow_run.parent_task_run_id is not None  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no run context: called outside a flow
        return False


def _finish_drain(report: IngestReport, since: Any) -> Any:
    """A drain run on its own (the drain-queue deployment): its verdict, log line and artifacts."""
    from flows.artifacts import publish_drain_artifacts
    from flows.outcome import judge_ingest

    outcome = judge_ingest(report.statuses, report.interruptions, report.gave_up, report.unreached)
    if outcome.empty:
        say_what_waits(outcome, drain=True)
    logger = run_logger()
    (logger.info if outcome.status == "ok" else logger.warning)(outcome.message)
    try:
        publish_drain_artifacts(summarize([], report, _source_names()), since, outcome)
    except DBAPIError as exc:
        logger.error("drain report not published: %s", _cause(exc))
    return outcome.state(report)


@flow(name="veille-run", log_prints=True)
def run_flow(
    sources_file: str | None = None, force: bool = False, max_items: int | None = None
) -> list[dict[str, Any]]:
    """Poll due sources once, ingest the queue, publish a summary table and report.

    Ends in a state that says how it went (:mod:`flows.outcome`), with the per-source rows
    as its result.
    """
    from flows.artifacts import publish_run_artifacts

    with connections_named_by_flow():
        try:
            with _interruptible():
                rows, outcome, started = run_once(
                    lambda: poll_flow(sources_file, force), lambda: ingest_flow(max_items), sources_file
                )
            try:
                publish_run_artifacts(rows, since=started, outcome=outcome)
            except DBAPIError as exc:
                run_logger().error("run report not published: %s", _cause(exc))
            return outcome.state(rows)  # a state: its data is the result
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return raised_in_flow(exc)
