"""article_topics: every article scored against every topic, and a view with a topic column

One row per (article, topic): the topic's version (declared version + file hash), score,
verdict, matched terms and evidence, when it was scored. ``articles.relevance`` & co. keep the
summit topic's score for the views and commands that read them; existing scores are copied
here as topic ``ai_summit``. Rows of a removed topic stay (its history).

Revision ID: 0013_article_topics
Revises: 0012_french_unaccent
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0013_article_topics"
down_revision: str | None = "0012_french_unaccent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "((coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date)"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE article_topics (
            article_id bigint NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            topic text NOT NULL,
            version text NOT NULL,
            score real NOT NULL,
            relevant boolean NOT NULL,
            terms text[] NOT NULL DEFAULT '{}',
            evidence jsonb,
            scored_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (article_id, topic)
        )
        """
    )
    op.execute("CREATE INDEX article_topics_topic_relevant ON article_topics (topic, relevant)")
    op.execute(
        """
        INSERT INTO article_topics (article_id, topic, version, score, relevant, terms, evidence)
        SELECT id, 'ai_summit', topic_version, relevance, relevant, coalesce(relevance_terms, '{}'),
               relevance_evidence
        FROM articles WHERE topic_version IS NOT NULL AND relevance IS NOT NULL
        """
    )
    op.execute(
        f"""
        CREATE VIEW article_topics_with_source AS
        SELECT t.topic, t.version, t.score, t.relevant, t.terms,
               t.evidence -> 'best_sentence' AS best_sentence,
               a.id AS article_id, {DAY} AS day, a.published_at, s.name AS source, s.owner,
               s.family, a.title, a.url, a.language
        FROM article_topics t
        JOIN articles a ON a.id = t.article_id
        JOIN sources s ON s.id = a.source_id
        """
    )
    op.execute(
        "COMMENT ON VIEW article_topics_with_source IS 'One row per article and topic it was scored"
        " against: score, verdict, matched terms, the sentence that weighed most, with the article and"
        " its source.'"
    )


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS article_topics_with_source")
    op.execute("DROP TABLE IF EXISTS article_topics")
