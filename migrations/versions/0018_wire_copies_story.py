"""wire_copies: the copy cluster is ``cluster_id``, and ``story_id`` is the article's story

The view (migration 0004) called the cluster of copies of a dispatch ``story_id`` and
selected ``a.*``: since ``articles.story_id`` (migration 0008, the news story) the view's
definition named two columns ``story_id`` and could not be created again. The cluster's
columns are now ``cluster_id``, ``dispatch_title``, ``dispatch_published_at`` and
``dispatch_day``, the article's news story is ``story_id``, and the view lists its columns.

Revision ID: 0018_wire_copies_story
Revises: 0017_story_speed
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_wire_copies_story"
down_revision: str | None = "0017_story_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The view now, and as migration 0004 made it (its columns; it selected a.* in the CTE).
_VIEW = """
CREATE VIEW wire_copies AS
WITH copy AS (
    SELECT a.id, a.title, a.published_at{story}, coalesce(a.cluster_id, a.id) AS {cluster},
           max(a.wire) OVER w AS agency,
           first_value(a.title) OVER (PARTITION BY coalesce(a.cluster_id, a.id)
               ORDER BY a.published_at NULLS LAST, a.id) AS {p}_title,
           min(a.published_at) OVER w AS {p}_published_at
    FROM articles a
    WINDOW w AS (PARTITION BY coalesce(a.cluster_id, a.id))
)
SELECT c.{cluster}, c.agency, c.{p}_title, c.{p}_published_at,
       (c.{p}_published_at AT TIME ZONE 'Europe/Paris')::date AS {p}_day,
       c.id AS article_id, s.name AS outlet, s.owner, s.family, si.url,
       c.published_at, si.first_seen_at{story_out}
FROM copy c
JOIN sightings si ON si.article_id = c.id
JOIN sources s ON s.id = si.source_id
WHERE c.agency IS NOT NULL
"""
VIEW = _VIEW.format(story=", a.story_id", cluster="cluster_id", p="dispatch", story_out=", c.story_id")
OLD_VIEW = _VIEW.format(story="", cluster="story_id", p="story", story_out="")

COMMENT = (
    "Agency (AFP, Reuters, AP) dispatches and every outlet that ran them: one row per copy and "
    "outlet URL. A dispatch (cluster_id) is an article with a wire credit plus its exact copies "
    "(sightings) and its near-duplicates (same articles.cluster_id); story_id is the news story "
    "the article belongs to (stories, docs/stories.md)."
)


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS wire_copies")
    op.execute(VIEW)
    op.execute("COMMENT ON VIEW wire_copies IS '" + COMMENT.replace("'", "''") + "'")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS wire_copies")
    op.execute(OLD_VIEW)
