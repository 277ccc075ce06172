"""The URL queue's claims (monitors/archive/queue.py): two workers never hold the same row, a
dead holder's rows are free at once, a lease expires, and a holder whose connection the
server ended (restart, ``pg_terminate_backend``, ``idle_session_timeout``) does not go on
claiming under a token nobody holds any more."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.queue import (
    CLAIM_LEASE,
    LOCK_SPACE,
    ClaimHolder,
    claim_items,
    hand_back,
    release_claims,
)


@pytest.fixture
def queue(clean_db: sa.Engine) -> Iterator[sa.Engine]:
    """Six due rows in the queue."""
    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('claims', 'feed', 'https://example.org/feed', 'media') RETURNING id"
            )
        )
        conn.execute(
            sa.text("INSERT INTO url_queue (url, canonical_url, source_id) VALUES (:u, :u, :s)"),
            [{"u": f"https://example.org/{i}", "s": source} for i in range(6)],
        )
    yield clean_db


def _claim(engine: sa.Engine, holder: ClaimHolder, limit: int) -> set[int]:
    with Session(engine) as session, session.begin():
        return {item.id for item in claim_items(session, limit, holder.token())}


def _live(engine: sa.Engine, token: int) -> bool:
    """Whether some session holds ``token``'s advisory lock (what other workers look at)."""
    with engine.connect() as conn:
        sql = (
            "SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :t)"
        )
        return bool(conn.scalar(sa.text(sql), {"c": LOCK_SPACE, "t": token}))


def _end_holder_session(engine: sa.Engine, token: int) -> None:
    """What a DBA, a pooler or a restart does to the holder's connection, waited for until no
    session holds its lock: a test that went on while it still did would check nothing."""
    with engine.begin() as conn:
        ended = conn.scalar(
            sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND classid = :c AND objid = :t"
            ),
            {"c": LOCK_SPACE, "t": token},
        )
    assert ended == 1
    give_up = time.monotonic() + 60  # a backend ends in milliseconds; a loaded machine's may take seconds
    while _live(engine, token):
        if time.monotonic() > give_up:
            raise AssertionError(f"the session holding lock {token} was ended but still holds it after 60 s")
        time.sleep(0.05)


def test_two_holders_never_claim_the_same_row(queue: sa.Engine) -> None:
    a, b = ClaimHolder(queue), ClaimHolder(queue)
    try:
        first, second = _claim(queue, a, 4), _claim(queue, b, 4)
        assert len(first) == 4 and len(second) == 2 and not first & second
        assert _claim(queue, a, 4) == set()  # all six leased to live holders
    finally:
        a.close()
        b.close()


def test_a_closed_holders_rows_are_free_at_once(queue: sa.Engine) -> None:
    a, b = ClaimHolder(queue), ClaimHolder(queue)
    try:
        held = _claim(queue, a, 3)
        a.close()  # the worker died: its lock with it
        assert held <= _claim(queue, b, 6)
    finally:
        a.close()
        b.close()


def test_a_lease_older_than_the_limit_expires_whatever_its_holder(queue: sa.Engine) -> None:
    a, b = ClaimHolder(queue), ClaimHolder(queue)
    try:
        held = _claim(queue, a, 2)
        with queue.begin() as conn:  # an old veille's claim (no token), and a stuck live holder's
            conn.execute(
                sa.text("UPDATE url_queue SET claimed_at = now() - :age, claimed_by = NULL WHERE id = :id"),
                {"age": CLAIM_LEASE + timedelta(seconds=5), "id": min(held)},
            )
            conn.execute(
                sa.text("UPDATE url_queue SET claimed_at = now() - :age WHERE id = :id"),
                {"age": CLAIM_LEASE + timedelta(seconds=5), "id": max(held)},
            )
        assert held <= _claim(queue, b, 6)
    finally:
        a.close()
        b.close()


def test_a_holder_whose_session_was_ended_takes_a_new_token(queue: sa.Engine) -> None:
    """Before: the holder kept its token after its connection was terminated; its new claims
    were under a lock nobody held, so another worker claimed (and fetched) the same rows."""
    a, b = ClaimHolder(queue), ClaimHolder(queue)
    try:
        _end_holder_session(queue, a.token())
        first = _claim(queue, a, 2)
        assert _live(queue, a.token())
        second = _claim(queue, b, 6)
        assert len(first) == 2 and len(second) == 4 and not first & second
    finally:
        a.close()
        b.close()


def test_the_holder_outlives_an_idle_session_timeout(database_url: str, queue: sa.Engine) -> None:
    """A server with ``idle_session_timeout`` ended the holder's connection, idle between
    claims by design, and with it the lease of every row being fetched."""
    timed = sa.create_engine(database_url, connect_args={"options": "-c idle_session_timeout=300"})
    a, b = ClaimHolder(timed), ClaimHolder(queue)
    try:
        token = a.token()
        first = _claim(timed, a, 3)
        time.sleep(1)  # idle for more than the timeout
        assert _live(queue, token) and a.token() == token
        assert not first & _claim(queue, b, 6)
    finally:
        a.close()
        b.close()
        timed.dispose()


def test_a_worker_hands_back_only_the_rows_it_still_holds(queue: sa.Engine) -> None:
    """A worker that lost the database hands back its unsettled rows when it is back. Before,
    it handed back every one of them, also those another worker had claimed meanwhile (its
    lock died with its connection) and was fetching: free again, a third fetched them too."""
    a, b, c = ClaimHolder(queue), ClaimHolder(queue), ClaimHolder(queue)
    try:
        old_token = a.token()
        unsettled = _claim(queue, a, 3)
        _end_holder_session(queue, old_token)  # the restart
        taken = _claim(queue, b, 2)  # b claims two of a's rows (a's lock is gone)
        assert taken <= unsettled
        with Session(queue) as session, session.begin():
            assert release_claims(session, sorted(unsettled), old_token) == 1
        assert not _claim(queue, c, 6) & taken  # what b holds stays b's
    finally:
        a.close()
        b.close()
        c.close()


def test_a_holder_that_lost_its_lock_keeps_the_rows_its_workers_are_fetching(queue: sa.Engine) -> None:
    """The holder's connection ended (a restart, pg_terminate_backend) while a worker of its
    process fetched a batch. Before, the next claim of the process (another worker, under the
    new token) took that batch as free and fetched the same pages a second time (`veille run`
    with its database's backends terminated mid-drain counted one page a "duplicate" of itself);
    the new token takes the batch over: nobody else claims it, and the worker hands it back."""
    a, other = ClaimHolder(queue), ClaimHolder(queue)
    try:
        lost = a.token()
        fetching = _claim(queue, a, 3)  # worker 1 of a's process, fetching these
        _end_holder_session(queue, lost)
        more = _claim(queue, a, 6)  # worker 2 of the same process, under a new token
        assert a.token() != lost
        assert more and not more & fetching
        assert _claim(queue, other, 6) == set()  # another process: every row held by a live lock
        # worker 1 stops, its batch unfetched: handed back under the token that took it over
        assert hand_back(queue, a, sorted(fetching), lost) == 3
        assert _claim(queue, other, 6) == fetching
    finally:
        a.close()
        other.close()


def test_a_hand_back_leaves_the_rows_claimed_again_under_the_new_token(queue: sa.Engine) -> None:
    """A worker whose rows went back to the queue before its holder took a new token hands
    back only what was taken over: the same rows, claimed again by another worker of the
    process under the new token, stay that worker's (released, a third one fetched them too)."""
    a, other = ClaimHolder(queue), ClaimHolder(queue)
    try:
        lost = a.token()
        batch = _claim(queue, a, 3)
        with Session(queue) as session, session.begin():
            assert release_claims(session, sorted(batch), lost) == 3  # worker 1 hands back...
        _end_holder_session(queue, lost)
        assert batch <= _claim(queue, a, 6)  # ...worker 2 claims them under the new token...
        assert hand_back(queue, a, sorted(batch), lost) == 0  # ...worker 1's hand-back ends
        assert _claim(queue, other, 6) == set()
    finally:
        a.close()
        other.close()


def test_a_claim_under_a_token_whose_lock_is_gone_takes_nothing(queue: sa.Engine) -> None:
    """A worker took the token just before the holder's connection ended, and claims just
    after: before, the rows went to a token nobody holds, free at once for any other worker
    to claim and fetch as well. The claim takes nothing, and ``holds`` says the lock is lost
    (the queue is not drained for that)."""
    a, other = ClaimHolder(queue), ClaimHolder(queue)
    try:
        lost = a.token()
        _end_holder_session(queue, lost)
        with Session(queue) as session, session.begin():
            assert claim_items(session, 3, lost) == []
        assert not a.holds(lost)
        assert len(_claim(queue, other, 6)) == 6  # nothing went to the dead token
        assert a.holds(a.token()) and a.token() != lost
    finally:
        a.close()
        other.close()


def _touched(engine: sa.Engine, start: datetime) -> tuple[int, int]:
    """What ``veille backfill``'s bar shows: the queue rows touched since ``start``, settled."""
    from flows.commands.backfill import PROGRESS_COUNTS

    with engine.connect() as conn:
        total, done = conn.execute(sa.text(PROGRESS_COUNTS), {"start": start}).one()
    return int(total), int(done)


def test_a_resumed_archive_job_s_claims_count_in_the_queue_s_progress(clean_db: sa.Engine) -> None:
    """The bar counts the queue rows touched since the start by ``updated_at`` (0045), the
    captures an archive job takes as the pages the drain takes (``claim_items``, whose ORM
    update sets it). The archive job's raw claim and its release of a killed process's leases
    left ``updated_at`` as it was: a resumed job's captures in flight counted nowhere, (0, 0)
    until each was settled."""
    from monitors.archive.articles import apply_ingest
    from monitors.collect.archives.common import Capture
    from monitors.collect.backfill_jobs import Site, claim_captures, job_lock, plan_jobs, queue_captures
    from monitors.collect.results import PERMANENT
    from monitors.records import IngestOutcome

    with clean_db.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Archive', 'feed', 'https://archive.example/feed', 'media') RETURNING id"
            )
        )
    since = datetime(2025, 2, 1, tzinfo=UTC)
    with Session(clean_db) as session, session.begin():
        site = Site("archive.example", source, "Archive")
        [job] = plan_jobs(session, "wayback", [site], since, since, False)
        pages = {
            f"https://archive.example/2025/02/{i}.html": (
                Capture(
                    "wayback",
                    f"https://archive.example/2025/02/{i}.html",
                    since,
                    f"https://web.archive.org/web/20250201000000id_/https://archive.example/2025/02/{i}.html",
                ),
                source,
            )
            for i in range(3)
        }
        assert len(queue_captures(session, job, pages)) == 3
    with Session(clean_db) as session, session.begin():  # a process killed with one capture leased
        assert len(claim_captures(session, job, 1)) == 1
    with clean_db.connect() as conn:
        start = conn.scalar(sa.text("SELECT clock_timestamp()"))
    assert _touched(clean_db, start) == (0, 0)
    with job_lock(clean_db, job) as got:  # the same command again: the dead lease is released
        assert got
        assert _touched(clean_db, start) == (1, 0)
        with Session(clean_db) as session, session.begin():
            taken = claim_captures(session, job, 3)
        assert len(taken) == 3
        assert _touched(clean_db, start) == (3, 0)
        with Session(clean_db) as session, session.begin():
            item = taken[0][0]
            out = IngestOutcome(item, outcome="error", error_class=PERMANENT, reason="soft 404")
            assert apply_ingest(session, out, 3) == "failed"
        assert _touched(clean_db, start) == (3, 1)


def test_an_archive_job_whose_lock_connection_the_server_ended_says_the_database_was_lost(
    clean_db: sa.Engine,
) -> None:
    """The server ends the job lock's connection once the lock is taken (a restart, the
    database taken away): the job's error is a database loss, which its step waits out.
    Before, letting go of the lock on that dead connection raised PendingRollbackError over
    the loss, and the job stopped "on an archive error" (job failed: PendingRollbackError)."""
    from monitors.archive.db import database_lost
    from monitors.collect.backfill_jobs import job_lock

    engine = sa.create_engine(clean_db.url)
    admin = sa.create_engine(clean_db.url, isolation_level="AUTOCOMMIT")

    def ended(conn: sa.Connection, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("UPDATE url_queue"):  # the lock taken and committed: end it
            pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
            with admin.connect() as other:
                assert other.scalar(sa.text("SELECT pg_terminate_backend(:p, 10000)"), {"p": pid})

    sa.event.listen(engine, "before_cursor_execute", ended)
    try:
        with pytest.raises(sa.exc.SQLAlchemyError) as raised, job_lock(engine, 1):
            pass
        assert database_lost(raised.value), repr(raised.value)
    finally:
        engine.dispose()
        admin.dispose()


def test_an_archive_job_done_while_its_lock_connection_was_ended_is_done(clean_db: sa.Engine) -> None:
    """The server ends the job lock's connection while the job works (the database taken
    away and back): the lock went with it, the job's work is committed, and the job ends
    without error. Before, letting go of the lock raised the loss once the database was back,
    and the job waited for it and ran again: a second interruption the run then reported."""
    from monitors.collect.backfill_jobs import JOB_LOCK_SPACE, job_lock

    engine = sa.create_engine(clean_db.url)
    admin = sa.create_engine(clean_db.url, isolation_level="AUTOCOMMIT")
    try:
        with job_lock(engine, 7) as got:
            assert got
            with admin.connect() as conn:
                ended = conn.scalar(
                    sa.text(
                        "SELECT bool_and(pg_terminate_backend(pid, 10000)) FROM pg_locks WHERE"
                        " locktype = 'advisory' AND classid = :space AND objid = 7 AND granted"
                    ),
                    {"space": JOB_LOCK_SPACE},
                )
            assert ended
        with job_lock(engine, 7) as again:  # the lock went with its connection
            assert again
    finally:
        engine.dispose()
        admin.dispose()
