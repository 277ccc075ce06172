"""Helpers shared by the subcommands."""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


def prepare_database() -> str:
    """Resolve, reach and migrate the database; pin its URL for this process's tasks."""
    from monitors.db import migrate

    url = migrate()
    os.environ["VEILLE_DATABASE_URL"] = url
    return url


def print_table(rows: list[dict[str, Any]], out: TextIO | None = None, width: int = 60) -> None:
    """Plain aligned columns, cells cut at ``width`` characters."""
    if not rows:
        return
    out = out or sys.stdout
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])[:width]) for r in rows)) for c in cols}
    print("  ".join(c.ljust(widths[c]) for c in cols).rstrip(), file=out)
    for r in rows:
        print("  ".join(str(r[c])[:width].ljust(widths[c]) for c in cols).rstrip(), file=out)
