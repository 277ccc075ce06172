"""`veille export`: the archive as JSON lines, CSV or Parquet."""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from flows.commands.common import (
    closing_line,
    counted,
    date_arg,
    did_you_mean,
    path_arg,
    prepare_database,
    replaced_when_complete,
    resolve_topic,
    text_arg,
)

EXAMPLE = """example:
  veille export --format jsonl --output archive.jsonl
  veille export --relevant -o - | jq .url    # -: stdout, as without --output
  veille export --relevant --since 2025-02-01 | jq .title
  veille export --topic eu_ai_act --relevant | jq '[.title, .relevance_why]'
  veille export --format csv --owner party --output partis.csv
  veille export --format csv --spreadsheet -o partis.csv  # formula-like cells as text: '=...
  veille export --format parquet --relevant --output relevant.parquet   # needs pyarrow
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "export",
        help="write the archive as JSON lines, CSV or Parquet",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--format",
        choices=["jsonl", "csv", "parquet"],
        default="jsonl",
        help="one JSON object per line, CSV with a header, or Parquet (default: jsonl)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        type=path_arg,
        help="write here, not stdout (needed for parquet); FILE is replaced only once the export is"
        " complete; - is stdout (a file named -: ./-)",
    )
    p.add_argument(
        "--relevant",
        action="store_true",
        help="only relevant articles (to the AI Action Summit, or to --topic)",
    )
    p.add_argument(
        "--since",
        type=date_arg,
        metavar="DATE",
        help="published (else fetched, for an undated article) since DATE (ISO; local time,"
        " VEILLE_LOCAL_TIMEZONE, unless it says)",
    )
    p.add_argument(
        "--source",
        metavar="NAME",
        type=text_arg,
        help="only the articles source NAME carried, its copies of an article first stored from"
        " another source included (that record's source is the first; NAME is in its sightings)",
    )
    p.add_argument(
        "--owner",
        choices=["media", "party"],
        help="only what media (parties) carried, copies included, as --source",
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="only articles scored against topic T, a topic's name or its TOML file (with --relevant:"
        " relevant to it)",
    )
    p.add_argument(
        "--spreadsheet",
        action="store_true",
        help="CSV for a spreadsheet: a text cell beginning with = + - @, a tab or a carriage return"
        " (a formula to Excel or LibreOffice) gets a leading ' (changes what a script reads)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    to_stdout = args.output is None or args.output == "-"  # "-": stdout, as most commands read it
    if args.format == "parquet" and to_stdout:
        dash = " (not -: Parquet is not written to stdout)" if args.output == "-" else ""
        print(f"veille: error: --format parquet needs --output FILE{dash}", file=sys.stderr)
        return 2
    if args.spreadsheet and args.format != "csv":
        print(f"veille: error: --spreadsheet is for --format csv (not {args.format})", file=sys.stderr)
        return 2
    prepare_database(args)  # --since read on the database's clock when VEILLE_LOCAL_TIMEZONE is unset
    if not resolve_topic("export", args) or unknown_source(args.source):
        return 2
    from flows.commands.progress import track
    from monitors.archive import export
    from monitors.archive.db import lost_database_reported, session_scope

    filters = {
        "relevant": True if args.relevant else None,
        "since": args.since,
        "source": args.source,
        "owner": args.owner,
        "topic": args.topic,
    }
    left = "the output stops there, incomplete" if to_stdout else f"{args.output} is left as it was"
    with (
        lost_database_reported(
            "the export",
            "veille export",
            when_cancelled=f"{left}; raise the statement_timeout of veille's role, or export less at a"
            " time (--since, --source, --relevant)",
            when_lost=left,
        ),
        session_scope() as session,
    ):
        total = export.count_articles(session, **filters)
        reader = export.iter_rows if args.format == "parquet" else export.iter_articles
        rows = reader(session, **filters)
        if not args.no_progress:
            rows = track(rows, total, f"exporting {args.format}")
        write = (
            functools.partial(export.write_csv, spreadsheet=args.spreadsheet)
            if args.format == "csv"
            else export.write_jsonl
        )
        if to_stdout:
            count = write(rows, sys.stdout)
        else:
            with replaced_when_complete(args.output) as path:
                if args.format == "parquet":
                    count = export.write_parquet(rows, path)
                else:
                    newline = "" if args.format == "csv" else None
                    with open(path, "w", encoding="utf-8", newline=newline) as out:
                        count = write(rows, out)
    closing_line(f"exported {counted(count, 'article')}")
    return 0


def unknown_source(name: str | None) -> bool:
    """True (after saying so on stderr) when ``--source NAME`` names no source of the archive
    (the filter matches the name exactly): a typo would otherwise export 0 articles, exit 0."""
    if name is None:
        return False
    from monitors.archive.db import session_scope
    from monitors.archive.export import source_names

    with session_scope() as session:
        names = source_names(session)
    if name in names:
        return False
    print(
        f"veille: error: no source named {name!r} in the archive"
        f" ({did_you_mean([name], names)}its sources: veille sources)",
        file=sys.stderr,
    )
    return True
