"""`veille migrate` and `veille db-url`: the database behind veille."""

from __future__ import annotations

import argparse
from typing import Any

from flows.commands.common import prepare_database


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
        help="print the database URL in use (starts the embedded server if needed)",
        epilog='example:\n  psql "$(veille db-url --plain)"   # open the archive in psql',
        formatter_class=formatter,
    )
    p.add_argument("--plain", action="store_true", help="libpq form, for psql")
    p.set_defaults(handler=handle_db_url)


def handle_migrate(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    url = prepare_database()
    print(f"schema at head on {make_url(url).render_as_string(hide_password=True)}")
    return 0


def handle_db_url(args: argparse.Namespace) -> int:
    from sqlalchemy.engine import make_url

    url = prepare_database()
    if args.plain:
        url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    print(url)
    return 0
