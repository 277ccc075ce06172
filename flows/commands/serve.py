"""`veille serve`: run the scheduled deployments (poll and ingest, drain, daily maintenance)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import at_least, check_sources_and_topics, prepare_database
from monitors.settings import INTERVAL_MINUTES_MAX

EXAMPLE = """example:
  veille serve                                # poll every 10 minutes, maintenance at 04:30
  veille serve --interval 30 --sources my.toml
  PREFECT_API_URL=http://localhost:4200/api veille serve   # runs show in that server's UI

Deployments: veille-run/poll-and-ingest, veille-ingest/drain-queue, veille-maintenance/daily,
each limited to one concurrent run. Stop with Ctrl-C.
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "serve",
        help="run the scheduled deployments (Prefect serve) until stopped",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--sources", metavar="FILE", help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)"
    )
    p.add_argument(
        "--interval",
        type=at_least(1, INTERVAL_MINUTES_MAX),
        metavar="MINUTES",
        help="minutes between poll cycles (default: VEILLE_POLL_INTERVAL_MINUTES, 10)",
    )
    p.add_argument(
        "--maintenance-cron",
        metavar="CRON",
        help='cron line, Europe/Paris (default: VEILLE_MAINTENANCE_CRON, "30 4 * * *")',
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    check_sources_and_topics(args.sources)
    prepare_database()
    from prefect import serve

    from flows.deployments import build_deployments

    sources = str(Path(args.sources).resolve()) if args.sources else None
    try:
        deployments = build_deployments(
            sources_file=sources, interval_minutes=args.interval, maintenance_cron=args.maintenance_cron
        )
    except ValueError as exc:  # a cron line Prefect refuses (the option's or VEILLE_MAINTENANCE_CRON's)
        where = "--maintenance-cron" if args.maintenance_cron is not None else "VEILLE_MAINTENANCE_CRON"
        print(f"veille serve: error: {where}: {exc}", file=sys.stderr)
        return 2
    serve(*deployments)
    return 0
