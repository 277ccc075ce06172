"""Rescore the archive after the topic file changed: relevance only, in batches, idempotent.

Every stored score carries the topic version it was computed with (``articles.topic_version``,
the declared version plus a hash of the topic file). Rescoring picks the articles whose version
differs from the current topic's (or every article when asked), recomputes their relevance from
the stored title, description and text, and commits batch by batch, so an interrupted rescore
resumes where it stopped and a second one finds nothing to do. A rescore of every article
(``--all``) keeps where it stands in ``rescore_runs`` (:mod:`monitors.archive.rescore_runs`):
interrupted, the next rescore, ``--all`` or not, goes on after its last committed batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitors.archive import rescore_runs
from monitors.archive.models import Article
from monitors.archive.rescore_runs import AllRun, Plan
from monitors.dates import article_day
from monitors.judge.relevance import score_relevance
from monitors.judge.topic import Topic

DEFAULT_BATCH_SIZE = 200


@dataclass
class RescoreReport:
    """What a rescore did: articles rescored, and which of them changed side."""

    topic_version: str
    #: the interrupted ``--all`` this rescore found: resumed, or closed as moot
    plan: Plan = field(default_factory=lambda: Plan(None))
    candidates: int = 0
    rescored: int = 0
    became_relevant: int = 0
    became_not_relevant: int = 0
    became_relevant_ids: list[int] = field(default_factory=list)
    became_not_relevant_ids: list[int] = field(default_factory=list)

    @property
    def changed_side(self) -> int:
        return self.became_relevant + self.became_not_relevant


def _stale(topic: Topic, run: AllRun | None) -> ColumnElement[bool]:
    """The WHERE clause selecting articles to rescore: at another version, and with an
    ``--all`` run every article after its last committed batch."""
    stale = Article.topic_version.is_distinct_from(topic.version)
    return stale if run is None else or_(Article.id > run.after_id, stale)


def count_stale(session: Session, topic: Topic, run: AllRun | None = None) -> int:
    """How many articles a rescore would recompute."""
    return session.scalar(select(func.count()).select_from(Article).where(_stale(topic, run))) or 0


def rescore_batch(
    session: Session, topic: Topic, after_id: int, limit: int, run: AllRun | None, report: RescoreReport
) -> int | None:
    """Rescore up to ``limit`` articles with id > ``after_id``; returns the last id, or None when done."""
    rows = session.execute(
        select(
            Article.id,
            Article.title,
            Article.description,
            Article.text,
            Article.relevant,
            Article.published_at,
            Article.canonical_url,
        )
        .where(_stale(topic, run), Article.id > after_id)
        .order_by(Article.id)
        .limit(limit)
        .with_for_update()
    ).all()
    if not rows:
        return None
    updates = []
    for article_id, title, description, text, was_relevant, published, url in rows:
        day = article_day(published)  # on the local clock, as at ingest (monitors.dates)
        result = score_relevance(topic, text, title=title, description=description, published_at=day, url=url)
        if result.relevant and not was_relevant:
            report.became_relevant += 1
            report.became_relevant_ids.append(article_id)
        elif was_relevant and not result.relevant:
            report.became_not_relevant += 1
            report.became_not_relevant_ids.append(article_id)
        updates.append(
            {
                "id": article_id,
                "relevance": result.score,
                "relevant": result.relevant,
                "relevance_terms": list(result.terms),
                "relevance_evidence": result.evidence,
                "topic_version": result.topic_version,
            }
        )
    session.execute(update(Article), updates)
    report.rescored += len(rows)
    last_id: int = rows[-1][0]
    if run is not None:
        rescore_runs.advance(session, [run], last_id)
    return last_id


def rescore(
    engine: Engine,
    topic: Topic,
    *,
    all_articles: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_resume: Callable[[Plan, int], None] | None = None,
    restart: bool = False,
) -> RescoreReport:
    """Recompute relevance for the stale articles (all with ``all_articles``), one committed
    transaction per batch. An unfinished ``--all`` at this version is resumed after its last
    batch (with ``restart``, closed and started over; an ``--all`` at an older one is closed,
    moot): ``on_resume(plan, total)`` says which, first. ``on_start(total)`` and
    ``on_batch(done_in_batch)`` feed a progress bar. Raises
    :class:`~monitors.archive.rescore_runs.RescoreBusy` when another process rescores the
    articles with this topic (:func:`~monitors.archive.rescore_runs.held`).
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    with rescore_runs.held(engine, rescore_runs.ARTICLES, [topic.name]):
        with Session(engine) as session, session.begin():
            plan = rescore_runs.plan(session, rescore_runs.ARTICLES, topic, all_articles, restart)
        report = RescoreReport(topic_version=topic.version, plan=plan)
        with Session(engine) as session:
            report.candidates = count_stale(session, topic, plan.run)
        if on_resume and plan.earlier is not None:
            on_resume(plan, report.candidates)
        if on_start:
            on_start(report.candidates)
        after_id = 0
        while True:
            before = report.rescored
            with Session(engine) as session, session.begin():
                last = rescore_batch(session, topic, after_id, batch_size, plan.run, report)
                if last is None and plan.run is not None:
                    rescore_runs.finish(session, [plan.run.id])
            if last is None:
                break
            after_id = last
            if on_batch:
                on_batch(report.rescored - before)
        return report
