"""Issue 4: feed language on the queue, where an article's declared language came from, and
the ``language_disagreements`` view.

Revision ID: 0002_declared_language
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_declared_language"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = """
CREATE VIEW language_disagreements AS
SELECT a.id AS article_id,
       a.canonical_url,
       a.title,
       s.name AS source,
       a.language AS detected_language,
       a.language_confidence,
       a.declared_language,
       a.declared_language_source,
       a.published_at
FROM articles a
JOIN sources s ON s.id = a.source_id
WHERE a.declared_language IS NOT NULL
  AND a.language IS NOT NULL
  AND a.language <> 'und'
  AND a.language <> a.declared_language
"""


def upgrade() -> None:
    op.add_column("url_queue", sa.Column("feed_language", sa.Text(), nullable=True))
    op.add_column("articles", sa.Column("declared_language_source", sa.Text(), nullable=True))
    op.create_check_constraint(
        "articles_declared_language_source",
        "articles",
        "declared_language_source IN ('page', 'feed')",
    )
    op.execute("UPDATE articles SET declared_language_source = 'page' WHERE declared_language IS NOT NULL")
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS language_disagreements")
    op.drop_constraint("articles_declared_language_source", "articles", type_="check")
    op.drop_column("articles", "declared_language_source")
    op.drop_column("url_queue", "feed_language")
