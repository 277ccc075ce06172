"""The daily maintenance flow: a source health report, and a rescore when a topic changed
(the summit topic's columns of ``articles``, and every active topic's ``article_topics`` rows)."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.artifacts import REPORT_ERRORS, artifact_key, markdown_text
from flows.commands.common import counted
from flows.commands.rescore import said_of
from flows.outcome import RunOutcome
from flows.retries import _cause, transient_task
from flows.runs import raised_in_flow
from flows.runtime import connections_named_by_flow, run_logger
from monitors.archive.db import cancelled, cancelled_cause, get_engine, session_scope
from monitors.archive.queue import queue_counts
from monitors.archive.reads import source_health
from monitors.archive.rescore_runs import Plan, RescoreBusy
from monitors.archive.schema import ensure_schema
from monitors.archive.topic_scores import rescore_topics
from monitors.group.neardup import resign_old_signatures
from monitors.group.story_store import refeature_old_stories
from monitors.judge.rescore import rescore
from monitors.judge.topic import Topic, load_topic
from monitors.judge.topic_set import load_topics

HEALTH_TABLE_KEY = "veille-source-health"
MAINTENANCE_REPORT_KEY = "veille-maintenance-report"


@dataclass
class RescoreOutcome:
    topic_version: str
    stale: int  # articles that were scored with another topic version
    rescored: int
    changed_side: int
    note: str
    # per active topic of the folder: articles scored into article_topics (lacking its version)
    topics: dict[str, int] = field(default_factory=dict)


#: Seconds between two progress lines of a long rescore in the maintenance run's log.
PROGRESS_SECONDS = 30.0


class Progress:
    """Log lines saying how far a long step has gone (``what: N of M articles``), at most one
    every :data:`PROGRESS_SECONDS` and one at the end: a rescore of the whole archive after a
    topic change takes a while, and the maintenance run's log said nothing until it ended."""

    def __init__(self, what: str, unit: str = "articles") -> None:
        self.what, self.unit, self.total, self.done = what, unit, 0, 0
        self.last = time.monotonic()

    def start(self, total: int) -> None:
        self.total = total
        if total:
            run_logger().info("%s: %d %s to do", self.what, total, self.unit)

    def advance(self, done: int) -> None:
        self.done += done
        if self.done >= self.total or time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            run_logger().info("%s: %d of %d %s done", self.what, self.done, self.total, self.unit)


def _resumed(plan: Plan, left: int) -> None:
    """Log an interrupted ``veille rescore --all`` the maintenance rescore finishes (or finds moot)."""
    run_logger().info("%s", said_of(plan, left, all_articles=False))


def rescore_when_topic_changed(topic: Topic, topics: list[Topic] | None = None) -> RescoreOutcome:
    """The rescore step of maintenance: recompute the articles scored with another version of
    the summit topic, then score every active topic (``topics``, default the folder's) into
    article_topics for the articles lacking its current version (a topic added or edited).
    A part another process rescores at the time (a user's ``veille rescore``) is skipped and
    said, not failed: that rescore does the work (:class:`RescoreBusy`)."""
    engine = get_engine()
    skipped: list[str] = []
    summit = Progress(f"rescore with topic {topic.name} {topic.version}")
    try:
        report = rescore(engine, topic, on_start=summit.start, on_batch=summit.advance, on_resume=_resumed)
    except RescoreBusy as exc:
        run_logger().warning("rescore skipped: %s", exc)
        report = None
        skipped.append(f"the articles' relevance columns not rescored: {exc}")
    scored = Progress("article_topics")
    try:
        per_topic = rescore_topics(
            engine,
            load_topics() if topics is None else topics,
            on_start=scored.start,
            on_batch=scored.advance,
            on_resume=_resumed,
        )
    except RescoreBusy as exc:
        run_logger().warning("article_topics rescore skipped: %s", exc)
        per_topic = {}
        skipped.append(f"article_topics not rescored: {exc}")
    if report is None:
        return RescoreOutcome(topic.version, 0, 0, 0, "; ".join(skipped), per_topic)
    if report.candidates == 0:
        note = "every article is scored with the current topic"
        return RescoreOutcome(topic.version, 0, 0, 0, "; ".join([note, *skipped]), per_topic)
    note = (
        f"{counted(report.rescored, 'article')} rescored, {report.became_relevant} became relevant, "
        f"{report.became_not_relevant} became not relevant"
    )
    return RescoreOutcome(
        topic.version,
        report.candidates,
        report.rescored,
        report.changed_side,
        "; ".join([note, *skipped]),
        per_topic,
    )


def _cell(value: Any) -> Any:
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value


@transient_task(delays=(5, 30))
def health_task() -> tuple[list[dict[str, Any]], dict[str, int]]:
    with session_scope() as session:
        return source_health(session), queue_counts(session)


@transient_task(delays=(5, 30))
def rescore_task(topic: Topic) -> RescoreOutcome:
    return rescore_when_topic_changed(topic)


@transient_task(delays=(5, 30))
def resign_task() -> tuple[int, int]:
    """Recompute the near-duplicate signatures of an older scheme (Chinese or Japanese articles
    stored before their words were character bigrams), then the story centroids and lookup keys
    made of such words, with progress lines in the log: (articles, stories) done."""
    progress = Progress("near-duplicate signatures of an older scheme")
    signatures = resign_old_signatures(get_engine(), on_start=progress.start, on_batch=progress.advance)
    stories = Progress("story vectors of an older scheme", "stories")
    return signatures, refeature_old_stories(get_engine(), on_start=stories.start, on_batch=stories.advance)


def maintenance_report(
    health: list[dict[str, Any]] | None,
    queue: dict[str, int] | None,
    rescore: RescoreOutcome,
    problems: list[str] | None = None,
    resigned: int | None = 0,
    refeatured: int | None = 0,
) -> str:
    """The report artifact; ``health`` and ``queue`` None when they could not be read
    (``problems`` says why); ``resigned`` the signatures recomputed, ``refeatured`` the stories
    (None: not done)."""
    lines = ["# veille maintenance", ""]
    if problems:
        lines += ["## Not done", "", *(f"- {markdown_text(p, 600)}" for p in problems), ""]
    lines += ["## Sources", ""]
    if health is None:
        lines += ["not read (see above)", ""]
        health = []
    else:
        labels = Counter(r["health"] for r in health)
        lines += [", ".join(f"{n} {label}" for label, n in sorted(labels.items())) or "no sources yet", ""]
    # at most REPORT_ERRORS, the longest failure streaks first: with hundreds of unhealthy
    # sources the report listed every one
    unhealthy = sorted((r for r in health if r["health"] != "ok"), key=lambda r: -r["consecutive_failures"])
    if len(unhealthy) > REPORT_ERRORS:
        lines += [
            f"{len(unhealthy)} sources are not ok: the {REPORT_ERRORS} with the most failures in a row"
            f" are listed, {len(unhealthy) - REPORT_ERRORS} more are not. Every one is in the"
            " `veille-source-health` table, `veille sources` and the view `source_health`.",
            "",
        ]
    if unhealthy:
        lines += ["| source | health | failures in a row | last error |", "|---|---|---|---|"]
        lines += [
            f"| {markdown_text(r['name'])} | {r['health']} | {r['consecutive_failures']} | "
            f"{markdown_text(r['last_error'] or '', 240) if r['last_error'] else ''} |"
            for r in unhealthy[:REPORT_ERRORS]
        ]
        lines.append("")
    lines += [
        "## URL queue",
        "",
        "not read (see above)"
        if queue is None
        else ", ".join(f"{n} {state}" for state, n in sorted(queue.items())) or "empty",
        "",
        "## Topic",
        "",
        f"Current version {rescore.topic_version}: {rescore.note}.",
    ]
    if rescore.topics:
        lines += [
            "",
            "## Topics (article_topics)",
            "",
            ", ".join(
                f"{name}: {counted(n, 'article')} scored" if n else f"{name}: up to date"
                for name, n in sorted(rescore.topics.items())
            ),
        ]
    if resigned:
        lines += [
            "",
            "## Near-duplicate signatures",
            "",
            f"{counted(resigned, 'article')} of an older scheme recomputed.",
        ]
    if refeatured:
        lines += [
            "",
            "## Story vectors",
            "",
            f"{counted(refeatured, 'story', 'stories')} of an older scheme recomputed"
            " (centroid, lookup keys).",
        ]
    return "\n".join(lines) + "\n"


def _why_not(step: str, exc: BaseException, resumes: str) -> str:
    """Why a step of maintenance failed, cause first; a statement the server cancelled says
    where such a cancel comes from and that the work resumes (``resumes``)."""
    if cancelled(exc):
        return f"{cancelled_cause(step, exc)}: {resumes}"
    return f"{step} failed: {_cause(exc)}; {resumes}"


@flow(name="veille-maintenance")
def maintenance_flow() -> dict[str, Any]:
    """Publish the source health report; rescore articles if a topic changed; recompute the
    near-duplicate signatures and story vectors of an older scheme.

    A step that fails (after its retries: a statement the server cancelled, the database
    gone) does not stop the others, and the run ends in a state that says what was not done,
    as a ``veille-run`` does (:mod:`flows.outcome`): Completed (All good), Completed named
    Partial (a step done), Failed (none); the report artifact says it too. A body that
    raised ends Failed with the exception described (:func:`flows.runs.raised_in_flow`)."""
    with connections_named_by_flow():
        try:
            return _maintain()
        except Exception as exc:  # noqa: BLE001 - the run ends Failed, the exception described
            return raised_in_flow(exc)


def _maintain() -> dict[str, Any]:
    """The maintenance run's steps (:func:`maintenance_flow`)."""
    logger = get_run_logger()
    ensure_schema()
    topic = load_topic()
    problems: list[str] = []
    health: list[dict[str, Any]] | None = None
    queue: dict[str, int] | None = None
    read = health_task(return_state=True)
    if read.is_completed():
        health, queue = read.result()
    else:
        failure = read.result(raise_on_failure=False)
        problems.append(_why_not("the source health report", failure, "the next maintenance reads it again"))
    scored = rescore_task(topic, return_state=True)
    if scored.is_completed():
        outcome: RescoreOutcome = scored.result()
    else:
        failure = scored.result(raise_on_failure=False)
        why = _why_not(
            "the rescore",
            failure,
            "the articles rescored so far stay; the next maintenance (or `veille rescore`) goes on",
        )
        problems.append(why)
        outcome = RescoreOutcome(topic.version, 0, 0, 0, f"not rescored ({why})")
    signed = resign_task(return_state=True)
    resigned: int | None = None
    refeatured: int | None = None
    if signed.is_completed():
        resigned, refeatured = signed.result()
    else:
        failure = signed.result(raise_on_failure=False)
        problems.append(
            _why_not(
                "the recompute of near-duplicate signatures and story vectors",
                failure,
                "the batches done so far stay; the next maintenance goes on",
            )
        )
    if health:
        create_table_artifact(
            key=artifact_key(HEALTH_TABLE_KEY),
            table=[{k: _cell(v) for k, v in row.items()} for row in health],
            description="Source health (the source_health view), unhealthy sources first",
        )
    create_markdown_artifact(
        key=artifact_key(MAINTENANCE_REPORT_KEY),
        markdown=maintenance_report(health, queue, outcome, problems, resigned, refeatured),
        description="Daily maintenance: source health, queue, topic version",
    )
    unhealthy = [r["name"] for r in health or [] if r["health"] != "ok"]
    if unhealthy:
        logger.warning(
            "%s attention: %s",
            "1 source needs" if len(unhealthy) == 1 else f"{len(unhealthy)} sources need",
            ", ".join(unhealthy),
        )
    logger.info("topic %s: %s", outcome.topic_version, outcome.note)
    for problem in problems:
        logger.error(problem)
    result = {
        "sources": len(health or []),
        "unhealthy": unhealthy,
        "queue": queue or {},
        "stale": outcome.stale,
        "rescored": outcome.rescored,
        "topics": outcome.topics,
        "resigned": resigned or 0,
        "refeatured": refeatured or 0,
        "problems": problems,
    }
    summary = (
        f"{counted(len(health), 'source')} ({len(unhealthy)} not ok)"
        if health is not None
        else "source health not read"
    ) + f", {counted(outcome.rescored, 'article')} rescored"
    done = (health is not None) + scored.is_completed() + signed.is_completed()
    status = "ok" if not problems else "partial" if done else "failed"
    return RunOutcome(status, summary, problems).state(result)  # type: ignore[return-value]  # a state: its data is the result
