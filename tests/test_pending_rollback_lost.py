"""A Connection or Session used again after the server ended its connection raises
PendingRollbackError, not a DBAPIError: that is the database lost all the same (it is waited
for, a step is tried again), while one over an IntegrityError stays that error.

Real PostgreSQL: the test's own connection is ended with pg_terminate_backend (never the
server restarted). Before, :func:`database_lost` said False for both kinds, and the step
failed as a bug ("archive error", a traceback) instead of waiting for the database."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from flows.retries import _cause, is_transient
from monitors.archive.db import DatabaseUnavailable, database_lost, lost_database_reported
from tests.site import LocalSite, seed_site
from tests.test_commit_ack_lost import run_seeds


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    """A row of a temporary table: a flush of its own, on the session's connection only."""

    __tablename__ = "pending_rollback_rows"
    id: Mapped[int] = mapped_column(primary_key=True)


_ONE = sa.text("SELECT 1")
_PID = sa.text("SELECT pg_backend_pid()")
_TEMP = "CREATE TEMP TABLE pending_rollback_rows (id integer PRIMARY KEY)"


@pytest.fixture
def own_engine(database_url: str) -> Iterator[sa.Engine]:
    """An engine of the test's own: its connections are ended, the shared one's are not."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


def _terminate(engine: sa.Engine, pid: int) -> None:
    """End backend ``pid`` from another connection, waiting until it is gone."""
    with engine.connect() as other:
        ended = other.scalar(sa.text("SELECT pg_terminate_backend(:p, 10000)"), {"p": pid})
    assert ended


def _second_error(
    first: type[Exception], use: Callable[[], object], then: Callable[[], object]
) -> sa.exc.PendingRollbackError:
    """The error of ``then()`` once ``use()`` failed with ``first``, the same connection."""
    with pytest.raises(first):
        use()
    with pytest.raises(sa.exc.PendingRollbackError) as again:
        then()
    return again.value


def test_a_connection_used_again_after_its_loss_is_the_database_lost(
    own_engine: sa.Engine,
) -> None:
    with own_engine.connect() as conn:
        _terminate(own_engine, conn.scalar(sa.text("SELECT pg_backend_pid()")))
        select = lambda: conn.execute(sa.text("SELECT 1"))  # noqa: E731
        again = _second_error(sa.exc.OperationalError, select, select)
        assert again.__cause__ is None and again.__context__ is None  # nothing chained says so
        assert database_lost(again)
        assert is_transient(again)
        # said by what happened, not by SQLAlchemy's "Can't reconnect until invalid transaction
        # is rolled back. Please rollback() fully before proceeding"
        assert _cause(again).startswith("the connection was lost under an open transaction ("), _cause(again)
        said = pytest.raises(
            DatabaseUnavailable, match=r"^lost the database during the export \(the connection was lost"
        )
        with said, lost_database_reported("the export", "veille export"):
            conn.execute(_ONE)


def test_a_session_used_again_after_a_flush_that_lost_the_database_is_the_database_lost(
    own_engine: sa.Engine,
) -> None:
    with Session(own_engine) as session:
        session.execute(sa.text(_TEMP))
        _terminate(own_engine, session.scalar(sa.text("SELECT pg_backend_pid()")))
        session.add(_Row(id=1))
        again = _second_error(sa.exc.OperationalError, session.flush, lambda: session.scalar(_ONE))
        assert again.code == "7s2a"  # the flush's error only named in the message
        assert database_lost(again)
        assert is_transient(again)
        assert _cause(again).startswith("AdminShutdown: terminating connection due to administrator"), _cause(
            again
        )


def test_a_flush_that_lost_the_database_is_known_whatever_sqlalchemy_says_of_it(
    own_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Session's PendingRollbackError named the flush's error only in its words ("Original
    exception was: (psycopg.errors.AdminShutdown) ..."), which veille read: reworded by
    SQLAlchemy, the loss was a bug's traceback. What the flush met is kept structurally."""
    from sqlalchemy.orm.session import SessionTransaction

    def reworded(self: SessionTransaction, operation_name: str, state: object) -> None:
        raise sa.exc.PendingRollbackError("the session needs a rollback", code="7s2a")

    monkeypatch.setattr(SessionTransaction, "_raise_for_prerequisite_state", reworded)
    with Session(own_engine) as session:
        session.execute(sa.text(_TEMP))
        _terminate(own_engine, session.scalar(_PID))
        session.add(_Row(id=1))
        again = _second_error(sa.exc.OperationalError, session.flush, lambda: session.scalar(_ONE))
        assert "AdminShutdown" not in str(again) and again.__context__ is None
        assert database_lost(again)
        assert is_transient(again)
        said = pytest.raises(
            DatabaseUnavailable,
            match=r"^lost the database during the export \(AdminShutdown: terminating connection due to",
        )
        with said, lost_database_reported("the export", "veille export"):
            session.execute(_ONE)


def test_a_session_used_again_after_an_integrity_error_reworded_is_not_the_database_lost(
    own_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.orm.session import SessionTransaction

    def reworded(self: SessionTransaction, operation_name: str, state: object) -> None:
        raise sa.exc.PendingRollbackError("the session needs a rollback (AdminShutdown)", code="7s2a")

    monkeypatch.setattr(SessionTransaction, "_raise_for_prerequisite_state", reworded)
    with Session(own_engine) as session:
        session.execute(sa.text(_TEMP))
        session.execute(sa.text("INSERT INTO pending_rollback_rows VALUES (1)"))
        session.add(_Row(id=1))
        again = _second_error(sa.exc.IntegrityError, session.flush, lambda: session.scalar(_ONE))
        assert not database_lost(again)


def test_a_session_used_again_after_an_integrity_error_is_not_the_database_lost(
    own_engine: sa.Engine,
) -> None:
    with Session(own_engine) as session:
        session.execute(sa.text(_TEMP))
        session.execute(sa.text("INSERT INTO pending_rollback_rows VALUES (1)"))
        session.add(_Row(id=1))
        again = _second_error(sa.exc.IntegrityError, session.flush, lambda: session.scalar(_ONE))
        assert "UniqueViolation" in str(again)
        assert not database_lost(again)
        assert not is_transient(again)
        as_it_is = pytest.raises(sa.exc.PendingRollbackError)
        with as_it_is, lost_database_reported("the export", "veille export"):
            session.execute(_ONE)


def test_a_pending_rollback_raised_while_handling_a_loss_is_the_loss() -> None:
    """Chained (``raise ... from`` or raised in the ``except``): the cause says."""
    lost = sa.exc.OperationalError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    again = sa.exc.PendingRollbackError("This Session's transaction has been rolled back")
    again.__context__ = lost
    assert database_lost(again)
    assert _cause(again) == "Exception: gone (used again after it: PendingRollbackError)"
    again.__context__ = sa.exc.IntegrityError("INSERT", {}, Exception("duplicate"))
    assert not database_lost(again)


def _used_after_its_loss(engine: sa.Engine) -> sa.exc.PendingRollbackError:
    """The PendingRollbackError of a connection used again after the server ended it."""
    with engine.connect() as conn:
        _terminate(engine, conn.scalar(_PID))
        with contextlib.suppress(sa.exc.OperationalError):
            conn.execute(_ONE)
        try:
            conn.execute(_ONE)
        except sa.exc.PendingRollbackError as again:
            return again
    raise AssertionError("the connection used again raised no PendingRollbackError")


@pytest.mark.usefixtures("prefect_harness")
def test_an_ingest_worker_whose_store_met_the_loss_as_a_pending_rollback_waits(
    site: LocalSite,
    clean_db: sa.Engine,
    own_engine: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker waits for the database and goes on, as for any loss: before, its task
    failed on the PendingRollbackError, a traceback, the batch's pages left to the lease."""
    import flows.queue_drain

    pages = seed_site(site)
    odd_url = f"{site.base}/{pages[0].spec.slug}"
    real = flows.queue_drain.store_or_fail
    lost: list[str] = []

    def store_after_the_loss(write: Any, out: Any, *args: Any) -> Any:
        if out.item.url == odd_url and not lost:
            lost.append(out.item.url)
            raise _used_after_its_loss(own_engine)
        return real(write, out, *args)

    monkeypatch.setattr(flows.queue_drain, "store_or_fail", store_after_the_loss)
    code, _, output = run_seeds(site, tmp_path)
    assert lost == [odd_url]
    assert "Traceback" not in output and "database lost" in output, output
    assert code == 1, output  # the interruption is reported: partly done
    assert "recovered" in output, output
    with clean_db.connect() as conn:
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        by_state = sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")
        states: dict[str, int] = dict(conn.execute(by_state).all())
    assert articles == 5 and states == {"fetched": 5}, output
