"""`veille export`: the archive as JSON lines."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from flows.commands.common import prepare_database

EXAMPLE = """example:
  veille export --format jsonl --output archive.jsonl
  veille export --relevant --since 2025-02-01 | jq .title
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "export", help="write the archive as JSON lines", epilog=EXAMPLE, formatter_class=formatter
    )
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--relevant", action="store_true", help="only articles relevant to the topic")
    p.add_argument("--since", type=datetime.fromisoformat, metavar="DATE", help="published since")
    p.add_argument("--source", metavar="NAME", help="only this source (its name)")
    p.add_argument("--owner", choices=["media", "party"], help="only media or only parties")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    prepare_database()
    from monitors.db import session_scope
    from monitors.export import iter_articles, write_jsonl

    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        with session_scope() as session:
            count = write_jsonl(
                iter_articles(
                    session,
                    relevant=True if args.relevant else None,
                    since=args.since,
                    source=args.source,
                    owner=args.owner,
                ),
                out,
            )
    finally:
        if args.output:
            out.close()
    print(f"exported {count} articles", file=sys.stderr)
    return 0
