"""Every migration goes down and up again on an archive that holds data (the fixture archive:
articles, topic scores, stories, sightings, the queue, the fetch log): each ``downgrade()`` one
step at a time to the base, then ``upgrade`` to the head, which must give the same tables,
views and functions. A guard (it passed when written): a new migration whose downgrade fails
on real rows, or loses a table on the way back up, fails here."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from monitors.archive.schema import alembic_config

SCHEMA = sa.text(
    "SELECT c.relkind::text || ' ' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'i', 'S')"
    " UNION ALL SELECT 'f ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = 'public' ORDER BY 1"
)


@pytest.fixture
def archive_copy(archive_url: str) -> Iterator[str]:
    """A copy of the fixture archive, dropped after (the archive itself stays as it is)."""
    source = make_url(archive_url)
    name = f"veille_test_migrations_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(source.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        # a template must have no session: the pools of earlier tests are pinged back to life
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :d"),
            {"d": source.database},
        )
        conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source.database}"'))
    try:
        yield source.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_every_migration_goes_down_and_up_on_an_archive_with_data(archive_copy: str) -> None:
    config = alembic_config(archive_copy)
    revisions = [s.revision for s in ScriptDirectory.from_config(config).walk_revisions()]  # head first
    engine = sa.create_engine(archive_copy)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM article_topics")) > 0
            assert conn.scalar(sa.text("SELECT count(*) FROM stories")) > 0
            at_head = conn.scalars(SCHEMA).all()
        for below in [*revisions[1:], "base"]:
            command.downgrade(config, below)
            with engine.connect() as conn:
                current = conn.scalars(sa.text("SELECT version_num FROM alembic_version")).all()
            assert current == ([] if below == "base" else [below])
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.scalars(SCHEMA).all() == at_head
    finally:
        engine.dispose()


def test_the_migrations_as_a_script_make_the_same_schema(database_url: str, new_database: str) -> None:
    """`alembic upgrade head --sql` (offline mode: the SQL as a script, for a DBA to run). It
    stopped in 0012 with "'MockConnection' object has no attribute 'scalar'" (the migration
    read the database), and a `%` in a function body came out doubled (`format('%%s')`). Now
    the script runs on an empty database and makes the schema `alembic upgrade head` makes,
    with the local clock of the environment that wrote it (VEILLE_LOCAL_TIMEZONE)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
        cwd=root,
        # the local clock the views count days on is the setting's when the script is written
        env={**os.environ, "VEILLE_DATABASE_URL": new_database, "VEILLE_LOCAL_TIMEZONE": "America/Montreal"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "%%" not in done.stdout
    script = sa.create_engine(new_database)
    migrated = sa.create_engine(database_url)
    try:
        with script.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute(done.stdout)  # as a script: no parameters, every statement in turn
            raw.commit()
            assert (
                conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
                == ScriptDirectory.from_config(alembic_config(new_database)).get_current_head()
            )
            from_script = conn.scalars(SCHEMA).all()
            assert conn.scalar(sa.text("SELECT local_timezone FROM veille_settings")) == "America/Montreal"
        with migrated.connect() as conn:
            assert from_script == conn.scalars(SCHEMA).all()
    finally:
        script.dispose()
        migrated.dispose()
