"""What `veille serve` serves in this process (its runners, their deployments, its claim) and
how it stops serving them: on SIGTERM or SIGINT the served runs are ended at once
(:func:`end_served_runs`), the deployments' schedules paused (:func:`pause_served_schedules`),
the claim released.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.serve_claims import Claim

#: The runners serving in this process (:func:`flows.commands.serve.serve_deployments`'s;
#: :func:`end_served_runs` stops them).
RUNNERS: list[Any] = []
#: The deployments they serve, "flow/deployment": their id (:func:`pause_served_schedules`).
SERVED: dict[str, Any] = {}
#: The claim this `veille serve` holds, if it holds one (:func:`flows.serve_claims.claim_deployments`'s;
#: :func:`end_served_runs` releases it).
CLAIMS: list[Claim] = []


def end_served_runs(signal_name: str) -> None:
    """On SIGTERM or SIGINT: the flow runs this command's runner started (processes of their
    own, which carry their run's id) are killed at once, so none goes on fetching and storing
    after `veille serve` said it stopped (their claimed queue rows are free as their
    connections close), and they end Crashed, named Interrupted, which releases their
    deployment's concurrency slot for the next `veille serve`. Prefect's own handling
    (cancel each run, wait for it) takes a minute and more with requests in flight. The
    deployments' schedules are paused (:func:`pause_served_schedules`), as Prefect's runner
    does when it stops."""
    import logging

    from flows.runs import mark_interrupted

    for runner in RUNNERS:
        runner.stopping = True  # it starts no other run meanwhile
    runs = kill_served_runs()
    if runs:
        mark_interrupted(list(runs), signal_name, subflows=True)
    pause_served_schedules()
    for claim in CLAIMS:
        claim.release()
    # the runner's threads meet the end of the server and of the runs while the exit handlers
    # run: the command's one line says what happened
    logging.disable(logging.CRITICAL)


def kill_served_runs() -> list[str]:
    """Kill the processes of the flow runs this command's runner started (they carry their
    run's id); those runs' ids."""
    import contextlib

    import psutil

    runs: dict[str, list[Any]] = {}
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if run_id := child.environ().get("PREFECT__FLOW_RUN_ID"):
                runs.setdefault(run_id, []).append(child)
    for procs in runs.values():
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.kill()
    return list(runs)


#: Seconds :func:`pause_served_schedules` may take: veille serve is stopping.
PAUSE_SECONDS = 8.0
#: Seconds between its two pauses of a deployment.
PAUSE_AGAIN_SECONDS = 0.5


def pause_served_schedules() -> None:
    """Pause the schedules of the deployments this command served, as Prefect's runner does
    when it stops (``pause_on_shutdown``): on a Prefect server of the user's (PREFECT_API_URL),
    which outlives veille serve, the scheduler would otherwise go on making a run every
    interval that no one executes (each Late, then piling up), and the UI would show a
    schedule as active that nothing serves. Pausing also deletes the runs already scheduled;
    the next `veille serve` registers the deployments again, unpaused. Each is paused by its
    id (a busy server answered a lookup by name and a pause, six requests in a row, too late:
    left active), and again :data:`PAUSE_AGAIN_SECONDS` later (a scheduler loop that had read
    it active may add runs after the first pause deleted them). One request at a time: the
    server's SQLite database makes concurrent pauses wait on each other (seconds). At most
    :data:`PAUSE_SECONDS`: a pause the server refused (its database busy) is asked again until
    then, and a schedule still active after it is named on stderr, with the reason, rather than
    left active without a word."""
    import contextvars
    import itertools
    import sys
    import threading
    import time

    from monitors.errors import describe

    if not SERVED:
        return

    names = {deployment_id: name for name, deployment_id in SERVED.items()}
    unpaused: dict[Any, str] = {deployment_id: "no answer" for deployment_id in names}

    def pause() -> None:
        from prefect.client.orchestration import get_client

        ends = time.monotonic() + PAUSE_SECONDS - PAUSE_AGAIN_SECONDS
        with get_client(sync_client=True) as client:
            for attempt in itertools.count():
                if attempt:
                    time.sleep(PAUSE_AGAIN_SECONDS)
                # every deployment twice (a scheduler loop may add runs after the first pause),
                # then those whose pause failed (a busy server's database refused it) until done
                for deployment_id in list(names if attempt < 2 else unpaused):
                    try:
                        client.pause_deployment(deployment_id)
                    except Exception as exc:  # noqa: BLE001 - stopping: one not paused is no reason to stay
                        unpaused[deployment_id] = describe(exc)
                    else:
                        unpaused.pop(deployment_id, None)
                if attempt >= 1 and (not unpaused or time.monotonic() >= ends):
                    return

    context = contextvars.copy_context()  # the settings in force (the API URL) go along
    pauser = threading.Thread(target=context.run, args=(pause,), daemon=True)
    pauser.start()
    pauser.join(PAUSE_SECONDS)
    for deployment_id, why in list(unpaused.items()):
        print(
            f"veille serve: the schedule of {names[deployment_id]} is still active on the Prefect"
            f" server ({why}): pause it there, or start veille serve again",
            file=sys.stderr,
            flush=True,
        )
