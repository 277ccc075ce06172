"""`veille deploy`: prefect.yaml's work-pool deployments, their schedules on the local clock."""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from flows.commands.common import prepare_database

EXAMPLE = """example:
  prefect work-pool create veille --type process
  veille deploy                            # from the repository root (prefect.yaml)
  prefect worker start --pool veille       # on each machine, VEILLE_DATABASE_URL set

`prefect deploy --all` from the repository root, the schedules set as `veille serve`'s:
every VEILLE_POLL_INTERVAL_MINUTES, VEILLE_MAINTENANCE_CRON, on the local clock
(VEILLE_LOCAL_TIMEZONE, else the one the database keeps) (docs/operating.md). It needs a
Prefect server (PREFECT_API_URL, as the workers do): without one it stops, exit 2 (3 when the
server does not answer).
"""

#: the file `prefect deploy` reads, in the folder it is run from
PREFECT_FILE = "prefect.yaml"


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "deploy",
        help="deploy prefect.yaml's work-pool deployments, their schedules on the local clock",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Run ``prefect --no-prompt deploy --all`` on prefect.yaml with the schedules ``veille
    serve`` would take (flows.deployments): the maintenance cron line and the local clock (the
    database's when the environment does not set it: Prefect cannot read it) as its
    ``{{ $VAR }}`` values, resolved (a setting left unset has its default: Prefect would leave
    the placeholder empty), the poll interval in a copy of the file (:func:`on_interval`). Its
    exit code is this command's."""
    if not Path(PREFECT_FILE).is_file():
        print(
            f"veille: error: no {PREFECT_FILE} in {os.getcwd()}: run it from the repository root"
            " (or the image's /app)",
            file=sys.stderr,
        )
        return 2
    from flows.deployments import check_cron
    from monitors.settings import get_settings, local_timezone

    settings = get_settings()
    try:
        cron = check_cron(settings.maintenance_cron)
    except ValueError as exc:  # as serve says it, before anything is deployed
        print(f"veille: error: VEILLE_MAINTENANCE_CRON: {exc}", file=sys.stderr)
        return 2
    from flows.mode import PrefectUnreachable, check_prefect_api, prefect_api_configured

    if not prefect_api_configured():  # Prefect would deploy to a temporary server of its own
        print(
            "veille: error: no Prefect server configured (PREFECT_API_URL): the deployments"
            " would go to a temporary server that stops with this command, and a worker needs"
            " PREFECT_API_URL; start one (`prefect server start`) and set"
            " PREFECT_API_URL=http://HOST:4200/api here and on every worker (docs/operating.md)",
            file=sys.stderr,
        )
        return 2
    try:
        check_prefect_api()
    except PrefectUnreachable as exc:
        print(f"veille: error: {str(exc).removesuffix(' or unset PREFECT_API_URL')}", file=sys.stderr)
        return 3
    prepare_database()  # without VEILLE_LOCAL_TIMEZONE, the database's clock is adopted
    zone = local_timezone()
    minutes = settings.poll_interval_minutes
    print(
        f"veille deploy: the schedules are on {zone}'s clock: every {minutes} min, maintenance {cron!r}",
        file=sys.stderr,
    )
    sys.stderr.flush()
    config = on_interval(yaml.safe_load(Path(PREFECT_FILE).read_text(encoding="utf-8")), minutes)
    with tempfile.TemporaryDirectory(prefix="veille-deploy-") as folder:
        resolved = Path(folder) / PREFECT_FILE
        resolved.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        command = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
        command += ["--prefect-file", str(resolved)]
        return subprocess.call(command, env={**os.environ, **placeholders(cron, zone)})


def placeholders(cron: str, zone: str) -> dict[str, str]:
    """prefect.yaml's ``{{ $VAR }}`` values: the maintenance ``cron`` line, ``zone``'s clock."""
    from monitors.settings import LOCAL_TIMEZONE_VARIABLE

    return {"VEILLE_MAINTENANCE_CRON": cron, LOCAL_TIMEZONE_VARIABLE: zone}


def on_interval(config: dict[str, Any], minutes: int) -> dict[str, Any]:
    """prefect.yaml's content (as read) with its interval schedules every ``minutes``, each
    anchor's offset from :data:`flows.deployments.ANCHOR` kept as the same share of the
    interval (the drain's, half of it, as :func:`flows.deployments.build_deployments` has it). Not a
    placeholder: Prefect checks an interval as a duration before it fills them in."""
    from flows.deployments import ANCHOR

    config = copy.deepcopy(config)
    interval = timedelta(minutes=minutes)
    for deployment in config.get("deployments") or []:
        for schedule in deployment.get("schedules") or []:
            if "interval" not in schedule:
                continue
            written = timedelta(seconds=schedule["interval"])
            anchor = schedule["anchor_date"]  # quoted in prefect.yaml: a string
            offset = (datetime.fromisoformat(anchor) if isinstance(anchor, str) else anchor) - ANCHOR
            schedule["interval"] = int(interval.total_seconds())
            schedule["anchor_date"] = (ANCHOR + offset * (interval / written)).isoformat()
    return config
