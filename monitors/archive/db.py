"""Engine and sessions for PostgreSQL: the configured server, or an embedded one.

With ``VEILLE_DATABASE_URL`` unset, veille starts an embedded PostgreSQL (``pgserver``)
whose data lives under ``VEILLE_DATA_DIR``; either way the schema is brought to the
Alembic head before use.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from monitors.archive.embedded import kept_running
from monitors.errors import said
from monitors.settings import (
    DEFAULT_LOCAL_TIMEZONE,
    LOCAL_TIMEZONE_VARIABLE,
    Settings,
    SettingsError,
    adopt_local_timezone,
    get_settings,
    zone_setting,
)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
EMBEDDED_DB = "veille"

_lock = threading.Lock()
_engines: dict[str, Engine] = {}
_embedded: dict[str, object] = {}
_embedded_urls: dict[str, str] = {}
_at_head: set[str] = set()  # URLs this process migrated, or found at the head
#: URL -> this process's setting (or the default), whether its environment set it, and the
#: clock the database keeps (found or written)
_clocks: dict[str, tuple[str, bool, str]] = {}
_log = logging.getLogger("veille")


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached; the message says which one and why."""


class SchemaError(DatabaseUnavailable):
    """The database is reached but this veille cannot use its schema: a newer veille migrated
    it, or the migration failed (e.g. no right to create tables); the message says what to do."""


def normalize_url(url: str) -> str:
    """The psycopg 3 driver on any PostgreSQL URL (``postgres://``, ``postgresql://``, and one
    naming another driver, e.g. ``postgresql+psycopg2://`` copied from another program's
    settings: veille ships psycopg only, and those failed with a ModuleNotFoundError or an
    async driver's MissingGreenlet traceback); anything else is refused."""
    parsed = make_url(url)
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in {"postgresql", "postgres"}:
        raise ValueError(f"veille stores in PostgreSQL only, got a {parsed.drivername!r} URL")
    if parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def import_pgserver() -> Any:
    """pgserver, imported lazily (only needed when no server is configured).

    Importing it asks platformdirs for a runtime directory, which warns when
    ``XDG_RUNTIME_DIR`` is unset (containers, cron, ssh without a login session) and falls
    back to a private directory under /tmp: a fine place for pgserver's lock file, and a
    warning on every command would only be noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*XDG_RUNTIME_DIR", category=UserWarning)
        import pgserver
    return pgserver


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL under ``data_dir`` and return its URL."""
    pgserver = import_pgserver()

    pgdata = data_dir / "pgdata"
    key = str(pgdata)
    with _lock:
        if key in _embedded_urls:
            return _embedded_urls[key]
        server = _embedded.get(key)
        if server is None:
            pgdata.mkdir(parents=True, exist_ok=True)
            # stopped when the last veille process using it exits, unless `veille db start`
            # asked for it to stay up (monitors/archive/embedded.py)
            mode = None if kept_running(data_dir) else "stop"
            prune_dead_users(pgdata)
            server = pgserver.get_server(pgdata, cleanup_mode=mode)
            # atexit runs last-in first-out: dead users are pruned just before pgserver
            # decides whether this process is the last one and stops the server
            atexit.register(prune_dead_users, pgdata)
            _embedded[key] = server
    uri: str = server.get_uri()  # type: ignore[attr-defined]
    create_database(normalize_url(uri), EMBEDDED_DB)
    url = normalize_url(make_url(uri).set(database=EMBEDDED_DB).render_as_string(False))
    with _lock:
        _embedded_urls[key] = url
    return url


def create_database(admin_url: str, name: str) -> None:
    """``CREATE DATABASE`` unless it exists; safe when several processes try at once (the
    loser of the race sees a unique violation or "already exists", and the database is there)."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args=connect_args(admin_url))
    try:
        with admin.connect() as conn:
            if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                return
            try:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            except sa.exc.DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) not in {"23505", "42P04"}:
                    raise
    finally:
        admin.dispose()


def prune_dead_users(pgdata: Path) -> list[int]:
    """Drop the processes that died (kill -9) from pgserver's list of the embedded server's
    users, so that the server stops when its last live user exits; the live users."""
    from pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        return _prune(pgdata)


def _prune(pgdata: Path) -> list[int]:
    import psutil
    from pgserver.utils import DiskList

    users = DiskList(pgdata / ".handle_pids.json")
    try:
        pids = users.get()
    except ValueError:  # a list cut short by a crash while it was written
        pids = []
    alive = [pid for pid in pids if _alive(pid, psutil)]
    if alive != pids:
        users.put(alive)
    return alive


def stop_if_unused(pgdata: Path) -> bool:
    """Stop the embedded server of ``pgdata`` if no live process uses it; whether it did."""
    import os

    from pgserver._commands import pg_ctl  # type: ignore[attr-defined]
    from pgserver.postgres_server import PostgresServer

    with PostgresServer._lock:
        if _prune(pgdata) or not (pgdata / "postmaster.pid").exists():
            return False
        user = "pgserver" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        pg_ctl(["-w", "stop"], pgdata=pgdata, user=user)
        return True


def _alive(pid: int, psutil: Any) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stop_embedded(data_dir: Path | None = None) -> None:
    """Stop the embedded server of ``data_dir`` (all of them without one); they also stop at exit."""
    with _lock:
        keys = [k for k in _embedded if data_dir is None or k == str(data_dir / "pgdata")]
        servers = [_embedded.pop(k) for k in keys]
        for k in keys:
            _embedded_urls.pop(k, None)
    for server in servers:
        server.cleanup()  # type: ignore[attr-defined]


def database_url(settings: Settings | None = None) -> str:
    """The URL veille uses: ``VEILLE_DATABASE_URL`` or the embedded server's."""
    settings = settings or get_settings()
    if settings.database_url:
        try:
            return normalize_url(settings.database_url)
        except (ValueError, sa.exc.ArgumentError) as exc:  # not shown: it may hold a password
            raise SettingsError(
                f"VEILLE_DATABASE_URL is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE): {exc}"
            ) from None
    return embedded_url(settings.data_dir)


#: Seconds a connection may take to be made (libpq's connect_timeout) unless the URL sets its
#: own: a server behind a firewall that drops packets, or a port where nothing answers, hung
#: every command for minutes (the system's TCP timeout) or for good before "cannot reach".
CONNECT_TIMEOUT = 10


def connect_args(url: str) -> dict[str, Any]:
    """The driver's arguments for ``url``: :data:`CONNECT_TIMEOUT` unless the URL has one."""
    return {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}


def get_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL for the whole process (tasks run in threads)."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(
                url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args(url)
            )
            _engines[url] = engine
    return engine


def dispose_engines() -> None:
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session committed on success and rolled back on error."""
    factory = sessionmaker(bind=engine or get_engine(), expire_on_commit=False)
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


#: SQLSTATEs of a connection the server ended: connection exceptions, and an administrator's
#: or a crash's shutdown (pg_terminate_backend, a restart)
_LOST = ("08", "57P01", "57P02", "57P03")


class StatementCancelled(Exception):
    """The server cancelled a statement of a command (``statement_timeout``,
    ``pg_cancel_backend``): one line saying which work, why, and what to do."""


def cancelled(exc: BaseException) -> bool:
    """Whether the server cancelled the statement (``statement_timeout``, ``pg_cancel_backend``:
    QueryCanceled, SQLSTATE 57014, wrapped as an OperationalError like a lost connection): the
    database is there and the data is fine, the same write may pass another time (a lock
    released, a lighter load), so it is a transient failure, tried at most max_attempts times."""
    from psycopg.errors import QueryCanceled

    return isinstance(getattr(exc, "orig", None) or exc, QueryCanceled)


def cancelled_cause(what: str, exc: BaseException) -> str:
    """A cancelled statement (:func:`cancelled`) in words, cause first: which work, the
    server's reason, where such a cancel comes from."""
    reason = said(getattr(exc, "orig", None) or exc)
    return (
        f"the database cancelled a statement of {what} ({reason}: a statement_timeout set on the"
        " database or veille's role, or pg_cancel_backend)"
    )


@contextmanager
def lost_database_reported(what: str, again: str, when_cancelled: str | None = None) -> Iterator[None]:
    """Turn the loss of the database during ``what`` (a restart, a connection the server
    ended) into :class:`DatabaseUnavailable`, one line saying to run ``again``, and a statement
    the server cancelled into :class:`StatementCancelled`, the cause then ``when_cancelled``
    (by default: what was committed stays, run ``again`` to go on), instead of the driver's
    traceback; any other error goes through as it is."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        if cancelled(exc):
            advice = when_cancelled or f"what was committed stays; run `{again}` again to go on"
            raise StatementCancelled(f"{cancelled_cause(what, exc)}: {advice}") from exc
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        if not (exc.connection_invalidated or (sqlstate and sqlstate.startswith(_LOST))):
            raise
        cause = said(exc.orig or exc)
        raise DatabaseUnavailable(
            f"lost the database during {what} ({cause}): what was committed stays; run `{again}` again"
        ) from exc


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str | None = None) -> str:
    """Bring the schema to the Alembic head and record the local clock in it when the
    environment sets one (:func:`record_local_timezone`); returns the URL migrated.

    A database already at the head costs two queries (:func:`at_head`, the clock), not
    Alembic's 0.4 s of imports and script loading: the usual case of every command."""
    url = _upgrade(url or database_url())
    record_local_timezone(url)
    return url


def _upgrade(url: str) -> str:
    if at_head(url):
        return url
    from alembic import command

    shown = make_url(url).render_as_string(hide_password=True)
    unknown = _unknown_revisions(url)
    if unknown:
        raise SchemaError(
            f"the database at {shown} is at schema revision {', '.join(sorted(unknown))}, newer than"
            f" this veille knows (its latest is {script_head()}): a newer veille migrated it;"
            " use that version, or downgrade the schema with it (alembic downgrade"
            f" {script_head()}) to use this one"
        )
    try:
        command.upgrade(alembic_config(url), "head")
    except sa.exc.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {shown}: {exc.orig}") from exc
    except sa.exc.DBAPIError as exc:  # e.g. a user without the right to create tables
        cause = said(exc.orig or exc)
        if getattr(exc.orig, "sqlstate", None) == "42501":  # insufficient_privilege
            cause += "; run `veille migrate` once as a user who may create and alter its tables"
        raise SchemaError(
            f"could not migrate the database at {shown} to schema revision {script_head()}: {cause}"
        ) from exc
    with _lock:
        _at_head.add(url)
    return url


def ensure_schema(url: str | None = None) -> str:
    """:func:`migrate`, once per process and database: flows call it first.

    The commands migrate before they call a flow, but a deployment run started by a Prefect
    worker begins with the flow itself; pointed at a new database, or at one an upgrade of
    veille has left behind, it migrates instead of failing on a missing table or column.
    Migrations hold an advisory lock, so workers that start together take turns.
    """
    url = url or database_url()
    with _lock:
        known = url in _at_head
    if known or at_head(url):
        record_local_timezone(url)
        return url
    if _migrated_by_newer_code(url):
        # a newer veille migrated it (a rolling upgrade): leave it, as before flows migrated
        with _lock:
            _at_head.add(url)
        record_local_timezone(url)
        return url
    return migrate(url)


#: PostgreSQL's SQLSTATEs of a user who may not write: insufficient_privilege, a read-only
#: transaction (a standby, default_transaction_read_only)
_READ_ONLY = {"42501", "25006"}


def record_local_timezone(url: str) -> None:
    """Keep the database's local clock (``veille_settings``, migration 0025) and this process's
    ``VEILLE_LOCAL_TIMEZONE`` in step: the views compute their ``day`` on the stored clock when
    they are read (``veille_local_timezone()``), so a psql user counts the days veille gives.

    Only a setting the environment gives writes it: a process without ``VEILLE_LOCAL_TIMEZONE``
    (a worker, a one-off command started elsewhere) keeps the stored clock and adopts it for
    its own dates and days (:func:`monitors.settings.adopt_local_timezone`; its worker
    processes are sent it, and the commands read their dates after it), with an info line
    naming it when it is not the default. An
    explicit setting that differs is written, with a warning naming both clocks (every process
    on the database moves to it: docs/operating.md). Once per process, database and setting.
    A zone PostgreSQL does not know is a :class:`SettingsError`; a user who may not write it,
    when it differs, a :class:`SchemaError` naming both clocks."""
    zone = zone_setting(LOCAL_TIMEZONE_VARIABLE, DEFAULT_LOCAL_TIMEZONE)
    explicit = bool((os.environ.get(LOCAL_TIMEZONE_VARIABLE) or "").strip())
    with _lock:
        known = _clocks.get(url)
    if known is not None and known[:2] == (zone, explicit):
        if not explicit:  # another database may have been adopted since: this one's again
            adopt_local_timezone(known[2])
        return
    shown = make_url(url).render_as_string(hide_password=True)
    with get_engine(url).connect() as conn:
        try:
            stored = conn.scalar(sa.text("SELECT local_timezone FROM veille_settings"))
        except sa.exc.ProgrammingError:  # a newer veille's schema without the table
            return
        # no row (a schema-only pg_dump, a row deleted): the views are on the function's default
        views = stored or DEFAULT_LOCAL_TIMEZONE
        if not explicit:
            # this process's dates and days on the views' clock (monitors.dates.local_zone)
            adopt_local_timezone(views)
            if views != DEFAULT_LOCAL_TIMEZONE:
                _log.info(
                    "%s is not set: this process reads dates without a zone (its command-line"
                    " dates too) and gives articles their day on %s's clock, the one the database"
                    " at %s keeps for its views",
                    LOCAL_TIMEZONE_VARIABLE,
                    views,
                    shown,
                )
        elif views != zone:
            try:
                conn.execute(
                    sa.text(
                        "INSERT INTO veille_settings (local_timezone) VALUES (:zone) ON CONFLICT (id)"
                        " DO UPDATE SET local_timezone = excluded.local_timezone, updated_at = now()"
                    ),
                    {"zone": zone},
                )
            except sa.exc.DBAPIError as exc:
                cause = said(exc.orig or exc)
                sqlstate = getattr(exc.orig, "sqlstate", None)
                if sqlstate == "22023":  # invalid_parameter_value: a zone its tz database lacks
                    raise SettingsError(
                        f"{LOCAL_TIMEZONE_VARIABLE} names a time zone PostgreSQL at {shown} does not"
                        f" know ({cause}): use a name both know, e.g. UTC or {DEFAULT_LOCAL_TIMEZONE}"
                    ) from None
                if sqlstate in _READ_ONLY:
                    raise SchemaError(
                        f"the database at {shown} counts the views' days on {views}'s clock and"
                        f" {LOCAL_TIMEZONE_VARIABLE} is {zone}, but this user may not change it"
                        f" ({cause}): set {LOCAL_TIMEZONE_VARIABLE}={views}, or run `veille migrate`"
                        " once as a user who may write veille_settings"
                    ) from exc
                raise
            conn.commit()
            _log.warning(
                "%s is %s and the database at %s counted the views' days on %s's clock: they are"
                " now on %s's for every process reading it (give every veille process on it this"
                " setting, or none: docs/operating.md)",
                LOCAL_TIMEZONE_VARIABLE,
                zone,
                shown,
                views,
                zone,
            )
    with _lock:
        _clocks[url] = (zone, explicit, views)


_REVISION_LINE = re.compile(r"""^(down_revision|revision)\b[^=\n]*=\s*["']([^"']+)["']""", re.M)


@functools.cache
def script_head() -> str | None:
    """The head revision of ``migrations/versions``, read from the files' ``revision`` and
    ``down_revision`` lines; None unless there is exactly one (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for kind, value in _REVISION_LINE.findall(path.read_text(encoding="utf-8")):
            (revisions if kind == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def at_head(url: str) -> bool:
    """Whether the database's schema is at this checkout's head, in one query (on the pooled
    engine the command then uses); remembered for the process. Raises
    :class:`DatabaseUnavailable` when the server does not answer."""
    with _lock:
        if url in _at_head:
            return True
    try:
        with get_engine(url).connect() as conn:
            try:
                current = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
            except sa.exc.ProgrammingError:  # a new database: no alembic_version yet
                return False
    except sa.exc.OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {shown}: {exc.orig}") from exc
    head = script_head()
    if head is None or current != {head}:
        return False
    with _lock:
        _at_head.add(url)
    return True


def _migrated_by_newer_code(url: str) -> bool:
    """Whether the database is at a revision this checkout's migrations do not know."""
    return bool(_unknown_revisions(url))


def _unknown_revisions(url: str) -> set[str]:
    """The database's revisions that this checkout's migrations do not know."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    known = {script.revision for script in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()}
    check_connection(url)
    engine = sa.create_engine(url, connect_args=connect_args(url))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    return {revision for revision in current if revision not in known}


def check_connection(url: str) -> None:
    """Raise :class:`DatabaseUnavailable` with a readable reason if the server does not answer."""
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args(url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        shown = make_url(url).render_as_string(hide_password=True)
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {shown}: {exc.orig}") from exc
    finally:
        engine.dispose()
