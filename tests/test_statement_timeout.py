"""A statement PostgreSQL cancels (``statement_timeout``, or ``pg_cancel_backend``): psycopg
raises QueryCanceled, an OperationalError like a lost connection. The page whose store was
cancelled is recorded with the cause and retried like any passing failure, at most
``VEILLE_MAX_ATTEMPTS`` times; the run goes on, without a traceback. Before, the ingest worker
took it for a lost database: it waited, handed the page back, met it again, and after five
"losses" the task failed with the driver's traceback and was retried by Prefect."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.site import LocalSite, seed_site, write_sources


def _run(sources: Path) -> tuple[int, str]:
    """`veille run --sources FILE`, in this process: its exit code and its output."""
    from flows.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--sources", str(sources)])
    return code, out.getvalue() + err.getvalue()


@pytest.mark.usefixtures("prefect_harness")
def test_a_store_cancelled_by_statement_timeout_is_recorded_retried_then_given_up(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.queue_drain

    pages = seed_site(site)
    odd_url = f"{site.base}/{pages[0].spec.slug}"
    real = flows.queue_drain.apply_ingest

    def slow_store(session: Any, out: Any, *args: Any, **kwargs: Any) -> Any:
        if out.item.url == odd_url and out.article is not None:
            # a store that runs past the server's statement_timeout (a lock wait, a slow plan)
            session.execute(sa.text("SET LOCAL statement_timeout = '50ms'"))
            session.execute(sa.text("SELECT pg_sleep(1)"))
        return real(session, out, *args, **kwargs)

    monkeypatch.setattr(flows.queue_drain, "apply_ingest", slow_store)
    monkeypatch.setenv("VEILLE_MAX_ATTEMPTS", "2")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )

    def queue_row() -> tuple[str, str, int]:
        with clean_db.connect() as conn:
            return conn.execute(
                sa.text("SELECT state, reason, attempts FROM url_queue WHERE url = :u"), {"u": odd_url}
            ).one()

    code, output = _run(sources)
    assert code == 1, output  # partly done: a page waits for its retry
    assert "Traceback" not in output, output
    state, reason, attempts = queue_row()
    assert (state, attempts) == ("pending", 1)
    assert reason.startswith("retry 1/2: the database cancelled the store: "), reason
    assert "statement timeout" in reason, reason
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 4  # the others are stored
        logged = conn.execute(
            sa.text("SELECT error_class, reason FROM fetch_log WHERE url = :u AND kind = 'page'"),
            {"u": odd_url},
        ).all()
        assert [c for c, _ in logged] == ["transient"], logged
        conn.execute(sa.text("UPDATE url_queue SET next_attempt_at = now() WHERE url = :u"), {"u": odd_url})
        conn.commit()

    code, output = _run(sources)  # the retry meets the same timeout: the page is given up, once
    assert "Traceback" not in output, output
    state, reason, attempts = queue_row()
    assert (state, attempts) == ("failed", 2)
    assert reason.startswith("gave up: the database cancelled the store: "), reason

    code, output = _run(sources)  # nothing to try again
    assert code == 0, output
    assert queue_row()[0] == "failed"


@pytest.mark.usefixtures("prefect_harness")
def test_a_claim_cancelled_by_statement_timeout_stops_the_worker_saying_why(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue claim itself cancelled (a statement_timeout shorter than the claim on a large
    queue): the run says so and ends partly done, the rows go back to the queue, and the next
    run stores them. Before, the worker took it for a lost database: it waited for a database
    that was there and claimed again, five times, and then failed."""
    import flows.queue_drain

    seed_site(site)
    real = flows.queue_drain.claim_items

    def slow_claim(session: Any, *args: Any, **kwargs: Any) -> Any:
        session.execute(sa.text("SET LOCAL statement_timeout = '50ms'"))
        session.execute(sa.text("SELECT pg_sleep(1)"))
        return real(session, *args, **kwargs)

    monkeypatch.setattr(flows.queue_drain, "claim_items", slow_claim)
    monkeypatch.setenv("VEILLE_DB_WAIT", "1")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    code, output = _run(sources)
    assert code == 1, output
    assert (
        "the database cancelled a statement: QueryCanceled: canceling statement due to statement timeout"
        in (output)
    ), output
    assert "database lost" not in output, output
    assert "Traceback" not in output, output
    with clean_db.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT state, claimed_by FROM url_queue")).all() == [("pending", None)] * 5
        )

    monkeypatch.setattr(flows.queue_drain, "claim_items", real)
    assert _run(sources)[0] == 0
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 5


@pytest.mark.usefixtures("prefect_harness")
def test_a_poll_record_cancelled_by_statement_timeout_fails_that_source_alone(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record of a batch of polls cancelled for one source: the others are recorded and
    ingested, that source carries the cause (class transient: it stays due, polled again next
    cycle), the run is partly done, without a traceback. Before, the poll task failed."""
    import monitors.archive.polls as polls

    pages = seed_site(site)
    site.add("/lent.xml", site.routes["/feed.xml"].body, content_type="application/rss+xml")
    real = polls._apply_batch  # noqa: SLF001

    def slow_batch(session: Any, outcomes: list[Any], *args: Any, **kwargs: Any) -> Any:
        if any(o.fetch.url.endswith("/lent.xml") for o in outcomes):
            session.execute(sa.text("SET LOCAL statement_timeout = '50ms'"))
            session.execute(sa.text("SELECT pg_sleep(1)"))
        return real(session, outcomes, *args, **kwargs)

    monkeypatch.setattr(polls, "_apply_batch", slow_batch)
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
            {"name": "Lent", "kind": "feed", "url": f"{site.base}/lent.xml", "owner": "media"},
        ],
    )
    code, output = _run(sources)
    assert code == 1, output
    assert "Traceback" not in output, output
    with clean_db.connect() as conn:
        health: dict[str, str | None] = dict(
            conn.execute(sa.text("SELECT name, last_error_class || ': ' || last_error FROM sources")).all()
        )
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
    assert health["Seeds"] is None
    lent = health["Lent"] or ""
    assert lent.startswith("transient: canceling statement due to statement timeout"), health
    assert stored == len(pages)
