"""The deployments ``veille serve`` runs on a schedule (``prefect.yaml`` declares the same ones
for a process work pool).

- ``veille-run/poll-and-ingest``: every ``VEILLE_POLL_INTERVAL_MINUTES`` (10), poll the sources
  that are due, then ingest the queue; publishes the run table and report artifacts.
- ``veille-ingest/drain-queue``: ingest whatever the queue holds (retries that came due,
  or a backlog) half an interval after each cycle; the unit of scale-out on a work pool.
- ``veille-maintenance/daily``: ``VEILLE_MAINTENANCE_CRON`` on the local clock
  (``VEILLE_LOCAL_TIMEZONE``, Europe/Paris), source health report, rescore when the topic
  version changed.

With ``VEILLE_INSTANCE`` set (several ``veille serve``, each with its database, on one Prefect
server), each name carries it after an "@": ``veille-run/poll-and-ingest@NAME``. A served
deployment is tagged ``database:HOST:PORT/NAME`` (:func:`database_tag`), the database its runs
use, which ``veille serve`` reads to tell another one's deployments from its own.

Each deployment allows one run at a time, and a run that comes due while the previous one
still runs is skipped, not queued (:data:`ONE_AT_A_TIME`); tasks retry on transient errors only
(``retry_transient``); flows themselves are not retried, since Prefect cannot tell why a
flow failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval
from sqlalchemy.engine import make_url

from flows.maintenance import maintenance_flow
from flows.runs import ingest_flow, run_flow
from monitors.settings import Settings, get_settings

TAGS = ["veille"]
# Interval schedules count from this instant, so cycles land on round minutes.
ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)


#: One run at a time. A cycle that comes due while the previous one still runs (a slow site,
#: a large backlog) is cancelled by the server, state Cancelled with the message "Deployment
#: concurrency limit reached.", and the runner logs "Aborted submission of flow run ...":
#: the next cycle on the schedule does its work. Prefect's default (ENQUEUE) would keep it
#: waiting, AwaitingConcurrencySlot, so that overrunning cycles pile up and run back to back.
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)


def _deployment(flow: Flow[..., Any], **options: Any) -> RunnerDeployment:
    deployment = flow.to_deployment(**options)
    assert isinstance(deployment, RunnerDeployment)  # to_deployment is sync in a sync context
    return deployment


#: The prefix of the tag naming a served deployment's database (:func:`database_tag`).
DATABASE_TAG = "database:"


def database_tag(url: str) -> str:
    """The tag naming the database at ``url``: ``database:HOST:PORT/NAME`` (the socket's
    folder for a local socket, as the embedded database's), no user or password."""
    parsed = make_url(url)
    host = parsed.host or str(parsed.query.get("host") or "localhost")
    where = f"{host}:{parsed.port}" if parsed.port else host
    return f"{DATABASE_TAG}{where}/{parsed.database}"


def local_database(url: str) -> bool:
    """Whether the database at ``url`` is reached on this machine only (a loopback address or a
    local socket): its tag then names a different database on each machine."""
    parsed = make_url(url)
    host = parsed.host or str(parsed.query.get("host") or "localhost")
    return host in {"localhost", "::1"} or host.startswith(("127.", "/"))


def deployment_name(name: str, settings: Settings) -> str:
    """``name``, followed by "@" and the instance's name when ``VEILLE_INSTANCE`` gives one."""
    return f"{name}@{settings.instance}" if settings.instance else name


#: Cron nicknames, which Prefect's cron reads as their five-field lines.
NICKNAMES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def check_cron(line: str) -> str:
    """``line`` when it is a cron line of five fields (minute hour day month weekday) that
    fires; a ValueError saying why not. Prefect takes a sixth field as seconds ("30 4 * * * *":
    a run every second from 04:30:00 to 04:30:59) and a date that never comes ("0 0 31 2 *":
    no run ever) without a word."""
    from prefect._vendor.croniter import CroniterBadDateError, croniter

    fields = line.split()
    if len(fields) == 1 and fields[0].lower() in NICKNAMES:
        return line
    invalid = f"Invalid cron string {line!r}"  # Prefect's words for a line it refuses
    if len(fields) != 5:
        raise ValueError(
            f"{invalid}: {len(fields)} fields, a cron line has 5 (minute hour day month weekday)"
        )
    if not croniter.is_valid(line):
        raise ValueError(f"{invalid} (minute hour day month weekday)")
    try:
        croniter(line, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(f"{invalid}: it never fires, no such date") from None
    return line


def build_deployments(
    settings: Settings | None = None,
    sources_file: str | None = None,
    interval_minutes: int | None = None,
    maintenance_cron: str | None = None,
    database_url: str | None = None,
) -> list[RunnerDeployment]:
    """The three scheduled deployments, each limited to one concurrent run (a run due while
    the previous one runs is skipped: :data:`ONE_AT_A_TIME`), tagged with the database at
    ``database_url`` when given."""
    settings = settings or get_settings()
    tags = [*TAGS, database_tag(database_url)] if database_url else TAGS
    minutes = interval_minutes or settings.poll_interval_minutes
    if minutes < 1:
        raise ValueError(f"the poll interval must be at least 1 minute, got {minutes}")
    interval = timedelta(minutes=minutes)
    # the schedules are on the local clock, as an article's day is: "30 4 * * *" is 04:30 there
    zone = settings.local_timezone
    cycle = _deployment(
        run_flow,
        name=deployment_name("poll-and-ingest", settings),
        schedules=[Interval(interval, anchor_date=ANCHOR, timezone=zone)],
        concurrency_limit=ONE_AT_A_TIME,
        parameters={"sources_file": sources_file},
        tags=[*tags, "poll", "ingest"],
        description="Poll the due sources, then ingest the URL queue.",
    )
    drain = _deployment(
        ingest_flow,
        name=deployment_name("drain-queue", settings),
        schedules=[Interval(interval, anchor_date=ANCHOR + interval / 2, timezone=zone)],
        concurrency_limit=ONE_AT_A_TIME,
        tags=[*tags, "ingest"],
        description="Ingest what the URL queue holds (retries come due, backlog).",
    )
    daily = _deployment(
        maintenance_flow,
        name=deployment_name("daily", settings),
        schedules=[
            Cron(
                check_cron(settings.maintenance_cron if maintenance_cron is None else maintenance_cron),
                timezone=zone,
            )
        ],
        concurrency_limit=ONE_AT_A_TIME,
        tags=[*tags, "maintenance"],
        description="Source health report; rescore when the topic changed.",
    )
    return [cycle, drain, daily]
