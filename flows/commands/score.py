"""`veille score`: try a topic on your own texts (JSON lines in, JSON lines out)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from flows.commands.common import closing_line, counted, path_arg, replaced_when_complete, same_file

EXAMPLE = """input: one JSON object per line with "text" and optional "title", "description",
"published_at" (relevance weighs the topic's active period: ISO date, month, year or
timestamp, RFC 2822, "10 février 2025", "10/02/2025", "February 10, 2025", Unix seconds; one
that does not parse is ignored with a warning on stderr naming the line), "url" (the page's address:
for a text without a title, its path words are a zone of the evidence when the topic gives
[zones] url a weight; the shipped summit topic does not), "id".
output: one JSON object per line with language, language_confidence, relevance, relevant,
relevance_terms, relevance_why (the matched terms per zone and the sentence that weighed most,
as search, export and the feed show it), topic_version (and "id" when given, "published_at" as
read when given); a bad line gives {"line", "error"}, and so does a line over
VEILLE_SCORE_MAX_LINE_BYTES (default 4 MiB), skipped without being read into memory.
each line is scored alone, as it streams (as the pipeline scores articles). --context reads
the lines as one batch (the file is read and scored whole, then written): a short untitled
text the rules missed that is close to a line they found about the event (similar story
vectors, two distinctive names or numbers in common, dates within a week) is relevant too,
with "relevance_context" naming that line, the similarity and the shared features
(docs/topics.md, "Paragraphs in context"); a line's result then depends on the others.

example:
  echo '{"title": "Sommet IA", "text": "Le sommet pour l action sur l IA s ouvre a Paris."}' | veille score
  echo '{"text": "Ils parlent d IA.", "url": "https://x.fr/sommet-ia-paris"}' | veille score --topic url.toml
  veille score corpus.jsonl --topic eu_ai_act   # a topic of the folder, by name
  veille score corpus.jsonl --topic my_topic.toml > scored.jsonl
  veille score corpus.jsonl --context         # the lines as one batch
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "score",
        help="score JSON lines for language and relevance (no database needed)",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "file", nargs="?", metavar="FILE", type=path_arg, help="JSON lines to score (default, or -: stdin)"
    )
    p.add_argument(
        "--topic",
        metavar="NAME",
        help="a topic of the topic folder (VEILLE_TOPICS_DIR), by name, or a topic file's path"
        " (default: the AI Action Summit; in a folder of your own, its only topic)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        type=path_arg,
        help="write here instead of stdout; FILE is replaced only once every line is scored;"
        " - is stdout (a file named -: ./-)",
    )
    p.add_argument(
        "--context",
        action="store_true",
        help="read the lines as one batch, held in memory: a short text may be relevant for a line "
        "about the event close to it (default: each line alone, streamed)",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from monitors.judge.lines import bounded_lines
    from monitors.judge.topic_set import find_topic
    from monitors.settings import get_settings

    from_file = args.file not in (None, "-")  # "-" is stdin, as for cat and jq
    to_stdout = args.output in (None, "-")  # "-" is stdout, as export -o - reads it
    if from_file and not to_stdout and same_file(args.file, args.output):
        # the output replaces its file once every line is scored: the input would be lost
        print(
            f"veille: error: --output {args.output} is the file being scored ({args.file}): it would"
            " be replaced by the scores; write them to another file",
            file=sys.stderr,
        )
        return 2
    max_line = get_settings().score_max_line_bytes
    topic = find_topic(args.topic)
    # bytes in, decoded line by line: a line that is not UTF-8 is an error line, not a crash;
    # one over VEILLE_SCORE_MAX_LINE_BYTES is skipped unread and is an error line too
    source = open(args.file, "rb") if from_file else getattr(sys.stdin, "buffer", sys.stdin)  # noqa: SIM115
    lines = bounded_lines(source, max_line)
    context = args.context
    try:
        if to_stdout:
            scored, errors, lifted = _score(lines, topic, sys.stdout, context)
            sys.stdout.flush()  # a full disk is said before the summary, not after "scored N lines"
        else:
            with replaced_when_complete(args.output) as path, open(path, "w", encoding="utf-8") as out:
                scored, errors, lifted = _score(lines, topic, out, context)
    finally:
        if from_file:
            source.close()
    how = f"{lifted} relevant by their context" if context else "each line alone"
    # the work is done: a closed stderr loses the summary, not the exit code (was 141)
    closing_line(
        f"scored {counted(scored, 'line')}, {counted(errors, 'error')}, {how}"
        f" (topic {topic.name} {topic.version})"
    )
    return 1 if errors and not scored else 0


def _score(lines: Any, topic: Any, out: TextIO, context: bool) -> tuple[int, int, int]:
    """Score ``lines`` to ``out`` (as they come, or as one batch with ``context``); the
    counts of scored lines, error lines, and lines relevant by their context."""
    from monitors.judge.evaluation import score_lines

    errors = scored = lifted = 0
    warn = lambda m: print(f"warning: {m}", file=sys.stderr)  # noqa: E731
    for line in score_lines(lines, topic, warn=warn, context=context):
        out.write(line + "\n")
        if line.startswith('{"line"'):
            errors += 1
        else:
            scored += 1
            if context and '"relevance_context"' in line:  # parsed only where it may be
                lifted += "relevance_context" in json.loads(line)
    return scored, errors, lifted
