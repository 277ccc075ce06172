"""Faults of the orchestration layer (flows/): what a run retries, how long a worker's claim on
the queue lasts, what a run's state and artifacts say."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from prefect import flow

from flows import runs
from flows.direct import with_retries
from flows.pipeline import drain_queue, poll_sources, reset_runtime, transient_task
from monitors.archive.db import get_engine, session_scope

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
    def one() -> None:
        runs.submit_task(step).result()

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


def test_a_slow_worker_keeps_its_claims_past_the_lease(
    site: Any, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker claims a batch at once; while it is still on its first page (a slow site)
    after the claim lease, another worker, of the same run or of another process, finds none
    of its rows to claim: the lease of a live run's claims is renewed. It expired whatever the
    holder, and the other worker fetched the same pages a second time."""
    from monitors.archive import queue
    from monitors.archive.queue import ClaimHolder, claim_items
    from tests.site import Request, rss_feed, write_sources

    monkeypatch.setattr(queue, "CLAIM_LEASE", timedelta(seconds=1.5))
    monkeypatch.setenv("VEILLE_CONCURRENCY", "1")  # one worker: it claims the whole queue
    asked, release = threading.Event(), threading.Event()

    def slow(request: Request) -> tuple[int, dict[str, str], bytes]:
        asked.set()
        release.wait(30)
        return 200, {"Content-Type": "text/html; charset=utf-8"}, _page(request.path).encode()

    items = []
    for i in range(3):
        site.add(f"/lent/{i}.html", b"", handler=slow)
        items.append((f"Lent {i}", f"lent/{i}.html", datetime(2025, 2, 1, tzinfo=UTC)))
    site.add("/lent.xml", rss_feed(site.base, items), content_type="application/rss+xml")
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Lent", "kind": "feed", "url": f"{site.base}/lent.xml", "owner": "media"}],
    )
    reset_runtime()
    other = ClaimHolder(get_engine())
    with ThreadPoolExecutor(4) as pool:

        def submit(step: Callable[..., Any], *args: Any) -> Any:
            return pool.submit(step, *args)

        try:
            poll_sources(str(sources), True, submit, None)
            drain = pool.submit(drain_queue, None, submit, None)
            assert asked.wait(60), "the worker never fetched a page"
            time.sleep(2.5)  # past the lease, the worker still on its first page
            with session_scope() as session:
                stolen = claim_items(session, 10, other.token())
        finally:
            release.set()
            other.close()
        report, _ = drain.result(timeout=120)
    reset_runtime()
    assert stolen == []
    assert sorted(status for _, status, _ in report.statuses) == ["stored"] * 3
    assert all(len(site.hits(f"/lent/{i}.html")) == 1 for i in range(3))


def _page(path: str) -> str:
    text = "".join(
        f"<p>Un article lent, {path}, paragraphe {j} : le conseil municipal a voté le budget de "
        f"l'année après un long débat sur les écoles, les routes et la piscine.</p>"
        for j in range(4)
    )
    return (
        f"<!DOCTYPE html><html lang='fr'><head><meta charset='utf-8'><title>{path}</title></head>"
        f"<body><main><article><h1>{path}</h1>{text}</article></main></body></html>"
    )
