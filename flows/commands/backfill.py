"""`veille backfill`: read the sources' past over a date window and ingest it, with progress."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from flows.commands.common import (
    at_least,
    check_sources_and_topics,
    closing_line,
    counted,
    date_arg,
    not_empty,
    path_arg,
    prepare_database,
    print_table,
)

#: the web archives `--from` reads (the error of a --site without it names each one)
ARCHIVES = ("wayback", "commoncrawl", "ccnews")

EXAMPLE = """example:
  veille backfill --since 2025-02-01 --until 2025-02-16          # the summit's fortnight
  veille backfill --since 2025-02-01 --source "Parti socialiste"  # one source (repeatable)
  veille backfill --since 2025-02-01 --until 2025-02-28 --from wayback --site liberation.fr
  veille backfill --since 2025-02-01 --until 2025-02-28 --from commoncrawl --relevant-only
  veille backfill --since 2025-02-10 --until 2025-02-12 --from ccnews --relevant-only

Without --from, sitemap sources are read over the window (index, children, Google News
dates); feeds give what they still list in it; listing pages show only the present and are
skipped. With --from, the sources' sites (or --site) are looked up in a web archive and the
pages are read from the archive; an interrupted run resumes when run again (docs/backfill.md).
"""


def _in_archive_era(parsed: datetime) -> datetime:
    """``parsed`` when its day (the day a date without a zone names, whatever the clock) is not
    before 1996-01-01; an argparse error saying the rule otherwise
    (:func:`monitors.dates.archive_era_day`). "Not after today" waits for the database's clock
    (:func:`_check_window`): here, today would be this process's (VEILLE_LOCAL_TIMEZONE, else
    Europe/Paris's), a day off near midnight from the database's."""
    from monitors.dates import archive_era_day

    try:
        archive_era_day(parsed)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return parsed


class _RefusedDate(str):
    """A --since or --until refused as it was read (argparse's message, cause first): held until
    both are read, so that the command reports every bad date at once. argparse stops at the
    first value its type refuses: ``--since 2025-02-30 --until 2099-01-01`` said only the day."""


def _date_errors(args: argparse.Namespace, today: bool = True) -> list[str]:
    """Each bad --since/--until, as argparse says one: refused as read (not a day, before
    1996-01-01), or, with ``today``, after today on the local clock, which is the database's
    when VEILLE_LOCAL_TIMEZONE is not set (so: after :func:`prepare_database`)
    (:func:`monitors.dates.backfill_day`)."""
    from monitors.dates import backfill_day

    errors = []
    for option in ("since", "until"):
        value = getattr(args, option)
        if isinstance(value, _RefusedDate):
            errors.append(f"argument --{option}: {value}")
        elif value is not None and today:
            try:
                backfill_day(value)
            except ValueError as exc:
                errors.append(f"argument --{option}: {exc}")
    return errors


def _check_window(args: argparse.Namespace) -> None:
    """--since and --until from 1996-01-01 to today, every bad one reported at once (a usage
    error, exit 2). One refused as read stops the command before the database is opened, as an
    argparse error does; then the other's "after today" is on this process's clock
    (VEILLE_LOCAL_TIMEZONE, else Europe/Paris), a day off near midnight at worst from the
    database's, which the command reads otherwise."""
    if _date_errors(args, today=False):
        args.usage_errors(_date_errors(args))
    prepare_database(args)
    if errors := _date_errors(args):
        args.usage_errors(errors)


def _read_date(value: str, until: bool) -> datetime | _RefusedDate:
    try:
        parsed = date_arg(value)
        if until and len(value.strip()) == 10:  # YYYY-MM-DD, no time given
            parsed += timedelta(days=1, microseconds=-1)
        return _in_archive_era(parsed)
    except argparse.ArgumentTypeError as exc:
        return _RefusedDate(str(exc))


def _since(value: str) -> datetime | _RefusedDate:
    """The window's start, from 1996-01-01 to today."""
    return _read_date(value, until=False)


def _until(value: str) -> datetime | _RefusedDate:
    """The window's end, inclusive: a date alone (``2025-02-28``) runs to the end of that day;
    from 1996-01-01 to today."""
    return _read_date(value, until=True)


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "backfill",
        help="queue and ingest what the sources published over a past date window",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--since",
        type=_since,
        required=True,
        metavar="DATE",
        help="window start (ISO date, from 1996-01-01 to today)",
    )
    p.add_argument(
        "--until",
        type=_until,
        metavar="DATE",
        help="window end, inclusive: a date to its end (default: now; at the latest today)",
    )
    p.add_argument(
        "--sources",
        metavar="FILE",
        type=path_arg,
        help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)",
    )
    p.add_argument("--source", action="append", metavar="NAME", help="only this source (repeatable)")
    p.add_argument(
        "--from",
        dest="archive",
        choices=ARCHIVES,
        help="read the past from a web archive (Internet Archive, Common Crawl, or Common Crawl's news"
        " crawl CC-NEWS, whose monthly WARC files are read whole) instead of sitemaps",
    )
    p.add_argument(
        "--site",
        metavar="DOMAIN",
        type=not_empty("a domain"),
        help="with --from: only this site (a source must be on it)",
    )
    p.add_argument(
        "--relevant-only",
        action="store_true",
        help="with --from: store only captures relevant to a topic (others are recorded as seen)",
    )
    p.add_argument(
        "--max-fetches",
        type=at_least(1),
        metavar="N",
        help="requests this run makes at most, the feeds and sitemaps read included (captures, with"
        " --from); the rest stays queued for the next run (default: VEILLE_BACKFILL_MAX_FETCHES, 2000)",
    )

    def usage_errors(messages: list[str]) -> NoReturn:
        """argparse's usage error, one line per bad argument."""
        p.print_usage(sys.stderr)
        sys.stderr.write("".join(f"{p.prog}: error: {message}\n" for message in messages))
        raise SystemExit(2)

    p.set_defaults(handler=handle, usage_errors=usage_errors)


#: the bar's count: the queue rows touched since the run began (queued, re-queued, claimed or
#: settled since: a row's updated_at is set when it is inserted and on each change, so it is
#: never before its discovered_at), and how many of them are settled. A range of the index
#: url_queue_updated (migration 0045): the run's rows are read, not the whole queue, which is
#: never pruned (``WHERE discovered_at >= :start OR updated_at >= :start`` read it all twice a
#: second; bench/backfill_progress.py)
PROGRESS_COUNTS = (
    "SELECT count(*), count(*) FILTER (WHERE state <> 'pending') FROM url_queue WHERE updated_at >= :start"
)


class QueueProgress:
    """A progress bar on stderr fed from the database: URLs queued since ``start`` that are
    settled (fetched, failed, skipped) out of all of them, polled twice a second while the
    flow runs (the flow itself needs no knowledge of the bar; :data:`PROGRESS_COUNTS`)."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="backfill-progress", daemon=True)

    def _counts(self) -> tuple[int, int]:
        import sqlalchemy as sa

        from monitors.archive.db import get_engine

        with get_engine().connect() as conn:
            total, done = conn.execute(sa.text(PROGRESS_COUNTS), {"start": self.start}).one()
        return int(total), int(done)

    def _run(self) -> None:
        import sqlalchemy as sa
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from flows.commands.progress import stderr_console

        columns = (TextColumn("backfill pages"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=stderr_console()) as progress:
            task = progress.add_task("pages", total=None)
            while True:
                stopping = self.stop.wait(0.5)
                try:
                    total, done = self._counts()
                except sa.exc.SQLAlchemyError:  # a database lost meanwhile: the backfill says so
                    if stopping:  # once asked to stop, not again and again until it is back
                        break
                    continue
                progress.update(task, total=total or None, completed=done)
                if stopping:
                    break

    def __enter__(self) -> QueueProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def handle(args: argparse.Namespace) -> int:
    started = time.monotonic()
    # --since/--until read on the database's clock when VEILLE_LOCAL_TIMEZONE is unset, and held
    # to its today before the sources file is read: a date error comes first, as from argparse
    _check_window(args)
    check_sources_and_topics(args.sources, args.source or ())
    from monitors.dates import article_day

    until = args.until or datetime.now(UTC)
    if args.since > until:
        closing_line(
            f"veille: error: --since {article_day(args.since)} is after --until {article_day(until)}"
        )
        return 2
    if args.archive and args.source:
        # the archive path plans its jobs by site: a --source there was silently ignored
        closing_line(
            "veille: error: --source goes with a sitemap backfill; with --from, choose a site with --site"
        )
        return 2
    from flows.mode import PrefectUnreachable

    try:
        as_flows = run_as_flows()
    except PrefectUnreachable as exc:
        from flows.outcome import EXIT_NOTHING

        closing_line(f"veille: error: nothing could run: {exc}")
        return EXIT_NOTHING
    if args.archive:
        from flows.commands.archive_backfill import handle_archive

        return handle_archive(args, until, started, as_flows)
    if args.site or args.relevant_only:
        closing_line(f"veille: error: --site and --relevant-only go with --from {'|'.join(ARCHIVES)}")
        return 2
    start, recovered = _bar_start()
    with QueueProgress(start):
        rows, code, verdict = _backfill(args, until, as_flows, recovered)
    print()
    if rows:
        print_table(rows)
    from flows.outcome import NOT_READ, stored_words
    from monitors.archive.polls import BAD_ENTRY

    # a source the fetch budget left unread is no source read ("40 sources read" with 37 not)
    read = [r for r in rows if r["poll"] not in {"not due", BAD_ENTRY, NOT_READ}]
    unread = sum(1 for r in rows if r["poll"] == NOT_READ)
    print(
        f"\nbackfill {article_day(args.since)} .. {article_day(until)}: {counted(len(read), 'source')} read, "
        + (f"{unread} not read, " if unread else "")
        + f"{counted(sum(r['new_urls'] for r in rows), 'new URL')}, "
        f"{stored_words({k: sum(r.get(k, 0) for r in rows) for k in ('stored', 'revised')})}, "
        f"in {time.monotonic() - started:.1f}s"
    )
    if code:
        closing_line(f"veille: {verdict}")
    return code


def _bar_start() -> tuple[datetime, list[str]]:
    """The progress bar's start, on the database's clock, and the database losses waited out
    to read it: a database lost here is waited for (``VEILLE_DB_WAIT``) as the backfill's own
    steps wait, and the loss counted in the run's verdict (partly done, exit 1); before, exit 2
    at once. One that stays away is one line (:class:`DatabaseUnavailable`), exit 2."""
    from flows.retries import waited_for
    from monitors.archive.db import session_scope
    from monitors.archive.reads import database_now

    def now() -> datetime:
        with session_scope() as session:
            return database_now(session)

    return waited_for(
        now, "at the start of the backfill", "nothing was read yet; run `veille backfill` again"
    )


def run_as_flows() -> bool:
    """Whether the backfill runs as Prefect flows, as ``veille run`` decides
    (``VEILLE_PREFECT``, :mod:`flows.mode`): with a server configured, or always with ``on``;
    directly otherwise, without Prefect's temporary server. Raises
    :class:`flows.mode.PrefectUnreachable` when the configured server does not answer."""
    from flows.mode import check_prefect_api, use_flows
    from monitors.settings import get_settings

    if not use_flows(get_settings().prefect):
        return False
    check_prefect_api()
    return True


def _backfill(
    args: argparse.Namespace, until: datetime, as_flows: bool, recovered: list[str]
) -> tuple[list[Any], int, str]:
    """The backfill, as the ``veille-backfill`` flow or directly, with the database losses
    ``recovered`` before it: its rows, exit code and verdict."""
    if not as_flows:
        from flows.direct import backfill_direct

        rows, outcome = backfill_direct(
            args.since, until, args.sources, args.source, args.max_fetches, recovered
        )
        return rows, outcome.exit_code, outcome.message
    import flows.backfill
    from flows.outcome import RunFailed, exit_code_of
    from flows.runtime import direct_run

    with direct_run():
        state = flows.backfill.backfill_flow(
            args.since,
            until,
            sources_file=args.sources,
            names=args.source,
            max_fetches=args.max_fetches,
            recovered=recovered,
            return_state=True,
        )
    rows = state.result(raise_on_failure=False)
    if isinstance(rows, RunFailed):
        rows = rows.data
    if isinstance(rows, BaseException):
        raise rows  # the flow raised: reported as the command's error
    return rows, exit_code_of(state), str(state.message)
