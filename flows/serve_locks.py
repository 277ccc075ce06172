"""One `veille serve` per database and per PREFECT_HOME: a PostgreSQL session advisory lock
and an flock, held for the command's length (:func:`hold_serve_locks`), released by the system
however the process ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class AlreadyServing(Exception):
    """Another `veille serve` serves the same database or uses the same PREFECT_HOME."""


#: Advisory lock keys held by a `veille serve` for its length, on its database ("VSRV", 1).
SERVE_LOCK = (0x56535256, 1)
#: This process's hold on its database and PREFECT_HOME (kept open until it exits).
_HELD: list[Any] = []


def hold_serve_locks(database_url: str) -> None:
    """One `veille serve` per database and per PREFECT_HOME, or :class:`AlreadyServing`
    naming the other one. Two on one database would both poll the same sources each cycle;
    two on one PREFECT_HOME would register the same deployments in one Prefect database,
    each runner executing the other's runs with its own settings. Both holds are the
    system's (a session advisory lock, an flock), released when the process ends, however
    it ends: a killed veille serve leaves nothing to clean up."""
    import fcntl
    import os
    import socket

    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    who = f"veille serve, pid {os.getpid()} on {socket.gethostname()}"
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    lock_file = home / "veille-serve.lock"
    handle = open(lock_file, "a+")  # noqa: SIM115 - held open for the command's length
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise AlreadyServing(
            f"another veille serve ({other}) already uses PREFECT_HOME {home}: two would serve"
            " the same deployments from one Prefect database; stop it first, or give this one"
            " a PREFECT_HOME of its own"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(who)
    handle.flush()
    _HELD.append(handle)
    engine = sa.create_engine(database_url, poolclass=NullPool, connect_args={"application_name": who})
    conn = engine.connect()
    conn.execution_options(isolation_level="AUTOCOMMIT")
    if conn.scalar(sa.text("SELECT pg_try_advisory_lock(:c, :o)"), {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]}):
        _HELD.append(conn)
        return
    holder = serve_lock_holder(conn)
    conn.close()
    engine.dispose()
    shown = sa.engine.make_url(database_url).render_as_string(hide_password=True)
    raise AlreadyServing(
        f"another veille serve ({holder or 'another process'}) already serves the database"
        f" {shown}: two would poll the same sources every cycle; stop it first"
    )


def serve_lock_holder(conn: Any) -> str | None:
    """The application name of the session holding the serve lock on ``conn``'s database, or
    None. pg_locks lists the whole server's locks, and the serve lock has the same keys on every
    database: without the database in the query, the first holder listed could be the
    `veille serve` of another database on the same server."""
    import sqlalchemy as sa

    holder: str | None = conn.scalar(
        sa.text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.classid = :c AND l.objid = :o AND l.granted"
            " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ),
        {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]},
    )
    return holder


def release_serve_locks() -> None:
    """Let go of what :func:`hold_serve_locks` holds (the command returns; a process that
    ends lets go of them anyway)."""
    import contextlib

    while _HELD:
        with contextlib.suppress(Exception):
            _HELD.pop().close()
