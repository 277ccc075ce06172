"""Test fixtures: a real PostgreSQL database per session, a local site, Prefect's harness.

The database is the server at 127.0.0.1:5432 when it answers (``VEILLE_TEST_ADMIN_URL``
overrides), else an embedded one started with pgserver. Each session creates its own
database, migrates it with ``alembic upgrade head`` once, and drops it at the end.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from monitors.collect.http import Client, make_client
from monitors.settings import Settings, get_settings

_tmp = Path(tempfile.mkdtemp(prefix="veille-tests-"))
# removed at exit; registered before any embedded server starts, so (atexit runs last-in first-out)
# after pgserver has stopped a server it started under it
atexit.register(shutil.rmtree, _tmp, ignore_errors=True)
# The suite runs as on CI whoever runs it: a contributor's own settings are not read (their
# PREFECT_API_URL would have the tests register deployments on their Prefect server, their
# VEILLE_DATA_DIR hold the tests' files, their VEILLE_LOCAL_TIMEZONE or VEILLE_BATCH_SIZE
# change what the tests see). The suite's own knobs, VEILLE_TEST_*, are kept.
for _name in [n for n in os.environ if n.startswith(("VEILLE_", "PREFECT_"))]:
    if not _name.startswith("VEILLE_TEST_"):
        del os.environ[_name]
os.environ["VEILLE_DATA_DIR"] = str(_tmp / "data")
os.environ["VEILLE_ALLOW_PRIVATE_NETWORK"] = "1"
os.environ["VEILLE_PER_HOST_DELAY"] = "0"
os.environ["VEILLE_PER_HOST_CONCURRENCY"] = "8"
os.environ["VEILLE_TIMEOUT"] = "5"
os.environ["PREFECT_HOME"] = str(_tmp / "prefect")
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

#: Where the tests' processes run: pytest, and the commands they start, in the repo's folder.
ROOT = Path(__file__).resolve().parent.parent


def _prefect_files_steering(folders: list[Path]) -> tuple[list[Path], list[str]]:
    """The files of ``folders`` that change a Prefect setting, and the settings they change.
    Prefect reads ``.env``, ``prefect.toml`` and ``pyproject.toml``'s ``[tool.prefect]`` in the
    working folder (veille's flows/mode.py too); the environment is cleaned above, but not
    these, which a contributor keeps in the repo (README's compose path: ``cp .env.example
    .env``). Asked of Prefect itself: its settings there and in an empty folder, compared.
    Nothing is imported unless such a file names a Prefect setting (CI has none)."""

    def names_prefect(folder: Path) -> list[Path]:
        found = []
        for name, mark in ((".env", "PREFECT_"), ("prefect.toml", ""), ("pyproject.toml", "[tool.prefect")):
            try:
                if mark in (folder / name).read_text(errors="replace"):
                    found.append(folder / name)
            except OSError:
                pass
        return found

    files = [path for folder in folders for path in names_prefect(folder)]
    if not files:
        return [], []
    from prefect.settings import Settings

    empty = Path(tempfile.mkdtemp(dir=_tmp))
    here = Path.cwd()
    try:
        os.chdir(empty)
        clean = Settings().to_environment_variables(exclude_unset=False)
        steering: list[Path] = []
        changed: set[str] = set()
        for folder in sorted({path.parent for path in files}):
            os.chdir(folder)
            there = Settings().to_environment_variables(exclude_unset=False)
            if names := {n for n in clean.keys() | there.keys() if clean.get(n) != there.get(n)}:
                steering += [path for path in files if path.parent == folder]
                changed |= names
    finally:
        os.chdir(here)
    return steering, sorted(changed)


_steering, _changed = _prefect_files_steering(sorted({Path.cwd().resolve(), ROOT}))


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run (exit 4, before any test) where Prefect would read a contributor's files."""
    if _changed:
        raise pytest.UsageError(
            f"{', '.join(map(str, _steering))} set Prefect settings ({', '.join(_changed)}) that"
            " Prefect would read in the tests' processes (they run in the repo's folder, as on CI):"
            " the tests would use your Prefect server or settings. Move the file aside while they"
            " run (mv .env .env.off), or export its lines in your shell instead (`set -a; . ./.env`:"
            " the suite drops PREFECT_* and VEILLE_* from its environment)"
        )


# Hypothesis as on CI (its "ci" profile, which CI=true loads) on every machine: the same
# examples each run, no 200 ms deadline per example that a loaded machine misses (timing is
# not what these tests check), no example database. HYPOTHESIS_PROFILE=explore draws new
# examples each run (and keeps failing ones in .hypothesis/), still without a deadline.
hypothesis.settings.register_profile("veille", hypothesis.settings.get_profile("ci"))
hypothesis.settings.register_profile(
    "explore",
    hypothesis.settings.get_profile("ci"),
    derandomize=False,
    database=hypothesis.settings.get_profile("default").database,
)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "veille"))

LOCAL_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _admin_url() -> str:
    """An admin URL for a server that answers: the local one, else an embedded one."""
    url = os.environ.get("VEILLE_TEST_ADMIN_URL", LOCAL_ADMIN)
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return url
    except sa.exc.OperationalError:
        from monitors.archive.embedded import embedded_url

        return str(make_url(embedded_url(_tmp / "embedded")).set(database="postgres").render_as_string(False))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    from monitors.archive.db import dispose_engines
    from monitors.archive.schema import migrate

    admin_url = _admin_url()
    name = f"veille_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    os.environ["VEILLE_DATABASE_URL"] = url
    migrate(url)
    yield url
    dispose_engines()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def new_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database on the test server, set as VEILLE_DATABASE_URL, dropped after."""
    name = f"veille_test_new_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("VEILLE_DATABASE_URL", url)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _adopted_clock_dropped() -> Iterator[None]:
    """No test inherits the clock a previous one's process took from a database it opened
    without VEILLE_LOCAL_TIMEZONE (monitors.settings.adopt_local_timezone)."""
    from monitors.settings import adopt_local_timezone

    yield
    adopt_local_timezone(None)


@pytest.fixture
def clock_restored(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test database back on the clock it had before the test, whatever it recorded: a
    test that runs a command with another VEILLE_LOCAL_TIMEZONE writes it in the database
    (veille_settings), and the views of the tests after it, read without a command, counted
    their days on it. A process without the setting does not write it, so the clock found
    before is written back as an explicit setting."""
    from monitors.archive.db import get_engine
    from monitors.archive.schema import record_local_timezone

    with get_engine(database_url).connect() as conn:
        found = conn.scalar(sa.text("SELECT local_timezone FROM veille_settings"))
    before = os.environ.get("VEILLE_LOCAL_TIMEZONE")
    yield
    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", found or "Europe/Paris")
    record_local_timezone(database_url)
    if before is None:
        monkeypatch.delenv("VEILLE_LOCAL_TIMEZONE", raising=False)
    else:
        monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", before)


@pytest.fixture(scope="session")
def engine(database_url: str) -> sa.Engine:
    from monitors.archive.db import get_engine

    return get_engine(database_url)


@pytest.fixture
def db(engine: sa.Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    conn = engine.connect()
    trans = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        trans.rollback()
        conn.close()


TABLES = (
    "story_events, story_keys, stories, fetch_log, sightings, article_revisions, article_bands,"
    " article_html, url_queue, articles, sources, site_blocks, source_problems, rescore_runs"
)


@pytest.fixture
def clean_db(engine: sa.Engine) -> Iterator[sa.Engine]:
    """For end-to-end tests whose flows commit from several threads: empty tables after."""
    yield engine
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    from flows.runtime import direct_run

    # flows called in the test process are direct runs, as with `veille run`
    with prefect_test_harness(server_startup_timeout=120), direct_run():
        yield


@pytest.fixture
def site() -> Iterator[object]:
    from tests.site import LocalSite

    with LocalSite() as s:
        yield s


@pytest.fixture(scope="session")
def archive_url(
    database_url: str, prefect_harness: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A second database holding the fixture archive (``tests/archive.py``), built once by
    running the pipeline over a LocalSite. Point ``VEILLE_DATABASE_URL`` at it to use it."""
    from monitors.archive.db import get_engine
    from monitors.archive.schema import migrate
    from tests.archive import build_archive
    from tests.site import LocalSite

    base = make_url(database_url)
    assert base.database is not None
    url = base.set(database=base.database + "_archive")
    admin = sa.create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
    archive = url.render_as_string(hide_password=False)
    migrate(archive)
    os.environ["VEILLE_DATABASE_URL"] = archive
    try:
        with LocalSite() as site:
            build_archive(site, tmp_path_factory.mktemp("archive"), get_engine(archive))
    finally:
        os.environ["VEILLE_DATABASE_URL"] = database_url
    yield archive
    get_engine(archive).dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def settings() -> Settings:
    """The settings the tests' environment gives (private network allowed, no per-host delay)."""
    return get_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[Client]:
    with make_client(settings) as c:
        yield c


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that refuses connections for the whole test: bound, never listening. A
    port bound then released could be taken by any other process before the test connects."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])
