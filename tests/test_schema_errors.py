"""A database veille can reach but not use as it is, and URLs naming another driver: one line
on stderr, cause first, exit 2, never a traceback.

- a schema a newer veille migrated: `veille migrate` (every command migrates first) raised
  Alembic's "Can't locate revision identified by ..." with its traceback;
- a user without the right to create tables: psycopg's InsufficientPrivilege traceback;
- ``postgresql+psycopg2://`` or ``postgresql+asyncpg://`` (another program's settings):
  ModuleNotFoundError, or the async driver's MissingGreenlet.
"""

from __future__ import annotations

import uuid

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
