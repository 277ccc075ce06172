"""The schema's state: brought to the Alembic head (``veille migrate``, and
:func:`ensure_schema` as a flow starts), found at the head in one query, left alone when a
newer veille migrated it; and the local clock kept in it (``veille_settings``) in step with
``VEILLE_LOCAL_TIMEZONE``.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from monitors.archive.db import (
    SchemaError,
    check_connection,
    connect_args,
    database_url,
    get_engine,
    unreachable,
)
from monitors.errors import said
from monitors.settings import (
    DEFAULT_LOCAL_TIMEZONE,
    LOCAL_TIMEZONE_VARIABLE,
    SettingsError,
    adopt_local_timezone,
    zone_setting,
)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

_lock = threading.Lock()
_at_head: set[str] = set()  # URLs this process migrated, or found at the head
#: URL -> this process's setting (or the default), whether its environment set it, and the
#: clock the database keeps (found or written)
_clocks: dict[str, tuple[str, bool, str]] = {}
_log = logging.getLogger("veille")


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
        raise unreachable(url, exc, f"the migration to schema revision {script_head()}") from exc
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
    try:
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
    except sa.exc.OperationalError as exc:  # the server ended the session: a traceback, before
        raise unreachable(url, exc, "the check of the local clock it keeps for its views") from exc
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
        raise unreachable(url, exc, "the read of its schema revision") from exc
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
    check_connection(url, f"the migration to schema revision {script_head()}")
    engine = sa.create_engine(url, connect_args=connect_args(url))
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    except sa.exc.OperationalError as exc:  # the server ended the session: a traceback, before
        raise unreachable(url, exc, f"the migration to schema revision {script_head()}") from exc
    finally:
        engine.dispose()
    return {revision for revision in current if revision not in known}
