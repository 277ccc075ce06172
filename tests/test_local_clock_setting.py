"""The database's local clock (``veille_settings``, ``veille_local_timezone()``): who writes it,
and what every role reads from it (docs/operating.md, "Dates and time zones")."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from monitors.archive.db import get_engine
from monitors.archive.schema import ensure_schema, migrate, record_local_timezone
from monitors.dates import article_day, zoneless
from monitors.workers import WorkerPool

ROOT = Path(__file__).resolve().parent.parent
VARIABLE = "VEILLE_LOCAL_TIMEZONE"


def _stored(url: str) -> str | None:
    with get_engine(url).connect() as conn:
        return conn.scalar(sa.text("SELECT local_timezone FROM veille_settings"))


def _veille(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A veille command in a process of its own (nothing cached from this one)."""
    return subprocess.run(
        [sys.executable, "-c", "import sys; from flows.cli import main; sys.exit(main())", *argv],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_process_without_the_setting_keeps_the_stored_clock(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock_restored: None,
) -> None:
    """The database is on Montreal's clock (`VEILLE_LOCAL_TIMEZONE=America/Montreal veille
    migrate`); a worker or a one-off command whose environment does not set the variable
    opens it: the clock stays Montreal's, and that process says in an info line that its dates
    and days are on it. Before, every such process wrote Europe/Paris, the default, and the
    views' days moved to Paris's clock for everyone."""
    monkeypatch.setenv(VARIABLE, "America/Montreal")
    migrate(database_url)
    assert _stored(database_url) == "America/Montreal"

    monkeypatch.delenv(VARIABLE)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="veille"):
        ensure_schema(database_url)  # what a flow started by a worker does first
    assert _stored(database_url) == "America/Montreal"
    said = [r for r in caplog.records if r.name == "veille"]
    assert [r.levelno for r in said] == [logging.INFO], said
    assert said[0].getMessage().startswith(f"{VARIABLE} is not set: this process reads dates without a zone")
    assert "day on America/Montreal's clock, the one the database at " in said[0].getMessage()

    # a command in a process of its own, `veille migrate` included, without the variable
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    for argv in (["stats", "--json"], ["migrate"]):
        done = _veille(argv, {**env, "VEILLE_DATABASE_URL": database_url})
        assert done.returncode == 0, done.stderr
        assert _stored(database_url) == "America/Montreal", argv


def test_a_process_without_the_setting_gives_days_on_the_stored_clock(
    database_url: str, monkeypatch: pytest.MonkeyPatch, clock_restored: None
) -> None:
    """A process whose environment does not set the variable (a Prefect worker's flow run)
    opens a database on New York's clock: it reads dates and gives articles their day on New
    York's clock, as the views do, in its worker processes too. Before, it kept the database's
    clock but gave its own days on Paris's: 2025-02-11T03:30Z was the 11th for it (the topics'
    periods and peaks, `veille search`) and the 10th in the views."""
    at = datetime(2025, 2, 11, 3, 30, tzinfo=UTC)  # 22:30 on the 10th in New York, the 11th in Paris
    monkeypatch.setenv(VARIABLE, "America/New_York")
    migrate(database_url)
    monkeypatch.delenv(VARIABLE)
    ensure_schema(database_url)  # what a flow started by a worker does first

    assert article_day(at) == date(2025, 2, 10)
    assert zoneless("2025-02-10 22:30") == at
    with get_engine(database_url).connect() as conn:
        view_day = conn.scalar(
            sa.text("SELECT (CAST(:at AS timestamptz) AT TIME ZONE (SELECT veille_local_timezone()))::date"),
            {"at": at},
        )
    assert view_day == article_day(at)
    pool = WorkerPool(1, preload=())
    try:  # the page and feed workers a flow hands dates to
        assert pool.call(article_day, (at,), 120.0) == date(2025, 2, 10)
    finally:
        pool.shutdown()

    # a process of its own (nothing cached), opening the database as a flow does
    env = {k: v for k, v in os.environ.items() if k != VARIABLE}
    script = (
        "from datetime import datetime; from monitors.archive.schema import ensure_schema;"
        " from monitors.dates import article_day; ensure_schema();"
        " print(article_day(datetime.fromisoformat('2025-02-11T03:30:00+00:00')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "VEILLE_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2025-02-10"


def _two_articles_around_midnight(engine: sa.Engine) -> None:
    """Two articles and their stories: one of 9 February in New York (the 10th in Paris), one
    of 10 February there."""
    with engine.begin() as conn:
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner)"
                " VALUES ('Le Fil', 'feed', 'http://x/f', 'media') RETURNING id"
            )
        )
        for slug, at in (("eve", NEW_YORK_EVE), ("day", NEW_YORK_DAY)):
            story = conn.scalar(
                sa.text(
                    "INSERT INTO stories (first_seen, last_seen, title, language, articles, outlets, media,"
                    " source_ids) VALUES (:at, :at, :t, 'fr', 1, 1, 1, ARRAY[:s]::bigint[]) RETURNING id"
                ),
                {"at": at, "s": source, "t": slug},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash,"
                    " published_at, story_id) VALUES (:u, :u, :s, :t, 'Texte', :t, :at, :st)"
                ),
                {"u": f"http://x/{slug}", "s": source, "t": slug, "at": at, "st": story},
            )


#: 22:30 on 9 February in New York (04:30 on the 10th in Paris), and 01:00 on the 10th there
NEW_YORK_EVE = datetime(2025, 2, 10, 3, 30, tzinfo=UTC)
NEW_YORK_DAY = datetime(2025, 2, 10, 6, 0, tzinfo=UTC)


def test_command_line_dates_are_on_the_stored_clock_without_the_setting(
    clean_db: sa.Engine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    clock_restored: None,
) -> None:
    """The database is on New York's clock and the command's environment does not set the
    variable: `veille export --since 2025-02-10` and `veille stories --since 2025-02-10` take
    10 February from its first minute in New York, the day the views give. Before, argparse
    read the date on Europe/Paris's clock before the database was opened: the article of
    22:30 on the 9th in New York was exported. A date with an offset stays as given."""
    from flows.cli import main

    monkeypatch.setenv(VARIABLE, "America/New_York")
    migrate(database_url)
    monkeypatch.delenv(VARIABLE)
    _two_articles_around_midnight(clean_db)
    capsys.readouterr()

    assert main(["export", "--since", "2025-02-10", "--no-progress"]) == 0
    exported = [json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()]
    assert exported == ["day"]
    assert main(["stories", "--since", "2025-02-10", "--json"]) == 0
    stories = [json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()]
    assert stories == ["day"]
    assert main(["export", "--since", "2025-02-10T00:00+01:00", "--no-progress"]) == 0
    exported = [json.loads(line)["title"] for line in capsys.readouterr().out.splitlines()]
    assert sorted(exported) == ["day", "eve"]


def test_an_explicit_setting_that_differs_is_written_with_a_warning(
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    clock_restored: None,
) -> None:
    """A process whose environment sets another clock moves the database to it (the documented
    way to change it), and says so naming both clocks, the setting first; the same setting
    again writes nothing and says nothing."""
    monkeypatch.setenv(VARIABLE, "America/Montreal")
    record_local_timezone(database_url)
    monkeypatch.setenv(VARIABLE, "Asia/Tokyo")
    with get_engine(database_url).connect() as conn:
        written = conn.scalar(sa.text("SELECT updated_at FROM veille_settings"))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="veille"):
        record_local_timezone(database_url)
        record_local_timezone(database_url)  # once per process, database and setting
    assert _stored(database_url) == "Asia/Tokyo"
    warned = [r.getMessage() for r in caplog.records if r.name == "veille"]
    assert len(warned) == 1, warned
    assert warned[0].startswith(f"{VARIABLE} is Asia/Tokyo and the database at "), warned[0]
    assert "counted the views' days on America/Montreal's clock: they are now on Asia/Tokyo's" in warned[0]
    with get_engine(database_url).connect() as conn:
        assert conn.scalar(sa.text("SELECT updated_at FROM veille_settings")) > written


@pytest.fixture
def other_schema(database_url: str) -> Iterator[tuple[str, str]]:
    """A role whose search_path puts a schema of its own first, and that schema's name; both
    dropped after."""
    suffix = uuid.uuid4().hex[:8]
    role, schema = f"veille_path_{suffix}", f"elsewhere_{suffix}"
    owner = get_engine(database_url)
    with owner.begin() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema} AUTHORIZATION {role}"))
        conn.execute(sa.text(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"))
        conn.execute(sa.text(f"ALTER ROLE {role} SET search_path = {schema}"))
    try:
        yield role, schema
    finally:
        with owner.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))


def test_the_clock_function_reads_the_archive_table_whatever_the_search_path(
    database_url: str, other_schema: tuple[str, str]
) -> None:
    """`veille_local_timezone()` read `veille_settings` by its bare name, found on the caller's
    search_path: a role whose search_path does not name the archive's schema got "relation
    veille_settings does not exist" from every view with a day, and one with a table of that
    name in a schema of its own got that table's clock. It reads the table in the schema the
    migrations made it in (migration 0027_clock_function_schema)."""
    role, schema = other_schema
    at = datetime(2025, 2, 10, 3, tzinfo=UTC)  # the 10th in Paris, the 9th in Montreal
    owner = get_engine(database_url)
    with owner.begin() as conn:
        zone = conn.scalar(sa.text("SELECT local_timezone FROM public.veille_settings"))
        source = conn.scalar(
            sa.text(
                "INSERT INTO sources (name, kind, url, owner) VALUES (:n, 'feed', 'http://x/f', 'media')"
                " RETURNING id"
            ),
            {"n": f"Le Fil {schema}"},
        )
        conn.execute(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, published_at)"
                " VALUES (:u, :u, :s, 'Ouverture', 'Texte', 'h', :at)"
            ),
            {"u": f"http://x/{schema}", "s": source, "at": at},
        )
    expected = at.astimezone(ZoneInfo(zone)).date()
    reader = make_url(database_url).set(username=role).render_as_string(hide_password=False)
    plain = sa.create_engine(reader)
    query = sa.text(
        "SELECT public.veille_local_timezone(), (SELECT day FROM public.articles_with_source WHERE url = :u)"
    )
    try:
        with plain.connect() as conn:
            assert conn.scalar(sa.text("SHOW search_path")) == schema
            # nothing of that name on the role's path: the archive's table is read
            assert conn.execute(query, {"u": f"http://x/{schema}"}).one() == (zone, expected)
        other = "America/Montreal" if zone != "America/Montreal" else "Asia/Tokyo"
        with plain.begin() as conn:  # a table of that name, another clock, in the role's own schema
            conn.execute(sa.text("CREATE TABLE veille_settings (id boolean, local_timezone text)"))
            conn.execute(sa.text("INSERT INTO veille_settings VALUES (true, :z)"), {"z": other})
        with plain.connect() as conn:
            assert conn.execute(query, {"u": f"http://x/{schema}"}).one() == (zone, expected)
    finally:
        plain.dispose()
        with owner.begin() as conn:
            conn.execute(sa.text("DELETE FROM articles WHERE url = :u"), {"u": f"http://x/{schema}"})
            conn.execute(sa.text("DELETE FROM sources WHERE id = :s"), {"s": source})
