"""The scheduled runs that came due while no `veille serve` served its deployments (it was killed,
its Prefect server went away, the machine slept): deleted as `veille serve` starts again, before
its runner meets them (:func:`remove_stale_runs`), and said in one line (:func:`stale_runs_line`);
those the scheduler inserted on the deployments a stopped `veille serve` paused, before it
registers them again (:func:`remove_paused_leftovers`, :func:`paused_leftovers_line`).
The runs a `veille serve` gone without marking them left Running (exit 4, ``kill -9``) end
Crashed then too (:func:`end_orphaned_runs`, :func:`orphaned_runs_line`).
"""

from __future__ import annotations

from typing import Any

#: Seconds past its time after which a scheduled run that no runner started is stale
#: (:func:`remove_stale_runs`): two polls of a runner (``PREFECT_RUNNER_POLL_FREQUENCY``, 10 s)
#: and then some, so that a run that just came due as veille serve starts still runs.
STALE_AFTER_SECONDS = 60.0


def remove_stale_runs(served: dict[str, Any]) -> dict[str, int]:
    """Delete the runs the Prefect server's scheduler made for the ``served`` deployments
    ("flow/deployment": id) that came due more than :data:`STALE_AFTER_SECONDS` ago and that
    no runner started: those of the time no veille serve served them (it was killed, its
    server went away, the machine slept); how many, by deployment, those with none left out.
    Registering a deployment deletes only its future scheduled runs, and a runner asks for
    every run scheduled before now: it would start the oldest (a maintenance at the wrong
    hour, an old cycle) and each of the others would end Cancelled by the deployment's
    concurrency limit, a burst of them in the UI. Deleted, not marked Cancelled: they are the
    scheduler's forecasts, which Prefect itself deletes when a schedule is paused or changed,
    and nothing was cancelled; a gap in the runs' timeline is what happened. Runs made by
    hand (``prefect deployment run``, the UI's Quick run) are left: someone asked for them."""
    from datetime import UTC, datetime, timedelta

    from prefect.client.orchestration import get_client

    # a datetime, which the filter takes (typed as Prefect's own DateTime, deprecated on 3.11)
    before = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS)
    removed: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name, deployment_id in served.items():
            if deleted := _delete_forecasts_of(client, deployment_id, before):
                removed[name] = deleted
    return removed


def remove_paused_leftovers(names: list[str]) -> dict[str, int]:
    """Delete every run the Prefect server's scheduler made for the deployments ``names``
    ("flow/deployment") that are paused, and that no runner started, before `veille serve`
    registers them again (which unpauses them); how many, by deployment, those with none left
    out. A paused deployment gets no run from the scheduler, but Prefect's scheduler reads the
    active deployments and inserts the runs it made for them in separate transactions, with no
    look at ``paused`` at the insert: a loop that read one active before the stop's pause
    inserts its runs after it, maybe after the stop's last look
    (:func:`flows.serve_stop._delete_forecasts`). Those runs are not owed: registering deletes
    only the ones due after it, and :func:`remove_stale_runs` those due more than
    :data:`STALE_AFTER_SECONDS` ago, so one due in between was started by the runner, a run of
    a schedule that was paused. Deleted while the deployment is still paused, so none comes
    after; runs made by hand are kept."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    removed: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:  # a first veille serve on this server: registered below
                continue
            if deployment.paused and (deleted := _delete_forecasts_of(client, deployment.id, None)):
                removed[name] = deleted
    return removed


def _delete_forecasts_of(client: Any, deployment_id: Any, before: Any) -> int:
    """Delete the runs of the deployment ``deployment_id`` still Scheduled that the scheduler
    made and no runner started (:func:`is_forecast`), those due before ``before`` (a datetime)
    or all of them (None); how many."""
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterNextScheduledStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    due = None if before is None else FlowRunFilterNextScheduledStartTime(before_=before)
    deleted = 0
    kept = 0  # the runs made by hand among those read, read again from the next page on
    while True:
        found = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                next_scheduled_start_time=due,
            ),
            sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
            limit=STALE_PAGE,
            offset=kept,
        )
        stale = [run for run in found if is_forecast(run)]
        for run in stale:
            client.delete_flow_run(run.id)
        deleted += len(stale)
        kept += len(found) - len(stale)
        if len(found) < STALE_PAGE:
            return deleted


def is_forecast(run: Any) -> bool:
    """A flow run the Prefect server's scheduler made (not one made by hand) that no runner has
    started: deleted by :func:`remove_stale_runs` once stale, by a stopping `veille serve`
    after its pauses (:func:`flows.serve_stop.pause_served_schedules`), and by the next one from
    the deployments still paused (:func:`remove_paused_leftovers`)."""
    return bool(
        run.auto_scheduled
        and run.run_count == 0
        and (run.state is None or run.state.name != "AwaitingConcurrencySlot")
    )


#: Runs read at a time by :func:`remove_stale_runs` (a week away, every 10 minutes: a thousand).
STALE_PAGE = 200


def _by_deployment(counts: dict[str, int]) -> str:
    """ "3 runs of veille-run/poll-and-ingest, 2 of veille-ingest/drain-queue"."""
    return ", ".join(
        f"{count} of {name}" if i else f"{count} run{'s' if count > 1 else ''} of {name}"
        for i, (name, count) in enumerate(counts.items())
    )


def paused_leftovers_line(removed: dict[str, int]) -> str:
    """The line saying how many runs :func:`remove_paused_leftovers` deleted, of which deployments."""
    return (
        f"veille serve: deleted {_by_deployment(removed)}, left Scheduled by the Prefect server's scheduler"
        " on its paused deployments after the last veille serve stopped: the next runs follow the schedule"
        " (runs made by hand are kept)"
    )


def stale_runs_line(removed: dict[str, int]) -> str:
    """The line saying how many runs :func:`remove_stale_runs` deleted, of which deployments."""
    return (
        f"veille serve: deleted {_by_deployment(removed)}, scheduled while no veille serve ran them and"
        f" due more than {STALE_AFTER_SECONDS:.0f} s ago: the next runs follow the schedule (runs made by"
        " hand are kept)"
    )


#: The message of a run :func:`end_orphaned_runs` ends.
ORPHANED = (
    "The veille serve that ran it was gone before it ended (exit 4, its Prefect server not"
    " answering; or killed), and its process with it: what was not stored is left for the next"
    " run. Marked when veille serve started again."
)


def end_orphaned_runs(served: dict[str, Any]) -> dict[str, int]:
    """End Crashed the runs of the ``served`` deployments ("flow/deployment": id) still shown
    Pending or Running, with their subflows, and Cancelled those shown Cancelling
    (:data:`ORPHANED`); how many, by deployment. Called as `veille serve` starts, before its
    runner does: only a veille serve's runner runs its deployments, one veille serve at a time
    per database and Prefect server (its locks and claims), so such a run is one whose veille
    serve ended without marking it (exit 4: the server did not answer, and none was tried;
    ``kill -9``; the machine off). It showed Running for ever, in the UI, and its deployment's
    slot stayed taken until its lease ended. Forced, so the slot is released too."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterParentFlowRunId,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled, Crashed

    unfinished = FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING])
    )
    ended: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name, deployment_id in served.items():
            found = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]), state=unfinished
                )
            )
            if not found:
                continue
            children = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[UUID(str(r.id)) for r in found]),
                    state=unfinished,
                )
            )
            for run in [*children, *found]:  # innermost first; one being cancelled, Cancelled
                cancelling = run.state is not None and run.state.type == StateType.CANCELLING
                ended_as = Cancelled if cancelling else Crashed
                client.set_flow_run_state(run.id, ended_as(message=ORPHANED), force=True)
            ended[name] = len(found)
    return ended


def orphaned_runs_line(ended: dict[str, int]) -> str:
    """The line saying how many runs :func:`end_orphaned_runs` ended, of which deployments."""
    return (
        f"veille serve: marked {_by_deployment(ended)} Crashed, shown Running since the veille serve that ran"
        " them was gone before they ended (exit 4 or killed): what they did not store is left for"
        " this one's runs"
    )
