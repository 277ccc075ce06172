"""Scores of articles against every topic: the ``article_topics`` table (one row per article
and topic: version, score, relevant, evidence). Written at ingest (with the article:
:func:`monitors.archive.articles.write_topic_scores`) and by rescoring (here), upserted by the
database (ON CONFLICT), never deleted when a topic is removed (its history stays)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitors.archive import rescore_runs
from monitors.archive.articles import write_topic_scores
from monitors.archive.rescore_runs import Plan
from monitors.dates import article_day
from monitors.judge.relevance import score_topics, topic_row
from monitors.judge.topic import Topic

#: The articles lacking a score for the topic's current version, and with an unfinished
#: ``--all`` every article after its last committed batch (``:after`` NULL without one: the
#: comparison is NULL, never true).
_STALE = (
    " FROM articles a LEFT JOIN article_topics t ON t.article_id = a.id AND t.topic = :topic"
    " WHERE (a.id > CAST(:after AS bigint) OR t.version IS DISTINCT FROM :version)"
)


def _after(plan: Plan | None) -> int | None:
    """The last article id an ``--all`` run committed (None: no run, a plain rescore)."""
    return None if plan is None or plan.run is None else plan.run.after_id


def count_stale_topics(
    session: Session, topics: Sequence[Topic], plans: Mapping[str, Plan] | None = None
) -> dict[str, int]:
    """Per topic, how many articles have no score for its current version, or (with a run of
    ``--all`` in ``plans``) come after the run's last committed batch."""
    plans = plans or {}
    return {
        t.name: int(
            session.execute(
                text("SELECT count(*)" + _STALE),
                {"topic": t.name, "version": t.version, "after": _after(plans.get(t.name))},
            ).scalar_one()
        )
        for t in topics
    }


def _stale_flags(topics: Sequence[Topic], plans: Mapping[str, Plan]) -> tuple[list[str], dict[str, Any]]:
    """Per topic, an SQL flag: the article has no score for its current version, or comes after
    the last committed batch of the topic's ``--all`` run, as ``_STALE`` selects them; and the
    flags' parameters."""
    flags: list[str] = []
    params: dict[str, Any] = {}
    for k, topic in enumerate(topics):
        flags.append(
            f"(a.id > CAST(:after_{k} AS bigint) OR NOT EXISTS (SELECT 1 FROM article_topics t"
            f" WHERE t.article_id = a.id AND t.topic = :topic_{k} AND t.version = :version_{k}))"
        )
        params[f"topic_{k}"], params[f"version_{k}"] = topic.name, topic.version
        params[f"after_{k}"] = _after(plans.get(topic.name))
    return flags, params


def rescore_topics(
    engine: Engine,
    topics: Sequence[Topic],
    *,
    all_articles: bool = False,
    batch_size: int = 200,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_resume: Callable[[Plan, int], None] | None = None,
    restart: bool = False,
) -> dict[str, int]:
    """Score every article lacking a current score for each topic into article_topics, one
    committed batch at a time (an interrupted rescore resumes; a second finds nothing to do).
    Returns per topic how many articles were scored. Rows of topics not given are left alone.

    With ``all_articles`` every article is scored again, each topic's run kept in
    ``rescore_runs``: an interrupted one is resumed after its last committed batch by the next
    rescore, ``--all`` or not (``on_resume(plan, rows left)`` says so first); one at an older
    version of its topic is closed, moot; with ``restart``, one at the current version is
    closed and started over. Raises :class:`~monitors.archive.rescore_runs.RescoreBusy` when
    another process rescores one of the topics' rows (:func:`~monitors.archive.rescore_runs.held`).

    One pass over the archive for all the topics: each article is read once and scored once
    for the topics it lacks (``score_topics``: folded and scanned once), with the rows
    ``score_relevance`` gives topic by topic. Progress counts (article, topic) rows, as
    ``count_stale_topics``: ``on_start`` gets their total, ``on_batch`` a batch's rows."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    with rescore_runs.held(engine, rescore_runs.TOPIC_ROWS, [t.name for t in topics]):
        with Session(engine) as session, session.begin():
            plans = {
                t.name: rescore_runs.plan(session, rescore_runs.TOPIC_ROWS, t, all_articles, restart)
                for t in topics
            }
        runs = [p.run for p in plans.values() if p.run is not None]
        with Session(engine) as session:
            stale = count_stale_topics(session, topics, plans)
        if on_resume:
            for name, plan in plans.items():
                if plan.earlier is not None:
                    on_resume(plan, stale[name])
        if on_start:
            on_start(sum(stale.values()))
        done = {t.name: 0 for t in topics}
        flags, params = _stale_flags(topics, plans)
        if not flags:
            return done
        select = text(
            "SELECT a.id, a.title, a.description, a.text, a.published_at, a.canonical_url, "
            + ", ".join(flags)
            + " FROM articles a WHERE a.id > :after AND ("
            + " OR ".join(flags)
            + ") ORDER BY a.id LIMIT :limit"
        )
        after = 0
        while True:
            written = 0
            with Session(engine) as session, session.begin():
                rows = session.execute(select, {**params, "after": after, "limit": batch_size}).all()
                if not rows:
                    rescore_runs.finish(session, [r.id for r in runs])
                    break
                for article_id, title, description, body, published, url, *lacking in rows:
                    wanted = [t for t, flag in zip(topics, lacking, strict=True) if flag]
                    results = score_topics(
                        wanted,
                        body or "",
                        title=title,
                        description=description,
                        published_at=article_day(published),  # the local clock's, as at ingest
                        url=url,
                    )
                    write_topic_scores(
                        session, article_id, [topic_row(t, r) for t, r in zip(wanted, results, strict=True)]
                    )
                    for t in wanted:
                        done[t.name] += 1
                    written += len(wanted)
                after = rows[-1][0]
                rescore_runs.advance(session, runs, after)
            if on_batch:
                on_batch(written)
        return done


def evidence_of(
    session: Session, ids: Sequence[int], topic: str | None = None
) -> dict[int, tuple[bool, Any]]:
    """Per article id: (relevant, evidence) for ``topic`` from article_topics, else the
    article's own relevance columns; ids without a row for the topic are left out."""
    if not ids:
        return {}
    if topic is None:
        sql = "SELECT id, coalesce(relevant, false), relevance_evidence FROM articles WHERE id = ANY(:ids)"
    else:
        sql = (
            "SELECT article_id, relevant, evidence FROM article_topics"
            " WHERE topic = :topic AND article_id = ANY(:ids)"
        )
    rows = session.execute(text(sql), {"ids": list(ids), "topic": topic}).all()
    return {int(i): (bool(r), e) for i, r, e in rows}
