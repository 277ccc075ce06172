"""`veille run`: poll the due sources once and ingest what they list."""

from __future__ import annotations

import argparse
import time
from typing import Any

from flows.commands.common import prepare_database, print_table

EXAMPLE = """example:
  veille run                                  # poll due sources, ingest, print a summary
  veille run --all --sources my_sources.toml  # poll every source of another file
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "run",
        help="poll the sources once and ingest what they list",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--sources", metavar="FILE", help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)"
    )
    p.add_argument("--all", action="store_true", help="poll every source, due or not")
    p.add_argument("--max-items", type=int, metavar="N", help="ingest at most about N pages")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    started = time.monotonic()
    prepare_database()
    from flows.pipeline import direct_run, run_flow

    with direct_run():
        rows = run_flow(sources_file=args.sources, force=args.all, max_items=args.max_items)
    print()
    if rows:
        print_table(rows)
    else:
        print("nothing polled (no source was due; use --all to force)")
    totals = {k: sum(r[k] for r in rows) for k in ("new_urls", "stored", "duplicates", "relevant", "failed")}
    poll_errors = sum(1 for r in rows if r["poll"] == "error")
    print(
        f"\n{len(rows)} sources polled ({poll_errors} with errors), {totals['new_urls']} new URLs, "
        f"{totals['stored']} stored, {totals['duplicates']} duplicates, {totals['relevant']} relevant, "
        f"{totals['failed']} pages failed, in {time.monotonic() - started:.1f}s"
    )
    if poll_errors:
        print("see `SELECT name, last_error_class, last_error FROM sources WHERE consecutive_failures > 0`")
    return 0
