"""stories: one news event across outlets and languages (monitors/group/story_store.py)

``stories`` (first/last seen, the most central article's title, article, outlet and language,
article/outlet/media/party counts, the centroid), ``articles.story_id`` and ``story_score``
(similarity to the story when it joined), ``story_keys`` (the index that finds candidate
stories: feature id, day, story), ``story_events`` (created, merged: why a story id exists or
went away), the ``story_refresh(story)`` function that recomputes a story's counts and
central article from its members, called by the store and by a delete trigger on articles so
deleting an article keeps its story right, and the views ``stories_by_day`` and
``story_outlets``.

Revision ID: 0008_stories
Revises: 0007_errors_last_day
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008_stories"
down_revision: str | None = "0007_errors_last_day"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date"

REFRESH = """
CREATE FUNCTION story_refresh(sid bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE stories st SET
        articles = m.articles, outlets = m.outlets, media = m.media, parties = m.parties,
        first_seen = coalesce(m.first_seen, st.first_seen), last_seen = coalesce(m.last_seen, st.last_seen),
        article_id = c.id, title = c.title, source_id = c.source_id, language = c.language,
        updated_at = now()
    FROM (
        SELECT count(*) AS articles,
               count(DISTINCT a.source_id) AS outlets,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'media') AS media,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'party') AS parties,
               min(coalesce(a.published_at, a.fetched_at)) AS first_seen,
               max(coalesce(a.published_at, a.fetched_at)) AS last_seen
        FROM articles a JOIN sources s ON s.id = a.source_id
        WHERE a.story_id = sid
    ) m
    LEFT JOIN LATERAL (
        SELECT a.id, a.title, a.source_id, a.language FROM articles a
        WHERE a.story_id = sid
        ORDER BY a.story_score DESC NULLS LAST, a.id LIMIT 1
    ) c ON true
    WHERE st.id = sid
$$
"""

TRIGGER = """
CREATE FUNCTION articles_story_refresh() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM story_refresh(d.sid) FROM (SELECT DISTINCT story_id AS sid FROM gone WHERE story_id IS NOT NULL) d;
    RETURN NULL;
END $$;
CREATE TRIGGER articles_story_refresh AFTER DELETE ON articles
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION articles_story_refresh();
"""

VIEWS: list[tuple[str, str, str]] = [
    (
        "stories_by_day",
        f"""
        SELECT {DAY} AS day, a.story_id, st.title AS story_title,
               count(*) AS articles, count(DISTINCT a.source_id) AS outlets,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'media') AS media,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'party') AS parties
        FROM articles a
        JOIN stories st ON st.id = a.story_id
        JOIN sources s ON s.id = a.source_id
        GROUP BY 1, a.story_id, st.title
        """,
        "Articles of each story per day (publication date, else fetch date, Europe/Paris), with "
        "how many outlets, media and parties carried it that day.",
    ),
    (
        "story_outlets",
        f"""
        SELECT a.story_id, s.id AS source_id, s.name AS source, s.owner, s.family,
               count(*) AS articles,
               min(coalesce(a.published_at, a.fetched_at)) AS first_published,
               (array_agg(a.id ORDER BY coalesce(a.published_at, a.fetched_at), a.id))[1] AS first_article_id,
               min({DAY}) AS first_day,
               rank() OVER (PARTITION BY a.story_id ORDER BY min(coalesce(a.published_at, a.fetched_at)))
                   AS publication_rank
        FROM articles a JOIN sources s ON s.id = a.source_id
        WHERE a.story_id IS NOT NULL
        GROUP BY a.story_id, s.id, s.name, s.owner, s.family
        """,
        "Each outlet (source) that carried a story: how many articles, when it first published "
        "(publication_rank 1 = the first publisher), its owner (media or party) and family.",
    ),
]


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("article_id", sa.BigInteger(), sa.ForeignKey("articles.id", ondelete="SET NULL")),
        sa.Column("title", sa.Text()),
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="SET NULL")),
        sa.Column("language", sa.Text()),
        sa.Column("articles", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("outlets", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("media", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("parties", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("centroid", postgresql.JSONB(), nullable=False, server_default="{}"),
        sa.Column("merged_into", sa.BigInteger(), sa.ForeignKey("stories.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("stories_last_seen", "stories", ["last_seen"])
    op.add_column(
        "articles",
        sa.Column(
            "story_id", sa.BigInteger(), sa.ForeignKey("stories.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.add_column("articles", sa.Column("story_score", sa.Float(), nullable=True))
    op.create_index("ix_articles_story_id", "articles", ["story_id"])
    op.create_table(
        "story_keys",
        sa.Column("key", sa.BigInteger(), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column(
            "story_id", sa.BigInteger(), sa.ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    op.create_index("ix_story_keys_story_id", "story_keys", ["story_id"])
    op.create_table(
        "story_events",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column(
            "story_id", sa.BigInteger(), sa.ForeignKey("stories.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("other_story_id", sa.BigInteger(), sa.ForeignKey("stories.id", ondelete="SET NULL")),
        sa.Column("article_id", sa.BigInteger(), sa.ForeignKey("articles.id", ondelete="SET NULL")),
        sa.Column("detail", postgresql.JSONB()),
        sa.CheckConstraint("kind IN ('created', 'merged', 'split')", name="story_events_kind"),
    )
    op.create_index("ix_story_events_story_id", "story_events", ["story_id"])
    op.execute(REFRESH)
    op.execute(TRIGGER)
    for name, body, comment in VIEWS:
        op.execute(f"CREATE VIEW {name} AS {body}")
        op.execute(f"COMMENT ON VIEW {name} IS {_quote(comment)}")


def downgrade() -> None:
    for name, _body, _comment in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.execute("DROP TRIGGER IF EXISTS articles_story_refresh ON articles")
    op.execute("DROP FUNCTION IF EXISTS articles_story_refresh()")
    op.execute("DROP FUNCTION IF EXISTS story_refresh(bigint)")
    op.drop_table("story_events")
    op.drop_table("story_keys")
    op.drop_index("ix_articles_story_id", table_name="articles")
    op.drop_column("articles", "story_score")
    op.drop_column("articles", "story_id")
    op.drop_table("stories")
