"""`veille deploy`: prefect.yaml's work-pool deployments, their schedules on the local clock."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import prepare_database

EXAMPLE = """example:
  prefect work-pool create veille --type process
  veille deploy                            # from the repository root (prefect.yaml)
  prefect worker start --pool veille       # on each machine, VEILLE_DATABASE_URL set

`prefect deploy --all` from the repository root, the schedules' time zone (prefect.yaml's
"{{ $VEILLE_LOCAL_TIMEZONE }}") set to the local clock as `veille serve` takes it:
VEILLE_LOCAL_TIMEZONE, else the one the database keeps (docs/operating.md).
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
    """Run ``prefect --no-prompt deploy --all`` with ``VEILLE_LOCAL_TIMEZONE`` set to the local
    clock, the database's when the environment does not set it: prefect.yaml's schedules read
    their zone from it, as serve's deployments do (flows.deployments), and Prefect cannot read
    the database's. Its exit code is this command's."""
    if not Path(PREFECT_FILE).is_file():
        print(
            f"veille deploy: no {PREFECT_FILE} in {os.getcwd()}: run it from the repository root"
            " (or the image's /app)",
            file=sys.stderr,
        )
        return 2
    prepare_database()  # without VEILLE_LOCAL_TIMEZONE, the database's clock is adopted
    from monitors.settings import LOCAL_TIMEZONE_VARIABLE, local_timezone

    zone = local_timezone()
    print(f"veille deploy: the schedules are on {zone}'s clock", file=sys.stderr)
    sys.stderr.flush()
    command = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    return subprocess.call(command, env={**os.environ, LOCAL_TIMEZONE_VARIABLE: zone})
