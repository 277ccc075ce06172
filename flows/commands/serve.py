"""`veille serve`: run the scheduled deployments (poll and ingest, drain, daily maintenance)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flows.commands.common import at_least, check_sources_and_topics, path_arg, prepare_database
from monitors.errors import describe
from monitors.settings import INTERVAL_MINUTES_MAX

EXAMPLE = """example:
  veille serve                                # poll every 10 minutes, maintenance at 04:30
  veille serve --interval 30 --sources my.toml
  PREFECT_API_URL=http://localhost:4200/api veille serve   # runs show in that server's UI

Deployments: veille-run/poll-and-ingest, veille-ingest/drain-queue, veille-maintenance/daily,
each limited to one concurrent run: a run due while the previous one still runs is skipped
(Cancelled), not queued. With no Prefect server configured (PREFECT_API_URL), veille serve
starts one of its own for its length. Stop with Ctrl-C (exit 130) or SIGTERM (exit 143): the
runs in progress end at once, marked Interrupted; what they had not stored is left for the
next cycle; the deployments' schedules are paused, and the next veille serve resumes them.
One veille serve per database and per PREFECT_HOME: a second one is refused (exit 3).
Several, each with its database, on one Prefect server (PREFECT_API_URL): give each a name
with VEILLE_INSTANCE (its deployments are then veille-run/poll-and-ingest@NAME, ...); one
without a name of its own is refused (exit 3) while another's runner serves those deployments,
or while they are a work pool's (docs/operating.md).
A Prefect server that stops answering is waited for up to VEILLE_PREFECT_WAIT seconds (120),
then veille serve stops (exit 4); the one it started itself is restarted once.
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "serve",
        help="run the scheduled deployments (Prefect serve) until stopped",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--sources",
        metavar="FILE",
        type=path_arg,
        help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)",
    )
    p.add_argument(
        "--interval",
        type=at_least(1, INTERVAL_MINUTES_MAX),
        metavar="MINUTES",
        help="minutes between poll cycles (default: VEILLE_POLL_INTERVAL_MINUTES, 10)",
    )
    p.add_argument(
        "--maintenance-cron",
        metavar="CRON",
        help='cron line on VEILLE_LOCAL_TIMEZONE (default: VEILLE_MAINTENANCE_CRON, "30 4 * * *")',
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    check_sources_and_topics(args.sources)
    database_url = prepare_database()
    try:
        hold_serve_locks(database_url)
    except BaseException as exc:
        release_serve_locks()  # what it took before it was refused (the PREFECT_HOME lock)
        if not isinstance(exc, AlreadyServing):
            raise
        print(f"veille serve: error: {exc}", file=sys.stderr)
        return 3
    try:
        return _serve(args, database_url)
    finally:
        release_serve_locks()


def _serve(args: argparse.Namespace, database_url: str) -> int:
    from flows import signals
    from flows.mode import PrefectUnreachable, check_prefect_api, prefect_api_configured

    signals.on_signal(end_served_runs)
    # before Prefect is imported, so that its settings see the server's URL everywhere
    try:
        check_prefect_api()
        api_url = None if prefect_api_configured() else start_prefect_server()
    except (PrefectUnreachable, ServerNotStarted) as exc:
        print(f"veille serve: error: nothing could run: {exc}", file=sys.stderr)
        return 3
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import build_deployments

    sources = str(Path(args.sources).resolve()) if args.sources else None
    try:
        deployments = build_deployments(
            sources_file=sources,
            interval_minutes=args.interval,
            maintenance_cron=args.maintenance_cron,
            database_url=database_url,
        )
    except ValueError as exc:  # a cron line Prefect refuses (the option's or VEILLE_MAINTENANCE_CRON's)
        where = "--maintenance-cron" if args.maintenance_cron is not None else "VEILLE_MAINTENANCE_CRON"
        print(f"veille serve: error: {where}: {exc}", file=sys.stderr)
        return 2
    claim: Claim | None = None
    if api_url is None:  # a server of the user's, which another veille serve may use
        try:
            claim = mine = claim_deployments(deployments, database_url)
            untagged = check_not_served_elsewhere(deployments)
        except ServedElsewhere as exc:
            if claim is not None:
                claim.release()
            print(f"veille serve: error: {exc}", file=sys.stderr)
            return 3
        if untagged:
            print(
                f"veille serve: {', '.join(untagged)} on the Prefect server at {PREFECT_API_URL.value()}:"
                " no database tag (an older veille serve's), paused or not asked for by a runner"
                f" within {SERVED_WITHIN_SECONDS:.0f} s: this one takes them over, tagged with its database",
                file=sys.stderr,
            )
        mine.keep()
    from flows.serve_watch import Watch, quiet_connection_losses
    from monitors.settings import get_settings

    quiet_connection_losses()

    settings = get_settings()
    watched = api_url or str(PREFECT_API_URL.value())
    watch = Watch(
        watched,
        settings.prefect_check_interval,
        settings.prefect_wait,
        own=_OWN_SERVER[-1] if api_url else None,
    )
    if api_url is None:
        try:
            return _serve_in_a_thread(deployments, watch, claim)
        finally:
            if claim is not None:
                claim.release()
    print(
        f"veille serve: no Prefect server configured (PREFECT_API_URL): started one at {api_url}"
        " for the length of this command (set PREFECT_API_URL to keep the runs in yours)",
        file=sys.stderr,
    )
    with temporary_settings(updates={PREFECT_API_URL: api_url}):  # where Prefect was imported before
        return _serve_in_a_thread(deployments, watch)


def _serve_in_a_thread(deployments: list[Any], watch: Any, claim: Claim | None = None) -> int:
    """:func:`serve_deployments` on a thread of its own: Prefect's runner then installs no
    SIGTERM handler (it does so only on the main thread, and its handler cancels each run and
    waits for it, then exits 0), so SIGTERM and SIGINT stay veille's
    (:func:`flows.cli._end_with_veille`: one line, 143 or 130, the served runs ended at once by
    :func:`end_served_runs`). The main thread meanwhile checks the Prefect server's health
    (:class:`flows.serve_watch.Watch`); the exit code: 0 when the runner ended, 4 when the
    server went away and did not come back."""
    import contextvars
    import threading
    import time

    from flows.serve_watch import EXIT_SERVER_GONE

    failure: list[BaseException] = []
    context = contextvars.copy_context()  # the settings in force here (the API URL) go along

    def target() -> None:
        try:
            context.copy().run(serve_deployments, deployments)
        except BaseException as exc:  # noqa: BLE001 - raised again in the main thread
            failure.append(exc)

    def start() -> threading.Thread:
        thread = threading.Thread(target=target, name="veille-serve", daemon=True)
        thread.start()
        return thread

    runner: threading.Thread | None = start()
    while True:
        if runner is not None:
            runner.join(0.5)  # the main thread stays free for the signal handler
        else:
            time.sleep(0.5)
        if runner is not None and not runner.is_alive():
            if not failure:
                return 0
            for _ in range(RECHECKS):  # the server killed under it: its socket closes first
                if watch.check_now() is not None or watch.down:
                    break
                time.sleep(1.0)
            if not watch.down:
                raise failure[0]
            # Prefect's runner gave up on the server (its client's retries are spent, past
            # about four minutes): a new one starts if the server answers within the wait
            failure.clear()
            runner = None
        stop = watch.check()  # once given up, it stays so
        if stop is not None:
            print(stop, file=sys.stderr, flush=True)
            _stop_serving()
            return EXIT_SERVER_GONE
        if claim is not None and claim.lost is not None:
            print(claim.lost, file=sys.stderr, flush=True)
            _stop_serving()
            return 3
        if runner is None and not watch.down:
            runner = start()


#: Checks of the server, a second apart, when Prefect's runner ended on an error: if the
#: server answers them all, the error is the runner's own and is raised.
RECHECKS = 3


def _stop_serving() -> None:
    """The Prefect server went away for good: the runner starts nothing more, the runs it had
    started are killed (nothing can record their end), the server veille serve started is
    stopped; Prefect's threads, which meet the end of the server, log nothing more."""
    import logging

    for runner in _RUNNERS:
        runner.stopping = True
    _kill_served_runs()
    logging.disable(logging.CRITICAL)
    for server in _OWN_SERVER:
        server.stop()


#: The runners serving in this process (:func:`end_served_runs` stops them).
_RUNNERS: list[Any] = []
#: The deployments they serve, "flow/deployment": their id (:func:`pause_served_schedules`).
_SERVED: dict[str, Any] = {}


def serve_deployments(deployments: list[Any]) -> None:
    """What ``prefect.serve`` does (a runner polls the server for the deployments' scheduled
    runs and starts each in a process of its own), with the runner kept for
    :func:`end_served_runs`."""
    import asyncio

    from prefect.runner import Runner

    runner = Runner()
    for deployment in deployments:
        _SERVED[f"{deployment.flow_name}/{deployment.name}"] = runner.add_deployment(deployment)
    _RUNNERS.append(runner)
    try:
        stale = remove_stale_runs(_SERVED)
    except Exception as exc:  # noqa: BLE001 - the runner then meets them, as it did before
        print(
            f"veille serve: the runs due while it was not serving could not be removed: {describe(exc)}",
            file=sys.stderr,
        )
    else:
        if stale:
            print(stale_runs_line(stale), file=sys.stderr, flush=True)
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    print(f"veille serve: serving {names}; stop with Ctrl-C", flush=True)
    asyncio.run(runner.start())


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
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterNextScheduledStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    # a datetime, which the filter takes (typed as Prefect's own DateTime, deprecated on 3.11)
    before: Any = datetime.now(UTC) - timedelta(seconds=STALE_AFTER_SECONDS)
    removed: dict[str, int] = {}
    with get_client(sync_client=True) as client:
        for name, deployment_id in served.items():
            kept = 0  # the runs made by hand among those read, read again from the next page on
            while True:
                found = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        deployment_id=FlowRunFilterDeploymentId(any_=[deployment_id]),
                        state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                        next_scheduled_start_time=FlowRunFilterNextScheduledStartTime(before_=before),
                    ),
                    sort=FlowRunSort.NEXT_SCHEDULED_START_TIME_ASC,
                    limit=STALE_PAGE,
                    offset=kept,
                )
                stale = [
                    run
                    for run in found
                    if run.auto_scheduled
                    and run.run_count == 0
                    and (run.state is None or run.state.name != "AwaitingConcurrencySlot")
                ]
                for run in stale:
                    client.delete_flow_run(run.id)
                if stale:
                    removed[name] = removed.get(name, 0) + len(stale)
                kept += len(found) - len(stale)
                if len(found) < STALE_PAGE:
                    break
    return removed


#: Runs read at a time by :func:`remove_stale_runs` (a week away, every 10 minutes: a thousand).
STALE_PAGE = 200


def stale_runs_line(removed: dict[str, int]) -> str:
    """The line saying how many runs :func:`remove_stale_runs` deleted, of which deployments."""
    counts = ", ".join(
        f"{count} of {name}" if i else f"{count} run{'s' if count > 1 else ''} of {name}"
        for i, (name, count) in enumerate(removed.items())
    )
    return (
        f"veille serve: deleted {counts}, scheduled while no veille serve ran them and due more than"
        f" {STALE_AFTER_SECONDS:.0f} s ago: the next runs follow the schedule (runs made by hand are kept)"
    )


class ServerNotStarted(Exception):
    """The Prefect server `veille serve` started did not answer."""


#: Seconds a Prefect server started by `veille serve` gets to answer.
SERVER_START_SECONDS = 120.0


class OwnPrefectServer:
    """A Prefect server `veille serve` started (``prefect server start``, its scheduler on,
    no UI) on a loopback port, in a session of its own (a Ctrl-C in the terminal reaches
    veille, which stops it); :mod:`flows.serve_watch` restarts it once, on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.restarted = False
        self.process: Any = None
        self.launch()

    def launch(self) -> None:
        import os
        import subprocess

        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-ui", "--analytics-off", "--log-level", "WARNING"]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"},
        )

    def ended(self) -> int | None:
        """Its process's exit code once it has ended, else None."""
        code: int | None = self.process.poll()
        return code

    def restart(self) -> None:
        self.stop()
        self.restarted = True
        self.launch()

    def stop(self) -> None:
        import subprocess

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


#: The Prefect server this `veille serve` started, if it did.
_OWN_SERVER: list[OwnPrefectServer] = []


def start_prefect_server() -> str:
    """Start a Prefect server (:class:`OwnPrefectServer`) on a free loopback port, stopped
    when this command exits; its API URL, also set in the environment for the served runs.
    Not Prefect's temporary server, the one it starts when no server is configured: that one
    runs no scheduler, so served deployments would never run."""
    import atexit
    import os
    import socket
    import time

    from flows.mode import health

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = OwnPrefectServer(port)
    _OWN_SERVER.append(server)
    atexit.register(server.stop)
    api_url = server.api_url
    wait = os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")
    timeout = float(wait or SERVER_START_SECONDS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.ended() is None:
        if health(api_url, 2) == 200:
            os.environ["PREFECT_API_URL"] = api_url  # the served runs' processes
            return api_url
        time.sleep(0.5)
    server.stop()
    raise ServerNotStarted(
        f"the Prefect server veille serve started (`prefect server start --port {port}`) did not"
        f" answer within {timeout:.0f} s: start one with `prefect server start` and set PREFECT_API_URL"
    )


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

    for runner in _RUNNERS:
        runner.stopping = True  # it starts no other run meanwhile
    runs = _kill_served_runs()
    if runs:
        mark_interrupted(list(runs), signal_name, subflows=True)
    pause_served_schedules()
    for claim in _CLAIMS:
        claim.release()
    # the runner's threads meet the end of the server and of the runs while the exit handlers
    # run: the command's one line says what happened
    logging.disable(logging.CRITICAL)


def _kill_served_runs() -> list[str]:
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
    :data:`PAUSE_SECONDS`: a server that does not answer leaves them as they are."""
    import contextlib
    import contextvars
    import threading
    import time

    if not _SERVED:
        return

    def pause() -> None:
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            for attempt in range(2):
                if attempt:
                    time.sleep(PAUSE_AGAIN_SECONDS)
                for deployment_id in _SERVED.values():
                    with contextlib.suppress(Exception):  # stopping: one not paused is no reason to stay
                        client.pause_deployment(deployment_id)

    context = contextvars.copy_context()  # the settings in force (the API URL) go along
    pauser = threading.Thread(target=context.run, args=(pause,), daemon=True)
    pauser.start()
    pauser.join(PAUSE_SECONDS)


class ServedElsewhere(Exception):
    """Another `veille serve`, of another database, serves deployments of the same names on
    the same Prefect server; or they are a work pool's."""


#: Seconds since a runner last asked for a deployment's runs within which that deployment is
#: served: Prefect's own, past which its UI shows the deployment Not Ready (a runner asks
#: every ``PREFECT_RUNNER_POLL_FREQUENCY`` seconds, 10). A claim (:class:`Claim`) not renewed
#: within as long is a dead veille serve's.
SERVED_WITHIN_SECONDS = 60.0
#: Seconds between two renewals of a claim.
CLAIM_RENEW_SECONDS = 10.0
#: The Prefect variable's tag on a claim.
CLAIM_TAG = "veille-serve"


def claim_name(instance: str | None) -> str:
    """The name of the Prefect variable claiming the deployments of ``instance`` (VEILLE_INSTANCE):
    ``veille-serve``, or ``veille-serve_`` and the name, each character other than a lower-case
    letter, a digit or "-" written "_" and its code in hex (Prefect's variable names take
    those alone; "Fr" and "fr" are two instances, two claims)."""
    if not instance:
        return CLAIM_TAG
    return f"{CLAIM_TAG}_" + "".join(
        c if c.isdigit() or c == "-" or "a" <= c <= "z" else f"_{ord(c):02x}" for c in instance
    )


def _refusal(other: str, names: str, since: str) -> ServedElsewhere:
    from prefect.settings import PREFECT_API_URL

    return ServedElsewhere(
        f"another veille serve, of the database {other}, serves {names} on the Prefect server at"
        f" {PREFECT_API_URL.value()} ({since}): this one would take them over, and pause them when"
        " it stops; give each veille serve of this server a name of its own with VEILLE_INSTANCE"
        " (its deployments are then named poll-and-ingest@NAME, ...), or stop the other one first"
    )


@dataclass
class Claim:
    """This `veille serve`'s claim on its deployments' names on a Prefect server of the user's:
    a Prefect variable (:func:`claim_name`) holding its database's tag, made with one create,
    which the server refuses (409) when the name is taken. Two `veille serve` starting together
    cannot both make it: one serves, the other reads the claim and is refused
    (:func:`claim_deployments`). Renewed every :data:`CLAIM_RENEW_SECONDS` from a thread of its
    own (the main loop stays free for the watch and the signals); deleted when `veille serve`
    stops; one not renewed within :data:`SERVED_WITHIN_SECONDS` is a dead one's, taken over."""

    name: str
    value: dict[str, str]
    id: Any
    #: the message to stop with when another veille serve took the claim meanwhile
    lost: str | None = None
    _stop: Any = field(default=None, repr=False)
    _released: bool = field(default=False, repr=False)

    def keep(self) -> None:
        """Renew the claim every :data:`CLAIM_RENEW_SECONDS` until :meth:`release`."""
        import contextvars
        import threading

        self._stop = threading.Event()
        context = contextvars.copy_context()  # the settings in force (the API URL) go along
        threading.Thread(
            target=context.run, args=(self._renew_loop,), name="veille-claim", daemon=True
        ).start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(CLAIM_RENEW_SECONDS):
            try:
                self.renew()
            except Exception:  # noqa: BLE001, S112 - the server does not answer: the watch says so
                continue
            if self.lost is not None:
                return

    def renew(self) -> None:
        """Renew the claim (its ``updated`` time on the server); made again when it was deleted;
        :attr:`lost` when another veille serve holds it by then."""
        import httpx
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.actions import VariableCreate
        from prefect.exceptions import ObjectAlreadyExists

        from flows.deployments import DATABASE_TAG

        value = {**self.value, "renewed": _now_text()}
        with get_client(sync_client=True) as client:
            try:
                client.request("PATCH", "/variables/{id}", path_params={"id": self.id}, json={"value": value})
                return
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:
                    raise
            try:  # taken over as a dead one's (its server did not answer meanwhile)
                self.id = client.create_variable(
                    VariableCreate(name=self.name, value=value, tags=[CLAIM_TAG])
                ).id
                return
            except ObjectAlreadyExists:
                held = client.read_variable_by_name(self.name)
        holder = held.value if held is not None and isinstance(held.value, dict) else {}
        other = str(holder.get("database", "?")).removeprefix(DATABASE_TAG)
        self.lost = (
            f"veille serve: error: another veille serve, of the database {other}"
            f" ({holder.get('holder', '?')}), took over {self.value['deployments']} while this one's"
            " claim on them was not renewed: both would run the same deployments, so this one"
            " stops; give each veille serve of this server a name of its own with VEILLE_INSTANCE"
        )

    def release(self) -> None:
        """Delete the claim (by its id: a claim another veille serve made since stays), within
        :data:`PAUSE_SECONDS`."""
        import contextlib
        import contextvars
        import threading

        if self._released:
            return
        self._released = True
        if self._stop is not None:
            self._stop.set()

        def delete() -> None:
            from prefect.client.orchestration import get_client

            with contextlib.suppress(Exception), get_client(sync_client=True) as client:
                client.request("DELETE", "/variables/{id}", path_params={"id": self.id})

        context = contextvars.copy_context()
        deleter = threading.Thread(target=context.run, args=(delete,), daemon=True)
        deleter.start()
        deleter.join(PAUSE_SECONDS)


#: The claim this `veille serve` holds, if it holds one (:func:`end_served_runs` releases it).
_CLAIMS: list[Claim] = []


def _now_text() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def claim_deployments(deployments: list[Any], database_url: str) -> Claim:
    """:class:`Claim` this database's deployments' names on the Prefect server, or
    :class:`ServedElsewhere` when another `veille serve`, of another database, holds a claim on
    them renewed within :data:`SERVED_WITHIN_SECONDS` (a database on localhost or a local
    socket is another one when the claim is another machine's, though its tag is the same).
    A claim of this database's is a `veille serve` of it that died (the database's lock says
    none serves it): taken over, as is a stale one, by deleting it by its id and making this
    one's (two that found it stale: one makes it, the other reads it and is refused)."""
    import os
    import socket
    from datetime import UTC, datetime

    import httpx
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import VariableCreate
    from prefect.exceptions import ObjectAlreadyExists

    from flows.deployments import DATABASE_TAG, database_tag, local_database
    from monitors.settings import get_settings

    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    mine = database_tag(database_url)
    machine = socket.gethostname()
    value = {
        "database": mine,
        "holder": f"veille serve, pid {os.getpid()} on {machine}",
        "machine": machine,
        "deployments": names,
        "renewed": _now_text(),
    }
    name = claim_name(get_settings().instance)
    with get_client(sync_client=True) as client:
        for _ in range(3):
            try:
                made = client.create_variable(VariableCreate(name=name, value=value, tags=[CLAIM_TAG]))
            except ObjectAlreadyExists:
                pass
            else:
                claim = Claim(name, value, made.id)
                _CLAIMS.append(claim)
                return claim
            held = client.read_variable_by_name(name)
            if held is None:  # released meanwhile
                continue
            holder = held.value if isinstance(held.value, dict) else {}
            age = (
                (datetime.now(UTC) - held.updated).total_seconds() if held.updated else SERVED_WITHIN_SECONDS
            )
            theirs = str(holder.get("database", "?"))
            # the same tag on another machine is another database when the tag names a local one
            there = str(holder.get("machine") or machine)
            if theirs == mine and local_database(database_url) and there != machine:
                theirs = f"{theirs} on {there}"
            if theirs != mine and age < SERVED_WITHIN_SECONDS:
                other = theirs.removeprefix(DATABASE_TAG)
                since = f"{holder.get('holder', 'its claim')}, renewed {max(age, 0):.0f} s ago"
                raise _refusal(other, names, since)
            try:
                client.request("DELETE", "/variables/{id}", path_params={"id": held.id})
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 404:  # deleted by another one meanwhile: try again
                    raise
    raise _refusal("?", names, "its claim changed hands three times as this one read it")


def check_not_served_elsewhere(deployments: list[Any]) -> list[str]:
    """:class:`ServedElsewhere` when deployments of these names on the Prefect server are
    served by another runner: another `veille serve`, of another database (tagged with it),
    or one whose deployments carry no database tag (an older veille serve, a ``.serve()`` of
    the user's) (active, asked for by a runner within :data:`SERVED_WITHIN_SECONDS`);
    registering them would take them over, the same ids, so that both runners would run each
    other's runs on their own databases, and this one's stop would pause the other's
    schedules. Also when one is a work pool's (an older prefect.yaml's names, a plain
    ``prefect deploy``): registering it would rewrite it (entrypoint, parameters, tags), still
    in the pool, and both this runner and the pool's workers would take its runs.
    Deployments of a veille serve that stopped (paused), or died (not asked for since), or of
    this database, are taken over; the names of those without a database tag are returned,
    for `veille serve` to say it took them over."""
    from datetime import UTC, datetime

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL

    from flows.deployments import DATABASE_TAG

    taken: list[str] = []
    pooled: list[str] = []
    untagged: list[str] = []
    other, since = "", 0.0
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                found = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if found.work_pool_name:
                pooled.append(f"{name} (work pool {found.work_pool_name})")
                continue
            owner = next((t for t in found.tags if t.startswith(DATABASE_TAG)), None)
            if owner is not None and owner in deployment.tags:
                continue
            age = (datetime.now(UTC) - found.last_polled).total_seconds() if found.last_polled else None
            if found.paused or age is None or age >= SERVED_WITHIN_SECONDS:
                if owner is None:
                    untagged.append(name)
                continue
            taken.append(name)
            other, since = (owner or "").removeprefix(DATABASE_TAG), age
    url = PREFECT_API_URL.value()
    if pooled:
        names = ", ".join(p.split(" (")[0] for p in pooled)
        raise ServedElsewhere(
            f"{', '.join(pooled)} on the Prefect server at {url}: a work pool's deployments, which"
            " its workers run; veille serve would rewrite them as its own and run them beside the workers."
            f" Delete them first (`prefect deployment delete NAME`, for {names}) to serve them, or"
            " give this veille serve other names with VEILLE_INSTANCE (poll-and-ingest@NAME, ...);"
            " prefect.yaml's deployments are now named *-pool (`veille deploy`)"
        )
    if taken and not other:
        raise ServedElsewhere(
            f"{', '.join(taken)} on the Prefect server at {url}: no database tag, and a runner"
            f" asked for their runs {max(since, 0):.0f} s ago: an older veille serve, or a"
            " runner of your own, serves them, of a database veille cannot tell; this one would"
            " take them over, and pause them when it stops; stop that one first, or give this"
            " veille serve other names with VEILLE_INSTANCE (poll-and-ingest@NAME, ...)"
        )
    if taken:
        raise _refusal(other, ", ".join(taken), f"its runner asked for their runs {max(since, 0):.0f} s ago")
    return untagged


class AlreadyServing(Exception):
    """Another `veille serve` serves the same database or uses the same PREFECT_HOME."""


#: Advisory lock keys held by a `veille serve` for its length, on its database ("VSRV", 1).
SERVE_LOCK = (0x56535256, 1)
#: This process's hold on its database and PREFECT_HOME (kept open until it exits).
_HELD: list[Any] = []


def hold_serve_locks(database_url: str) -> None:
    """One `veille serve` per database and per PREFECT_HOME, or :class:`AlreadyServing`
    naming the other one. Two on one database would both poll the same sources each cycle;
    two on one PREFECT_HOME would register the same deployments in one Prefect database,
    each runner executing the other's runs with its own settings. Both holds are the
    system's (a session advisory lock, an flock), released when the process ends, however
    it ends: a killed veille serve leaves nothing to clean up."""
    import fcntl
    import os
    import socket

    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    who = f"veille serve, pid {os.getpid()} on {socket.gethostname()}"
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    lock_file = home / "veille-serve.lock"
    handle = open(lock_file, "a+")  # noqa: SIM115 - held open for the command's length
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyServing(
            f"another veille serve ({other}) already uses PREFECT_HOME {home}: two would serve"
            " the same deployments from one Prefect database; stop it first, or give this one"
            " a PREFECT_HOME of its own"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(who)
    handle.flush()
    _HELD.append(handle)
    engine = sa.create_engine(database_url, poolclass=NullPool, connect_args={"application_name": who})
    conn = engine.connect()
    conn.execution_options(isolation_level="AUTOCOMMIT")
    if conn.scalar(sa.text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]}):
        _HELD.append(conn)
        return
    holder = serve_lock_holder(conn)
    conn.close()
    engine.dispose()
    shown = sa.engine.make_url(database_url).render_as_string(hide_password=True)
    raise AlreadyServing(
        f"another veille serve ({holder or 'another process'}) already serves the database"
        f" {shown}: two would poll the same sources every cycle; stop it first"
    )


def serve_lock_holder(conn: Any) -> str | None:
    """The application name of the session holding the serve lock on ``conn``'s database, or
    None. pg_locks lists the whole server's locks, and the serve lock has the same keys on every
    database: without the database in the query, the first holder listed could be the
    `veille serve` of another database on the same server."""
    import sqlalchemy as sa

    holder: str | None = conn.scalar(
        sa.text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :o AND l.granted"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]},
    )
    return holder


def release_serve_locks() -> None:
    """Let go of what :func:`hold_serve_locks` holds (the command returns; a process that
    ends lets go of them anyway)."""
    import contextlib

    while _HELD:
        with contextlib.suppress(Exception):
            _HELD.pop().close()
