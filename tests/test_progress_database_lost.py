"""The progress bars of `veille backfill` while its database is gone (pg_terminate_backend, a
restart, a database that takes no connection): the backfill itself says the loss, in one
line (flows/queue_drain.py, :func:`monitors.archive.db.lost_database_reported`); the bar skips
its refresh, and stops when asked, rather than print a traceback or poll on after the command."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from flows.commands.archive_backfill import CaptureProgress
from flows.commands.backfill import QueueProgress


@contextmanager
def _database_gone(engine: sa.Engine) -> Iterator[None]:
    """The test's database takes no connection and its sessions are ended, then it is back."""
    name = engine.url.database
    admin = sa.create_engine(engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                sa.text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = :d"),
                {"d": name},
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


def _missed_refreshes(monkeypatch: pytest.MonkeyPatch, bar: str, times: int) -> threading.Event:
    """Set once the bar has tried ``times`` refreshes that failed (the database gone): the bar's
    count, wrapped. No timer: the test waits for the bar's own work, however loaded the machine."""
    import flows.commands.backfill
    import monitors.collect.backfill_jobs

    owner, name = (
        (flows.commands.backfill.QueueProgress, "_counts")
        if bar == "queue"
        else (monitors.collect.backfill_jobs, "progress_counts")  # imported by the bar's thread
    )
    real: Callable[..., Any] = getattr(owner, name)
    missed, failed, lock = threading.Event(), [0], threading.Lock()

    def counts(*args: Any, **kwargs: Any) -> Any:
        try:
            return real(*args, **kwargs)
        except Exception:
            with lock:
                failed[0] += 1
                if failed[0] >= times:
                    missed.set()
            raise

    monkeypatch.setattr(owner, name, counts)
    return missed


@pytest.mark.parametrize("bar", ["queue", "captures"])
def test_a_progress_bar_whose_database_is_gone_skips_its_refresh_and_stops_when_asked(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch, bar: str
) -> None:
    """Before: the pages' bar (``backfill-progress``) ended on a traceback on stderr ("Exception
    in thread backfill-progress", psycopg's "not currently accepting connections"), and the
    captures' bar, asked to stop, tried again without a pause until the database came back,
    holding the command's exit for 10 s and polling on after it."""
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    with clean_db.connect() as conn:  # the engine's pool holds a session the server will end
        conn.execute(sa.text("SELECT 1"))
    missed = _missed_refreshes(monkeypatch, bar, 2)
    progress: Any = QueueProgress(datetime.now(UTC)) if bar == "queue" else CaptureProgress([1])
    with _database_gone(clean_db):
        with progress:
            # two refreshes of the bar missed while the database is gone (a bar whose thread
            # died on the first has no second)
            while not missed.wait(0.05) and progress.thread.is_alive():
                pass
        stopped = not progress.thread.is_alive()
    progress.thread.join(timeout=30)  # the database back: a thread still polling ends too
    assert raised == [] and stopped and missed.is_set()
