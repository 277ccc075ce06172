"""`veille serve`: run the scheduled deployments (poll and ingest, drain, daily maintenance)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flows import serve_claims
from flows.commands.common import (
    at_least,
    check_sources_and_topics,
    closing_line,
    path_arg,
    prepare_database,
)
from flows.prefect_server import OWN_SERVER, ServerNotStarted, start_prefect_server
from flows.serve_claims import Claim, ServedElsewhere, check_not_served_elsewhere, claim_deployments
from flows.serve_locks import AlreadyServing, hold_serve_locks, release_serve_locks
from flows.serve_stop import (
    SERVED,
    hold_runners,
    kill_served_runs,
    register_served,
    start_runner,
    stop_on_signal,
)
from flows.stale_runs import (
    end_orphaned_runs,
    orphaned_runs_line,
    paused_leftovers_line,
    remove_paused_leftovers,
    remove_stale_runs,
    stale_runs_line,
)
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
        closing_line(f"veille: error: {exc}")
        return 3
    try:
        return _serve(args, database_url)
    finally:
        release_serve_locks()


def _serve(args: argparse.Namespace, database_url: str) -> int:
    from flows.mode import PrefectUnreachable, check_prefect_api, prefect_api_configured

    stop_on_signal()  # end_served_runs, its imports done now
    # before Prefect is imported, so that its settings see the server's URL everywhere
    try:
        check_prefect_api()
        api_url = None if prefect_api_configured() else start_prefect_server()
    except (PrefectUnreachable, ServerNotStarted) as exc:
        closing_line(f"veille: error: nothing could run: {exc}")
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
        closing_line(f"veille: error: {where}: {exc}")
        return 2
    claim: Claim | None = None
    if api_url is None:  # a server of the user's, which another veille serve may use
        try:
            claim = mine = claim_deployments(deployments, database_url)
            untagged = check_not_served_elsewhere(deployments)
        except ServedElsewhere as exc:
            if claim is not None:
                claim.release()
            closing_line(f"veille: error: {exc}")
            return 3
        if untagged:
            closing_line(
                f"veille serve: {', '.join(untagged)} on the Prefect server at {PREFECT_API_URL.value()}:"
                " no database tag (an older veille serve's), paused or not asked for by a runner"
                f" within {serve_claims.SERVED_WITHIN_SECONDS:.0f} s: this one takes them over,"
                " tagged with its database"
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
        own=OWN_SERVER[-1] if api_url else None,
    )
    if api_url is None:
        try:
            return _serve_in_a_thread(deployments, watch, claim)
        finally:
            if claim is not None:
                claim.release()
    closing_line(
        f"veille serve: no Prefect server configured (PREFECT_API_URL): started one at {api_url}"
        " for the length of this command (set PREFECT_API_URL to keep the runs in yours)"
    )
    with temporary_settings(updates={PREFECT_API_URL: api_url}):  # where Prefect was imported before
        return _serve_in_a_thread(deployments, watch)


def _serve_in_a_thread(deployments: list[Any], watch: Any, claim: Claim | None = None) -> int:
    """:func:`serve_deployments` on a thread of its own: Prefect's runner then installs no
    SIGTERM handler (it does so only on the main thread, and its handler cancels each run and
    waits for it, then exits 0), so SIGTERM and SIGINT stay veille's
    (:func:`flows.cli._end_with_veille`: one line, 143 or 130, the served runs ended at once by
    :func:`flows.serve_stop.end_served_runs`). The main thread meanwhile checks the Prefect
    server's health (:class:`flows.serve_watch.Watch`); the exit code: 0 when the runner ended,
    4 when the server went away and did not come back."""
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
            _stop_serving(stop)
            return EXIT_SERVER_GONE
        if claim is not None and claim.lost is not None:
            # the server answers: the runs killed are marked, their deployment's slot freed
            _stop_serving(
                claim.lost,
                interrupted=f"Interrupted: veille serve stopped, its claim taken over by {claim.taken_by}:"
                " what was not stored is left for the next run.",
            )
            return 3
        if runner is None and not watch.down:
            runner = start()


#: Checks of the server, a second apart, when Prefect's runner ended on an error: if the
#: server answers them all, the error is the runner's own and is raised.
RECHECKS = 3


def _stop_serving(line: str, interrupted: str | None = None) -> None:
    """Stop serving, ``line`` said on stderr: the Prefect server went away for good, or another
    veille serve took the claim over (the server answers, the other one serves the same
    deployments). The runners are held first (:func:`flows.serve_stop.hold_runners`): none
    proposes a run Pending or starts its process once the line is said, not even a run due in
    the answer to a poll in flight (the runner's ``stopping`` did not stop Prefect 3.9's poller,
    and a run was started after the kill); a runner held does not end either, so it pauses
    nothing (Prefect's runner pauses its deployments as it ends, the other veille serve's
    now). Its thread is a daemon, as are the AnyIO worker threads its loop started: veille
    serve exits without them. The runs started before are killed; with ``interrupted`` (the
    claim taken over: the server answers) they end Crashed, named Interrupted, with that
    message (:func:`flows.runs.end_interrupted`, 3 s at most), which frees their deployment's
    concurrency slot: left Running, they held it, and the runs of the veille serve that holds
    the claim now were cancelled (CANCEL_NEW). Without (the server gone for good, not answering
    for VEILLE_PREFECT_WAIT seconds) none is marked, nor tried: nothing would take it, and the
    exit is not delayed; they stay Running there until the next veille serve ends them
    Crashed (:func:`flows.stale_runs.end_orphaned_runs`), their slot freed then. The server
    veille serve started is stopped; Prefect's threads, which meet the end of the server, log
    nothing more."""
    import logging

    from flows.runs import end_interrupted

    hold_runners()
    closing_line(line)
    runs = kill_served_runs()
    if runs and interrupted is not None:
        end_interrupted(runs, interrupted, subflows=True)
    logging.disable(logging.CRITICAL)
    for server in OWN_SERVER:
        server.stop()


def _tidy(
    step: Callable[[Any], dict[str, int]], of: Any, failed: str, said: Callable[[dict[str, int]], str]
) -> None:
    """``step(of)``, one of the server's tidyings as `veille serve` starts, and its line if it did
    anything; what it ``failed`` to do and why if the server refused: veille serve serves on."""
    try:
        done = step(of)
    except Exception as exc:  # noqa: BLE001 - said, and veille serve serves on
        closing_line(f"veille serve: {failed}: {describe(exc)}")
    else:
        if done:
            closing_line(said(done))


def serve_deployments(deployments: list[Any]) -> None:
    """What ``prefect.serve`` does (a runner polls the server for the deployments' scheduled
    runs and starts each in a process of its own), with the runner kept for
    :func:`flows.serve_stop.end_served_runs`; each deployment registered unless veille serve
    is stopping (:func:`flows.serve_stop.register_served`). The scheduler's runs left on them
    while paused are deleted first (:func:`flows.stale_runs.remove_paused_leftovers`)."""
    import asyncio
    import functools

    from prefect.runner import Runner

    runner = Runner()
    names = [f"{deployment.flow_name}/{deployment.name}" for deployment in deployments]
    # before the registrations, which unpause them: none of the scheduler's comes after
    failed = "the runs left on its paused deployments were not removed"
    _tidy(remove_paused_leftovers, names, failed, paused_leftovers_line)
    for deployment in deployments:
        name = f"{deployment.flow_name}/{deployment.name}"
        if not register_served(name, functools.partial(runner.add_deployment, deployment)):
            return  # veille serve is stopping: nothing more is registered, or served
    # left as they were (shown Running), if the server refuses
    _tidy(
        end_orphaned_runs,
        SERVED,
        "the runs a veille serve gone left Running were not marked",
        orphaned_runs_line,
    )
    # the runner then meets them, as it did before
    _tidy(
        remove_stale_runs,
        SERVED,
        "the runs due while it was not serving could not be removed",
        stale_runs_line,
    )
    print(f"veille serve: serving {', '.join(names)}; stop with Ctrl-C", flush=True)
    asyncio.run(start_runner(runner))  # its loop held when veille serve stops
