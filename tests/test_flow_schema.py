"""A deployment run starts with the flow itself (no `veille` command migrates before it): on a
new database the flow brings the schema to the Alembic head instead of failing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from monitors.archive.schema import alembic_config, ensure_schema, migrate

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_ingest_flow_on_a_new_database_migrates_it_first(new_database: str) -> None:
    from flows.runs import ingest_flow

    report = ingest_flow()

    assert report.statuses == []
    head = ScriptDirectory.from_config(alembic_config(new_database)).get_current_head()
    engine = sa.create_engine(new_database)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == head
            assert conn.scalar(sa.text("SELECT count(*) FROM url_queue")) == 0
    finally:
        engine.dispose()


def test_a_database_migrated_by_newer_code_is_left_as_it_is(new_database: str) -> None:
    """A rolling upgrade: a newer veille migrated the database; an older worker's flow must
    not fail on a revision it does not know (alembic would raise), nor touch the schema."""
    migrate(new_database)
    engine = sa.create_engine(new_database)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        fresh = make_url(new_database).set(query={"application_name": "older-worker"})
        url = fresh.render_as_string(hide_password=False)  # a URL this process has not migrated
        assert ensure_schema(url) == url
        with engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "9999_from_the_future"
    finally:
        engine.dispose()


UNDESCRIBED = sa.text(
    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')"
    " AND obj_description(c.oid, 'pg_class') IS NULL"
    " UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = 'public' AND obj_description(p.oid, 'pg_proc') IS NULL"
    " AND p.prorettype NOT IN ('trigger'::regtype, 'void'::regtype, 'internal'::regtype)"
    " AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')"
    " ORDER BY 1"
)


def test_every_view_and_function_is_described_as_readme_says(new_database: str) -> None:
    """README: "Documented views (\\dv+ in psql)": each view, and each function a query can call
    (not the triggers' internals), has its description; language_disagreements (0002) had none
    before 0022."""
    from alembic import command

    config = alembic_config(new_database)
    engine = sa.create_engine(new_database)
    try:
        command.upgrade(config, "0021_search_repeats")
        with engine.connect() as conn:
            assert list(conn.scalars(UNDESCRIBED)) == ["language_disagreements"]
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert list(conn.scalars(UNDESCRIBED)) == []
            described = conn.scalar(sa.text("SELECT obj_description('language_disagreements'::regclass)"))
        assert described.startswith("Articles whose detected language")
        command.downgrade(config, "0021_search_repeats")
        with engine.connect() as conn:
            assert list(conn.scalars(UNDESCRIBED)) == ["language_disagreements"]
    finally:
        engine.dispose()
