"""articles_with_source shows where each article's title and dates came from

``articles_with_source`` gains ``title_from`` and ``published_from`` (the fields of
``articles.extraction_evidence`` a user checks first when a title or a date looks wrong) and
``extraction_evidence`` itself (appended, so the view is replaced in place).

Revision ID: 0019_extraction_evidence_view
Revises: 0018_wire_copies_story
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0019_extraction_evidence_view"
down_revision: str | None = "0018_wire_copies_story"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIEW = "articles_with_source"
DAY = "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date"
#: The view as the newest earlier migration that defines it (0011_extraction_quality) left it.
PREVIOUS_BODY = f"""
        SELECT a.id, {DAY} AS day, a.published_at, a.fetched_at,
               s.name AS source, s.owner, s.family, s.kind AS source_kind,
               a.title, a.author, a.description, a.url, a.canonical_url,
               a.language, a.relevance, a.relevant, a.relevance_terms, a.topic_version,
               a.wire, a.cluster_id, a.duplicate_of,
               (SELECT count(*) FROM sightings si WHERE si.article_id = a.id) AS outlets,
               a.text, a.search, a.modified_at, a.paywalled, a.truncated, a.access_reasons
        FROM articles a JOIN sources s ON s.id = a.source_id
        """
PREVIOUS_COMMENT = (
    "One row per stored article with the source that first carried it: name, owner "
    "(media or party), political family. day = publication date (else fetch date) in "
    "Europe/Paris; outlets = how many sightings (source, URL) carried the same text; "
    "modified_at = the page's own modification date; paywalled / truncated with "
    "access_reasons (a subscription notice, isAccessibleForFree false, a text that stops "
    "mid-sentence)."
)
NEW_BODY = PREVIOUS_BODY.replace(
    "a.truncated, a.access_reasons\n",
    "a.truncated, a.access_reasons,\n"
    "               a.extraction_evidence ->> 'title_from' AS title_from,\n"
    "               a.extraction_evidence ->> 'published_from' AS published_from,\n"
    "               a.extraction_evidence\n",
)
COMMENT = PREVIOUS_COMMENT + (
    " title_from / published_from = the field the title and the publication date came from; "
    "extraction_evidence = all the extraction decided (dates that disagreed, dates rejected, "
    "lines removed)."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW {VIEW} AS {NEW_BODY}")
    op.execute(f"COMMENT ON VIEW {VIEW} IS {_quote(COMMENT)}")


def downgrade() -> None:
    # a view cannot drop columns in place: drop and recreate it
    op.execute(f"DROP VIEW {VIEW}")
    op.execute(f"CREATE VIEW {VIEW} AS {PREVIOUS_BODY}")
    op.execute(f"COMMENT ON VIEW {VIEW} IS {_quote(PREVIOUS_COMMENT)}")
