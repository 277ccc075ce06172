"""What `veille serve` serves in this process (its runners, their deployments, its claim) and
how it stops serving them: on SIGTERM or SIGINT the runners are held (:func:`hold_runners`),
the served runs ended at once (:func:`end_served_runs`), the deployments' schedules paused
(:func:`pause_served_schedules`), the claim released.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flows import bare_threads
from flows.closing import closing_line  # held from the start: the hook imports nothing
from flows.stale_runs import is_forecast  # likewise (a module of functions, no imports)

if TYPE_CHECKING:
    from flows.serve_claims import Claim

#: The deployments this process's runners serve, "flow/deployment": their id (:func:`pause_served_schedules`).
SERVED: dict[str, Any] = {}
#: Set as `veille serve` stops: no deployment is registered after it
#: (:func:`flows.commands.serve.serve_deployments`).
STOPPING = threading.Event()
#: Held while a deployment is being registered (Prefect's apply, which makes its schedule
#: active: ``paused=False``), with its name in :data:`REGISTERING_NOW`:
#: :func:`pause_served_schedules` pauses it once that registration has ended, not before
#: (a pause that lands first is undone by it).
REGISTERING = threading.Lock()
REGISTERING_NOW: list[str] = []
#: The event loops of the runners started in this process (:func:`start_runner`): the stop
#: holds each (:func:`hold_runners`), under :data:`STARTING`.
LOOPS: list[asyncio.AbstractEventLoop] = []
STARTING = threading.Lock()
#: Seconds the stop waits for each runner's loop to be held.
HOLD_SECONDS = 3.0
#: The claim this `veille serve` holds, if it holds one (:func:`flows.serve_claims.claim_deployments`'s;
#: :func:`end_served_runs` releases it).
CLAIMS: list[Claim] = []


def stop_on_signal() -> None:
    """Have SIGTERM and SIGINT end the served runs (:func:`end_served_runs`, a hook of
    :mod:`flows.signals`), with what it imports imported now: an import on the way out waits
    for the import system's locks, which the signal may find the main thread holding (in the
    middle of an import), and the stop waited for the hooks' 15 s then. (psutil is not imported
    by every command: this is `veille serve`'s.)"""
    import psutil  # noqa: F401 - kill_served_runs's

    from flows import signals

    signals.on_signal(end_served_runs)


def end_served_runs(signal_name: str) -> None:
    """On SIGTERM or SIGINT: the flow runs this command's runner started (processes of their
    own, which carry their run's id) are killed at once, so none goes on fetching and storing
    after `veille serve` said it stopped (their claimed queue rows are free as their
    connections close), and they end Crashed, named Interrupted, which releases their
    deployment's concurrency slot for the next `veille serve`. Prefect's own handling
    (cancel each run, wait for it) takes a minute and more with requests in flight. The
    deployments' schedules are paused (:func:`pause_served_schedules`), as Prefect's runner
    does when it stops. The runners are held first (:func:`hold_runners`): none starts a run
    after the kill. Registered with :func:`stop_on_signal`, which imports what it needs."""
    import logging

    hold_runners()  # no deployment registered, no run started from now on
    runs = kill_served_runs()
    if runs:
        # loaded already (no import lock taken): a run was started by a runner, which serves
        # deployments built from flows.runs's flows; before, a signal while veille serve started
        # imported it (and Prefect) here
        from flows.runs import mark_interrupted

        mark_interrupted(list(runs), signal_name, subflows=True)
    pause_served_schedules()
    for claim in CLAIMS:
        claim.release()
    # the runner's threads meet the end of the server and of the runs while the exit handlers
    # run: the command's one line says what happened
    logging.disable(logging.CRITICAL)


async def start_runner(runner: Any) -> None:
    """``runner.start()`` (Prefect's Runner) on this event loop, kept in :data:`LOOPS` for the
    stop to hold; nothing started once `veille serve` is stopping (:data:`STOPPING`)."""
    with STARTING:
        if STOPPING.is_set():
            return
        LOOPS.append(asyncio.get_running_loop())
    await runner.start()


def hold_runners() -> None:
    """Stop each runner's event loop where it stands until `veille serve` exits (a callback of
    ours that never returns), and wait until it is held: a poll whose answer comes after the
    stop began (a signal, the Prefect server gone, the claim taken over) proposes no Pending
    state and starts no process. Prefect's runner checks its ``stopping`` only before it asks
    the server for the scheduled runs, and its poll loop (Prefect 3.9's ScheduledRunPoller) not
    even that one: a run due in the answer to a poll in flight was started after the stop had
    killed the served runs, and ran on after `veille serve` said it stopped. The runner's
    processes are started on its loop's thread, so none starts once it is held; the stop's own
    requests (the marks, the pauses) are made from threads of their own. A runner's loop runs
    on a daemon thread, and so do the AnyIO worker threads it starts (a thread's kind is its
    starter's): held, it keeps no exit waiting, by a signal or not
    (:func:`flows.commands.serve._stop_serving`)."""
    import time

    with STARTING:
        STOPPING.set()  # no deployment registered, no runner started from now on
        loops = list(LOOPS)
    held: list[threading.Event] = []
    for loop in loops:
        now_held = threading.Event()

        def hold(now_held: threading.Event = now_held) -> None:
            now_held.set()
            threading.Event().wait()  # until veille serve exits

        try:
            loop.call_soon_threadsafe(hold)
        except RuntimeError:  # its loop is closed: that runner has ended
            continue
        held.append(now_held)
    ends = time.monotonic() + HOLD_SECONDS
    for now_held in held:
        now_held.wait(max(0.0, ends - time.monotonic()))


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
#: Seconds between its rounds of pauses.
PAUSE_AGAIN_SECONDS = 0.5


def register_served(name: str, register: Callable[[], Any]) -> bool:
    """Register the deployment ``name`` ("flow/deployment") with ``register()`` (Prefect's
    ``Runner.add_deployment``, which makes its schedule active) and keep its id in
    :data:`SERVED`, unless `veille serve` is stopping: False then, and nothing registered. The
    stop waits for a registration in flight (:data:`REGISTERING`) before it pauses that
    deployment: a stop while `veille serve` started left the deployment it was registering
    active, the registration landing after the pauses."""
    with REGISTERING:
        if STOPPING.is_set():
            return False
        REGISTERING_NOW[:] = [name]
        try:
            SERVED[name] = register()
        finally:
            REGISTERING_NOW.clear()
    return True


def pause_served_schedules() -> None:
    """Pause the schedules of the deployments this command served, as Prefect's runner does
    when it stops (``pause_on_shutdown``): on a Prefect server of the user's (PREFECT_API_URL),
    which outlives veille serve, the scheduler would otherwise go on making a run every
    interval that no one executes (each Late, then piling up), and the UI would show a
    schedule as active that nothing serves. Pausing also deletes the runs scheduled after it;
    the scheduler's runs still Scheduled after the pauses (one due as veille serve stopped, one
    the scheduler inserted after a pause) are deleted then (:func:`_delete_forecasts`). The
    next `veille serve` registers the deployments again, unpaused.

    No deployment is registered once this starts (:data:`STOPPING`); one whose registration is
    in flight is paused once it has ended (:func:`register_served`). Each is paused by its id
    (a busy server answered a lookup by name and a pause, six requests in a row, too late:
    left active), and again :data:`PAUSE_AGAIN_SECONDS` later (a scheduler loop that had read
    it active may add runs after the first pause deleted them). One request at a time: the
    server's SQLite database makes concurrent pauses wait on each other (seconds). A pause the
    server refused (its database busy: 503) is asked again at the next round, not after the
    Prefect client's own waits (2, 4, 8 s... on one deployment while the others wait), until
    :data:`PAUSE_SECONDS`. A schedule then not known paused is named on stderr, with the reason,
    after its state was read: one paused by an earlier pause whose next one was refused is
    paused, and not named."""
    STOPPING.set()
    if not SERVED and not REGISTERING.locked():
        return
    for line in _pause_until_paused():
        closing_line(line)  # a stderr whose reader is gone: the exit code stays 130 or 143


def _refused_at_once(response: Any) -> None:
    """An httpx response hook: a Prefect server's answer that its client waits on and asks
    again (429, 502, 503...: its database busy) raised at once, as the client raises any other
    error. With no retries left, Prefect 3.9's client still slept 2 s (with jitter) after such
    an answer before it returned it: each refused pause cost 2 s of the stop's
    :data:`PAUSE_SECONDS`, and three refused ones left no time to ask again (the clean-clone CI
    saw all three schedules left active)."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.settings import PREFECT_CLIENT_RETRY_EXTRA_CODES

    asked_again = {408, 429, 502, 503, *PREFECT_CLIENT_RETRY_EXTRA_CODES.value()}
    if response.status_code not in asked_again:
        return
    response.read()
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise PrefectHTTPStatusError.from_httpx_error(exc) from None


def _delete_forecasts(client: Any, deployment_ids: list[Any], ends: float) -> None:
    """Delete the runs the Prefect server's scheduler made for the paused deployments
    ``deployment_ids`` that are still Scheduled, none started (:func:`flows.stale_runs.is_forecast`;
    runs made by hand stay), and look again :data:`PAUSE_AGAIN_SECONDS` later while a look found
    one (or was refused), until ``ends`` (``time.monotonic()``). A pause deletes only the
    scheduler's runs due after it: one due as veille serve stopped, which its held runner did
    not start, stayed Scheduled (then Late) on the paused deployment; and the scheduler inserts
    the runs it made for a deployment it read active before a pause committed once that pause
    has deleted the others (the clean-clone CI saw one left after the second pause). The
    scheduler may insert such runs after the last look too (Prefect's insert does not look at
    ``paused``, and no request tells when its loop in flight is done): no wait here would be
    enough for certain, so none is added; the next `veille serve` deletes them before it
    registers the deployment again (:func:`flows.stale_runs.remove_paused_leftovers`)."""
    import time

    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterState,
        FlowRunFilterStateType,
        FlowRunFilterTags,
    )
    from prefect.client.schemas.objects import StateType

    if not deployment_ids:
        return
    scheduled = FlowRunFilter(
        deployment_id=FlowRunFilterDeploymentId(any_=deployment_ids),
        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
        tags=FlowRunFilterTags(all_=["auto-scheduled"]),  # the scheduler's runs, not those made by hand
    )
    while True:
        try:
            found = [run for run in client.read_flow_runs(flow_run_filter=scheduled) if is_forecast(run)]
            for run in found:
                client.delete_flow_run(run.id)
        except Exception:  # noqa: BLE001 - stopping: the next veille serve deletes what is left, stale
            found = [None]  # looked again
        if not found or time.monotonic() + PAUSE_AGAIN_SECONDS >= ends:
            return
        time.sleep(PAUSE_AGAIN_SECONDS)


def _pause_until_paused() -> list[str]:
    """:func:`pause_served_schedules`'s pauses, on a thread of their own for at most
    :data:`PAUSE_SECONDS`; a line for each schedule that may still be active."""
    import contextlib
    import contextvars
    import time

    from monitors.errors import describe

    #: the deployments' ids, names, successful pauses and the reason of the last refusal
    names: dict[Any, str] = {deployment_id: name for name, deployment_id in list(SERVED.items())}
    paused: dict[Any, int] = {}
    refused: dict[Any, str] = {}
    checked: dict[Any, bool] = {}  # the paused state read before naming one
    registering: list[str] = []

    def pause() -> None:
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

        started = time.monotonic()
        ends = started + PAUSE_SECONDS - 2 * PAUSE_AGAIN_SECONDS
        # no retries of the client's own (2, 4, 8 s on one deployment): the next round asks again
        quick = temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0})
        at_once = {"event_hooks": {"response": [_refused_at_once]}}
        with quick, get_client(httpx_settings=at_once, sync_client=True) as client:
            while True:
                settled = REGISTERING.acquire(blocking=False)  # no registration in flight
                if settled:
                    REGISTERING.release()
                else:
                    registering[:] = REGISTERING_NOW
                for name, deployment_id in list(SERVED.items()):
                    names[deployment_id] = name
                    if paused.get(deployment_id, 0) >= 2:
                        continue
                    try:
                        client.pause_deployment(deployment_id)
                    except Exception as exc:  # noqa: BLE001 - stopping: one not paused is no reason to stay
                        refused[deployment_id] = describe(exc)
                    else:
                        paused[deployment_id] = paused.get(deployment_id, 0) + 1
                        refused.pop(deployment_id, None)
                if settled:
                    registering.clear()
                    if all(paused.get(i, 0) >= 2 for i in names):
                        break
                if time.monotonic() >= ends:
                    break
                time.sleep(PAUSE_AGAIN_SECONDS)
            for deployment_id in [i for i in names if i in refused]:
                with contextlib.suppress(Exception):  # its pause's refusal is the reason given
                    checked[deployment_id] = client.read_deployment(deployment_id).paused
            with contextlib.suppress(Exception):  # stopping: the next veille serve deletes them, stale
                _delete_forecasts(client, [i for i in names if paused.get(i)], started + PAUSE_SECONDS)

    # in a bare thread (flows.bare_threads.bounded), in the settings in force (the API URL):
    # threading.Thread.start takes threading's module lock, which the signal may find the main
    # thread holding (the hook then waited for the hooks' 15 s, and no schedule was paused)
    ended = bare_threads.bounded(contextvars.copy_context(), pause, PAUSE_SECONDS)
    lines = []
    for deployment_id, name in list(names.items()):
        if paused.get(deployment_id) and checked.get(deployment_id) is not False:
            continue  # paused, though a later pause was refused
        if checked.get(deployment_id):
            continue  # paused: a pause refused or unanswered had been applied
        state = "is still active" if checked.get(deployment_id) is False else "may still be active"
        lines.append(
            f"veille serve: the schedule of {name} {state} on the Prefect server"
            f" ({refused.get(deployment_id, 'no answer')}): pause it there, or start veille serve again"
        )
    for name in registering or ([] if ended else REGISTERING_NOW):
        lines.append(
            f"veille serve: the schedule of {name} may be active on the Prefect server: veille"
            f" serve was registering it, which had not ended after {PAUSE_SECONDS:g} s: pause it"
            " there, or start veille serve again"
        )
    return lines
