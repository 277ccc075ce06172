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
from monitors.judge.relevance import score_topics, topic_row
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


def _stale_flags(topics: Sequence[Topic]) -> tuple[list[str], dict[str, Any]]:
    """Per topic, an SQL flag: the article has no score for its current version (always true
    with ``:all``), as ``_STALE`` selects them; and the flags' parameters."""
    flags, params = [], {}
    for k, topic in enumerate(topics):
        flags.append(
            f"(:all OR NOT EXISTS (SELECT 1 FROM article_topics t WHERE t.article_id = a.id"
            f" AND t.topic = :topic_{k} AND t.version = :version_{k}))"
        )
        params[f"topic_{k}"], params[f"version_{k}"] = topic.name, topic.version
    return flags, params


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
    Returns per topic how many articles were scored. Rows of topics not given are left alone.

    One pass over the archive for all the topics: each article is read once and scored once
    for the topics it lacks (``score_topics``: folded and scanned once), with the rows
    ``score_relevance`` gives topic by topic. Progress counts (article, topic) rows, as
    ``count_stale_topics``: ``on_start`` gets their total, ``on_batch`` a batch's rows."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    with Session(engine) as session:
        stale = count_stale_topics(session, topics, all_articles)
    if on_start:
        on_start(sum(stale.values()))
    done = {t.name: 0 for t in topics}
    flags, params = _stale_flags(topics)
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
            rows = session.execute(
                select, {**params, "all": all_articles, "after": after, "limit": batch_size}
            ).all()
            if not rows:
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
