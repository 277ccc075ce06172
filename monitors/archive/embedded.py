"""The embedded PostgreSQL's life beyond one command: ``veille db start|status|stop``.

By default the embedded server (pgserver, under ``VEILLE_DATA_DIR``) stops when the last veille
process using it exits, so ``psql "$(veille db-url --plain)"`` found its socket gone.
``veille db start`` leaves a marker file next to the data folder: while it is there, no veille
process stops the server at exit, and psql (or any client) can use it between commands.
``veille db stop`` removes the marker and stops the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KEEP_MARKER = "keep-embedded-server-running"


def keep_marker(data_dir: Path) -> Path:
    return data_dir / KEEP_MARKER


def kept_running(data_dir: Path) -> bool:
    """Whether ``veille db start`` asked for the server under ``data_dir`` to stay up."""
    return keep_marker(data_dir).exists()


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
    from sqlalchemy.engine import make_url

    return make_url(uri).set(drivername="postgresql").render_as_string(hide_password=False)


def _postmaster(pgdata: Path):
    from monitors.archive.db import import_pgserver

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
