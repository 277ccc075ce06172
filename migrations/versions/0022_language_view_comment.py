"""The ``language_disagreements`` view gets its description, as every other view has one.

README sends users to ``\\dv+`` in psql for the documented views; this one, created by 0002
before views were described (0004), showed an empty description there.

Revision ID: 0022_language_view_comment
Revises: 0021_search_repeats
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022_language_view_comment"
down_revision: str | None = "0021_search_repeats"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = (
    "Articles whose detected language (language, confidence) differs from the one the page or "
    "its feed declares (declared_language; declared_language_source: page = <html lang>, feed = "
    "the feed's <language>); 'und' (undetermined) is not a disagreement."
)


def upgrade() -> None:
    op.execute("COMMENT ON VIEW language_disagreements IS '" + COMMENT.replace("'", "''") + "'")


def downgrade() -> None:
    op.execute("COMMENT ON VIEW language_disagreements IS NULL")
