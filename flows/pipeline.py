"""The steps of a veille run and how they fit together: poll due sources, then drain the URL
queue in batches.

Orchestration only: every step calls a plain function from ``monitors``. No Prefect import
here: ``veille run`` without a Prefect server runs these steps directly
(:mod:`flows.direct`), and :mod:`flows.runs` wraps the same steps in Prefect flows and tasks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psycopg
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError as Urllib3Error

from monitors.archive import queue as claims
from monitors.archive.articles import apply_ingest, store_or_fail
from monitors.archive.db import DatabaseUnavailable, cancelled, get_engine, session_scope
from monitors.archive.polls import BAD_ENTRY, PollSummary, apply_polls, due_sources
from monitors.archive.queue import (
    ClaimHolder,
    claim_items,
    holder_for,
    queue_counts,
    release_claims,
    renew_claims,
    wait_for_database,
)
from monitors.archive.schema import ensure_schema
from monitors.archive.write_errors import unstorable
from monitors.collect.http import Client, make_client
from monitors.collect.poll import POLL_BATCH, PollOutcome, SourceState, poll_many, poll_threads
from monitors.collect.robots import ROBOTS, RobotsCache
from monitors.collect.sources import (
    BadEntry,
    SourcesError,
    load_sources,
    load_sources_file,
    record_problems,
    sources_label,
    sync_sources,
)
from monitors.collect.throttle import HostThrottle
from monitors.errors import describe
from monitors.ingest import ArticleData, IngestOutcome, process_item
from monitors.judge.boilerplate import site_of
from monitors.judge.site_profiles import ProfileCache, learn
from monitors.judge.topic import Topic, load_topic
from monitors.judge.topic_set import load_topics
from monitors.settings import Settings, get_settings

if TYPE_CHECKING:
    from flows.outcome import RunOutcome


class Pending(Protocol):
    """A step's result to come: a ``concurrent.futures.Future`` or a ``PrefectFuture``."""

    def result(self) -> Any: ...


#: Runs a step on a worker thread: ``submit(step, *args)`` returns its :class:`Pending` result.
#: In a flow, a Prefect task run (:mod:`flows.runs`); in a direct run, a thread of a pool
#: with the same retries (:mod:`flows.direct`).
Submit = Callable[..., Pending]

#: Failures worth another try: the database or the network hiccuped. Not every database
#: error: a constraint violated, bad data or a bug in a query (IntegrityError, DataError,
#: ProgrammingError) fails the same way on every try.
TRANSIENT_ERRORS = (
    DatabaseUnavailable,
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    Urllib3Error,
)
#: Seconds before the first and the second retry of a step that failed for a passing reason.
RETRY_DELAYS = (2, 10)


def run_logger() -> Any:
    """The Prefect run's logger inside a flow or task run (its lines go to the UI), else the
    ``veille`` logger (a direct run prints it on stderr)."""
    if "prefect.logging" in sys.modules:
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            pass
    return logging.getLogger("veille")


@dataclass
class Runtime:
    """Per-process shared state for tasks: one HTTP client, one throttle (at most
    ``VEILLE_CONCURRENCY`` requests in flight), one topic, the robots.txt cache, and one pool
    of polling threads."""

    settings: Settings
    client: Client
    throttle: HostThrottle
    topic: Topic
    topics: tuple[Topic, ...]  # the active topic folder: one article_topics row each
    robots: RobotsCache
    pool: ThreadPoolExecutor
    #: what each site's pages taught (boilerplate, title affixes), read once per site
    profiles: ProfileCache = field(default_factory=ProfileCache)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            settings = get_settings()
            _runtime = Runtime(
                settings=settings,
                client=make_client(settings),
                throttle=HostThrottle.from_settings(settings),
                topic=load_topic(),
                topics=tuple(load_topics()),
                robots=ROBOTS,
                pool=ThreadPoolExecutor(poll_threads(settings), thread_name_prefix="poll"),
            )
        return _runtime


def reset_runtime() -> None:
    """Drop the shared client (settings may have changed between runs, e.g. in tests)."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.pool.shutdown(wait=True)
            _runtime.client.close()
        _runtime = None


#: Environment variables through which a user asks for flow-run heartbeats explicitly.
HEARTBEAT_ENV = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextmanager
def direct_run() -> Iterator[None]:
    """Prefect settings for flows called in this process (``veille run``, ``veille backfill``)
    rather than by a deployment: no flow-run heartbeats, unless the user set
    ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``.

    Heartbeats feed Prefect's zombie-run automation, which watches deployment runs (``veille
    serve`` keeps them). Prefect 3.9 also joins the heartbeat thread, which sleeps in steps of
    one second, when each flow run ends: up to a second lost per flow and subflow run, about
    three for a ``veille run`` (a flow and two subflows).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if any(os.environ.get(name) for name in HEARTBEAT_ENV):
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def is_transient(exc: BaseException) -> bool:
    """Whether a step that raised ``exc`` is worth another try (database or network hiccup,
    a connection lost whatever the error says); anything else is a bug or bad data."""
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    # a value over a PostgreSQL limit comes as an OperationalError too, and fails every try
    return (lost or isinstance(exc, TRANSIENT_ERRORS)) and not unstorable(exc)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry a task only when it failed for a passing reason."""
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - judged below
        return is_transient(exc)
    return False


def transient_task(name: str | None = None, delays: tuple[int, int] = RETRY_DELAYS) -> Any:
    """veille's task decorator: no result cache (tasks read and write the database), and two
    retries, for transient failures only."""
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    return task(
        cache_policy=NO_CACHE,
        retries=len(delays),
        retry_delay_seconds=list(delays),
        retry_condition_fn=retry_transient,
        task_run_name=name,
    )


def _run_id() -> str | None:
    """The Prefect flow run's id, recorded with each fetch; None outside a flow run."""
    if "prefect.context" not in sys.modules:
        return None
    from prefect.context import get_run_context

    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001
        return None


def _keep(_: SourceState, outcome: PollOutcome) -> PollOutcome:
    return outcome


def poll_batches(due: list[SourceState], size: int = POLL_BATCH) -> list[list[SourceState]]:
    """Split the due sources into batches: one Prefect task per batch, not per source."""
    return [due[i : i + size] for i in range(0, len(due), size)]


def poll_batch_task(
    batch: list[SourceState], run_id: str | None, index: int, count: int
) -> list[PollSummary]:
    """Poll a batch of sources on the shared pool, then store the batch in one transaction (the
    body of the task ``poll batch N``)."""
    rt = runtime()
    outcomes = poll_many(rt.client, rt.settings, batch, _keep, rt.throttle, rt.robots, rt.pool)
    with session_scope() as session:
        summaries = apply_polls(session, outcomes, run_id, rt.settings)
    logger = run_logger()
    # one line per source in error, one for the batch: the run summary artifact has every source
    for source, summary in zip(batch, summaries, strict=True):
        if summary.error:
            logger.warning("%s: %s", source.name, summary.error)
    new = sum(s.new for s in summaries)
    failed = sum(1 for s in summaries if s.error)
    logger.info("%d sources polled: %d new entries, %d in error", len(summaries), new, failed)
    return summaries


@dataclass
class IngestReport:
    statuses: list[tuple[int, str, bool]] = field(default_factory=list)  # source, status, relevant
    #: for each of ``statuses``, its fetch's host and how it reached no server (None: a server
    #: answered; :data:`flows.outcome.Fetch`)
    unreached: list[tuple[str | None, str | None]] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)  # database losses and worker crashes
    gave_up: bool = False  # a worker stopped before the queue was drained

    def extend(self, other: IngestReport) -> None:
        self.statuses.extend(other.statuses)
        self.unreached.extend(other.unreached)
        self.interruptions.extend(other.interruptions)
        self.gave_up = self.gave_up or other.gave_up


@dataclass
class StoreAttempt:
    """A page's store whose COMMIT may have been lost with the connection: what it wrote
    (``result``) and its transaction id, which tell after the database is back whether it
    committed (:meth:`committed`)."""

    result: tuple[str, bool] | None = None
    xid: int | None = None

    def committed(self) -> bool:
        """Whether the store's transaction committed: the server applied it, though the
        connection was lost before its answer (``txid_status``). False when it never reached
        the COMMIT, was rolled back, or the database cannot tell."""
        if self.result is None or self.xid is None:
            return False
        from sqlalchemy import text

        try:
            with session_scope() as session:
                status = session.scalar(text("SELECT txid_status(:xid)"), {"xid": self.xid})
        except DBAPIError:
            return False
        return bool(status == "committed")


def _store_page(
    session: Session,
    out: IngestOutcome,
    max_attempts: int,
    run_id: str | None,
    attempt: StoreAttempt | None = None,
) -> tuple[str, bool]:
    """Store a page's outcome; (what happened, whether its site's boilerplate profile changed).
    ``attempt`` keeps the result and the transaction id, for a COMMIT whose answer is lost."""
    status = apply_ingest(session, out, max_attempts, run_id)
    result = status, status == "stored" and out.article is not None and learn_from(session, out.article)
    if attempt is not None:
        from sqlalchemy import text

        attempt.xid = session.scalar(text("SELECT txid_current()"))
        attempt.result = result
    return result


def learn_from(session: Session, article: ArticleData) -> bool:
    """Count a newly stored article's blocks and title segments for its site; whether the
    site's profile changed (its cached profile is then dropped, once committed)."""
    return learn(session, article.site, article.blocks, list(article.title_segments))


#: Database losses a worker gets over before it gives up for this run.
MAX_RECOVERIES = 5


def _cause(exc: BaseException) -> str:
    """A database error in one line, cause first."""
    return describe(getattr(exc, "orig", None) or exc)


def ingest_worker_task(
    worker: int, run_id: str | None, budget: int | None, total: int, workers: int = 1
) -> IngestReport:
    """Claim batches from the queue until it is drained (or the budget is spent).

    A lost database does not lose the worker's work: what it settled is counted, it waits up
    to ``VEILLE_DB_WAIT`` seconds for the database, hands back the rows it claimed but did
    not settle, and goes on; if the database stays away it stops, and its rows (held by its
    claim token, see :mod:`monitors.archive.queue`) are free for the next run at once.
    """
    rt = runtime()
    logger = run_logger()
    report = IngestReport()
    engine = get_engine()
    holder = holder_for(engine)  # shared by the process's workers, released by ingest_flow
    conflicts = 0
    while budget is None or len(report.statuses) < budget:
        # Small queues are split evenly between workers instead of going to the first one.
        size = min(rt.settings.batch_size, max(1, -(-total // workers)))
        if budget is not None:
            size = min(size, budget - len(report.statuses))
        unsettled: list[int] = []
        token: int | None = None
        in_flight: tuple[Any, IngestOutcome, StoreAttempt] | None = None  # a store under way
        try:
            token = holder.token()
            with session_scope() as session:
                items = claim_items(session, size, token)
            if not items:
                break
            unsettled = [item.id for item in items]
            for item in items:
                with session_scope() as session:
                    site = rt.profiles.get(session, site_of(item.url))
                out = process_item(
                    rt.client, rt.settings, item, rt.topic, rt.throttle, rt.robots, rt.topics, site
                )
                attempt = StoreAttempt()
                store = partial(
                    _store_page,
                    out=out,
                    max_attempts=rt.settings.max_attempts,
                    run_id=run_id,
                    attempt=attempt,
                )
                in_flight = (item, out, attempt)
                status, changed = store_or_fail(
                    store, out, run_id, lambda status: (status, False), rt.settings.max_attempts
                )
                in_flight = None
                unsettled.remove(item.id)
                _settled(report, rt, item, out, status, changed)
        except (DBAPIError, psycopg.Error) as exc:
            orig = getattr(exc, "orig", None) or exc
            if str(getattr(orig, "sqlstate", "") or "").startswith("40") and conflicts < MAX_RECOVERIES:
                # a deadlock or serialization failure: the other transaction went on, this
                # one was rolled back; its rows go back to the queue and are tried again
                conflicts += 1
                logger.warning("%s: the rows are tried again", _cause(exc))
                with session_scope() as session:
                    release_claims(session, unsettled, token)
                continue
            if cancelled(exc):
                # the server cancelled a statement (statement_timeout): the database is there,
                # and waiting for it, or the same query again at once, would not help; the
                # worker stops, saying why, and its rows go back to the queue
                report.interruptions.append(f"the database cancelled a statement: {_cause(exc)}")
                logger.warning("%s: this worker stops", report.interruptions[-1])
                with contextlib.suppress(DBAPIError, psycopg.Error), session_scope() as session:
                    release_claims(session, unsettled, token)
                break
            lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
            lost = lost or isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
            if not lost or len(report.interruptions) >= MAX_RECOVERIES:
                raise  # not a lost connection (a bug, bad data): the task fails as it is
            if not _recover(exc, engine, token, unsettled, report, rt.settings.db_wait):
                break
            if in_flight is not None and in_flight[2].committed():
                # the connection was lost with the COMMIT's answer, not before it: the page is
                # stored, and counted as such (it is not in the queue any more to be again)
                item, out, attempt = in_flight
                assert attempt.result is not None
                _settled(report, rt, item, out, *attempt.result)
        logger.info("worker %d: %d pages done (about %d were due)", worker, len(report.statuses), total)
    return report


def _settled(
    report: IngestReport, rt: Runtime, item: Any, out: IngestOutcome, status: str, changed: bool
) -> None:
    """Count a page whose store committed (``status``); its site's cached profile goes when the
    store taught it something (``changed``)."""
    if changed and out.article is not None:
        rt.profiles.invalidate(out.article.site)
    relevant = bool(out.article and out.article.relevant_to_a_topic() and status in {"stored", "revised"})
    report.statuses.append((item.source_id, status, relevant))
    report.unreached.append((out.host, out.unreached))  # None: never sent, its host not told of
    if status in {"failed", "retry", "skipped"}:
        run_logger().warning("%s: %s (%s)", item.url, status, out.reason)


def _recover(
    exc: Exception, engine: Any, token: int | None, unsettled: list[int], report: IngestReport, wait: float
) -> bool:
    """After a database error: wait for the database, hand back the unsettled rows still held
    under ``token``; whether the worker can go on. The process's claim holder is left alone:
    its lock may have outlived this worker's connection, and then protects the rows the other
    workers are fetching; one that died is replaced at the next claim (``ClaimHolder.token``)."""
    logger = run_logger()
    reason = _cause(exc)
    report.interruptions.append(f"database lost: {reason}")
    logger.warning("database lost (%s): waiting up to %.0f s for it", reason, wait)
    if wait_for_database(engine, wait):
        try:
            with session_scope() as session:
                released = release_claims(session, unsettled, token)
            logger.warning("database back: %d claimed pages handed back to the queue", released)
            return True
        except DBAPIError as again:
            reason = _cause(again)
    report.gave_up = True
    logger.error(
        "database unreachable for %.0f s (%s): worker stops, %d claimed pages left for the next run",
        wait,
        reason,
        len(unsettled),
    )
    return False


def skipped_entries(bad: list[BadEntry]) -> list[PollSummary]:
    """Warn of each bad entry of the sources file on the run's log, cause first, and give its
    row of the run's report (poll ``bad entry``, which makes the run Partial,
    :func:`flows.outcome.judge_run`): left out, the file's other sources are read."""
    logger = run_logger()
    for entry in bad:
        logger.warning("%s (sources file entry skipped; the file's other sources are read)", entry)
    return [
        PollSummary(-number, BAD_ENTRY, error=f"skipped: {entry}", name=entry.name)
        for number, entry in enumerate(bad, start=1)
    ]


def poll_sources(
    sources_file: str | None, force: bool, submit: Submit, run_id: str | None
) -> list[PollSummary]:
    """Sync the sources file into the database (its bad entries into ``source_problems``) and
    poll the sources that are due, one step per batch of sources (the body of the
    ``veille-poll`` flow)."""
    logger = run_logger()
    ensure_schema()
    read = load_sources_file(sources_file)
    with session_scope() as session:
        ids = sync_sources(session, read.specs)
        record_problems(session, read)
        due = due_sources(session, ids, force=force)
    logger.info("%d sources in %s, %d due", len(ids), sources_label(sources_file), len(due))
    skipped = skipped_entries(read.bad)  # left out, the others polled: each is a row of the report
    batches = poll_batches(due)
    futures = [submit(poll_batch_task, b, run_id, i, len(b)) for i, b in enumerate(batches)]
    summaries: list[PollSummary] = []
    for future, batch in zip(futures, batches, strict=True):
        try:
            summaries.extend(future.result())
        except Exception as exc:  # noqa: BLE001 - e.g. the database stayed away through the retries
            reason = f"poll not recorded: {_cause(exc)}"
            logger.error("%d sources: %s", len(batch), reason)
            summaries.extend(PollSummary(source.id, "error", error=reason) for source in batch)
    return summaries + skipped


def nothing_due(sources_file: str | None) -> bool:
    """Whether a cycle would find nothing to do: no source of the file due, no URL pending
    (syncing the sources file into the database, as the cycle does first)."""
    from sqlalchemy import select

    from monitors.archive.models import QueuedUrl

    ensure_schema()
    specs = load_sources(sources_file)
    with session_scope() as session:
        ids = sync_sources(session, specs)
        if due_sources(session, ids, force=False):
            return False
        pending = select(QueuedUrl.id).where(QueuedUrl.state == "pending").limit(1)
        return session.execute(pending).first() is None


def drain_queue(max_items: int | None, submit: Submit, run_id: str | None) -> tuple[IngestReport, Any]:
    """Fetch, extract, score and store every due URL of the queue, one step per worker (the
    body of the ``veille-ingest`` flow); the report and the database time it started at."""
    from monitors.archive.reads import database_now

    settings = get_settings()
    ensure_schema()
    with session_scope() as session:
        total = queue_counts(session).get("pending", 0)
        since = database_now(session)
    run_logger().info("%d URLs pending in the queue", total)
    report = IngestReport()
    if not total:
        return report, since  # nothing a worker could claim (claims take pending rows only)
    workers = max(1, min(settings.concurrency, 8, total, max_items or total))
    # --max-items N: the N pages shared between the workers, none of them more than N in all
    budgets: list[int | None] = (
        [None] * workers
        if max_items is None
        else [max_items // workers + (w < max_items % workers) for w in range(workers)]
    )
    holder = holder_for(get_engine())
    futures = [submit(ingest_worker_task, w, run_id, budgets[w], total, workers) for w in range(workers)]
    try:
        with leases_kept(holder):
            for f in futures:
                try:
                    report.extend(f.result())
                except Exception as exc:  # noqa: BLE001 - one worker's crash must not hide the others' counts
                    report.interruptions.append(f"worker failed: {_cause(exc)}")
                    report.gave_up = True
    finally:
        holder.close()  # the workers are done: their claims are settled or free
    return report, since


@contextmanager
def leases_kept(holder: ClaimHolder) -> Iterator[None]:
    """While the workers run: renew the lease of the rows they claimed, every quarter of
    ``CLAIM_LEASE``. A worker takes a batch at once and may spend longer than the lease on it
    (a site's crawl delay, slow pages); the lease expiring would let another worker, of this
    run or another, claim the rows it has not reached and fetch them a second time."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(claims.CLAIM_LEASE.total_seconds() / 4):
            token = holder.held()
            if token is None:
                continue
            try:
                with session_scope() as session:
                    renew_claims(session, token)
            except DBAPIError:
                pass  # the database went away: the workers wait for it, the next beat renews

    beat = threading.Thread(target=renew, name="claim-leases", daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join(5.0)


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
        report = ingest()
    finally:
        reset_runtime()
    rows = summarize(polls, report, _source_names())
    outcome = judge_run(rows, report.interruptions, report.gave_up, fetch_kinds(polls, report))
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
        names = [] if drain else [spec.name for spec in load_sources_file(sources_file).specs]
    except SourcesError:  # the file changed since the poll read it: its sources cannot be told
        names = []
    try:
        with session_scope() as session:
            found = claims.waiting(session, names)
    except DBAPIError:
        return
    outcome.nothing = nothing_to_do(found, drain) or outcome.nothing


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
                "stored": c["stored"] + c["revised"],
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
        return {}  # the database went away: the rows show source ids


def sources_path(value: str | Path | None) -> str | None:
    return str(value) if value else None


def __getattr__(name: str) -> Any:
    """The flows lived here before :mod:`flows.runs`: deployments made with the entrypoint
    ``flows.pipeline:run_flow`` (or ``ingest_flow``, ``poll_flow``) keep working."""
    if name in {"run_flow", "ingest_flow", "poll_flow"}:
        from flows import runs

        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
