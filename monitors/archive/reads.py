"""Reading the archive: search, statistics, newest relevant articles, source health.

Plain functions over a session; the SQL lives in the views and ``search_articles`` of
migration 0006, so what the shell shows is what an analyst gets in psql.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.archive.export import on_site_clock
from monitors.archive.web_query import web_query
from monitors.judge.explain import why


@dataclass(frozen=True)
class SearchHit:
    id: int
    title: str | None
    source: str
    owner: str
    family: str | None
    published_at: datetime | None
    url: str
    relevant: bool | None
    rank: float
    snippet: str


def search(
    session: Session, query: str, limit: int = 20, relevant_only: bool = False, topic: str | None = None
) -> list[SearchHit]:
    """Ranked French web-search (``websearch_to_tsquery``) with highlighted snippets; the query
    without its repeated words (``web_query``: a QueryError past MAX_QUERY_WORDS words); with
    ``topic``, only the articles relevant to it (article_topics), the best ``limit`` of them.
    ``relevant_only`` is relevant to the summit, or to ``topic`` when given (as the export's
    ``--relevant`` with ``--topic``), as the SQL function says (0034_search_topic_relevant).
    ``published_at`` is on the site's clock as the export writes it (:func:`on_site_clock`):
    ``search --json`` wrote it in UTC, another day than the export's for an evening article.
    A topic no article was scored against yet (one new to the folder) finds nothing: the SQL
    function raises for it (0039_search_topic_known), meant for a misspelt name in psql; the
    command has checked the name against the topic folder already."""
    if topic is not None and not session.scalar(
        text("SELECT EXISTS (SELECT 1 FROM article_topics WHERE topic = :t)"), {"t": topic}
    ):
        return []
    rows = session.execute(
        text("SELECT * FROM search_articles(:q, :n, :r, :t)"),
        {"q": web_query(query), "n": limit, "r": relevant_only, "t": topic},
    ).all()
    local: dict[int, str | None] = dict(
        session.execute(
            text("SELECT id, extraction_evidence->>'published_local' FROM articles WHERE id = ANY(:ids)"),
            {"ids": [row[0] for row in rows]},
        ).all()
    )
    return [
        dataclasses.replace(
            hit, published_at=on_site_clock(hit.published_at, {"published_local": local.get(hit.id)})
        )
        for hit in (SearchHit(*row) for row in rows)
    ]


def database_now(session: Session) -> datetime:
    """The database's clock: the reference for "since this run started" comparisons."""
    value: datetime = session.execute(text("SELECT now()")).scalar_one()
    return value


NEW_RELEVANT_SQL = """
SELECT a.id, a.title, a.url, s.name AS source, s.owner,
       CASE WHEN a.relevant THEN a.relevance ELSE b.score END AS relevance, a.published_at,
       CASE WHEN a.relevant THEN a.relevance_evidence ELSE b.evidence END AS evidence,
       (SELECT array_agg(t.topic ORDER BY t.topic) FROM article_topics t
        WHERE t.article_id = a.id AND t.relevant) AS topics
FROM articles a JOIN sources s ON s.id = a.source_id
LEFT JOIN LATERAL (SELECT CAST(CAST(t.score AS numeric) AS double precision) AS score, t.evidence
                   FROM article_topics t WHERE t.article_id = a.id AND t.relevant
                   ORDER BY t.score DESC, t.topic LIMIT 1) b ON true
-- first stored since: fetched_at is the first fetch, which a revision keeps (an article stored
-- before and revised since is left out; one stored since and then revised is in)
WHERE (a.relevant OR b.score IS NOT NULL) AND a.fetched_at >= :since
ORDER BY relevance DESC, a.id  -- the output column (the topic's score when not the default's)
LIMIT :limit
"""


def new_relevant_since(
    session: Session, since: datetime, limit: int = 50, why_width: int | None = None
) -> list[dict[str, Any]]:
    """Articles relevant to any topic first stored since ``since``, revised since or not (an
    older one revised since is left out: ``fetched_at``, the first fetch, is kept), with the
    ``topics`` they are relevant to and ``why``: the default topic's evidence and score when
    relevant to it, else those of the topic that scored it highest (at most ``why_width``
    characters, every zone and the best sentence kept: :func:`why`)."""
    rows = [
        dict(r) for r in session.execute(text(NEW_RELEVANT_SQL), {"since": since, "limit": limit}).mappings()
    ]
    for row in rows:
        row["why"] = why(row.pop("evidence"), width=why_width)
    return rows


NEWEST_RELEVANT_SQL = """
SELECT a.id, a.title, a.url, a.description, a.author, s.name AS source, s.owner, s.family,
       a.published_at, a.fetched_at, a.updated_at, a.relevance, a.relevance_terms,
       left(a.text, 600) AS excerpt, coalesce(t.evidence, a.relevance_evidence) AS evidence,
       a.extraction_evidence->>'published_local' AS published_local
FROM articles a JOIN sources s ON s.id = a.source_id
LEFT JOIN article_topics t ON t.article_id = a.id AND t.topic = CAST(:topic AS text)
WHERE (CAST(:topic AS text) IS NULL AND a.relevant) OR t.relevant
ORDER BY veille_instant(a.published_at) DESC NULLS LAST, a.fetched_at DESC, a.id DESC
LIMIT :limit
"""


def newest_relevant(session: Session, limit: int = 50, topic: str | None = None) -> list[dict[str, Any]]:
    """The newest relevant articles (to ``topic`` when given), newest published first (what the
    Atom feed lists); undated ones (none, or a date veille reads as none) last, newest stored
    first: sorted by when stored they came first, above a week's news. Each with ``why`` it is
    relevant (monitors.judge.explain.why) and ``published_at`` on the site's clock as the export
    and ``search --json`` write it (:func:`on_site_clock`; the feed wrote UTC, another day than
    theirs for an evening article)."""
    rows = [
        dict(r)
        for r in session.execute(text(NEWEST_RELEVANT_SQL), {"limit": limit, "topic": topic}).mappings()
    ]
    for row in rows:
        row["why"] = why(row.pop("evidence"))
        row["published_at"] = on_site_clock(
            row["published_at"], {"published_local": row.pop("published_local")}
        )
    return rows


HEALTH_SQL = """
SELECT name, owner, status, health, consecutive_failures, last_error_class, last_error,
       last_success_at, last_new_item_at, articles, pending_urls, failed_urls, errors_last_day
FROM source_health
ORDER BY health = 'ok', name
"""


def source_health(session: Session) -> list[dict[str, Any]]:
    """The ``source_health`` view, unhealthy sources first."""
    return [dict(r) for r in session.execute(text(HEALTH_SQL)).mappings()]


#: (article, source) once per source that carried the article: its sightings (copies a source
#: ran of an article first stored from another included) and its first carrier. The by-owner and
#: by-family counts of ``veille stats`` count over it, as the daily_relevant_by_owner /
#: _by_family views and ``veille export --source/--owner`` do, not the first carrier alone.
CARRIED = """
    WITH carried AS (SELECT article_id, source_id FROM sightings
                     UNION SELECT id, source_id FROM articles)
"""


def _carried_by(column: str, *, topic: bool) -> str:
    """The articles, and the relevant ones, each ``owner`` or ``family`` carried (CARRIED);
    with ``topic``, those scored against ``:topic``, relevant to it (article_topics)."""
    article, relevant, scored = (
        ("t.article_id", "t.relevant", "article_topics t") if topic else ("a.id", "a.relevant", "articles a")
    )
    where = (["t.topic = :topic"] if topic else []) + (["s.family IS NOT NULL"] if column == "family" else [])
    order = "relevant DESC, s.family" if column == "family" else "s.owner"
    return CARRIED + (
        f"SELECT s.{column}, count(DISTINCT {article}) AS articles,"
        f" count(DISTINCT {article}) FILTER (WHERE {relevant}) AS relevant"
        f" FROM {scored} JOIN carried c ON c.article_id = {article} JOIN sources s ON s.id = c.source_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" GROUP BY s.{column} ORDER BY {order}"
    )


STATS_SQL = {
    "totals": """
        SELECT (SELECT count(*) FROM sources) AS sources,
               (SELECT count(*) FROM sources WHERE status <> 'active') AS sources_not_active,
               (SELECT count(*) FROM articles) AS articles,
               (SELECT count(*) FROM articles WHERE relevant) AS relevant,
               (SELECT count(*) FROM articles WHERE paywalled) AS paywalled,
               (SELECT count(*) FROM articles WHERE truncated) AS truncated,
               (SELECT count(*) FROM sightings) AS sightings,
               (SELECT count(DISTINCT cluster_id) FROM wire_copies) AS wire_stories,
               (SELECT min(day) FROM articles_with_source WHERE relevant) AS first_relevant_day,
               (SELECT max(day) FROM articles_with_source WHERE relevant) AS last_relevant_day
    """,
    "by_owner": _carried_by("owner", topic=False),
    "by_family": _carried_by("family", topic=False),
    "by_language": """
        SELECT language, count(*) AS articles
        FROM articles GROUP BY 1 ORDER BY 2 DESC, 1
    """,
    "queue": """
        SELECT state, count(*) AS urls FROM url_queue GROUP BY state ORDER BY state
    """,
    "health": """
        SELECT health, count(*) AS sources FROM source_health GROUP BY health ORDER BY health
    """,
    "by_topic": """
        SELECT topic, count(*) AS scored, count(*) FILTER (WHERE relevant) AS relevant,
               count(DISTINCT version) AS versions
        FROM article_topics GROUP BY topic ORDER BY topic
    """,
}


#: ``veille stats --topic T``: the same sections for one topic, from article_topics (a removed
#: topic's rows stay, so its history can still be counted)
TOPIC_STATS_SQL = {
    "totals": """
        SELECT :topic AS topic,
               count(*) AS scored,
               (SELECT count(*) FROM articles) - count(*) AS not_scored,
               count(*) FILTER (WHERE relevant) AS relevant,
               count(DISTINCT version) AS versions,
               min(day) FILTER (WHERE relevant) AS first_relevant_day,
               max(day) FILTER (WHERE relevant) AS last_relevant_day
        FROM article_topics_with_source WHERE topic = :topic
    """,
    "by_owner": _carried_by("owner", topic=True),
    "by_family": _carried_by("family", topic=True),
    "by_language": """
        SELECT language, count(*) AS articles,
               count(*) FILTER (WHERE relevant) AS relevant
        FROM article_topics_with_source WHERE topic = :topic GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1
    """,
    "by_day": """
        SELECT day, count(*) AS relevant FROM article_topics_with_source
        WHERE topic = :topic AND relevant AND day IS NOT NULL GROUP BY day ORDER BY day DESC LIMIT 14
    """,
}


def stats(session: Session, topic: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Archive statistics, one list of rows per section (totals, by owner, ..., health, by
    topic); with ``topic``, the sections of that topic's scores (TOPIC_STATS_SQL)."""
    queries = STATS_SQL if topic is None else TOPIC_STATS_SQL
    return {
        name: [dict(r) for r in session.execute(text(sql), {"topic": topic}).mappings()]
        for name, sql in queries.items()
    }


def scored_topics(session: Session) -> list[str]:
    """The topics article_topics holds rows of (active, inactive or removed)."""
    return list(session.scalars(text("SELECT DISTINCT topic FROM article_topics ORDER BY topic")))
