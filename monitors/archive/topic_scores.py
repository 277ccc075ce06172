"""Scores of articles against every topic: the ``article_topics`` table (one row per article
and topic: version, score, relevant, evidence). Written at ingest and by rescoring, upserted
by the database (ON CONFLICT), never deleted when a topic is removed (its history stays)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitors.dates import article_day
from monitors.judge.relevance import score_relevance, topic_row
from monitors.judge.topic import Topic

_UPSERT = text(
    "INSERT INTO article_topics (article_id, topic, version, score, relevant, terms, evidence, scored_at)"
    " VALUES (:article_id, :topic, :version, :score, :relevant, :terms, CAST(:evidence AS jsonb), now())"
    " ON CONFLICT (article_id, topic) DO UPDATE SET version = EXCLUDED.version, score = EXCLUDED.score,"
    " relevant = EXCLUDED.relevant, terms = EXCLUDED.terms, evidence = EXCLUDED.evidence,"
    " scored_at = EXCLUDED.scored_at"
)


def write_topic_scores(session: Session, article_id: int, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert an article's rows (from ``topic_row``)."""
    if rows:
        session.execute(_UPSERT, [{**row, "article_id": article_id} for row in rows])


_STALE = (
    " FROM articles a LEFT JOIN article_topics t ON t.article_id = a.id AND t.topic = :topic"
    " WHERE (:all OR t.version IS DISTINCT FROM :version)"
)


def count_stale_topics(
    session: Session, topics: Sequence[Topic], all_articles: bool = False
) -> dict[str, int]:
    """Per topic, how many articles have no score for its current version (all with all_articles)."""
    return {
        t.name: int(
            session.execute(
                text("SELECT count(*)" + _STALE), {"topic": t.name, "version": t.version, "all": all_articles}
            ).scalar_one()
        )
        for t in topics
    }


def rescore_topics(
    engine: Engine,
    topics: Sequence[Topic],
    *,
    all_articles: bool = False,
    batch_size: int = 200,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Score every article lacking a current score for each topic into article_topics, one
    committed batch at a time (an interrupted rescore resumes; a second finds nothing to do).
    Returns per topic how many articles were scored. Rows of topics not given are left alone."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    with Session(engine) as session:
        stale = count_stale_topics(session, topics, all_articles)
    if on_start:
        on_start(sum(stale.values()))
    done: dict[str, int] = {}
    for topic in topics:
        done[topic.name] = 0
        after = 0
        while True:
            with Session(engine) as session, session.begin():
                rows = session.execute(
                    text(
                        "SELECT a.id, a.title, a.description, a.text, a.published_at, a.canonical_url"
                        + _STALE
                        + " AND a.id > :after ORDER BY a.id LIMIT :limit"
                    ),
                    {
                        "topic": topic.name,
                        "version": topic.version,
                        "all": all_articles,
                        "after": after,
                        "limit": batch_size,
                    },
                ).all()
                if not rows:
                    break
                for article_id, title, description, body, published, url in rows:
                    result = score_relevance(
                        topic,
                        body or "",
                        title=title,
                        description=description,
                        published_at=article_day(published),  # the local clock's, as at ingest
                        url=url,
                    )
                    write_topic_scores(session, article_id, [topic_row(topic, result)])
                after = rows[-1][0]
            done[topic.name] += len(rows)
            if on_batch:
                on_batch(len(rows))
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
