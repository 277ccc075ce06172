"""`veille run`: poll the due sources once and ingest what they list."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from flows.commands.common import (
    at_least,
    check_sources_and_topics,
    closing_line,
    counted,
    path_arg,
    prepare_database,
    print_table,
)

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
        "--sources",
        metavar="FILE",
        type=path_arg,
        help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="poll every source, due or not, but the disabled ones (veille sources enable NAME)",
    )
    p.add_argument(
        "--max-items",
        type=at_least(1),
        metavar="N",
        help="ingest at most N pages (the rest of the queue waits for the next run, said on stderr;"
        " no failure: exit 0 when all else went well)",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Check the settings and the sources file, reach the database, then run the cycle: as
    Prefect flows when a Prefect server is configured, else directly (``VEILLE_PREFECT``,
    :mod:`flows.mode`); the exit code says how it went (docs/operating.md)."""
    from flows.mode import use_flows
    from flows.outcome import EXIT_NOTHING
    from monitors.archive.db import DatabaseUnavailable
    from monitors.settings import get_settings

    started = time.monotonic()
    # a bad VEILLE_* value, sources file or topic file stops here: exit 2, before any flow
    settings = get_settings()
    check_sources_and_topics(args.sources)
    try:
        prepare_database()
    except DatabaseUnavailable as exc:
        closing_line(f"veille: error: nothing could run: {exc}")
        return EXIT_NOTHING
    if not use_flows(settings.prefect):
        from flows.direct import run_direct

        with poll_bar():
            rows, outcome = run_direct(sources_file=args.sources, force=args.all, max_items=args.max_items)
        return report(rows, outcome.exit_code, outcome.message, started, args.sources, args.all)
    from flows.mode import PrefectUnreachable, check_prefect_api

    try:
        check_prefect_api()
    except PrefectUnreachable as exc:
        closing_line(f"veille: error: nothing could run: {exc}")
        return EXIT_NOTHING
    if settings.prefect == "auto" and not args.all:
        code = run_recorded(args, started)
        if code is not None:
            return code
    from flows.outcome import RunFailed, exit_code_of
    from flows.runs import run_flow
    from flows.runtime import direct_run

    with direct_run():
        state = run_flow(
            sources_file=args.sources, force=args.all, max_items=args.max_items, return_state=True
        )
    result = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed):
        result = result.data
    return report(result, exit_code_of(state), state.message, started, args.sources, args.all)


def poll_bar() -> AbstractContextManager[None]:
    """On a terminal, the poll's progress bar on stderr as the sources answer (the log lines
    print above it). The direct path only: in the flows, Prefect prints the run's log lines on
    a stream of its own, which would cut through a live bar; there the run's log lines
    ("polled 20 of 49 sources") say the progress."""
    if not sys.stderr.isatty():
        return nullcontext()
    from flows.commands.progress import counter
    from flows.polling import show_poll_bar

    return show_poll_bar(lambda total: counter("sources polled", total))


def run_recorded(args: argparse.Namespace, started: float) -> int | None:
    """With a Prefect server and nothing due: the cycle run directly, recorded as one
    ``veille-run`` flow run (:mod:`flows.record`); None when there is work, or the run could
    not be recorded or the check for work met a database error (the flows run)."""
    from sqlalchemy.exc import DBAPIError

    from flows.direct import run_cycle, show_logs
    from flows.outcome import EXIT_NOTHING
    from flows.polling import nothing_due

    try:
        if not nothing_due(args.sources):
            return None
    except DBAPIError:
        return None  # the flows run instead: they recover from a lost database, or say why in the run's state
    from flows import record

    with show_logs():
        run = record.begin(
            "veille-run", {"sources_file": args.sources, "force": False, "max_items": args.max_items}
        )
        if run is None:
            return None
        try:
            with run.capture(), poll_bar():
                rows, outcome, since = run_cycle(args.sources, False, args.max_items, run.id)
                run.finish(rows, outcome, since)
        except Exception as exc:  # noqa: BLE001 - reported as the flow path reports a failed run
            run.fail(exc)
            return report(exc, EXIT_NOTHING, None, started)
    return report(rows, outcome.exit_code, outcome.message, started, args.sources)


def report(
    rows: Any,
    code: int,
    verdict: str | None,
    started: float,
    sources_file: str | None = None,
    forced: bool = False,
) -> int:
    """Print the per-source table, the totals and the verdict; the exit code. No source
    polled: why, as the run's verdict says it (``sources_file`` has none, or every one is
    disabled), else that none was due, and that --all polls them, unless it was given
    (``forced``: then its sources could not be told, the file or the database not answering)."""
    from flows.outcome import EXIT_NOTHING, stored_words

    if isinstance(rows, BaseException) or not isinstance(rows, list):
        closing_line(f"veille: error: the run failed: {rows}")
        return EXIT_NOTHING
    print()
    if rows:
        print_table(rows)
    else:
        from flows.pipeline import none_to_poll
        from monitors.collect.sources import sources_label

        why = none_to_poll(None, sources_file)
        if why and why.endswith(" is disabled"):
            why += "; `veille sources enable NAME` turns one back on"
        if not why:
            why = (
                f"--all polled no source of {sources_label(sources_file)}; why could not be told"
                " (the sources file or the database did not answer)"
                if forced
                else "no source was due; use --all to force"
            )
        print(f"nothing polled ({why})")
    totals = {
        k: sum(r.get(k, 0) for r in rows)
        for k in ("new_urls", "stored", "revised", "duplicates", "relevant", "failed")
    }
    from monitors.archive.polls import BAD_ENTRY

    polled = [r for r in rows if r["poll"] not in {"not due", BAD_ENTRY}]
    poll_errors = sum(1 for r in polled if r["poll"] == "error")
    bad = [r["error"].removeprefix("skipped: ") for r in rows if r["poll"] == BAD_ENTRY]
    print(
        f"\n{counted(len(polled), 'source')} polled ({poll_errors} with errors),"
        f" {counted(totals['new_urls'], 'new URL')}, {stored_words(totals)},"
        f" {counted(totals['duplicates'], 'duplicate')}, {totals['relevant']} relevant,"
        f" {counted(totals['failed'], 'page')} failed, in {time.monotonic() - started:.1f}s"
    )
    if bad:
        many = f"{len(bad)} bad entries" if len(bad) > 1 else "a bad entry"
        print(f"{many} of the sources file skipped (the other sources were polled):")
        print("".join(f"  {reason}\n" for reason in bad), end="")
        print("fix them; `veille sources check` lists them and fails while one is left")
    if poll_errors:
        print("the sources in error and why: `veille sources --failing`")
    if code:
        closing_line(f"veille: {verdict}")
    return code
