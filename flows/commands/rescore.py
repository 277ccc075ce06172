"""`veille rescore`: recompute relevance after the topic file changed."""

from __future__ import annotations

import argparse
from datetime import UTC
from typing import TYPE_CHECKING, Any

from flows.commands.common import add_topic_option, closing_line, counted, prepare_database, row_count

EXAMPLE = """Only articles whose topic_version differs from the topic's are rescored (all of them
with --all); a second rescore finds nothing to do. Language is not recomputed. Then every topic
of the topic folder (VEILLE_TOPICS_DIR, default monitors/topics; or only --topic) is scored
into article_topics for the articles lacking its current version: adding or editing a topic
file rescores the archive, with a progress bar; a removed topic's rows stay (its history).
An interrupted --all is resumed after its last committed batch by the next rescore, --all or
not ("resuming the rescore --all started ..."); the topic edited since, it is moot. To start
over from the first article instead, --all --restart closes it (outcome "restarted").
A second rescore of the same topic while one runs (another `veille rescore`, the maintenance
flow's) is refused at once, exit code 2: "another rescore of ... is running".
The articles' own relevance columns hold the AI Action Summit topic's scores: --topic with
another topic's file (another name) scores article_topics only.

example:
  veille rescore                          # after editing monitors/topics/ai_summit.toml
  veille rescore --all --batch-size 500
  veille rescore --all --restart          # drop an interrupted --all, start from the first article
  veille rescore --topic monitors/topics/eu_ai_act.toml   # that topic's article_topics rows only
"""


if TYPE_CHECKING:
    from monitors.archive.rescore_runs import Plan
    from monitors.judge.rescore import RescoreReport
    from monitors.judge.topic import Topic


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "rescore",
        help="recompute relevance of stored articles after a topic change",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_topic_option(p)
    p.add_argument("--all", action="store_true", help="rescore every article, whatever its topic version")
    p.add_argument(
        "--restart",
        action="store_true",
        help="with --all: close an interrupted --all (as restarted) and start over from the first article",
    )
    p.add_argument(
        "--batch-size",
        type=row_count(),
        default=200,
        metavar="N",
        help="articles per transaction (default: 200)",
    )
    p.set_defaults(handler=handle)


#: What to do when the server cancels a statement of the rescore (statement_timeout).
_CANCELLED = (
    "the batches committed stay rescored; run `veille rescore` again to go on from there; if it"
    " is cancelled again, lower --batch-size or raise the statement_timeout of veille's role"
)


#: The same, for ``--all``: its place is kept (rescore_runs), the next rescore goes on from it.
_CANCELLED_ALL = (
    "the batches committed stay rescored; run `veille rescore --all` (or a plain `veille"
    " rescore`) again to go on after the last of them, not from the first article; if it is"
    " cancelled again, lower --batch-size or raise the statement_timeout of veille's role"
)


def said_of(plan: Plan, left: int, all_articles: bool) -> str:
    """The line saying what became of an interrupted ``--all`` a rescore found: resumed, with
    how many articles are left, or moot (the topic changed since it started)."""
    from monitors.archive.rescore_runs import ARTICLES

    run = plan.earlier
    assert run is not None
    what = "rescore --all" if run.target == ARTICLES else "rescore --all of article_topics"
    started = run.started_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if plan.restarted:
        return (
            f"the {what} started {started} (topic {run.topic}) is closed as restarted: --restart"
            f" starts over from the first article, {counted(left, 'article')} to rescore"
        )
    if not plan.moot:
        return f"resuming the {what} started {started} (topic {run.topic}): {counted(left, 'article')} left"
    rest = (
        "every article is rescored again"
        if all_articles
        else f"the {counted(left, 'article')} not at the new version are rescored"
    )
    return (
        f"the {what} started {started} is moot: topic {run.topic} changed since (it was at"
        f" version {run.version}); {rest}"
    )


def _nothing_to_do() -> str:
    """Why a rescore rescored no article: every one carries the topic's version already, or
    the archive has none ("every article already carries..." said of an empty archive)."""
    from sqlalchemy import text

    from monitors.archive.db import session_scope

    with session_scope() as session:
        if session.scalar(text("SELECT EXISTS (SELECT 1 FROM articles)")):
            return "every article already carries this topic version"
    return "the archive has no article yet (`veille run` stores some)"


def handle(args: argparse.Namespace) -> int:
    if args.restart and not args.all:
        closing_line("veille: error: --restart needs --all: it starts an --all over from the first article")
        return 2
    prepare_database()
    from monitors.archive.rescore_runs import RescoreBusy

    try:
        return _rescore(args)
    except RescoreBusy as exc:
        closing_line(f"veille: error: {exc}")
        return 2


def _rescore(args: argparse.Namespace) -> int:
    """:func:`handle`, its arguments checked."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from flows.commands.progress import stderr_console
    from monitors.archive.db import get_engine, lost_database_reported
    from monitors.archive.rescore_runs import RescoreBusy
    from monitors.archive.topic_scores import rescore_topics
    from monitors.judge.rescore import rescore
    from monitors.judge.topic import load_topic
    from monitors.judge.topic_set import find_topic, load_topics

    topic = find_topic(args.topic) if args.topic is not None else load_topic()
    # the articles' own relevance columns hold the default topic's scores (the pipeline writes
    # them with it); another topic given by --topic goes to article_topics only
    summit = topic.name == load_topic().name
    console = stderr_console()
    # batches are committed one by one: after a lost database, a rerun resumes
    with (
        lost_database_reported(
            "the rescore",
            "veille rescore --all" if args.all else "veille rescore",
            when_cancelled=_CANCELLED_ALL if args.all else _CANCELLED,
        ),
        Progress(
            TextColumn("rescoring {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not console.is_terminal,
        ) as progress,
    ):
        report: RescoreReport | None = None
        busy: RescoreBusy | None = None
        if summit:
            task = progress.add_task("rescore", total=None)
            report = rescore(
                get_engine(),
                topic,
                all_articles=args.all,
                batch_size=args.batch_size,
                on_start=lambda total: progress.update(task, total=total),
                on_batch=lambda done: progress.advance(task, done),
                on_resume=lambda plan, left: print(said_of(plan, left, args.all), flush=True),
                restart=args.restart,
            )
        # every topic of the folder (or the one given) into article_topics: a topic added or
        # edited is scored on the whole archive; the rows of a removed topic stay
        topics = [topic] if args.topic else load_topics()
        per_topic = progress.add_task("topics", total=None)
        try:
            done = rescore_topics(
                get_engine(),
                topics,
                all_articles=args.all,
                batch_size=args.batch_size,
                on_start=lambda total: progress.update(per_topic, total=total),
                on_batch=lambda n: progress.advance(per_topic, n),
                on_resume=lambda plan, left: print(said_of(plan, left, args.all), flush=True),
                restart=args.restart,
            )
        except RescoreBusy as exc:
            busy, done = exc, {}
    _said_columns(report, topic)
    if busy is not None:  # the columns' rescore, done and committed, is said before the refusal
        raise busy
    for name, count in done.items():
        print(f"article_topics: {counted(count, 'article')} scored for topic {name}")
    return 0


def _said_columns(report: RescoreReport | None, topic: Topic) -> None:
    """What the rescore did to the articles' relevance columns (None: not theirs to do)."""
    from monitors.judge.topic import load_topic

    if report is None:
        print(
            f"articles' relevance columns left as they are: they hold topic {load_topic().name}'s"
            f" scores, not {topic.name}'s"
        )
    else:
        # the topic's name with its version: "with topic 1.0+7c2740e0" named a version alone
        print(
            f"rescored {counted(report.rescored, 'article')} with topic {topic.name} {report.topic_version}"
        )
        print(f"  {report.became_relevant} not relevant -> relevant")
        print(f"  {report.became_not_relevant} relevant -> not relevant")
        if report.rescored == 0:
            # which part: the topics' scores (article_topics) may have work still, said next;
            # the work is done, so a closed stderr loses the note, not the exit code (was 141)
            closing_line(
                f"  nothing to do for the articles' relevance columns (topic {topic.name}):"
                f" {_nothing_to_do()}"
            )
