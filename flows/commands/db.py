"""`veille migrate`, `veille db-url`, `veille db start|status|stop` and `veille psql`: the
database behind veille."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import prepare_database

DB_EXAMPLE = """examples:
  veille db start                      # start the embedded PostgreSQL and keep it up
  psql "$(veille db-url --plain)"      # then any client can use it, between commands too
  veille db status                     # which database; the embedded one running or stopped
  veille db stop                       # stop it (veille starts it again when needed)

With VEILLE_DATABASE_URL set, veille uses that server: start and stop have nothing to do, and
status says whether it answers (exit 1 if not: a healthcheck). A stopped embedded server is
no error (exit 0): the next command that needs it starts it.
"""

DB_URL_EXAMPLE = """example:
  psql "$(veille db-url --plain)"   # open the archive in psql

With no VEILLE_DATABASE_URL, the URL is the embedded server's: it answers while a veille
command uses that server, and between commands once `veille db start` keeps it up (until
`veille db stop`); without that start, a warning on stderr says so (`veille psql` needs none).
"""

PSQL_EXAMPLE = """examples:
  veille psql                                  # interactive psql on the archive
  veille psql -c "SELECT count(*) FROM articles"
  veille psql -f my_queries.sql

The embedded server stays up while psql runs. psql comes from PATH, else from the
embedded server's own binaries.
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "migrate",
        help="apply database migrations (veille run does it too)",
        epilog="example:\n  VEILLE_DATABASE_URL=postgresql+psycopg://user@host/veille veille migrate",
        formatter_class=formatter,
    )
    p.set_defaults(handler=handle_migrate)
    p = sub.add_parser(
        "db-url",
        help="print the database URL in use (the embedded one answers after `veille db start`)",
        epilog=DB_URL_EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--plain", action="store_true", help="libpq form, for psql")
    p.set_defaults(handler=handle_db_url)
    p = sub.add_parser(
        "db",
        help="start, stop or show the embedded PostgreSQL (kept up between commands)",
        epilog=DB_EXAMPLE,
        formatter_class=formatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, text, handler in (
        ("start", "start the embedded server, migrate it, keep it up until `veille db stop`", handle_start),
        ("status", "which database veille uses; for the embedded one, running or not", handle_status),
        ("stop", "stop the embedded server", handle_stop),
    ):
        a = actions.add_parser(
            action, help=text, epilog=f"example:\n  veille db {action}", formatter_class=formatter
        )
        a.set_defaults(handler=handler)
    p = sub.add_parser(
        "psql",
        help="psql on the archive (embedded server included), extra arguments passed on",
        epilog=PSQL_EXAMPLE,
        formatter_class=formatter,
        prefix_chars="+",  # every dash option belongs to psql
    )
    p.add_argument("psql_args", nargs=argparse.REMAINDER, metavar="PSQL_ARGS", help="passed to psql")
    p.set_defaults(handler=handle_psql)


def handle_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    url = prepare_database()
    print(f"schema at head on {make_url(url).render_as_string(hide_password=True)}")
    return 0


def handle_db_url(args: argparse.Namespace) -> int:
    """Print the URL; for an embedded server not kept up (no `veille db start`), say on stderr
    that it answers nothing once no veille command uses it: `psql "$(veille db-url --plain)"`
    then met psql's "No such file or directory" on the socket, the cause untold."""
    from sqlalchemy.engine import make_url

    from monitors.archive.embedded import kept_running
    from monitors.settings import get_settings

    settings = get_settings()
    embedded = not settings.database_url
    url = prepare_database()
    if args.plain:
        url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    print(url)
    if embedded and not kept_running(settings.data_dir):
        print(
            "veille: warning: the embedded PostgreSQL is not kept up: this URL answers only while a"
            " veille command uses it; run `veille db start` first (`veille db stop` after), or use"
            " `veille psql`",
            file=sys.stderr,
        )
    return 0


def _plain(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _external() -> str | None:
    from monitors.settings import get_settings

    url = get_settings().database_url
    if not url:
        return None
    from sqlalchemy.engine import make_url

    from monitors.archive.db import database_url

    database_url()  # one that is not a PostgreSQL URL is a SettingsError (exit 2), not a traceback
    return make_url(url).render_as_string(hide_password=True)


def _embedded_in_use(action: str) -> bool:
    """Whether veille uses its embedded server; if not (VEILLE_DATABASE_URL names another), says
    there is no embedded server to ``action``."""
    external = _external()
    if external:
        print(f"veille uses {external} (VEILLE_DATABASE_URL): no embedded server to {action}")
    return not external


def handle_start(args: argparse.Namespace) -> int:
    from monitors.archive.embedded import keep_marker, make_data_folder
    from monitors.settings import get_settings

    if not _embedded_in_use("start"):
        return 0
    data_dir = get_settings().data_dir
    make_data_folder(data_dir)
    keep_marker(data_dir).touch()
    url = prepare_database()
    print(f"embedded PostgreSQL running, data in {data_dir / 'pgdata'}; it stays up until `veille db stop`")
    print(f'open it with: psql "{_plain(url)}"  (or `veille psql`)')
    return 0


def handle_status(args: argparse.Namespace) -> int:
    from monitors.archive.embedded import EMBEDDED_DB, status
    from monitors.settings import get_settings

    external = _external()
    if external:
        from monitors.archive.db import DatabaseUnavailable, check_connection, normalize_url

        print(f"database: {external} (VEILLE_DATABASE_URL)")
        try:
            check_connection(normalize_url(get_settings().database_url or ""))
        except DatabaseUnavailable as exc:
            print(f"state: not answering: {exc}")
            return 1  # a healthcheck's answer (docker-compose.yml)
        print("state: answering")
        return 0
    st = status(get_settings().data_dir, EMBEDDED_DB)
    print(f"database: embedded PostgreSQL, data in {st.data_dir / 'pgdata'}")
    if not st.initialised:
        print("state: not created yet (the first veille command that needs it creates it)")
    elif st.running:
        kept = "kept up by `veille db start`" if st.kept else "stops when the veille process using it exits"
        print(f"state: running (pid {st.pid}), {kept}")
        print(f"url: {st.url}")
    else:
        print("state: stopped (veille starts it when needed; `veille db start` keeps it up)")
    return 0


def handle_stop(args: argparse.Namespace) -> int:
    """Stop the embedded server, unless a veille command still uses it (a `veille run`, `serve`
    or `psql` of another terminal): before, its fast shutdown ended that command's sessions
    and the command failed on a lost database. Then the server is no longer kept up: it stops
    as its last user exits (:func:`flows.reaper.stop_orphaned_embedded_server`); exit 1."""
    from monitors.archive.embedded import keep_marker, live_users, stop
    from monitors.settings import get_settings

    if not _embedded_in_use("stop"):
        return 0
    data_dir = get_settings().data_dir
    keep_marker(data_dir).unlink(missing_ok=True)  # first: the last user's exit then stops it
    users = live_users(data_dir)
    if users:
        pids = ", ".join(map(str, users))
        print(
            f"embedded PostgreSQL left running: veille commands use it (pid {pids}); it stops when"
            " the last one exits (end them first to stop it now)"
        )
        return 1
    print("embedded PostgreSQL stopped" if stop(data_dir) else "embedded PostgreSQL was not running")
    return 0


def psql_executable() -> str:
    """psql from PATH, else the one shipped with the embedded server."""
    found = shutil.which("psql")
    if found:
        return found
    from monitors.archive.embedded import import_pgserver

    bundled = Path(import_pgserver().__file__).parent / "pginstall" / "bin" / "psql"
    if bundled.exists():
        return str(bundled)
    raise OSError("psql not found: install the PostgreSQL client (e.g. apt install postgresql-client)")


def handle_psql(args: argparse.Namespace) -> int:
    url = _plain(prepare_database())
    extra = list(args.psql_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    sys.stdout.flush()
    # A child, not exec: this process holds the embedded server up while psql runs.
    return subprocess.call([psql_executable(), url, *extra], env=os.environ.copy())
