"""Leases on the URL queue: who holds a claimed row, and letting go of it; the rows per state.

A worker claims rows under a token that it holds as a PostgreSQL session-level advisory lock
on a connection of its own (:class:`ClaimHolder`). The lock lives exactly as long as that
connection: when the worker is killed, or the database restarts, it is gone, and any worker
may claim the rows again at once. A row whose holder is alive stays leased (two workers never
fetch the same page): its process renews the lease while its workers run (:func:`renew_claims`),
and a lease older than :data:`CLAIM_LEASE` expires whatever its holder (rows claimed by an
older veille without a token, a process whose workers no longer run).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, exists, func, literal_column, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from monitors.archive.models import ArchiveCapture, FetchLog, QueuedUrl, Source
from monitors.collect.results import NOT_ASKED, NOT_ASKED_AGAIN, PRIVATE_ADDRESS
from monitors.records import QueueItem
from monitors.settings import get_settings

CLAIM_LEASE = timedelta(minutes=10)
#: First key of the advisory locks that hold claim tokens ("vq"); the token is the second.
LOCK_SPACE = 0x7671

# Tokens whose advisory lock is held by a live session, on this database.
_LIVE_TOKENS = (
    "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND classid = :space"
    " AND objsubid = 2 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)

# Whether some session holds the advisory lock of token :held, on this database.
_TOKEN_LIVE = (
    "SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = :space AND objid = :held"
    " AND objsubid = 2 AND granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)

# Whether this session holds the token's lock (False, or an error, once the connection is gone).
_HELD = (
    "SELECT EXISTS (SELECT FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'"
    " AND classid = :space AND objid = :token AND objsubid = 2 AND granted)"
)
# PostgreSQL 14+ can end idle sessions (idle_session_timeout): not the holder's, which is idle
# between claims by design; a no-op on servers without the setting.
_NO_IDLE_TIMEOUT = (
    "SELECT set_config('idle_session_timeout', '0', false)"
    " WHERE current_setting('idle_session_timeout', true) IS NOT NULL"
)


class ClaimHolder:
    """A claim token, held as an advisory lock on a connection of its own (see the module
    docstring); one per process and database (:func:`holder_for`), shared by its workers, so
    that a process holds one extra connection, not one per worker. :meth:`token` takes a new
    one after :meth:`close`. Thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._conn: Connection | None = None
        self._token: int | None = None
        self._lock = threading.Lock()
        #: a row claimed under a lost token -> the token that took it over (:meth:`token`)
        self._taken: dict[int, int] = {}
        self._orphans: list[int] = []  # lost tokens whose rows are not taken over yet

    def token(self) -> int:
        """The token, checked still held first: a connection ended under it (a server restart,
        ``pg_terminate_backend``, a timeout) took the lock with it, and claiming under the dead
        token left the rows free for any other worker to fetch too; a new one is taken then.
        The new token takes over the rows still claimed under the lost one (this process's
        workers are fetching them; they hand them back with :func:`hand_back`), before this
        process claims anything under it: claiming them as free, a second worker of the same
        process fetched the pages the first one was fetching."""
        with self._lock:
            self._forget_if_lost()
            if self._token is None:
                conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
                try:
                    # an idle_session_timeout set on the server must not end the holder between claims
                    conn.execute(text(_NO_IDLE_TIMEOUT))
                    while True:
                        token = random.randint(1, 2**31 - 1)
                        sql = text("SELECT pg_try_advisory_lock(:space, :token)")
                        if conn.scalar(sql, {"space": LOCK_SPACE, "token": token}):
                            break
                except BaseException:
                    conn.close()
                    raise
                self._conn, self._token = conn, token
            if self._orphans:
                self._take_over(self._token)
            return self._token

    def _take_over(self, token: int) -> None:
        """Claim the unsettled rows of the lost tokens under ``token`` (with the lock held); a
        row another process claimed meantime is its own (its ``claimed_by`` changed)."""
        assert self._conn is not None
        try:
            taken = self._conn.scalars(
                text(
                    "UPDATE url_queue SET claimed_by = :token, claimed_at = now()"
                    " WHERE claimed_by = ANY(:lost) AND state = 'pending' AND claimed_at IS NOT NULL"
                    " RETURNING id"
                ),
                {"token": token, "lost": list(self._orphans)},
            ).all()
        except BaseException:
            self._drop()  # the next call takes a new token and tries again
            raise
        # recorded with the lock still held: a worker handing back its rows waits for it
        self._taken.update(dict.fromkeys(taken, token))
        self._orphans.clear()

    def taken_over(self, ids: Sequence[int]) -> dict[int, int]:
        """Which of ``ids`` :meth:`token` took over, and under which token; forgotten then
        (their worker is handing them back)."""
        with self._lock:
            return {i: self._taken.pop(i) for i in ids if i in self._taken}

    def _still_held(self) -> bool:
        assert self._conn is not None
        try:
            held = self._conn.scalar(text(_HELD), {"space": LOCK_SPACE, "token": self._token})
        except DBAPIError:
            return False
        return bool(held)

    def _drop(self) -> None:
        """Forget a token whose connection is gone (its lock went with it)."""
        conn, self._conn, self._token = self._conn, None, None
        if conn is not None:
            conn.invalidate()
            conn.close()

    def holds(self, token: int) -> bool:
        """Whether ``token`` is still this holder's and its lock still held, asked after a
        claim under it committed: the lock lost before that commit (the check in
        :func:`claim_items`' statement is read before it), the rows are free for anyone and
        the worker that claimed them hands them back rather than fetch them. A lock lost is
        never held again, so a True answer holds for the claim too. Never raises."""
        with self._lock:
            self._forget_if_lost()
            return self._token == token

    def _forget_if_lost(self) -> None:
        """Drop the token if its lock is lost (with the lock held); its rows are taken over
        by the next :meth:`token`."""
        if self._token is not None and not self._still_held():
            self._orphans.append(self._token)
            self._drop()

    def held(self) -> int | None:
        """The token held now: None before the first :meth:`token` and after :meth:`close`."""
        with self._lock:
            return self._token

    def close(self) -> None:
        """Let go of the token (its rows become claimable by anyone); never raises."""
        with self._lock:
            conn, self._conn, self._token = self._conn, None, None
            # the workers are done: a lost token's rows are free, none to take over any more
            self._orphans.clear()
            self._taken.clear()
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
        except DBAPIError:
            conn.invalidate()  # the connection is dead already, and the lock with it
        finally:
            conn.close()


_holders: dict[str, ClaimHolder] = {}
_holders_lock = threading.Lock()


def holder_for(engine: Engine) -> ClaimHolder:
    """This process's claim holder for ``engine``'s database."""
    key = engine.url.render_as_string(hide_password=False)
    with _holders_lock:
        holder = _holders.get(key)
        if holder is None:
            holder = _holders[key] = ClaimHolder(engine)
        return holder


def now() -> datetime:
    return datetime.now(UTC)


def claim_items(session: Session, limit: int, token: int | None = None) -> list[QueueItem]:
    """Lease up to ``limit`` due queue rows under ``token``; ``SKIP LOCKED`` keeps concurrent
    workers apart. A row is due when it is pending, its time has come, and nobody holds it:
    never claimed or settled, its holder's lock gone, or its lease expired.

    Under a token, the statement claims nothing unless a session holds the token's lock: a
    worker that took the token just before its holder's connection ended claimed the rows
    under a dead token, free at once for any other worker to fetch as well. An empty claim
    may so mean a lost lock, not a drained queue: :meth:`ClaimHolder.holds` tells them apart
    (and covers a lock lost between this check and the commit)."""
    rows = session.execute(claim_statement(limit, token, now())).all()
    return sorted((QueueItem(*row) for row in rows), key=lambda i: i.id)


def claim_statement(limit: int, token: int | None, t: datetime) -> sa.Update:
    """:func:`claim_items`' statement at time ``t`` (apart, so that its plan can be read)."""
    due = (
        select(QueuedUrl.id)
        .where(
            QueuedUrl.state == "pending",
            QueuedUrl.next_attempt_at <= t,
            or_(
                QueuedUrl.claimed_at.is_(None),
                QueuedUrl.claimed_at < t - CLAIM_LEASE,
                text(f"url_queue.claimed_by NOT IN ({_LIVE_TOKENS})").bindparams(space=LOCK_SPACE),
            ),
            # a web-archive capture is fetched from its archive by its backfill job
            ~exists().where(ArchiveCapture.queue_id == QueuedUrl.id),
        )
        .order_by(QueuedUrl.next_attempt_at, QueuedUrl.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    # updated_at is set too, by the column's onupdate (as in every ORM or Core update of the
    # row here): veille backfill's bar counts a row taken since it began (PROGRESS_COUNTS)
    claim = update(QueuedUrl).where(QueuedUrl.id.in_(due))
    if token is not None:
        claim = claim.where(text(f"EXISTS ({_TOKEN_LIVE})").bindparams(space=LOCK_SPACE, held=token))
    return claim.values(claimed_at=t, claimed_by=token, attempts=QueuedUrl.attempts + 1).returning(
        QueuedUrl.id,
        QueuedUrl.source_id,
        QueuedUrl.url,
        QueuedUrl.canonical_url,
        QueuedUrl.attempts,
        QueuedUrl.feed_title,
        QueuedUrl.feed_author,
        QueuedUrl.feed_published_at,
        QueuedUrl.feed_language,
        QueuedUrl.feed_published_explicit,
    )


#: The start of ``url_queue.reason`` of a page refused for its address while
#: ``VEILLE_ALLOW_PRIVATE_NETWORK`` was off (settled ``failed``, as ``veille sources`` shows a
#: source's class): the setting refused it, not the page, so :func:`requeue_private_refusals`
#: queues it again once the setting is on.
REFUSED_PRIVATE = f"[{PRIVATE_ADDRESS}] "

# a web-archive capture is its job's (fetched from its archive, which a done job never reads
# again): only live pages go back to the queue. Its WHERE is the predicate of the partial index
# url_queue_private_refusals (migration 0051), word for word, the marker written in (a bound one
# matches it only in a plan made for its value), so a drain reads that index, not the queue.
_REQUEUE_PRIVATE = text(
    "UPDATE url_queue q SET state = 'pending', reason = NULL, attempts = 0,"
    " next_attempt_at = now(), updated_at = now()"
    f" WHERE q.state = 'failed' AND q.reason LIKE '{REFUSED_PRIVATE}%'"
    " AND NOT EXISTS (SELECT 1 FROM archive_captures c WHERE c.queue_id = q.id)"
)


def requeue_private_refusals(session: Session) -> int:
    """With ``VEILLE_ALLOW_PRIVATE_NETWORK`` on, the pages refused for their private address
    while it was off (:data:`REFUSED_PRIVATE`) are pending again, due now, as a source refused
    so is polled at once (:func:`monitors.archive.polls.next_poll`); how many. Nothing while
    the setting is off; a second call finds none."""
    if not get_settings().allow_private_network:
        return 0
    result = session.execute(_REQUEUE_PRIVATE)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_claims(session: Session, ids: list[int], token: int | None) -> int:
    """Hand back the rows claimed under ``token`` that were not settled (the attempt did not
    happen); returns how many were still held. A row another worker claimed in the meantime
    (this one's lock died with its connection) stays his: released, it was free for a third
    worker to fetch as well."""
    if not ids:
        return 0
    holder = QueuedUrl.claimed_by.is_(None) if token is None else QueuedUrl.claimed_by == token
    result = session.execute(
        update(QueuedUrl)
        .where(QueuedUrl.id.in_(ids), QueuedUrl.state == "pending", QueuedUrl.claimed_at.is_not(None), holder)
        .values(claimed_at=None, claimed_by=None, attempts=sa.func.greatest(QueuedUrl.attempts - 1, 0))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def hand_back(engine: Engine, holder: ClaimHolder, ids: list[int], token: int | None) -> int:
    """:func:`release_claims` of a worker's unsettled rows claimed under ``token``, and of
    those ``holder`` took over under a new token since (its lock was lost,
    :meth:`ClaimHolder.token`); how many were still held. Only those: a row handed back
    before the take-over may be another worker's under the new token by now. The take-over
    is read after the first release has committed (it waits for no row that one locks while
    it holds the holder's lock)."""
    with Session(engine) as session, session.begin():
        released = release_claims(session, ids, token)
    by_token: dict[int, list[int]] = {}
    for row, new in holder.taken_over(ids).items():
        by_token.setdefault(new, []).append(row)
    for new, rows in by_token.items():
        with Session(engine) as session, session.begin():
            released += release_claims(session, rows, new)
    return released


def renew_claims(session: Session, token: int) -> int:
    """Renew the lease of the rows claimed under ``token`` and not settled yet, so that a live
    worker slow over its batch (a crawl delay, slow pages) keeps them past :data:`CLAIM_LEASE`;
    returns how many."""
    result = session.execute(
        update(QueuedUrl)
        .where(QueuedUrl.claimed_by == token, QueuedUrl.state == "pending", QueuedUrl.claimed_at.is_not(None))
        .values(claimed_at=now())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def queue_counts(session: Session) -> dict[str, int]:
    """How many queue rows there are in each state (pending, fetched, failed, skipped)."""
    return dict(session.execute(select(QueuedUrl.state, func.count()).group_by(QueuedUrl.state)).all())


@dataclass
class Waiting:
    """What a run with nothing due leaves waiting: for each source in its failure backoff, each
    queued URL to retry after a failure and each one deferred (not asked, its host unreachable
    or on hold earlier: no attempt spent), the host of its last fetch and how that fetch
    reached no server (None: it got an answer, :attr:`FetchResult.unreached
    <monitors.collect.results.FetchResult.unreached>`), and when the first of each is due."""

    sources: list[tuple[str | None, str | None]] = field(default_factory=list)
    urls: list[tuple[str | None, str | None]] = field(default_factory=list)
    deferred: list[tuple[str | None, str | None]] = field(default_factory=list)
    #: "source", "url", "deferred": the first due
    first: dict[str, datetime] = field(default_factory=dict)


# a URL's host:port, lower case, without user info: monitors.collect.results.host_of's
_HOST = "lower(substring({} from '^[^:/?#]*://(?:[^@/?#]*@)?([^/?#]*)'))"
# a row last deferred, not asked (its host on hold, or unreachable earlier in its run): its
# attempt not spent, so a deferred page never tried has 0 attempts (its reason says why)
_DEFERRED = "(starts_with(q.reason, :held) OR right(q.reason, length(:dead)) = :dead)"
_WAITING_URLS = f"""
    SELECT CASE WHEN {_DEFERRED} THEN 'deferred' ELSE 'url' END AS what,
           {_HOST.format("coalesce(f.url, q.url)")} AS host, f.unreached,
           count(*) AS n, min(q.next_attempt_at) AS first
      FROM url_queue q
      LEFT JOIN LATERAL (SELECT url, unreached FROM fetch_log l WHERE l.queue_id = q.id
                          ORDER BY l.id DESC LIMIT 1) f ON true
     WHERE q.state = 'pending' AND q.next_attempt_at > :now AND (q.attempts > 0 OR {_DEFERRED})
       AND NOT EXISTS (SELECT 1 FROM archive_captures c WHERE c.queue_id = q.id)
     GROUP BY 1, 2, f.unreached
"""


def _waiting_sources(names: Sequence[str], at: datetime) -> Select[Any]:
    """The sources named ``names`` (those of the files the run reads, by name: a source's name
    is its key; another file's sources are no run's of this one) in their failure backoff and
    not due at ``at``, in :data:`_WAITING_URLS`'s columns. Not due by
    :func:`monitors.archive.polls.next_poll`, the rule the poll itself follows: a source refused
    for its private address is due at once while VEILLE_ALLOW_PRIVATE_NETWORK is on, not
    waiting until its stored ``next_poll_at``."""
    from monitors.archive.polls import next_poll  # polls imports this module

    last = (
        select(FetchLog.url, FetchLog.unreached)
        .where(
            FetchLog.source_id == Source.id,
            FetchLog.queue_id.is_(None),
            FetchLog.kind.in_(("feed", "sitemap", "listing", "fallback")),
        )
        .order_by(FetchLog.id.desc())
        .limit(1)
        .lateral("f")
    )
    host: sa.ColumnElement[str] = literal_column(_HOST.format("coalesce(f.url, sources.url)"))
    when = next_poll()
    return (
        select(literal_column("'source'"), host, last.c.unreached, func.count(), func.min(when))
        .select_from(Source)
        .outerjoin(last, sa.true())
        .where(
            Source.status != "disabled",
            Source.consecutive_failures > 0,
            when > at,
            Source.name.in_(list(names)),
        )
        .group_by(host, last.c.unreached)
    )


def waiting(session: Session, sources: Sequence[str] = ()) -> Waiting:
    """The sources named ``sources`` (those of the files the run reads; none for a drain) and
    the queued URLs waiting for a retry after a failure or deferred, read when a run found
    nothing due:
    its verdict says they wait, and why when no server was reached
    (:func:`flows.outcome.nothing_to_do`)."""
    found = Waiting()
    at = now()
    said = {"now": at, "held": NOT_ASKED, "dead": NOT_ASKED_AGAIN}
    rows = list(session.execute(text(_WAITING_URLS), said))
    if sources:
        rows += session.execute(_waiting_sources(sources, at)).all()
    lists = {"source": found.sources, "url": found.urls, "deferred": found.deferred}
    for what, host, kind, n, first in rows:
        lists[what].extend([(host, kind)] * n)
        found.first[what] = min(found.first.get(what, first), first)
    return found


def wait_for_database(engine: Engine, seconds: float, step: float = 0.5) -> bool:
    """Whether the database answers again within ``seconds`` (tried every ``step``)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except DBAPIError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(step)
