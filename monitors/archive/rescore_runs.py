"""Where a ``veille rescore --all`` stands: the ``rescore_runs`` table (migration 0053).

An ``--all`` rescores articles that carry the topic's version already, one committed batch at
a time; stopped half way, a plain rescore (which picks the articles at another version) would
skip the ones it had not reached. Each ``--all`` keeps a row per target (``articles``: their
relevance columns; ``article_topics``: a topic's rows) and topic, with the last article id
committed (``after_id``, advanced in the batch's transaction) until it is finished: the next
rescore, ``--all`` or not, goes on after it. A run at an older version of the topic is moot
(every article is at another version now, a plain rescore picks them all): closed as such.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.judge.topic import Topic

#: The targets of a rescore: the articles' own relevance columns, a topic's article_topics rows.
ARTICLES = "articles"
TOPIC_ROWS = "article_topics"


@dataclass(frozen=True)
class AllRun:
    """An unfinished ``rescore --all`` of ``target`` with ``topic`` at ``version``: every
    article after ``after_id`` is still to rescore."""

    id: int
    target: str
    topic: str
    version: str
    started_at: datetime
    after_id: int


@dataclass(frozen=True)
class Plan:
    """What a rescore of one target and topic goes on with: ``run``, the ``--all`` it carries
    on (None: a plain rescore); ``earlier``, an interrupted ``--all`` it found, resumed in
    ``run``, or closed when ``moot`` (it was at another version of the topic)."""

    run: AllRun | None
    earlier: AllRun | None = None
    moot: bool = False


_COLUMNS = "id, target, topic, version, started_at, after_id"


def _unfinished(session: Session, target: str, topic: str) -> AllRun | None:
    row = session.execute(
        text(
            f"SELECT {_COLUMNS} FROM rescore_runs WHERE target = :target AND topic = :topic"
            " AND finished_at IS NULL FOR UPDATE"
        ),
        {"target": target, "topic": topic},
    ).one_or_none()
    return None if row is None else AllRun(*row)


def plan(session: Session, target: str, topic: Topic, all_articles: bool) -> Plan:
    """Find the unfinished ``--all`` of ``target`` and ``topic``: at the topic's version, it is
    resumed (by an ``--all`` as by a plain rescore); at another, it is closed as moot. A new
    ``--all`` gets its row (one unfinished per target and topic: the unique index decides)."""
    earlier = _unfinished(session, target, topic.name)
    if earlier is not None and earlier.version == topic.version:
        return Plan(earlier, earlier)
    if earlier is not None:
        finish(session, [earlier.id], "moot")
    run = None
    if all_articles:
        session.execute(
            text(
                "INSERT INTO rescore_runs (target, topic, version) VALUES (:target, :topic, :version)"
                " ON CONFLICT (target, topic) WHERE finished_at IS NULL DO NOTHING"
            ),
            {"target": target, "topic": topic.name, "version": topic.version},
        )
        run = _unfinished(session, target, topic.name)
    return Plan(run, earlier, moot=earlier is not None)


def advance(session: Session, runs: Sequence[AllRun], last_id: int) -> None:
    """Every article up to ``last_id`` is rescored for ``runs``: in the batch's transaction."""
    if runs:
        session.execute(
            text("UPDATE rescore_runs SET after_id = greatest(after_id, :last) WHERE id = ANY(:ids)"),
            {"last": last_id, "ids": [r.id for r in runs]},
        )


def finish(session: Session, ids: Sequence[int], outcome: str = "done") -> None:
    """Close the runs ``ids``: ``done``, or ``moot`` (the topic changed before they finished)."""
    if ids:
        session.execute(
            text(
                "UPDATE rescore_runs SET finished_at = now(), outcome = :outcome"
                " WHERE id = ANY(:ids) AND finished_at IS NULL"
            ),
            {"outcome": outcome, "ids": list(ids)},
        )
