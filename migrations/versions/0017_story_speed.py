"""stories: cheaper writes per article (story assignment at 1M archived articles)

- ``story_keys`` loses its foreign key to ``stories`` and its ``story_id`` index: each stored
  article inserted up to 24 key rows, each checked against ``stories`` and written to two
  indexes. Keys are only read through their primary key (key, day) and joined to ``stories``,
  so a key of a story that no longer exists finds nothing; a key of a merged story is resolved
  to the story it was merged into (``stories.merged_into``) at lookup.
- ``stories.source_ids``: the outlets of the story's members, so the store keeps the counts
  up to date in its one write statement (is this outlet new to the story?) instead of
  recounting the members (``story_refresh``, still run on delete and merge, now sets it too).
- ``ix_articles_story_id (story_id)`` becomes ``(story_id, id)``: the latest members of a
  story (the edit-tolerant copy check) are read from the index end, whatever the story's size.

Revision ID: 0017_story_speed
Revises: 0016_topic_views
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0017_story_speed"
down_revision: str | None = "0016_topic_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# story_refresh as migration 0008 made it, and now with source_ids (the two marked lines).
_REFRESH = """
CREATE OR REPLACE FUNCTION story_refresh(sid bigint) RETURNS void LANGUAGE sql AS $$
    UPDATE stories st SET
        articles = m.articles, outlets = m.outlets, media = m.media, parties = m.parties,
        @SET_IDS@
        first_seen = coalesce(m.first_seen, st.first_seen), last_seen = coalesce(m.last_seen, st.last_seen),
        article_id = c.id, title = c.title, source_id = c.source_id, language = c.language,
        updated_at = now()
    FROM (
        SELECT count(*) AS articles,
               count(DISTINCT a.source_id) AS outlets,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'media') AS media,
               count(DISTINCT a.source_id) FILTER (WHERE s.owner = 'party') AS parties,
               @AGG_IDS@
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
REFRESH = _REFRESH.replace("@SET_IDS@", "source_ids = m.source_ids,").replace(
    "@AGG_IDS@",
    "coalesce(array_agg(DISTINCT a.source_id) FILTER (WHERE a.source_id IS NOT NULL), '{}') AS source_ids,",
)
OLD_REFRESH = _REFRESH.replace("@SET_IDS@", "").replace("@AGG_IDS@", "")


def upgrade() -> None:
    op.execute("ALTER TABLE story_keys DROP CONSTRAINT IF EXISTS story_keys_story_id_fkey")
    op.execute("DROP INDEX IF EXISTS ix_story_keys_story_id")
    op.execute("ALTER TABLE stories ADD COLUMN source_ids bigint[] NOT NULL DEFAULT '{}'")
    op.execute(
        """
        UPDATE stories st SET source_ids = m.ids
        FROM (SELECT story_id, array_agg(DISTINCT source_id) AS ids FROM articles
              WHERE story_id IS NOT NULL AND source_id IS NOT NULL GROUP BY story_id) m
        WHERE m.story_id = st.id
        """
    )
    op.execute(REFRESH)
    op.execute("CREATE INDEX ix_articles_story_member ON articles (story_id, id)")
    op.execute("DROP INDEX IF EXISTS ix_articles_story_id")


def downgrade() -> None:
    op.execute("CREATE INDEX ix_articles_story_id ON articles (story_id)")
    op.execute("DROP INDEX IF EXISTS ix_articles_story_member")
    op.execute(OLD_REFRESH)
    op.execute("ALTER TABLE stories DROP COLUMN source_ids")
    op.execute("DELETE FROM story_keys k WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.id = k.story_id)")
    op.execute("CREATE INDEX ix_story_keys_story_id ON story_keys (story_id)")
    op.execute(
        "ALTER TABLE story_keys ADD CONSTRAINT story_keys_story_id_fkey FOREIGN KEY (story_id)"
        " REFERENCES stories (id) ON DELETE CASCADE"
    )
