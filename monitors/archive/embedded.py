"""The embedded PostgreSQL (pgserver, under ``VEILLE_DATA_DIR``): veille's database when
``VEILLE_DATABASE_URL`` is unset, started or joined by the process that needs it, and stopped.

It stops when the last live veille process using it exits (the dead ones, kill -9, are pruned
from pgserver's list of its users), so ``psql "$(veille db-url --plain)"`` found its socket
gone. ``veille db start`` leaves a marker file next to the data folder: while it is there, no
veille process stops the server at exit, and psql (or any client) can use it between commands.
``veille db stop`` removes the marker and stops the server (``veille db start|status|stop``).
"""

from __future__ import annotations

import atexit
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from monitors.archive.db import DatabaseUnavailable, connect_args, normalize_url

EMBEDDED_DB = "veille"

_lock = threading.Lock()
_embedded: dict[str, object] = {}
_embedded_urls: dict[str, str] = {}

KEEP_MARKER = "keep-embedded-server-running"


def keep_marker(data_dir: Path) -> Path:
    return data_dir / KEEP_MARKER


def kept_running(data_dir: Path) -> bool:
    """Whether ``veille db start`` asked for the server under ``data_dir`` to stay up."""
    return keep_marker(data_dir).exists()


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


def make_data_folder(data_dir: Path) -> None:
    """Create the embedded server's folder under ``data_dir``, or raise
    :class:`DatabaseUnavailable` saying why, with the setting that moves it: ``VEILLE_DATA_DIR``
    naming a file said "a.txt/pgdata: Not a directory" (and `db start` "a.txt: File exists")."""
    pgdata = data_dir / "pgdata"
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseUnavailable(
            f"cannot create the embedded PostgreSQL's folder {pgdata}: {exc.strerror}"
            " (VEILLE_DATA_DIR: a folder veille can write, or VEILLE_DATABASE_URL)"
        ) from exc


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
            make_data_folder(data_dir)
            # stopped when the last veille process using it exits, unless `veille db start`
            # asked for it to stay up (kept_running)
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


def live_users(data_dir: Path) -> list[int]:
    """The live processes (veille commands) using the embedded server under ``data_dir``."""
    pgdata = data_dir / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return []
    import_pgserver()  # without its runtime-directory warning
    return prune_dead_users(pgdata)


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


@dataclass(frozen=True)
class EmbeddedStatus:
    data_dir: Path
    initialised: bool  # initdb has run
    running: bool
    kept: bool  # stays up between commands (veille db start)
    pid: int | None
    url: str | None  # libpq form, for psql, when running


def _plain(uri: str) -> str:
    """The libpq URL as ``veille db-url --plain`` prints it."""
    return make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)


def _postmaster(pgdata: Path):
    import_pgserver()  # quietly, before pgserver.utils asks for the runtime directory
    from pgserver.utils import PostmasterInfo

    return PostmasterInfo.read_from_pgdata(pgdata)


def status(data_dir: Path, database: str) -> EmbeddedStatus:
    """What the embedded server under ``data_dir`` is doing; starts nothing."""
    pgdata = data_dir / "pgdata"
    info = _postmaster(pgdata) if (pgdata / "PG_VERSION").exists() else None
    running = bool(info is not None and info.is_running())
    return EmbeddedStatus(
        data_dir=data_dir,
        initialised=(pgdata / "PG_VERSION").exists(),
        running=running,
        kept=kept_running(data_dir),
        pid=info.pid if running and info is not None else None,
        url=_plain(info.get_uri(database=database)) if running and info is not None else None,
    )


def stop(data_dir: Path) -> bool:
    """Stop the embedded server under ``data_dir`` (fast shutdown: open sessions are ended).

    Returns False when it was not running. The marker goes first, so that nothing keeps it up.
    """
    keep_marker(data_dir).unlink(missing_ok=True)
    pgdata = data_dir / "pgdata"
    info = _postmaster(pgdata) if (pgdata / "PG_VERSION").exists() else None
    if info is None or not info.is_running():
        return False
    import os

    from pgserver import _commands  # pg_ctl is made at import, one function per binary

    pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]

    # pgserver runs the server as its own system user when veille runs as root
    user = "pgserver" if os.name != "nt" and os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    handles = pgdata / ".handle_pids.json"
    handles.unlink(missing_ok=True)  # the processes it lists no longer hold a server
    return True
