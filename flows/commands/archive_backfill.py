"""`veille backfill --from wayback|commoncrawl|ccnews`: the past from a web archive, with progress."""

from __future__ import annotations

import argparse
import threading
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flows.commands.common import closing_line, counted, print_table

if TYPE_CHECKING:
    from flows.archive_backfill import Plan


class CaptureProgress:
    """A progress bar on stderr fed from the database: the jobs' captures settled out of
    those queued so far, with the time left at the current pace (the total grows while
    discovery runs)."""

    def __init__(self, job_ids: list[int]) -> None:
        self.job_ids = job_ids
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="archive-progress", daemon=True)

    def _run(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from flows.commands.progress import stderr_console
        from monitors.archive.db import session_scope
        from monitors.collect.backfill_jobs import progress_counts

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=stderr_console()) as progress:
            task = progress.add_task("archive captures", total=None)
            while True:
                stopping = self.stop.wait(0.5)
                try:
                    with session_scope() as session:
                        total, done, discovering = progress_counts(session, self.job_ids)
                except Exception:  # noqa: BLE001 - a missed refresh of the bar is harmless
                    if stopping:  # once asked to stop, not again and again until the database is back
                        break
                    continue
                label = "archive captures (discovering)" if discovering else "archive captures"
                progress.update(task, description=label, total=total or None, completed=done)
                if stopping:
                    break

    def __enter__(self) -> CaptureProgress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)


def handle_archive(args: argparse.Namespace, until: datetime, started: float, as_flows: bool) -> int:
    """The backfill from a web archive, as the ``veille-archive-backfill`` flow when
    ``as_flows`` (a Prefect server configured, ``VEILLE_PREFECT``), else directly."""
    from flows.archive_backfill import budget_note, plan
    from flows.outcome import EXIT_NOTHING, bad_entries_problem, stored_words
    from flows.runtime import reset_runtime
    from monitors.collect.backfill_jobs import BackfillError
    from monitors.dates import article_day

    try:
        planned = plan(args.archive, args.since, until, args.site, args.sources, args.relevant_only)
    except BackfillError as exc:
        closing_line(f"veille: error: {exc}")
        return 2
    finally:
        reset_runtime()
    try:
        with CaptureProgress(planned.jobs):
            rows, code, verdict = _archive_backfill(args, until, as_flows, planned)
    except BackfillError as exc:  # the run's checks of its bounds (as a deployment's run's)
        closing_line(f"veille: error: {exc}")
        return 2
    print()
    print_table(table_rows(rows))
    failed = [r for r in rows if r["state"] == "error"]
    print(
        f"\nbackfill from {args.archive} {article_day(args.since)} .. {article_day(until)}: "
        f"{counted(len(rows), 'job')}, "
        f"{counted(sum(r['captures'] for r in rows), 'capture')} found,"
        f" {stored_words({k: sum(r.get(k, 0) for r in rows) for k in ('stored', 'revised')})}, "
        f"{sum(r['not_relevant'] for r in rows)} not relevant, {sum(r['skipped'] for r in rows)} skipped, "
        f"{sum(r['pending'] for r in rows)} waiting, in {time.monotonic() - started:.1f}s"
    )
    if code == EXIT_NOTHING:  # every job stopped on an archive error, none stored: the verdict says why
        closing_line(f"veille: {verdict}")
        return code
    stopped = budget_note(rows)
    if stopped:
        closing_line(f"veille: {stopped}: run the same command again to go on")
    if failed:
        closing_line(
            f"veille: {counted(len(failed), 'job')} stopped on an archive error; run the same command"
            " again to resume"
        )
    if planned.bad:  # warned of before the run (check_sources_and_topics); partly done, as `veille run`
        closing_line(f"veille: {bad_entries_problem([str(b) for b in planned.bad])}")
    if code and not (stopped or failed or planned.bad):  # a database lost, waited for, back
        closing_line(f"veille: {verdict}")
    return code


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The job rows the command prints: a run of a site's months that found nothing (done, no
    error, every count 0), one after the other, as one line, "34 months with no capture,
    2022-01-01 .. 2024-10-31", where the first was. A backfill over three years printed 36 rows
    a site, most of them zeros, the few that found captures lost among them. A month with
    captures ends the run: the line's span holds none. A CC-NEWS job is one WARC file, named
    after its site ("* CC-NEWS-20250210083000-00001.warc.gz"): its empty files fold by site
    alone, "412 WARC files with no capture, ...", or a month of hundreds of files printed
    hundreds of zero rows. The flow's artifact keeps every row."""
    from flows.archive_backfill import JOB_COUNTS
    from monitors.collect.archives.common import CCNEWS

    def empty(row: dict[str, Any]) -> bool:
        return row["state"] == "done" and not row["error"] and not any(row[k] for k in JOB_COUNTS)

    def site(row: dict[str, Any]) -> tuple[str, str]:
        name = str(row["site"]).split(" ", 1)[0] if row["archive"] == CCNEWS else str(row["site"])
        return row["archive"], name

    runs: list[list[dict[str, Any]]] = []  # each site's empty rows, one after the other
    open_runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if not empty(row):
            open_runs.pop(site(row), None)  # the site's next empty row starts another run
        elif site(row) in open_runs:
            open_runs[site(row)].append(row)
        else:
            runs.append(open_runs.setdefault(site(row), [row]))
    first = {id(run[0]): run for run in runs if len(run) > 1}
    folded = {id(row) for run in first.values() for row in run}
    out: list[dict[str, Any]] = []
    for row in rows:
        if id(row) not in folded:
            out.append(row)
        elif (run := first.get(id(row))) is not None:
            days = [day for r in run for day in r["window"].split(" .. ")]
            span = f"{min(days)} .. {max(days)}"
            what = "WARC files" if row["archive"] == CCNEWS else "months"
            out.append({**row, "site": site(row)[1], "window": f"{len(run)} {what} with no capture, {span}"})
    return out


def _archive_backfill(
    args: argparse.Namespace, until: datetime, as_flows: bool, planned: Plan
) -> tuple[list[dict[str, Any]], int, str]:
    """The backfill, run as the flow or directly, on the plan the command's check made (its
    jobs, crawls and sites: collinfo.json and CC-NEWS's lists are read once): its job rows,
    exit code and verdict (the exit code the flow's state gives,
    :func:`flows.outcome.exit_code_of`: it said 1 for a run that ended Failed, every job
    stopped on an archive error)."""
    params = (
        args.archive,
        args.since,
        until,
        args.site,
        args.sources,
        args.relevant_only,
        args.max_fetches,
        planned,
    )
    if not as_flows:
        from flows.direct import archive_backfill_direct

        rows, outcome = archive_backfill_direct(*params)
        return rows, outcome.exit_code, outcome.message
    from flows.backfill_flows import archive_backfill_flow
    from flows.outcome import RunFailed, exit_code_of
    from flows.runtime import direct_run

    with direct_run():
        state: Any = archive_backfill_flow(*params, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed):  # every job stopped on an archive error: the rows say which
        result = result.data
    if isinstance(result, BaseException):
        raise result  # the flow raised (a BackfillError: reported as the command's error)
    return list(result), exit_code_of(state), str(state.message)
