"""`veille stories`: news events with their outlets and first publisher."""

from __future__ import annotations

import argparse
from datetime import datetime, time
from typing import Any

from flows.commands.common import (
    counted,
    date_arg,
    prepare_database,
    resolve_topic,
    row_count,
    terminal_line,
    terminal_safe,
)

EXAMPLE = """example:
  veille stories                              # widest stories first
  veille stories --since 2025-02-10 --topic ai_summit
  veille stories --json | jq '.outlets_list'  # the outlets' names (.outlets: how many)

A story groups the articles of one news event across outlets and languages (docs/stories.md).
In psql: SELECT * FROM stories_by_day; SELECT * FROM story_outlets WHERE story_id = 1;
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "stories",
        help="list stories (one news event across outlets) with their outlets and first publisher",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="only stories with an article relevant to topic T (a topic's name or its TOML file)",
    )
    p.add_argument(
        "--since", type=date_arg, metavar="D", help="only stories last seen on or after D (YYYY-MM-DD)"
    )
    p.add_argument("--limit", "-n", type=row_count(), default=30, metavar="N", help="at most N stories (30)")
    p.add_argument("--json", action="store_true", help="one JSON object per story")
    p.set_defaults(handler=handle)


def _shown(when: datetime) -> str:
    """``--since`` as the user likely typed it: the date alone at midnight."""
    return when.date().isoformat() if when.timetz().replace(tzinfo=None) == time() else when.isoformat()


def handle(args: argparse.Namespace) -> int:
    prepare_database(args)  # --since read on the database's clock when VEILLE_LOCAL_TIMEZONE is unset
    if not resolve_topic("stories", args):
        return 2
    topic: str | None = args.topic
    since: datetime | None = args.since
    from monitors.archive.db import session_scope
    from monitors.archive.story_report import list_stories
    from monitors.dates import article_day, local_zone

    with session_scope() as session:
        stories = list_stories(session, since=since, topic=topic, limit=args.limit)
    if args.json:  # strict JSON, its control characters escaped (DEL and C1 too)
        from monitors.archive.export import json_line

        for s in stories:
            record = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in s.items()}
            record["outlets_list"] = record.pop("outlet_names") or []
            print(json_line(record))
        return 0
    if not stories:
        # the filters said: "no story yet" alone read as an empty archive when --topic had
        # left out every story; "yet" goes with no --since ("no story yet since D" read as
        # "none so far")
        about = f" with an article relevant to {terminal_line(topic)}" if topic else ""
        when = f" since {_shown(since)}" if since else ""
        print(("no story" if since else "no story yet") + about + when)
        return 0
    for s in stories:
        # days and times on the local clock (monitors.dates), not the database session's
        first, last = article_day(s["first_seen"]), article_day(s["last_seen"])
        span = f"{first}" + (f"..{last}" if last != first else "")
        published = s["first_published"]  # none when the database's cannot be read (db.py)
        when = f"{published.astimezone(local_zone()):%Y-%m-%d %H:%M}" if published else "undated"
        # what the archive holds (titles, source names) with its control characters shown, not
        # obeyed by the terminal (an ESC sequence in a title)
        print(
            f"#{s['id']} {terminal_line(s['title'] or '(untitled)')}\n"
            f"   {span}; {counted(s['articles'], 'article')}, {counted(s['outlets'], 'outlet')}"
            f" ({s['media']} media, {counted(s['parties'], 'party')});"
            f" language {terminal_safe(s['language'] or '?')}\n"
            f"   first: {terminal_line(str(s['first_publisher']))} ({when})"
            f"; outlets: {terminal_line(', '.join(s['outlet_names'] or []))}"
        )
    return 0
