"""A statement PostgreSQL cancels (a ``statement_timeout`` set on the database, here met by a
lock another session holds) in `veille rescore`, `veille export` and the daily maintenance:
one line, cause first, saying what was kept and what to do; the rescore then resumes where it
stopped. Before, rescore and export died with the driver's traceback, and maintenance ended
Failed with it, without its report (tests/test_statement_timeout.py has the ingest path)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from flows.cli import main
from monitors.archive.db import dispose_engines
from monitors.judge.topic import load_topic

OLD_VERSION = "0.9+oldtopic"
CANCELLED = "canceling statement due to statement timeout"


@contextlib.contextmanager
def statement_timeout(database_url: str, value: str = "1s") -> Iterator[None]:
    """``ALTER DATABASE ... SET statement_timeout``: every new session of the database gets it
    (veille's pooled connections are closed so that they are new)."""
    name = make_url(database_url).database
    admin = sa.create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"ALTER DATABASE \"{name}\" SET statement_timeout = '{value}'"))
    dispose_engines()
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'ALTER DATABASE "{name}" RESET statement_timeout'))
        admin.dispose()
        dispose_engines()


@contextlib.contextmanager
def held(database_url: str, statement: str) -> Iterator[None]:
    """``statement`` (a lock) run in a transaction of another session, held until the end."""
    other = sa.create_engine(database_url, poolclass=NullPool)
    conn = other.connect()
    transaction = conn.begin()
    try:
        conn.execute(sa.text(statement))
        yield
    finally:
        transaction.rollback()
        conn.close()
        other.dispose()


def _articles(engine: sa.Engine, count: int) -> list[int]:
    """``count`` articles scored with an older topic version, in id order."""
    with engine.begin() as conn:
        source_id = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Fil', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        return [
            conn.scalar(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " relevance, relevant, topic_version) VALUES (:u, :u, :s, :t, :x, :h, 0.5, false, :v)"
                    " RETURNING id"
                ),
                {
                    "u": f"http://x/{i}",
                    "s": source_id,
                    "t": f"Article {i}",
                    "x": f"Le sommet sur l'intelligence artificielle, article {i}.",
                    "h": f"hash-{i}",
                    "v": OLD_VERSION,
                },
            )
            for i in range(count)
        ]


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _versions(engine: sa.Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT topic_version FROM articles ORDER BY id")))


def test_a_rescore_cancelled_by_statement_timeout_says_so_then_resumes(
    database_url: str, clean_db: sa.Engine
) -> None:
    ids = _articles(clean_db, 3)
    current = load_topic().version
    # the second batch waits for a row another session has locked, past the statement_timeout
    with (
        statement_timeout(database_url),
        held(database_url, f"SELECT 1 FROM articles WHERE id = {ids[1]} FOR UPDATE"),
    ):
        code, out, err = _run("rescore", "--batch-size", "1")
    assert code == 2, (out, err)
    assert err.startswith(
        f"veille: error: the database cancelled a statement of the rescore ({CANCELLED}: a"
        " statement_timeout set on the database or veille's role, or pg_cancel_backend): the batches"
        " committed stay rescored; run `veille rescore` again to go on from there"
    ), err
    assert "Traceback" not in err and err.count("\n") == 1, err
    assert _versions(clean_db) == [current, OLD_VERSION, OLD_VERSION]  # the first batch stays

    code, out, err = _run("rescore", "--batch-size", "1")
    assert code == 0, (out, err)
    assert f"rescored 2 articles with topic {load_topic().name} {current}" in out, (
        out
    )  # the rest, not the first again
    assert _versions(clean_db) == [current] * 3


def test_an_export_cancelled_by_statement_timeout_leaves_the_file_and_says_why(
    database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    _articles(clean_db, 2)
    output = tmp_path / "archive.jsonl"
    output.write_text("before\n")
    with statement_timeout(database_url), held(database_url, "LOCK TABLE articles IN ACCESS EXCLUSIVE MODE"):
        code, out, err = _run("export", "--output", str(output), "--no-progress")
    assert code == 2, (out, err)
    assert err == (
        f"veille: error: the database cancelled a statement of the export ({CANCELLED}: a"
        " statement_timeout set on the database or veille's role, or pg_cancel_backend):"
        f" {output} is left as it was; raise the statement_timeout of veille's role, or export less"
        " at a time (--since, --source, --relevant)\n"
    ), err
    assert output.read_text() == "before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archive.jsonl"]  # no partial file

    code, out, err = _run("export", "--output", str(output), "--no-progress")
    assert code == 0, err
    assert len([json.loads(line) for line in output.read_text().splitlines()]) == 2


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_maintenance_whose_rescore_is_cancelled_reports_health_and_ends_partial(
    database_url: str, clean_db: sa.Engine
) -> None:
    """The rescore step cancelled on every try (its retries included): the health report is
    still published, and the run ends Completed named Partial saying what was not done and
    that it resumes; the next maintenance rescores what was left."""
    from flows.maintenance import maintenance_flow

    ids = _articles(clean_db, 2)
    current = load_topic().version
    with (
        statement_timeout(database_url),
        held(database_url, f"SELECT 1 FROM articles WHERE id = {ids[0]} FOR UPDATE"),
    ):
        state = maintenance_flow(return_state=True)
    assert state.is_completed() and state.name == "Partial", state
    assert (state.message or "").startswith(
        f"Partly done (the database cancelled a statement of the rescore ({CANCELLED}: a"
        " statement_timeout set on the database or veille's role, or pg_cancel_backend): the articles"
        " rescored so far stay; the next maintenance (or `veille rescore`) goes on): 1 source (1 not ok),"
        " 0 articles rescored."
    ), state.message
    result = state.result()
    assert result["sources"] == 1 and result["rescored"] == 0 and len(result["problems"]) == 1
    assert _versions(clean_db) == [OLD_VERSION, OLD_VERSION]

    state = maintenance_flow(return_state=True)
    assert state.is_completed() and state.name == "Completed", state
    assert state.message == "All good: 1 source (1 not ok), 2 articles rescored.", state.message
    assert _versions(clean_db) == [current, current]
