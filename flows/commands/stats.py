"""`veille stats`: what the archive holds, by owner, family, language; queue and source health."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from typing import Any

from flows.commands.common import prepare_database, print_table, resolve_topic

EXAMPLE = """example:
  veille stats            # tables: totals, by owner, by family, by language, queue, source health, by topic
  veille stats --topic eu_ai_act          # one topic: scored, relevant, by owner, family, language, day
  veille stats --json | jq '.totals[0].articles'  # each section a list of rows, as its table
"""

TITLES = {
    "totals": "Archive",
    "by_owner": "By owner (articles its sources carried, copies included)",
    "by_family": "By political family (articles its sources carried, copies included)",
    "by_language": "By language",
    "queue": "URL queue",
    "health": "Source health (see the source_health view)",
    "by_topic": "By topic (article_topics; veille stats --topic NAME for one)",
    "by_day": "Relevant by day (the last 14 days with any)",
}


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "stats",
        help="what the archive holds: totals, by owner, family, language, topic; queue and source health",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: a key per section, each a list of rows as its table prints them"
        " (totals is one row)",
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="statistics of one topic, by name or TOML file (its article_topics rows; a removed"
        " topic's history too)",
    )
    p.set_defaults(handler=handle)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _mark_topic_states(rows: list[dict[str, Any]], articles: int) -> None:
    """Say of each scored topic whether its file is in the topic folder and active, inactive
    (``active = false``) or removed (its history kept); "unreadable" when the folder has a
    bad file, so that stats still answer, with the file and its fault on stderr (before, the
    word alone: every topic "unreadable", no hint of which file, nor why). A topic of the
    folder with no score yet (just added) is a row too, 0 scored, and an active one gets a
    note to run `veille rescore` when the archive holds ``articles`` (it was left out)."""
    from flows.cli import _cause_first
    from monitors.judge.topic_schema import TopicError
    from monitors.judge.topic_set import topic_files

    folder: dict[str, bool] | None
    try:
        folder = {name: active for name, (_, active) in topic_files().items()}
    except (TopicError, OSError) as exc:
        folder = None
        if rows:
            print(f"veille: warning: {_cause_first(exc)} (each topic's state: unreadable)", file=sys.stderr)
    for row in rows:
        if folder is None:
            row["state"] = "unreadable"
        elif row["topic"] not in folder:
            row["state"] = "removed"
        else:
            row["state"] = "active" if folder[row["topic"]] else "inactive"
    scored = {row["topic"] for row in rows}
    for name, active in sorted((folder or {}).items()):
        if name in scored:
            continue
        rows.append(
            {
                "topic": name,
                "scored": 0,
                "relevant": 0,
                "versions": 0,
                "state": "active" if active else "inactive",
            }
        )
        if active and articles:
            print(f"note: topic {name} has no scores yet; run: veille rescore", file=sys.stderr)
    rows.sort(key=lambda row: row["topic"])


def handle(args: argparse.Namespace) -> int:
    prepare_database()
    from monitors.archive.db import session_scope
    from monitors.archive.reads import stats

    if not resolve_topic("stats", args):
        return 2
    with session_scope() as session:
        sections = stats(session, args.topic)
    if "by_topic" in sections:
        _mark_topic_states(sections["by_topic"], int(sections["totals"][0]["articles"] or 0))
    if args.json:
        plain = {k: [{c: _plain(v) for c, v in r.items()} for r in rows] for k, rows in sections.items()}
        from monitors.archive.export import json_line

        # the text as stored (not "extr\\u00eame"), as search, stories and export write it
        print(json_line(plain))
        return 0
    for name, rows in sections.items():
        title = TITLES[name] if args.topic is None or name != "totals" else f"Topic {args.topic}"
        print(f"{title}\n{'-' * len(title)}")
        if name == "totals":
            # a day an empty archive has none of: "(none)", as an empty section, not Python's "None"
            print_table([{"what": k, "value": "(none)" if v is None else v} for k, v in rows[0].items()])
        elif name == "by_language":
            # no language detected: NULL, so JSON says null; the table shows "?"
            print_table([{**r, "language": "?" if r["language"] is None else r["language"]} for r in rows])
        elif rows:
            print_table(rows)
        else:
            print("(none)")
        print()
    return 0
