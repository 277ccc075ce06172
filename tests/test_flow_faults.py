"""Faults of the orchestration layer (flows/): what a run retries, how long a worker's claim on
the queue lasts, what a run's state and artifacts say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import flow

from flows import runs
from flows.direct import with_retries
from flows.pipeline import transient_task
from monitors.archive.db import session_scope

# A database error that every try meets again: a bug in a query, bad data, a constraint.
PERMANENT = {
    "no such table": "SELECT * FROM no_such_table",
    "bad data": "SELECT CAST('douze' AS integer)",
    "constraint": "INSERT INTO sources (id, name, kind, url, owner) SELECT id, name, kind, url, owner"
    " FROM sources LIMIT 1",
}


def _failing_step(sql: str, calls: list[str]) -> Callable[[], None]:
    def step() -> None:
        calls.append(sql)
        with session_scope() as session:
            if "INSERT" in sql:
                session.execute(
                    sa.text(
                        "INSERT INTO sources (name, kind, url, owner) VALUES"
                        " ('twice', 'feed', 'https://example.org/twice.xml', 'media')"
                        " ON CONFLICT DO NOTHING"
                    )
                )
            session.execute(sa.text(sql))

    return step


@pytest.mark.parametrize("case", sorted(PERMANENT))
def test_a_permanent_database_error_is_not_retried(case: str, clean_db: sa.Engine) -> None:
    """A direct run and a flow's task both try a step that failed on a permanent database error
    once: no 2 s + 10 s of retries that fail the same way (every DBAPIError was retried)."""
    calls: list[str] = []
    waits: list[float] = []
    with pytest.raises(sa.exc.DBAPIError):
        with_retries(_failing_step(PERMANENT[case], calls), sleep=waits.append)
    assert len(calls) == 1 and waits == []


@pytest.mark.usefixtures("prefect_harness")
def test_a_flow_task_is_not_retried_on_a_permanent_database_error(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    step = _failing_step(PERMANENT["bad data"], calls)
    monkeypatch.setitem(runs.TASKS, step, transient_task("step", delays=(0, 0))(step))

    @flow
    def one() -> Any:
        return runs.submit_task(step).result()

    state = one(return_state=True)
    assert state.is_failed() and len(calls) == 1


@pytest.mark.usefixtures("prefect_harness")
def test_a_lost_connection_is_still_retried(clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The other side: a step whose connection the server ended is tried again, and succeeds."""
    calls: list[int] = []

    def step() -> int:
        calls.append(1)
        with session_scope() as session:
            if len(calls) == 1:
                session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
            return int(session.scalar(sa.text("SELECT 1")) or 0)

    waits: list[float] = []
    assert with_retries(step, sleep=waits.append) == 1
    assert len(calls) == 2 and waits == [2]
