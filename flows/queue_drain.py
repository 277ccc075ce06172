"""The steps of the ``veille-ingest`` flow: the URL queue drained by workers (one step each,
:func:`ingest_worker_task`) that claim batches of due URLs, fetch, extract, score and store
each page, and get over a lost database without losing what they did; the leases of their
claims kept while they run (:func:`leases_kept`); what they did (:class:`IngestReport`).
No Prefect import, as for every step (:mod:`flows.pipeline`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import psycopg
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from sqlalchemy.orm import Session

from flows.retries import DatabaseLosses, Loss, _cause
from flows.runtime import Runtime, Submit, run_logger, runtime
from monitors.archive import queue as claims
from monitors.archive.articles import apply_ingest, store_or_fail
from monitors.archive.db import (
    DatabaseUnavailable,
    cancelled,
    database_lost,
    get_engine,
    session_scope,
)
from monitors.archive.queue import (
    ClaimHolder,
    claim_items,
    hand_back,
    holder_for,
    queue_counts,
    renew_claims,
    requeue_private_refusals,
    wait_for_database,
)
from monitors.archive.schema import ensure_schema
from monitors.ingest import process_item
from monitors.judge.boilerplate import site_of
from monitors.judge.site_profiles import learn
from monitors.records import ArticleData, IngestOutcome
from monitors.settings import get_settings


@dataclass
class IngestReport:
    statuses: list[tuple[int, str, bool]] = field(default_factory=list)  # source, status, relevant
    #: for each of ``statuses``, its fetch's host and how it reached no server (None: a server
    #: answered; :data:`flows.outcome.Fetch`)
    unreached: list[tuple[str | None, str | None]] = field(default_factory=list)
    interruptions: list[str] = field(default_factory=list)  # database losses and worker crashes
    gave_up: bool = False  # a worker stopped before the queue was drained
    #: URLs a run capped at N pages (``--max-items``, a backfill's budget) left pending for
    #: the next run: no failure, but the verdict says so (:func:`flows.outcome.judge_run`)
    left: int = 0
    #: of ``statuses``, the pages not asked (their host on hold, or unreachable earlier in the
    #: run): no fetch, so none of a budget (``--max-items``, a backfill's)
    deferred: int = 0

    @property
    def fetched(self) -> int:
        """The pages settled whose fetch was asked: what a budget counts."""
        return len(self.statuses) - self.deferred

    def extend(self, other: IngestReport) -> None:
        self.statuses.extend(other.statuses)
        self.deferred += other.deferred
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

#: The database losses of the drain in progress in this process, its start's and its
#: workers': one interruption per outage, however many workers met it (reset by
#: :func:`drain_queue`).
_losses = DatabaseLosses()


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
    conflicts = lost_claims = recoveries = 0
    while budget is None or report.fetched < budget:
        # Small queues are split evenly between workers instead of going to the first one.
        size = min(rt.settings.batch_size, max(1, -(-total // workers)))
        if budget is not None:
            size = min(size, budget - report.fetched)
        unsettled: list[int] = []
        claimed: list[int] = []
        token: int | None = None
        in_flight: tuple[Any, IngestOutcome, StoreAttempt] | None = None  # a store under way
        try:
            token = holder.token()
            with session_scope() as session:
                items = claim_items(session, size, token)
            if not holder.holds(token):
                # the lock was lost before the claim committed: nothing claimed (the queue is
                # not drained for that), or rows free for anyone to fetch: handed back, and
                # claimed again under the token the holder takes next
                hand_back(engine, holder, [item.id for item in items], token)
                # losses in a row: a long drain loses its lock now and then (a restart, a
                # pooler), and only a lock lost at every claim stops it
                lost_claims += 1
                if lost_claims <= MAX_RECOVERIES:
                    continue
                report.interruptions.append("the claim token's lock was lost at every claim")
                logger.warning("%s: this worker stops", report.interruptions[-1])
                break
            lost_claims = 0
            if not items:
                break
            claimed = [item.id for item in items]
            unsettled = list(claimed)
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
        except (DBAPIError, PendingRollbackError, psycopg.Error) as exc:
            orig = getattr(exc, "orig", None) or exc
            if str(getattr(orig, "sqlstate", "") or "").startswith("40") and conflicts < MAX_RECOVERIES:
                # a deadlock or serialization failure: the other transaction went on, this
                # one was rolled back; its rows go back to the queue and are tried again
                conflicts += 1
                logger.warning("%s: the rows are tried again", _cause(exc))
                hand_back(engine, holder, unsettled, token)
                continue
            if cancelled(exc):
                # the server cancelled a statement (statement_timeout): the database is there,
                # and waiting for it, or the same query again at once, would not help; the
                # worker stops, saying why, and its rows go back to the queue
                report.interruptions.append(f"the database cancelled a statement: {_cause(exc)}")
                logger.warning("%s: this worker stops", report.interruptions[-1])
                with contextlib.suppress(DBAPIError, psycopg.Error):
                    hand_back(engine, holder, unsettled, token)
                break
            # a connection lost, whatever the error says (a PendingRollbackError over the loss)
            lost = database_lost(exc)
            lost = lost or isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError)
            if not lost or recoveries >= MAX_RECOVERIES:
                raise  # not a lost connection (a bug, bad data): the task fails as it is
            recoveries += 1
            if not _recover(exc, engine, holder, token, unsettled, report, rt.settings.db_wait):
                break
            if in_flight is not None and in_flight[2].committed():
                # the connection was lost with the COMMIT's answer, not before it: the page is
                # stored, and counted as such (it is not in the queue any more to be again)
                item, out, attempt = in_flight
                assert attempt.result is not None
                _settled(report, rt, item, out, *attempt.result)
        finally:
            # the holder forgets which of the batch it took over, whatever became of them: settled,
            # handed back (which read it), or the task failed (they are free at its close); the
            # holder kept them until then, one entry per row taken over
            holder.taken_over(claimed)
        done = len(report.statuses)
        logger.info(
            "worker %d: %d page%s done (about %d were due)", worker, done, "" if done == 1 else "s", total
        )
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
    if out.deferred:
        report.deferred += 1
    report.unreached.append((out.host, out.unreached))  # None: never sent, its host not told of
    if status in {"failed", "retry", "skipped"}:
        run_logger().warning("%s: %s (%s)", item.url, status, out.reason)


def _recover(
    exc: Exception,
    engine: Any,
    holder: ClaimHolder,
    token: int | None,
    unsettled: list[int],
    report: IngestReport,
    wait: float,
) -> bool:
    """After a database error: wait for the database, hand back the unsettled rows still held
    under ``token``, or under the token ``holder`` took them over with; whether the worker can
    go on. The process's claim holder is left alone: its lock may have outlived this worker's
    connection, and then protects the rows the other workers are fetching; one that died is
    replaced at the next claim (``ClaimHolder.token``), which takes its rows over. A loss the
    worker got over is counted once for all the workers that met it (:data:`_losses`: it was
    once per worker, "interrupted 4 times" for one restart); one it did not, in its report."""
    logger = run_logger()
    loss = Loss.of(exc)
    reason = loss.reason
    logger.warning("database lost (%s): waiting up to %.0f s for it", reason, wait)
    if wait_for_database(engine, wait):
        _losses.came_back(loss)
        try:
            released = hand_back(engine, holder, unsettled, token)
            logger.warning("database back: %d claimed pages handed back to the queue", released)
            return True
        except DBAPIError as again:
            reason = _cause(again)
    report.interruptions.append(f"database lost: {reason}")
    report.gave_up = True
    logger.error(
        "database unreachable for %.0f s (%s): worker stops, %d claimed pages left for the next run",
        wait,
        reason,
        len(unsettled),
    )
    return False


def drain_queue(max_items: int | None, submit: Submit, run_id: str | None) -> tuple[IngestReport, Any]:
    """Fetch, extract, score and store every due URL of the queue, one step per worker (the
    body of the ``veille-ingest`` flow); the report and the database time it started at."""
    from monitors.archive.reads import database_now

    settings = get_settings()

    def start() -> tuple[int, int, Any]:
        ensure_schema()
        with session_scope() as session:
            requeued = requeue_private_refusals(session)  # VEILLE_ALLOW_PRIVATE_NETWORK now on
            return requeued, queue_counts(session).get("pending", 0), database_now(session)

    # a database lost before the workers start is waited for as they wait for it (nothing is
    # claimed yet: the start is made again), said as their losses are; one that stays away
    # stops the drain in one line, as a plan or a backfill's batch does
    losses = _losses
    losses.reset()
    started = losses.run(start)
    if started is None:
        raise DatabaseUnavailable(
            f"lost the database at the start of the ingest ({losses.gone}): what was committed"
            " stays; run the same command again"
        )
    requeued, total, since = started
    report = IngestReport()
    if requeued:
        run_logger().info(
            "%d page%s refused for a private address queued again (VEILLE_ALLOW_PRIVATE_NETWORK is on)",
            requeued,
            "" if requeued == 1 else "s",
        )
    run_logger().info("%d URLs pending in the queue", total)
    if not total:
        report.interruptions = list(losses.recovered)
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
    report.interruptions[:0] = losses.recovered  # the start's and the workers', one per outage
    if max_items is not None and not report.gave_up:
        report.left = _say_left(max_items)
    return report, since


def _say_left(max_items: int) -> int:
    """Log how many URLs a run capped at ``max_items`` pages (``veille run --max-items``, a
    backfill's budget) left pending for the next run, and return it: no failure, but not a
    drained queue."""
    try:
        with session_scope() as session:
            left = int(queue_counts(session).get("pending", 0))
    except DBAPIError:
        return 0  # the database went away: the workers' reports say so
    if left:
        run_logger().info(
            "%d URL%s left in the queue for the next run (at most %d page%s this run)",
            left,
            "" if left == 1 else "s",
            max_items,
            "" if max_items == 1 else "s",
        )
    return left


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
