"""`veille sources`: the sources' health table, a one-off probe of each, enable/disable."""

from __future__ import annotations

import argparse
import contextlib
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.commands.common import (
    counted,
    did_you_mean,
    path_arg,
    prepare_database,
    print_table,
    replaced_when_complete,
    text_arg,
)

if TYPE_CHECKING:
    from monitors.archive.models import SourceProblem
    from monitors.collect.sources import SourcesFile, SourceSpec

EXAMPLE = """examples:
  veille sources                          # health of every source in the archive
  veille sources --sources my.toml        # health of that file's sources (new ones marked)
  veille sources --failing                # only the sources in error, worst first
  veille sources check --all              # probe every source, write a dated report (JSON + table)
  veille sources check                    # fetch every source once now and print (stores nothing)
  veille sources check "Le Monde - Pixels" Renaissance
  veille sources enable "Parti socialiste"  # re-enable a source veille disabled after failures
  veille sources disable "Le Point"
  veille sources disable "Mon blog" --sources my.toml   # before its first poll, too

Listing and checking write nothing: sources enter the archive when `veille run` (or
`veille backfill`, `veille serve`) polls them, or when enabled/disabled from a --sources file.
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "sources",
        help="show the sources' health; check, enable or disable sources",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--sources",
        metavar="FILE",
        type=path_arg,
        help="show this file's sources (default: every source in the archive)",
    )
    p.add_argument(
        "--failing",
        action="store_true",
        help="only the sources whose last poll failed, worst first (most failures in a row,"
        " then longest since the last success), each with its last error",
    )
    p.set_defaults(handler=handle_list)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    c = actions.add_parser(
        "check",
        help="probe each source once (status, time, entries, fallback, errors); stores nothing",
        epilog="examples:\n  veille sources check --all   # every source, and a dated report for a bug"
        '\n  veille sources check "Le Monde - Pixels" Renaissance',
        formatter_class=formatter,
    )
    c.add_argument(
        "names", nargs="*", metavar="NAME", type=text_arg, help="only these sources (default: all)"
    )
    c.add_argument(
        "--all",
        action="store_true",
        help="probe every source and write veille-sources-check-<UTC time>.json and .txt",
    )
    c.add_argument(
        "--report-dir",
        metavar="DIR",
        type=path_arg,
        help="where the report goes (default: the current directory); implies a report",
    )
    c.add_argument(
        "--sources",
        metavar="FILE",
        type=path_arg,
        default=argparse.SUPPRESS,
        help="sources file (default: VEILLE_SOURCES, else seeds/sources.toml)",
    )
    c.set_defaults(handler=handle_check)
    for action, verb in (("enable", "re-enable"), ("disable", "disable")):
        e = actions.add_parser(
            action,
            help=f"{verb} a source by name",
            epilog=f'example:\n  veille sources {action} "Parti socialiste"',
            formatter_class=formatter,
        )
        e.add_argument(
            "name",
            metavar="NAME",
            type=text_arg,
            help="the source's name, as `veille sources` lists it (or in --sources FILE)",
        )
        e.add_argument(
            "--sources",
            metavar="FILE",
            type=path_arg,
            default=argparse.SUPPRESS,
            help="also find NAME in this file, adding it to the archive if it is not there yet",
        )
        e.set_defaults(handler=handle_enable if action == "enable" else handle_disable)


def _no_source(read: Any) -> str:
    """What ``veille sources`` and ``sources check`` say of a sources file (:class:`SourcesFile`)
    with no source: its entries commented out, emptied, or every one bad."""
    return f"{read.origin} has no source" + (" but bad entries (below)" if read.bad else "")


def _listing_only(args: argparse.Namespace) -> str | None:
    """The error of ``--failing`` given with an action (check, enable, disable), which would
    ignore it: it filters the listing."""
    if getattr(args, "failing", False):
        return (
            f"veille: error: --failing filters the listing (`veille sources --failing`),"
            f" not `veille sources {args.action}`"
        )
    return None


def handle_list(args: argparse.Namespace) -> int:
    """The health table, then the bad entries ``source_problems`` records (those a run, a
    backfill or a worker found, whatever file it read); reads only (a listing must not enrol
    the default sources). With ``--failing``, the sources in error alone, worst first, and how
    many of all they are."""
    prepare_database()
    from monitors.archive.db import session_scope
    from monitors.collect.health import new_source_row, source_count, source_rows
    from monitors.collect.sources import SourcesError, load_sources_file, recorded_problems

    specs = None
    read = None
    if args.sources:
        read = load_sources_file(args.sources)
        specs = read.specs
    else:  # the archive's sources
        try:
            load_sources_file()
        except SourcesError as exc:
            print(f"veille: warning: {exc} (runs stop on it)", file=sys.stderr)
    with session_scope() as session:
        # a file with no source (emptied, its entries commented out or all bad) lists none: it
        # listed every source of the archive as the file's (no names is every source)
        names = [s.name for s in specs] if specs else None
        rows = [] if specs == [] else source_rows(session, names, failing=args.failing)
        total = len(specs) if specs is not None else source_count(session)
        recorded = recorded_problems(session, read.path if read else None)
    if args.failing and total:
        if rows:
            print_table(rows, width=64)
            print(f"\n{len(rows)} of {counted(total, 'source')} in error")
        else:
            print(
                f"no source in error ({counted(total, 'source')}:"
                " the last poll of each succeeded, or is to come)"
            )
        _print_problems(recorded, read)
        return 0
    if specs:
        known = {r["name"] for r in rows}
        rows += [new_source_row(s) for s in specs if s.name not in known]
    if not rows and read is not None:
        print(_no_source(read))
    elif not rows:
        from monitors.collect.sources import DEFAULT_SOURCES, sources_path

        default = sources_path()  # VEILLE_SOURCES, else the shipped list
        shown = "seeds/sources.toml" if default == DEFAULT_SOURCES else str(default)
        print(
            f"no source in the archive yet: `veille run` polls those of {shown} "
            "(or of --sources FILE) and adds them; `veille sources --sources FILE` lists a file's"
        )
    else:
        print_table(rows, width=64)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        print(
            f"\n{counted(len(rows), 'source')}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        )
    _print_problems(recorded, read)
    return 0


def _print_problems(recorded: list[SourceProblem], read: SourcesFile | None) -> None:
    """Each recorded bad entry, cause first, then its entry (name, file:line) and when runs
    found it; with a file read (``--sources FILE``), its bad entries no run recorded yet, and
    the recorded ones it no longer has, marked so."""
    from monitors.collect.sources import pg_text
    from monitors.dates import local_zone

    def when(at: datetime) -> str:
        return at.astimezone(local_zone()).strftime("%Y-%m-%d %H:%M %Z")

    def entry(name: str | None, file: str, line: int) -> str:
        return f"{name + ', ' if name else ''}{file}:{line}"

    bad = read.bad if read else []
    now = {(b.line, pg_text(b.reason)) for b in bad}
    lines = [
        f"{p.reason} — {entry(p.name, p.file, p.line)}, found by runs since {when(p.first_seen_at)},"
        f" last {when(p.last_seen_at)}"
        + ("; not in the file now (the next run clears it)" if read and (p.line, p.reason) not in now else "")
        for p in recorded
    ]
    known = {(p.line, p.reason) for p in recorded}
    where = str(read.path or read.origin) if read else ""
    lines += [
        f"{b.reason} — {entry(b.source_name, where, b.line)}, not recorded yet (the next run records it)"
        for b in bad
        if (b.line, pg_text(b.reason)) not in known
    ]
    if lines:
        many = f"{len(lines)} bad entries" if len(lines) > 1 else "a bad entry"
        print(f"\n{many} of the sources file (table source_problems), skipped by runs until fixed:")
        print("".join(f"  {line}\n" for line in lines), end="")


def handle_check(args: argparse.Namespace) -> int:
    import io
    from datetime import UTC, datetime

    from flows.outcome import offline_hint
    from monitors.collect.http import make_client
    from monitors.collect.poll import SourceState, poll_many
    from monitors.collect.robots import CHECK_RETRY, RobotsCache
    from monitors.collect.source_check import check_fetch, check_row, report_document, report_files
    from monitors.collect.sources import load_sources_file, sources_path
    from monitors.collect.throttle import HostThrottle
    from monitors.settings import get_settings

    if refused := _listing_only(args):
        print(refused, file=sys.stderr)
        return 2
    if args.all and args.names:
        print("veille: error: give source names or --all, not both", file=sys.stderr)
        return 2
    report_dir = Path(args.report_dir or ".")
    if (args.all or args.report_dir) and report_dir.exists() and not report_dir.is_dir():
        # found before the probes (it failed after them, "File exists")
        print(f"veille: error: {report_dir}: not a folder (--report-dir DIR)", file=sys.stderr)
        return 2
    read = load_sources_file(args.sources)
    if read.bad:  # a check validates: every bad entry named, nothing probed
        raise read.refused()
    specs = read.specs
    if not specs:  # an emptied file, its entries commented out: "0 sources probed" alone
        print(f"{_no_source(read)}: nothing probed")
        return 0
    if args.names:
        unknown = sorted(set(args.names) - {s.name for s in specs})
        if unknown:
            file = sources_path(args.sources)
            hint = did_you_mean(unknown, [s.name for s in specs])
            print(
                f"veille: error: no source named {', '.join(map(repr, unknown))} in {file}"
                f" ({hint}its names: `veille sources --sources {file}`)",
                file=sys.stderr,
            )
            return 2
        specs = [s for s in specs if s.name in args.names]
    settings = get_settings()
    states = [
        SourceState(
            i,
            s.name,
            s.kind,
            s.url,
            link_pattern=s.link_pattern,
            fallback_url=s.fallback,
            fallback_kind=s.fallback_kind,
            fallback_now=True,  # a primary URL that fails for good: probe the fallback too
        )
        for i, s in enumerate(specs)
    ]
    throttle = HostThrottle.from_settings(settings)
    checked_at = datetime.now(UTC)
    with make_client(settings) as client:
        probes = poll_many(
            client,
            settings,
            states,
            lambda source, out: (check_row(source, out), check_fetch(out)),
            throttle,
            RobotsCache(CHECK_RETRY),
        )
    rows = [row for row, _ in probes]
    table = io.StringIO()
    print_table(rows, out=table, width=70)
    failed = sum(r["status"] != "ok" for r in rows)
    blocked = sum(r["status"] == "blocked" for r in rows)
    rescued = sum(r["status"] != "ok" and r["fallback"].startswith("ok") for r in rows)
    summary = (
        f"\n{counted(len(rows), 'source')} probed, {len(rows) - failed} ok, {failed} failed "
        f"({blocked} blocked, {rescued} answered at their fallback)"
    )
    # no host reached: the likely cause, as `veille run` says it (49 failures said not why)
    if offline := offline_hint(fetch for _, fetch in probes):
        summary += f"; {offline}"
    summary += "\n"
    print(table.getvalue() + summary, end="")
    if args.all or args.report_dir:
        document = report_document(rows, states, checked_at, sources_path(args.sources), settings.user_agent)
        files = report_files(document, table.getvalue() + summary)
        paths = _write_report(files, report_dir)
        print(f"report: {paths[0]}\n        {paths[1]}")
    return 0 if failed == 0 else 1


def _write_report(files: dict[str, str], directory: Path) -> list[Path]:
    """Write the report's files in ``directory`` (made if need be). Each goes to a temporary
    file first and both replace a file only once both are written: a report cut short (a
    full disk, a signal) leaves no partial report."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / name for name in files]
    with contextlib.ExitStack() as written:
        for path, text in zip(paths, files.values(), strict=True):
            Path(written.enter_context(replaced_when_complete(path))).write_text(text, encoding="utf-8")
    return paths


def _set_enabled(args: argparse.Namespace, enabled: bool) -> int:
    if refused := _listing_only(args):
        print(refused, file=sys.stderr)
        return 2
    prepare_database()
    from monitors.archive.db import session_scope
    from monitors.archive.export import source_names
    from monitors.collect.sources import load_sources_file, set_source_enabled, sync_sources

    name, file = args.name, getattr(args, "sources", None)
    spec = None
    if file:
        read = load_sources_file(file)
        spec = next((s for s in read.specs if s.name == name), None)
        bad = next((b for b in read.bad if b.name == name), None)
        if spec is None and bad is not None:
            print(f"veille: error: {bad} (fix source {name!r} first)", file=sys.stderr)
            return 2
        if spec is None:
            hint = did_you_mean([name], [s.name for s in read.specs]).removesuffix(" ")
            print(
                f"veille: error: no source named {name!r} in {file}" + (f" ({hint})" if hint else ""),
                file=sys.stderr,
            )
            return 2
    kept_off = _kept_disabled(name, spec, file) if enabled else None
    if kept_off is not None:
        print(
            f"veille: error: {kept_off} says enabled = false for source {name!r}: every run that"
            f" reads it disables the source again; set enabled = true there (or remove the line),"
            f" then enable it",
            file=sys.stderr,
        )
        return 2
    with session_scope() as session:
        if spec is not None:
            sync_sources(session, [spec])  # a file's source not polled yet joins the archive
        found = set_source_enabled(session, name, enabled)
        names = [] if found else source_names(session)
    if not found:
        # a name of another case or a typo is a source of the archive after all: named, not
        # sent to --sources FILE (which said the same "no source named" of it)
        hint = did_you_mean([name], names)
        add = "name its sources file with --sources FILE to add it"
        print(
            f"veille: error: no source named {name!r} in the archive ("
            + (f"{hint}its sources: veille sources)" if hint else f"{add})"),
            file=sys.stderr,
        )
        return 2
    print(f"{name}: {'active, due for a poll' if enabled else 'disabled'}")
    return 0


def _kept_disabled(name: str, spec: SourceSpec | None, file: str | None) -> str | None:
    """The sources file (``file``, else the one runs read by default) whose entry for ``name``
    says ``enabled = false``: each run reading it disables the source again, so enabling it
    would not last. None when no such entry, or when the default file cannot be read (the
    runs then say why)."""
    from monitors.collect.sources import SourcesError, load_sources_file, sources_path

    if spec is None and not file:
        try:
            spec = next((s for s in load_sources_file().specs if s.name == name), None)
        except SourcesError:
            return None
    if spec is None or spec.enabled:
        return None
    return str(sources_path(file))


def handle_enable(args: argparse.Namespace) -> int:
    return _set_enabled(args, True)


def handle_disable(args: argparse.Namespace) -> int:
    return _set_enabled(args, False)
