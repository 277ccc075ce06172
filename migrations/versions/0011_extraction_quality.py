"""extraction quality: modification date, paywall and truncation flags, extraction evidence

``articles`` gains ``modified_at`` (kept apart from ``published_at``), ``paywalled`` and
``truncated`` with ``access_reasons`` (why: a notice, schema.org ``isAccessibleForFree``
false, a text that stops mid-sentence) and ``extraction_evidence`` (where the title and the
dates came from, the dates that disagreed, the boilerplate lines removed).
``articles_with_source`` shows the new columns (appended, so the view is replaced in place).

Revision ID: 0011_extraction_quality
Revises: 0010_source_fallback
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision: str = "0011_extraction_quality"
down_revision: str | None = "0010_source_fallback"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "articles_with_source"
DAY = "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date"
#: The view as the newest earlier migration that defines it (0004_archive_views) left it.
PREVIOUS_BODY = f"""
        SELECT a.id, {DAY} AS day, a.published_at, a.fetched_at,
               s.name AS source, s.owner, s.family, s.kind AS source_kind,
               a.title, a.author, a.description, a.url, a.canonical_url,
               a.language, a.relevance, a.relevant, a.relevance_terms, a.topic_version,
               a.wire, a.cluster_id, a.duplicate_of,
               (SELECT count(*) FROM sightings si WHERE si.article_id = a.id) AS outlets,
               a.text, a.search
        FROM articles a JOIN sources s ON s.id = a.source_id
        """
PREVIOUS_COMMENT = (
    "One row per stored article with the source that first carried it: name, owner "
    "(media or party), political family. day = publication date (else fetch date) in "
    "Europe/Paris; outlets = how many sightings (source, URL) carried the same text."
)
NEW_BODY = PREVIOUS_BODY.replace(
    "a.text, a.search\n",
    "a.text, a.search, a.modified_at, a.paywalled, a.truncated, a.access_reasons\n",
)
COMMENT = (
    "One row per stored article with the source that first carried it: name, owner "
    "(media or party), political family. day = publication date (else fetch date) in "
    "Europe/Paris; outlets = how many sightings (source, URL) carried the same text; "
    "modified_at = the page's own modification date; paywalled / truncated with "
    "access_reasons (a subscription notice, isAccessibleForFree false, a text that stops "
    "mid-sentence)."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.add_column("articles", sa.Column("modified_at", sa.DateTime(timezone=True)))
    op.add_column("articles", sa.Column("paywalled", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("articles", sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("articles", sa.Column("access_reasons", ARRAY(sa.Text)))
    op.add_column("articles", sa.Column("extraction_evidence", JSONB))
    op.execute(f"CREATE OR REPLACE VIEW {VIEW} AS {NEW_BODY}")
    op.execute(f"COMMENT ON VIEW {VIEW} IS {_quote(COMMENT)}")


def downgrade() -> None:
    # a view cannot drop columns in place: drop and recreate it
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(f"CREATE VIEW {VIEW} AS {PREVIOUS_BODY}")
    op.execute(f"COMMENT ON VIEW {VIEW} IS {_quote(PREVIOUS_COMMENT)}")
    for column in ("extraction_evidence", "access_reasons", "truncated", "paywalled", "modified_at"):
        op.drop_column("articles", column)
