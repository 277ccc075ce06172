"""A database veille can reach but not use as it is, and URLs naming another driver: one line
on stderr, cause first, exit 2, never a traceback.

- a schema a newer veille migrated: `veille migrate` (every command migrates first) raised
  Alembic's "Can't locate revision identified by ..." with its traceback;
- a user without the right to create tables: psycopg's InsufficientPrivilege traceback;
- ``postgresql+psycopg2://`` or ``postgresql+asyncpg://`` (another program's settings):
  ModuleNotFoundError, or the async driver's MissingGreenlet.
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from flows.cli import main
from monitors.archive.db import normalize_url
from monitors.archive.schema import migrate, script_head


def _fresh(url: str, **query: str) -> str:
    """``url`` as this process has not seen it (it remembers the databases found at the head)."""
    return (
        make_url(url).set(query={"application_name": uuid.uuid4().hex[:8], **query}).render_as_string(False)
    )


def test_a_schema_migrated_by_a_newer_veille_is_one_line_naming_it(
    new_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(new_database)
    engine = sa.create_engine(new_database)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
        monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
        capsys.readouterr()
        assert main(["migrate"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("veille: error: the database at postgresql+psycopg://") and err.count("\n") == 1
        assert "schema revision 0099_from_the_future, newer than this veille knows" in err
        assert f"its latest is {script_head()}" in err and "Traceback" not in err
        with engine.connect() as conn:  # left as it was
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0099_from_the_future"
    finally:
        engine.dispose()


def test_an_older_schema_is_brought_to_the_head_by_any_command(
    new_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """README: "veille migrate ... (`veille run` does it too)"; every command that reads the
    archive migrates it first, so a schema an upgrade of veille left behind is no error."""
    from alembic import command

    from monitors.archive.schema import alembic_config

    command.upgrade(alembic_config(new_database), "0021_search_repeats")
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    assert main(["search", "sommet"]) == 0
    engine = sa.create_engine(new_database)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == script_head()
    finally:
        engine.dispose()


def test_a_user_who_may_not_create_tables_gets_the_cause_and_what_to_do(
    new_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    role = f"veille_test_reader_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(new_database, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
        conn.execute(sa.text(f'REVOKE CREATE ON SCHEMA public FROM PUBLIC, "{role}"'))
    try:
        monkeypatch.setenv(
            "VEILLE_DATABASE_URL", make_url(new_database).set(username=role).render_as_string(False)
        )
        capsys.readouterr()
        assert main(["migrate"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("veille: error: could not migrate the database at postgresql+psycopg://")
        assert "permission denied for schema public" in err and "may create and alter its tables" in err
        assert err.count("\n") == 1 and "Traceback" not in err
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()


@pytest.mark.parametrize(
    ("at", "outside"),
    [("pg_catalog.pg_class", False), ("CREATE TABLE", False), ("pg_catalog.pg_class", True)],
)
def test_a_connection_the_server_ends_during_the_migration_is_lost_not_unreachable(
    at: str,
    outside: bool,
    new_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    """A first `veille run` whose connection the server ended mid-migration (pg_terminate_backend,
    a restart) said "nothing could run: cannot reach PostgreSQL at ...: terminating connection
    due to administrator command" (the server was reached) at a CREATE TABLE, and ended on the
    driver's traceback, exit 1, while the revision was read (Alembic's look for its
    alembic_version table in pg_class). It says the database was lost, during what, the
    server's words, and to run the command again; exit 3. A connection cut under the driver
    (``outside``: a network drop, a server killed) reads "server closed the connection
    unexpectedly", no SQLSTATE; said the same way."""
    ended: list[str] = []

    def end_at_the_first_table(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if ended or at not in statement:
            return
        ended.append(statement)
        if not outside:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            return
        # the connection cut under it (a network drop, a server killed): no word from the server
        socket.socket(fileno=os.dup(cursor.connection.pgconn.socket)).shutdown(socket.SHUT_RDWR)

    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "X"\nkind = "feed"\nurl = "https://x.fr/f.xml"\nowner = "media"\n')
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    capsys.readouterr()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", end_at_the_first_table)
    try:
        assert main(["run", "--sources", str(sources)]) == 3
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", end_at_the_first_table)
    err = capsys.readouterr().err
    assert ended and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("veille: error: nothing could run: lost the database at postgresql+psycopg://"), err
    assert f"during the migration to schema revision {script_head()}" in err
    said = "server closed the connection unexpectedly" if outside else "terminating connection due to"
    assert said in err and ": pg_terminate_backend, or a server shutdown or restart)" in err
    assert err.rstrip().endswith("run the command again") and "cannot reach" not in err
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    assert main(["migrate"]) == 0  # run again, it goes through


@pytest.mark.parametrize(
    "driver", ["postgresql+psycopg2", "postgresql+asyncpg", "postgres", "postgresql+pg8000"]
)
def test_a_url_naming_another_driver_uses_psycopg(
    driver: str, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert normalize_url(f"{driver}://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    url = make_url(_fresh(database_url)).set(drivername=driver).render_as_string(False)
    monkeypatch.setenv("VEILLE_DATABASE_URL", url)
    capsys.readouterr()
    assert main(["migrate"]) == 0
    assert capsys.readouterr().out.startswith("schema at head on postgresql+psycopg://")


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite:///x.db", "postgresqlx://u@h/db"])
def test_a_url_of_another_database_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="PostgreSQL only"):
        normalize_url(url)


@pytest.mark.parametrize(
    ("at", "during"),
    [
        ("FROM alembic_version", "the read of its schema revision"),
        ("FROM veille_settings", "the check of the local clock it keeps for its views"),
        ("INSERT INTO veille_settings", "the check of the local clock it keeps for its views"),
    ],
)
def test_a_connection_ended_while_a_command_opens_the_database_says_during_what(
    at: str,
    during: str,
    new_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every command opens the database the same way: its schema revision read, then the local
    clock it keeps (``veille_settings``) read, or written when VEILLE_LOCAL_TIMEZONE differs. A
    session the server ended at the revision said "lost the database at URL (...)" without
    saying during what; at the clock it ended on the driver's traceback. Both say during what,
    exit 2, and the command run again goes through."""
    migrate(new_database)
    ended: list[str] = []

    def end_there(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not ended and at in statement:
            ended.append(statement)
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")

    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "UTC")  # the stored clock is Europe/Paris: written
    capsys.readouterr()
    sa.event.listen(sa.engine.Engine, "before_cursor_execute", end_there)
    try:
        assert main(["export", "--format", "jsonl"]) == 2
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", end_there)
    err = capsys.readouterr().err
    assert ended and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("veille: error: lost the database at postgresql+psycopg://"), err
    assert f" during {during} (terminating connection due to administrator command" in err, err
    assert err.rstrip().endswith("run the command again")
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    assert main(["export", "--format", "jsonl"]) == 0


@pytest.mark.parametrize(
    ("at", "lock", "during"),
    [
        ("FROM alembic_version", "LOCK TABLE alembic_version", "the read of its schema revision"),
        (
            "INSERT INTO veille_settings",
            "SELECT * FROM veille_settings FOR UPDATE",
            "the check of the local clock it keeps for its views",
        ),
    ],
)
def test_a_statement_cancelled_while_a_command_opens_the_database_is_not_an_unreachable_server(
    at: str,
    lock: str,
    during: str,
    new_database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A statement of the opening that the server cancels (a statement_timeout set on veille's
    role, waiting for a lock another session holds; pg_cancel_backend) is a server that
    answered: it said "cannot reach PostgreSQL at URL: canceling statement due to statement
    timeout". It says the statement was cancelled, during what, and to run the command again."""
    migrate(new_database)
    cancelled: list[str] = []

    def time_out_there(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not cancelled and at in statement:
            cancelled.append(statement)
            cursor.execute("SET statement_timeout = 200")  # this session only: the lock is held

    # no other statement waits for ever on the held lock: one would fail here, not hang
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database, options="-c lock_timeout=30000"))
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", "UTC")  # the stored clock is Europe/Paris: written
    capsys.readouterr()
    holder = sa.create_engine(new_database)
    try:
        with holder.begin() as conn:
            conn.execute(sa.text(lock))
            sa.event.listen(sa.engine.Engine, "before_cursor_execute", time_out_there)
            try:
                assert main(["export", "--format", "jsonl"]) == 2
            finally:
                sa.event.remove(sa.engine.Engine, "before_cursor_execute", time_out_there)
    finally:
        holder.dispose()
    err = capsys.readouterr().err
    assert cancelled and err.count("\n") == 1 and "Traceback" not in err, err
    assert "cannot reach" not in err, err
    assert err.startswith(
        f"veille: error: the database at postgresql+psycopg://{make_url(new_database).username}@"
    ), err
    assert f" cancelled a statement of {during} (canceling statement due to statement timeout" in err, err
    assert err.rstrip().endswith("run the command again"), err
    monkeypatch.setenv("VEILLE_DATABASE_URL", _fresh(new_database))
    assert main(["export", "--format", "jsonl"]) == 0
