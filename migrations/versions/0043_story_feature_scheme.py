"""stories.feature_scheme: the words a story's centroid and lookup keys were made of

Story vectors cut Chinese, Japanese and the other scripts written without spaces into
character bigrams since the signatures did (0041); a story that took such an article before
kept its words of then in its centroid (a clause as one word, which no later article shares)
and in its lookup keys, so a later report of its event in that script scored low against it.
Live stories with a member whose title or text holds such a character are marked 1 (those
made since too: recomputing them gives what they hold, up to the order of a merge); the daily
maintenance recomputes the centroid and keys of scheme 1 from the members, in batches.

Revision ID: 0043_story_feature_scheme
Revises: 0042_view_days_undated
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0043_story_feature_scheme"
down_revision: str | None = "0042_view_days_undated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0041 = importlib.import_module("migrations.versions.0041_signature_scheme")

COMMENT = (
    "The words the centroid and lookup keys were made of: 1 before scripts written without spaces"
    " (Chinese, Japanese...) were cut into character bigrams, 2 since; the daily maintenance"
    " recomputes older ones from the members."
)


def upgrade() -> None:
    op.execute("ALTER TABLE stories ADD COLUMN feature_scheme smallint NOT NULL DEFAULT 2")
    op.execute(
        "UPDATE stories s SET feature_scheme = 1 WHERE s.merged_into IS NULL AND EXISTS ("
        " SELECT 1 FROM articles a WHERE a.story_id = s.id"
        f" AND (a.text ~ '{_0041.UNSPACED}' OR a.title ~ '{_0041.UNSPACED}'))"
    )
    op.execute("CREATE INDEX stories_old_features ON stories (id) WHERE feature_scheme < 2")
    op.execute("COMMENT ON COLUMN stories.feature_scheme IS '" + COMMENT.replace("'", "''") + "'")


def downgrade() -> None:
    op.execute("DROP INDEX stories_old_features")
    op.execute("ALTER TABLE stories DROP COLUMN feature_scheme")
