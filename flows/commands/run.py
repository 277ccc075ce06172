"""`veille run`: poll the due sources once and ingest what they list."""

from __future__ import annotations

import argparse
import sys
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
    """Check the settings and the sources file, reach the database, then run the flow; the
    exit code says how it went (docs/operating.md)."""
    from flows.outcome import EXIT_NOTHING
    from monitors.db import DatabaseUnavailable
    from monitors.settings import get_settings
    from monitors.sources import load_sources

    started = time.monotonic()
    get_settings()  # a bad VEILLE_* value, or sources file, stops here: exit 2, before any flow
    load_sources(args.sources)
    try:
        prepare_database()
    except DatabaseUnavailable as exc:
        print(f"veille: error: nothing could run: {exc}", file=sys.stderr)
        return EXIT_NOTHING
    from flows.pipeline import direct_run, run_flow

    with direct_run():
        state = run_flow(
            sources_file=args.sources, force=args.all, max_items=args.max_items, return_state=True
        )
    return report(state, started)


def report(state: Any, started: float) -> int:
    """Print the per-source table, the totals and the verdict; the exit code."""
    from prefect.states import State

    from flows.outcome import EXIT_NOTHING, RunFailed, exit_code_of

    rows = state.result(raise_on_failure=False) if isinstance(state, State) else state
    if isinstance(rows, RunFailed):
        rows = rows.data
    if isinstance(rows, BaseException) or not isinstance(rows, list):
        print(f"veille: error: the run failed: {rows}", file=sys.stderr)
        return EXIT_NOTHING
    print()
    if rows:
        print_table(rows)
    else:
        print("nothing polled (no source was due; use --all to force)")
    totals = {k: sum(r[k] for r in rows) for k in ("new_urls", "stored", "duplicates", "relevant", "failed")}
    polled = [r for r in rows if r["poll"] != "not due"]
    poll_errors = sum(1 for r in polled if r["poll"] == "error")
    print(
        f"\n{len(polled)} sources polled ({poll_errors} with errors), {totals['new_urls']} new URLs, "
        f"{totals['stored']} stored, {totals['duplicates']} duplicates, {totals['relevant']} relevant, "
        f"{totals['failed']} pages failed, in {time.monotonic() - started:.1f}s"
    )
    if poll_errors:
        print("see `SELECT name, last_error_class, last_error FROM sources WHERE consecutive_failures > 0`")
    if not isinstance(state, State):
        return 0
    code = exit_code_of(state)
    if code:
        print(f"veille: {state.message}", file=sys.stderr)
    return code
