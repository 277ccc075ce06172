"""Where a ``veille rescore --all`` stands: the ``rescore_runs`` table (migrations 0053, 0054).

An ``--all`` rescores articles that carry the topic's version already, one committed batch at
a time; stopped half way, a plain rescore (which picks the articles at another version) would
skip the ones it had not reached. Each ``--all`` keeps a row per target (``articles``: their
relevance columns; ``article_topics``: a topic's rows) and topic, with the last article id
committed (``after_id``, advanced in the batch's transaction) until it is finished: the next
rescore, ``--all`` or not, goes on after it. A run at an older version of the topic is moot
(every article is at another version now, a plain rescore picks them all): closed as such.
``--restart`` closes an unfinished run as ``restarted`` and starts a new one from the first
article. Two rescores of the same target and topic never run at once (:func:`held`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitors.archive.locks import advisory_locks
from monitors.judge.topic import Topic

#: The targets of a rescore: the articles' own relevance columns, a topic's article_topics rows.
ARTICLES = "articles"
TOPIC_ROWS = "article_topics"

#: First key of the advisory locks that keep one rescore per target and topic ("RSCR"); the
#: second is ``hashtext(target:topic)``. Two names of one hash (odds about n²/2³³ for n
#: topics) would make a rescore of one refused while the other runs, said as busy with
#: the other's holder: it runs once that one has ended. Backfill jobs have a space of their own.
LOCK_SPACE = 0x52534352


class RescoreBusy(Exception):
    """Another process (a ``veille rescore``, the maintenance flow's rescore) holds the lock
    of a target and topic this rescore needs: it would rescore the same articles."""

    def __init__(self, target: str, topics: Sequence[str], holders: str = "") -> None:
        self.target = target
        self.topics = list(topics)
        #: who holds the lock (:meth:`monitors.archive.locks.Hold.holders`)
        self.holders = holders
        what = "the articles' relevance columns" if target == ARTICLES else "article_topics"
        by = holders or "a `veille rescore` or the maintenance flow's"
        super().__init__(
            f"another rescore of {what} (topic {', '.join(self.topics)}) is running: {by};"
            " this one stops rather than rescore the same articles twice; run it again once"
            " that one has ended (an interrupted --all is resumed)"
        )


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
    #: ``earlier`` was at the topic's version and closed by ``--restart``: ``run`` starts over
    restarted: bool = False


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


@contextmanager
def held(engine: Engine, target: str, topics: Sequence[str]) -> Iterator[None]:
    """Hold the advisory lock of ``target`` and each of ``topics`` for as long as the rescore
    runs, on a connection of its own (:func:`monitors.archive.locks.advisory_locks`: a killed
    process loses it with its connection), or raise :class:`RescoreBusy` at once, naming the
    holder, when another process holds one of them.

    Refused, not waited for: the other rescore does this very work (it resumes or runs the
    same ``--all`` row, both would rescore the same articles); waiting, a second ``--all``
    would start the whole archive over as soon as the first ended, and a plain rescore would
    find nothing left to do. The caller says so (the CLI, cause first, exit code 2; the
    maintenance flow skips its rescore and says why)."""
    keys = {f"{target}:{name}": name for name in topics}
    with advisory_locks(engine, LOCK_SPACE, list(keys)) as hold:
        if not hold:
            raise RescoreBusy(target, [keys[str(k)] for k in hold.busy], hold.holders())
        yield


def plan(session: Session, target: str, topic: Topic, all_articles: bool, restart: bool = False) -> Plan:
    """Find the unfinished ``--all`` of ``target`` and ``topic``: at the topic's version, it is
    resumed (by an ``--all`` as by a plain rescore), or with ``restart`` (``--all --restart``)
    closed as ``restarted``; at another version, it is closed as moot. A new ``--all`` gets its
    row (one unfinished per target and topic: the unique index decides)."""
    earlier = _unfinished(session, target, topic.name)
    restarted = earlier is not None and earlier.version == topic.version and restart and all_articles
    if earlier is not None and earlier.version == topic.version and not restarted:
        return Plan(earlier, earlier)
    if earlier is not None:
        finish(session, [earlier.id], "restarted" if restarted else "moot")
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
    return Plan(run, earlier, moot=earlier is not None and not restarted, restarted=restarted)


def advance(session: Session, runs: Sequence[AllRun], last_id: int) -> None:
    """Every article up to ``last_id`` is rescored for ``runs``: in the batch's transaction."""
    if runs:
        session.execute(
            text("UPDATE rescore_runs SET after_id = greatest(after_id, :last) WHERE id = ANY(:ids)"),
            {"last": last_id, "ids": [r.id for r in runs]},
        )


def finish(session: Session, ids: Sequence[int], outcome: str = "done") -> None:
    """Close the runs ``ids``: ``done``, ``moot`` (the topic changed before they finished), or
    ``restarted`` (``--all --restart`` started over)."""
    if ids:
        session.execute(
            text(
                "UPDATE rescore_runs SET finished_at = now(), outcome = :outcome"
                " WHERE id = ANY(:ids) AND finished_at IS NULL"
            ),
            {"outcome": outcome, "ids": list(ids)},
        )
