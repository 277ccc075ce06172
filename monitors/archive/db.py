"""Engines and sessions for PostgreSQL, and a database that cannot be reached or is lost as one
readable error.

The URL is ``VEILLE_DATABASE_URL``'s, else the embedded server's
(:mod:`monitors.archive.embedded`); :mod:`monitors.archive.schema` brings its schema to the
Alembic head before use.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from monitors.errors import describe, one_line, said
from monitors.settings import Settings, SettingsError, get_settings

_lock = threading.Lock()
_engines: dict[str, Engine] = {}


def _unrepresentable(data: Any) -> bool:
    """True for a PostgreSQL date or timestamp (ISO text) that Python's cannot hold: infinity,
    -infinity, a year before 1 (``... BC``) or after 9999 (five digits)."""
    head, tail = bytes(data[:5]), bytes(data[-3:])
    return head in (b"infin", b"-infi") or tail == b" BC" or head.isdigit()


def _without_unrepresentable_dates() -> None:
    """Read such a date or timestamp as NULL in every connection psycopg opens: one article's
    ``'infinity'`` or BC date (written by hand or by another program: veille writes none)
    stopped search, the feed, the export and stats with psycopg's DataError traceback. The
    type's own loader reads the rest (a Python wrapper around it: the C loaders cannot be
    subclassed)."""
    import psycopg
    from psycopg import abc
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    def finite(inner: type[abc.Loader]) -> type[Loader]:
        class Finite(Loader):
            veille_finite = True

            def __init__(self, oid: int, context: Any = None) -> None:
                super().__init__(oid, context)
                self._load = inner(oid, context).load

            def load(self, data: Any) -> Any:
                # an ISO date's year ends at its fifth byte, a BC one ends in C: the quick test
                if (data[4] != 0x2D or data[-1] == 0x43) and _unrepresentable(data):
                    return None
                return self._load(data)

        return Finite

    for name in ("date", "timestamp", "timestamptz"):
        inner = psycopg.adapters.get_loader(psycopg.adapters.types[name].oid, Format.TEXT)
        if inner is not None and not getattr(inner, "veille_finite", False):
            psycopg.adapters.register_loader(name, finite(inner))


_without_unrepresentable_dates()


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
    check_url_options(parsed.query)
    if parsed.drivername != "postgresql+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


class UrlOptionError(ValueError):
    """An option of the URL's query (``?connect_timeout=abc``, ``?sslmod=require``) the driver
    refuses; the message names it."""


def check_url_options(query: Mapping[str, str | tuple[str, ...]]) -> None:
    """Refuse the URL options psycopg refuses at connect time, before any command connects:
    ``?connect_timeout=abc`` or an unknown name (a typo, ``?sslmod=require``) went through every
    check and ended each command on the driver's ProgrammingError traceback. A repeated option
    (``?host=a&host=b``, several hosts) is SQLAlchemy's to read, and left to it."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import make_conninfo

    options = {name: value for name, value in query.items() if isinstance(value, str)}
    try:
        make_conninfo("", **options)  # libpq's own parse: an unknown option is an error
    except ProgrammingError as exc:
        cause = str(exc).strip()
        raise UrlOptionError(f"{cause} (the options after ? are libpq's connection parameters)") from None
    timeout = options.get("connect_timeout")
    if timeout is not None:
        try:
            int(timeout)
        except ValueError:
            whole = "a whole number of seconds"
            raise UrlOptionError(f"connect_timeout must be {whole}, got {timeout!r}") from None


def database_url(settings: Settings | None = None) -> str:
    """The URL veille uses: ``VEILLE_DATABASE_URL`` or the embedded server's."""
    settings = settings or get_settings()
    if settings.database_url:
        try:
            return normalize_url(settings.database_url)
        except UrlOptionError as exc:
            raise SettingsError(f"VEILLE_DATABASE_URL: {exc}") from None
        except (ValueError, sa.exc.ArgumentError) as exc:  # not shown: it may hold a password
            raise SettingsError(
                f"VEILLE_DATABASE_URL is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE): {exc}"
            ) from None
    from monitors.archive.embedded import embedded_url  # it imports this module's URL helpers

    return embedded_url(settings.data_dir)


#: Seconds a connection may take to be made (libpq's connect_timeout) unless the URL sets its
#: own: a server behind a firewall that drops packets, or a port where nothing answers, hung
#: every command for minutes (the system's TCP timeout) or for good before "cannot reach".
CONNECT_TIMEOUT = 10


def connect_args(url: str) -> dict[str, Any]:
    """The driver's arguments for ``url``: :data:`CONNECT_TIMEOUT` unless the URL has one."""
    return {} if "connect_timeout" in make_url(url).query else {"connect_timeout": CONNECT_TIMEOUT}


#: Who veille's connections say they are, set by the command line (:func:`name_connections`).
_role = ["veille"]


def name_connections(role: str) -> str:
    """Call the connections :func:`get_engine` opens from now on ``role`` (``veille rescore``)
    in their ``application_name``; returns the name they had, to set back."""
    earlier, _role[0] = _role[0], role
    return earlier


def connections_named() -> bool:
    """Whether :func:`name_connections` named veille's connections (a command, a flow run)."""
    return _role[0] != "veille"


#: The bytes of an ``application_name`` PostgreSQL keeps (NAMEDATALEN - 1): it cuts the rest.
NAME_BYTES = 63


def application_name() -> str:
    """The ``application_name`` of veille's connections: the command, its pid and host (``veille
    rescore, pid 4242 on box``), shown in pg_stat_activity and by a refused advisory lock
    (:mod:`monitors.archive.locks`) naming its holder; fitted to what PostgreSQL keeps
    (:func:`fit_name`)."""
    import os
    import socket

    return fit_name(_role[0], os.getpid(), socket.gethostname())


def fit_name(role: str, pid: int, host: str) -> str:
    """``ROLE, pid PID on HOST`` in printable ASCII of at most :data:`NAME_BYTES` bytes, what
    PostgreSQL shows as it was given: it cut the name at 63 bytes (a long flow name or host
    lost the pid, or the host), and shows each byte of a non-ASCII character as "?" (15) or
    "\\xNN" (16 on), which a cut could split. Accents are dropped (é: e), other characters
    are "?". Kept first the role (the command or flow: who holds a lock), then the pid; the
    host is shortened to its first label, then cut, then left out."""
    role, host = _ascii(role), _ascii(host)
    pid_part = f", pid {pid}"
    role = role[: NAME_BYTES - len(pid_part)]
    room = NAME_BYTES - len(role) - len(pid_part) - len(" on ")
    host = host if len(host) <= room else host.split(".")[0][: max(room, 0)]
    return f"{role}{pid_part} on {host}" if host else f"{role}{pid_part}"


def _ascii(text: str) -> str:
    """``text`` in printable ASCII: accents dropped, any other character "?"."""
    import unicodedata

    bare = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else "?" for c in bare)


#: The key, in a pooled connection's ``info``, of the name it gave PostgreSQL (None: the URL's).
_NAME = "veille_application_name"


def _named(dialect: Any, record: Any, cargs: Any, cparams: dict[str, Any]) -> None:
    """A connection about to open says who it is, unless the URL names it (``?application_name=``)."""
    if "application_name" in cparams:
        record.info[_NAME] = None
        return
    cparams["application_name"] = record.info[_NAME] = application_name()


def _renamed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection opened under another name (before a flow run named its connections:
    one process runs flow after flow under `veille serve`, or a run opened them before its flow
    started) takes the name in force as it is checked out, before it is used; one the URL names
    keeps that name. Set outside any transaction (committed), so a rollback keeps it."""
    given = record.info.get(_NAME)
    name = application_name()
    if given is None or given == name:
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT set_config('application_name', %s, false)", (name,))
    finally:
        cursor.close()
    dbapi_connection.commit()
    record.info[_NAME] = name


def get_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL for the whole process (tasks run in threads); its connections
    named by :func:`application_name`, as they open and, renamed since, as they are checked out."""
    url = url or database_url()
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = sa.create_engine(
                url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args(url)
            )
            sa.event.listen(engine, "do_connect", _named)
            sa.event.listen(engine, "checkout", _renamed)
            _date_connections(engine)
            _engines[url] = engine
    return engine


#: The attribute of a connection's record, and of an error met on it, saying when
#: (``time.monotonic``) the connection was opened (:func:`opened_at`); and of an error, when
#: it was raised by the driver (:func:`failed_at`).
_OPENED, _FAILED = "veille_opened_at", "veille_failed_at"


def _date_connections(engine: Engine) -> None:
    """Stamp each connection ``engine`` opens with when it was opened, and each error met on
    one with that stamp and with when it was raised (:func:`opened_at`, :func:`failed_at`).
    The threads of a run that lose the database in one restart say it at different times: one
    waits and sees it back before another uses its dead connection again, or before another
    hears of a connection refused in a thread of its own; the age of that connection, and the
    time of that refusal, tell they met the same outage."""

    def opened(dbapi_connection: Any, record: Any) -> None:
        record.info[_OPENED] = time.monotonic()

    def met_on(context: sa.engine.ExceptionContext) -> None:
        if context.sqlalchemy_exception is None:
            return
        setattr(context.sqlalchemy_exception, _FAILED, time.monotonic())
        if context.connection is None:
            return  # a connection refused as it opened: dated by when it was refused
        with contextlib.suppress(Exception):  # a connection already invalidated has no record
            stamp = context.connection.info.get(_OPENED)
            if stamp is not None:
                setattr(context.sqlalchemy_exception, _OPENED, stamp)

    sa.event.listen(engine, "connect", opened)
    sa.event.listen(engine, "handle_error", met_on)


def opened_at(exc: BaseException) -> float | None:
    """When (``time.monotonic``) the connection ``exc`` (or an error it was raised from) was
    met on had been opened, if known: None for a connection refused as it opened, or an error
    of a connection not made by :func:`get_engine`."""
    return _stamp(exc, _OPENED)


def failed_at(exc: BaseException) -> float | None:
    """When (``time.monotonic``) the driver raised ``exc`` (or an error it was raised from), if
    it came through :func:`get_engine`'s connections: a worker thread's error is heard of by
    its step only once the step's other threads are done."""
    return _stamp(exc, _FAILED)


def _stamp(exc: BaseException, name: str) -> float | None:
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        stamp = getattr(cause, name, None)
        if isinstance(stamp, float):
            return stamp
        cause = cause.__cause__ or cause.__context__
    return None


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


def cancelled_cause(what: str, exc: BaseException, database: str = "the database") -> str:
    """A cancelled statement (:func:`cancelled`) in words, cause first: which ``database``,
    which work, the server's reason, where such a cancel comes from."""
    reason = said(getattr(exc, "orig", None) or exc)
    return (
        f"{database} cancelled a statement of {what} ({reason}: a statement_timeout set on the"
        " database or veille's role, or pg_cancel_backend)"
    )


def database_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the database gone: a connection the server ended or cut (the driver
    invalidated it, or SQLSTATE class 08, 57P01-57P03), or a new connection it refused while
    a command was under way (no statement: the pool's connect, "the database system is
    shutting down", "not currently accepting connections"): that one ended on the driver's
    traceback. :class:`DatabaseUnavailable` is one already said."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, sa.exc.PendingRollbackError):
        return _rolled_back_over_loss(exc)
    if not isinstance(exc, sa.exc.DBAPIError) or cancelled(exc):
        return False
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    connecting = isinstance(exc, sa.exc.OperationalError) and exc.statement is None
    return exc.connection_invalidated or connecting or bool(sqlstate and sqlstate.startswith(_LOST))


#: SQLAlchemy's code for a Connection used again after it was invalidated (its transaction not
#: rolled back)
_INVALIDATED = "8s2b"
#: What a flush that failed met, by the Session transaction it left rolled back (the one that
#: raises PendingRollbackError when used again): whether it was the database lost, and its error
#: in words (:func:`_note_failed_flush`)
_FLUSH_FAILED: weakref.WeakKeyDictionary[Any, tuple[bool, str]] = weakref.WeakKeyDictionary()
_flush_lock = threading.Lock()


def _note_failed_flush(session: Session, flush: Any) -> None:
    """Keep, on the Session transaction a failed flush left rolled back (``flush.parent``), what
    the flush met (the error being handled as it is rolled back). The Session keeps that error
    to itself and only names it in words in its PendingRollbackError ("Original exception
    was: ..."), SQLAlchemy's wording: read structurally instead (:func:`_failed_flush`)."""
    error, parent = sys.exc_info()[1], flush.parent
    if error is None or parent is None:
        return
    noted = (database_lost(error), describe(getattr(error, "orig", None) or error))
    with _flush_lock:
        _FLUSH_FAILED[parent] = noted


sa.event.listen(Session, "after_soft_rollback", _note_failed_flush)


def _failed_flush(exc: BaseException) -> tuple[bool, str] | None:
    """What the failed flush met whose rolled-back transaction raised ``exc``: the transaction
    is the ``self`` of a frame ``exc`` was raised through; None if none is known."""
    from sqlalchemy.orm import SessionTransaction

    tb = exc.__traceback__
    while tb is not None:
        owner = tb.tb_frame.f_locals.get("self")
        if isinstance(owner, SessionTransaction):
            with _flush_lock:
                noted = _FLUSH_FAILED.get(owner)
            if noted is not None:
                return noted
        tb = tb.tb_next
    return None


def _rolled_back_over_loss(exc: sa.exc.PendingRollbackError) -> bool:
    """Whether a Connection or Session used again after an error says the error was the
    database gone: an invalidated Connection (SQLAlchemy invalidates one only when it found
    it dead, as do we), or a failed flush whose error, chained or kept by
    :func:`_note_failed_flush`, was a loss. One over an IntegrityError or a bug is that
    error, not a loss."""
    if exc.code == _INVALIDATED:
        return True
    seen: set[int] = {id(exc)}
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        if database_lost(cause):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    flush = _failed_flush(exc)
    return flush is not None and flush[0]


def rolled_back_cause(exc: BaseException) -> str | None:
    """A PendingRollbackError over a lost database in words, cause first: the loss it was
    raised over, or the failed flush's error ("AdminShutdown: terminating connection due to
    administrator command (...)"), or a connection lost under its transaction; None for any
    other error. Said as it is, SQLAlchemy's words ("Can't reconnect until invalid transaction
    is rolled back. Please rollback() fully ...") told what to do in code, not what happened."""
    if not isinstance(exc, sa.exc.PendingRollbackError) or not database_lost(exc):
        return None
    again = "used again after it: PendingRollbackError"
    cause = exc.__cause__ or exc.__context__
    if cause is not None and database_lost(cause):
        return f"{describe(getattr(cause, 'orig', None) or cause)} ({again})"
    flush = _failed_flush(exc)
    if flush is not None:
        return f"{flush[1]} (a flush's; the session {again})"
    return f"the connection was lost under an open transaction (the connection {again})"


@contextmanager
def lost_database_reported(
    what: str, again: str, when_cancelled: str | None = None, when_lost: str | None = None
) -> Iterator[None]:
    """Turn the loss of the database during ``what`` (a restart, a connection the server
    ended) into :class:`DatabaseUnavailable`, one line saying to run ``again``, and a statement
    the server cancelled into :class:`StatementCancelled`, the cause then ``when_cancelled``
    (by default: what was committed stays, run ``again`` to go on), instead of the driver's
    traceback; any other error goes through as it is. ``when_lost`` says what is left after
    the loss, for work that commits nothing (an export's output), where "what was committed
    stays" says nothing true; ``""`` for a command that only reads (nothing was committed)."""
    try:
        yield
    except (sa.exc.DBAPIError, sa.exc.PendingRollbackError) as exc:
        # PendingRollbackError: a connection or session used again after it lost the database
        if cancelled(exc):
            advice = when_cancelled or f"what was committed stays; run `{again}` again to go on"
            raise StatementCancelled(f"{cancelled_cause(what, exc)}: {advice}") from exc
        if not database_lost(exc):
            raise
        cause = rolled_back_cause(exc) or said(getattr(exc, "orig", None) or exc)
        left = "what was committed stays" if when_lost is None else when_lost
        left += "; " if left else ""
        raise DatabaseUnavailable(
            f"lost the database during {what} ({cause}): {left}run `{again}` again"
        ) from exc


def check_connection(url: str, during: str = "the check that it answers") -> None:
    """Raise :class:`DatabaseUnavailable` with a readable reason if the server does not answer;
    a session it ended is lost ``during`` the work named (:func:`unreachable`)."""
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args(url))
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        raise unreachable(url, exc, during) from exc
    finally:
        engine.dispose()


#: SQLSTATEs of a session the server accepted, then ended (pg_terminate_backend, a shutdown,
#: a crash of another backend): the server was reached
_ENDED = ("57P01", "57P02")


def unreachable(url: str, exc: sa.exc.DBAPIError, during: str | None = None) -> DatabaseUnavailable:
    """The database at ``url`` that did not answer (``exc``), in one line for every command:
    "cannot reach PostgreSQL at URL (password hidden): " then the driver's whole message,
    libpq's hint folded in (:func:`monitors.errors.one_line`). Before, the hint was a second,
    tab-indented line on stderr, in ``veille db status``, and in a failed run's state.
    A session the server ended (:data:`_ENDED`, or a connection found closed once open: "server
    closed the connection unexpectedly") is said so, as :func:`lost_database_reported` says it,
    ``during`` the work it ended: "cannot reach" was wrong for a server that answered. So is a
    statement it cancelled (:func:`cancelled`: a statement_timeout while the clock's write
    waited for another session's lock), said so; still a DatabaseUnavailable, nothing having
    run (`veille run` exits 3, `veille db status` says "not answering")."""
    shown = make_url(url).render_as_string(hide_password=True)
    if cancelled(exc):
        work = during or "the check that it answers"
        cause = cancelled_cause(work, exc, f"the database at {shown}")
        return DatabaseUnavailable(f"{cause}: run the command again")
    cause = one_line(str(exc.orig or exc))
    if exc.connection_invalidated or str(getattr(exc.orig, "sqlstate", None) or "") in _ENDED:
        work = f" during {during}" if during else ""
        return DatabaseUnavailable(
            f"lost the database at {shown}{work} ({cause}: pg_terminate_backend, or a server"
            " shutdown or restart): run the command again"
        )
    return DatabaseUnavailable(f"cannot reach PostgreSQL at {shown}: {cause}")
