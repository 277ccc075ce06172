"""`veille search`: French full-text search of the archive, ranked, with snippets."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from typing import Any

from flows.commands.common import (
    INTEGER_MAX,
    LINE_WIDTH,
    counted,
    prepare_database,
    resolve_topic,
    row_count,
    terminal_line,
    terminal_safe,
    text_arg,
)
from monitors.archive.web_query import MAX_QUERY_WORDS, QueryError, web_query
from monitors.dates import article_day

EXAMPLE = """example:
  veille search "sommet IA Macron"
  veille search '"Grand Palais" -Bletchley' --relevant --limit 5
  veille search 'Bruxelles' --topic eu_ai_act
  veille search "Mistral OR DeepSeek" --json | jq .url

  veille search elysee                 # accents do not count: finds "Élysée" and "Elysée"
  veille search -- sommet -lait        # a -word given apart: after --, else it reads as an option

The query uses web-search syntax (websearch_to_tsquery, French stemming, accents ignored):
words are ANDed, "quoted phrase" (an unclosed quote runs to the end), OR (in capitals only:
or, Or is the French word, or noir), -excluded. Another syntax's |, !word, -!word or word*
(read here as spaces) is an error saying what to write instead, as are an OR with no word on
one side (read as the word "or") and brackets with OR or -( (they do not group).
Title matches weigh more than description, then text. A word or phrase typed twice counts
once; more than {MAX_QUERY_WORDS} words is an error.
In psql: SELECT * FROM search_articles('sommet IA', 20);  -- topic => 'eu_ai_act'
""".replace("{MAX_QUERY_WORDS}", str(MAX_QUERY_WORDS))

_BOLD = re.compile(r"\*\*(.+?)\*\*")
_A_WORD = re.compile(r"[^\W_]")  # a letter or a digit: what websearch_to_tsquery can make a word of
_WORDS = re.compile(r"[^\W_]+")


def _query(value: str) -> str:
    """The query without its repeated words; no word, or too many, is a usage error (exit 2).
    (The library's ``search`` takes any text: one without a word matches nothing.)"""
    if not _A_WORD.search(value):
        raise argparse.ArgumentTypeError(f"the query has no word to search for ({value!r}): give one")
    try:
        return web_query(value)
    except QueryError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


#: PostgreSQL's text search leaves out a longer word, in the index and in a query alike
MAX_WORD_CHARACTERS = 2047


def _unsearchable(query: str) -> str:
    """Why no word of ``query`` is searched (its tsquery is empty), the query shortened: French
    stop words ("le", "de la") are not indexed, nor a word longer than PostgreSQL takes."""
    shown = terminal_line(repr(query))
    if any(len(word) > MAX_WORD_CHARACTERS for word in _WORDS.findall(query)):
        return (
            f"no word of {shown} is searched: PostgreSQL's text search leaves out a word of more"
            f" than {MAX_WORD_CHARACTERS} characters; search for a shorter one"
        )
    return (
        f"no word of {shown} is searched: French stop words (le, la, de, et...) are left out of"
        " the index; add a word that carries meaning"
    )


class _JoinedQuery(argparse.Action):
    """The query's arguments as one query (:func:`_query`): ``veille search sommet IA`` is
    ``veille search "sommet IA"``, where the second word was "unrecognized arguments: IA" and
    the usage of ``veille`` itself."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any, option: Any = None
    ) -> None:
        try:
            setattr(namespace, self.dest, _query(" ".join(values)))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentError(self, str(exc)) from None


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "search",
        help="full-text search of the archive (French, accents ignored)",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.dash_words = (
        "a word to exclude goes after -- (veille search -- sommet -lait)"
        " or in the quoted query (veille search 'sommet -lait')"
    )
    p.add_argument(
        "query",
        nargs="+",
        type=text_arg,
        action=_JoinedQuery,
        help=f'web-search syntax: words, "phrase", OR, -word (at most {MAX_QUERY_WORDS} words);'
        " words given apart are one query (a -word given apart goes after --)",
    )
    # search_articles takes an integer: a limit beyond it (a user's "all") is taken as it
    p.add_argument(
        "--limit", "-n", type=row_count(INTEGER_MAX), default=20, metavar="N", help="at most N results (20)"
    )
    p.add_argument(
        "--relevant",
        action="store_true",
        help="only articles relevant to the AI Action Summit (with --topic T: to T, as export's --relevant)",
    )
    p.add_argument(
        "--topic",
        metavar="T",
        help="only articles relevant to topic T (article_topics): a topic's name or its TOML file",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per result")
    p.set_defaults(handler=handle)


def _no_match(args: argparse.Namespace, unfiltered: int) -> str:
    """What an empty result says: with ``--topic`` or ``--relevant``, that the articles were
    those relevant to the topic, and how many the query finds without that filter ("no article
    matches" read as none in the archive, when a dozen only were not relevant)."""
    if not (args.topic or args.relevant):
        return f"no article matches {args.query!r}"
    from monitors.judge.topic_set import DEFAULT_TOPIC_NAME

    topic = terminal_line(args.topic) if args.topic else f"the summit ({DEFAULT_TOPIC_NAME})"
    options = " ".join(o for o, given in (("--topic", args.topic), ("--relevant", args.relevant)) if given)
    found = (
        f"{counted(unfiltered, 'article')} without {options}"
        if unfiltered
        else f"none without {options} either"
    )
    return f"no article relevant to {topic} matches {args.query!r} ({found})"


def handle(args: argparse.Namespace) -> int:
    prepare_database()
    if not resolve_topic("search", args):
        return 2
    from rich.style import Style
    from rich.text import Text
    from sqlalchemy import text

    from flows.commands.progress import stdout_console
    from monitors.archive.db import session_scope
    from monitors.archive.reads import search
    from monitors.archive.topic_scores import evidence_of
    from monitors.judge.explain import why

    with session_scope() as session:
        hits = search(session, args.query, args.limit, args.relevant, args.topic)
        evidence = evidence_of(session, [h.id for h in hits], args.topic)
        searchable = bool(hits) or session.scalar(
            text("SELECT numnode(search_query(:q)) > 0"), {"q": args.query}
        )
        # nothing relevant found: how many articles the words alone find, so that the
        # filter is not read as "the archive holds no such article"
        unfiltered = (
            session.scalar(
                text("SELECT count(*) FROM articles WHERE search @@ search_query(:q)"),
                {"q": web_query(args.query)},
            )
            if searchable and not hits and (args.relevant or args.topic)
            else 0
        )
    if not searchable:
        print(f"veille: error: {_unsearchable(args.query)}", file=sys.stderr)
        return 2
    reasons = {h.id: why(evidence.get(h.id, (False, None))[1]) for h in hits}
    if args.topic:  # relevant to that topic, not to the summit (the articles' own column)
        hits = [dataclasses.replace(h, relevant=evidence.get(h.id, (False, None))[0]) for h in hits]
    if args.json:  # strict JSON, its control characters escaped (DEL and C1 too)
        from monitors.archive.export import json_line

        for hit in hits:
            record = {**hit.__dict__, "why": reasons[hit.id]}
            record["published_at"] = hit.published_at.isoformat() if hit.published_at else None
            print(json_line(record))
        return 0
    console = stdout_console(highlight=False, soft_wrap=True)
    if not hits:
        console.print(Text(_no_match(args, unfiltered)))
        return 0
    for i, hit in enumerate(hits, 1):
        # Text, not markup: what the archive holds is shown as it is (a "]" in a URL was a
        # MarkupError), its control characters made visible (terminal_safe), never obeyed
        when = day.isoformat() if (day := article_day(hit.published_at)) else "undated"
        head = Text.assemble(
            (f"{i}. {terminal_line(hit.title or '(untitled)')}", "bold"),
            "  ",
            (f"{terminal_line(hit.source)} ({hit.owner}), {when}, rank {hit.rank:.3f}", "dim"),
        )
        if hit.relevant:
            head.append(" relevant", "green")
        console.print(head)
        snippet = Text("   ")
        for n, part in enumerate(_BOLD.split(terminal_line(hit.snippet, 3 * LINE_WIDTH))):
            snippet.append(part, "bold yellow" if n % 2 else "")
        console.print(snippet)
        if reasons[hit.id] and (hit.relevant or args.topic):
            # each zone's strongest terms and the whole best sentence, within the width
            short = why(evidence.get(hit.id, (False, None))[1], width=3 * LINE_WIDTH)
            console.print(Text(f"   why: {terminal_line(short, 3 * LINE_WIDTH)}", "dim"))
        url = terminal_safe(hit.url)
        console.print(Text.assemble("   ", (url, Style(link=url)), "\n"))
    return 0
