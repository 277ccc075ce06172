"""per-topic variants of the daily relevant views: a topic column

``relevant_sightings`` and the ``daily_relevant_by_*`` views count the summit topic (the
articles' own ``relevant``). Their per-topic variants read ``article_topics`` and carry a
``topic`` column, so every topic of the folder has the same daily counts by source, owner and
political family. The older views are left as they are (queries written against them keep
working).

Revision ID: 0016_topic_views
Revises: 0015_queue_claim_holder
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_topic_views"
down_revision: str | None = "0015_queue_claim_holder"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "((coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date)"

VIEWS: list[tuple[str, str, str]] = [
    (
        "topic_relevant_sightings",
        f"""
        SELECT DISTINCT ON (t.topic, si.article_id, s.id)
               t.topic, {DAY} AS day, a.id AS article_id, s.id AS source_id, s.name AS source,
               s.owner, s.family, a.title, si.url
        FROM article_topics t
        JOIN articles a ON a.id = t.article_id
        JOIN sightings si ON si.article_id = a.id
        JOIN sources s ON s.id = si.source_id
        WHERE t.relevant
        ORDER BY t.topic, si.article_id, s.id, si.first_seen_at
        """,
        "relevant_sightings per topic (article_topics): an article relevant to a topic once per "
        "source that ran it, republished copies included; the base of the daily_topic_relevant_* counts.",
    ),
    (
        "daily_topic_relevant_by_source",
        """
        SELECT topic, day, source, owner, family, count(*) AS articles
        FROM topic_relevant_sightings GROUP BY topic, day, source, owner, family
        """,
        "daily_relevant_by_source per topic: per topic, day (Europe/Paris) and source, the "
        "articles relevant to that topic the source ran.",
    ),
    (
        "daily_topic_relevant_by_owner",
        """
        SELECT topic, day, owner, count(DISTINCT article_id) AS articles,
               count(DISTINCT source_id) AS sources
        FROM topic_relevant_sightings GROUP BY topic, day, owner
        """,
        "daily_relevant_by_owner per topic: per topic, day (Europe/Paris) and owner (media | "
        "party), distinct relevant articles and how many sources ran them.",
    ),
    (
        "daily_topic_relevant_by_family",
        """
        SELECT topic, day, family, count(DISTINCT article_id) AS articles,
               count(DISTINCT source_id) AS sources
        FROM topic_relevant_sightings WHERE family IS NOT NULL GROUP BY topic, day, family
        """,
        "daily_relevant_by_family per topic: per topic, day (Europe/Paris) and political family, "
        "distinct relevant articles and how many sources ran them.",
    ),
]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    for name, body, comment in VIEWS:
        op.execute(f"CREATE VIEW {name} AS {body}")
        op.execute(f"COMMENT ON VIEW {name} IS {_quote(comment)}")


def downgrade() -> None:
    for name, _body, _comment in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
