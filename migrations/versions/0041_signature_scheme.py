"""articles.signature_scheme: the words an article's MinHash signature was made of

Since Chinese, Japanese and the other scripts written without spaces are cut into character
bigrams (scheme 2), a signature stored before (scheme 1: a run of such characters was one word,
a whole clause) shares almost nothing with a later copy's, which is then not linked. Rows whose
text holds such a run are marked 1 (those stored since the change too: recomputing them gives
the same signature); every other text signs the same under both schemes and is marked 2. The
daily maintenance recomputes the signatures and band keys of scheme 1 in batches.

Revision ID: 0041_signature_scheme
Revises: 0040_queue_found_by
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0041_signature_scheme"
down_revision: str | None = "0040_queue_found_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: monitors.group.copies._UNSPACED as it was when this ran (Thai, Lao, Myanmar, Khmer, kana,
#: CJK ideographs and their extensions, halfwidth katakana), in PostgreSQL's escapes
UNSPACED = (
    r"[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff"
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)
COMMENT = (
    "The words signature was made of: 1 before scripts written without spaces (Chinese, Japanese...)"
    " were cut into character bigrams, 2 since; the daily maintenance recomputes older ones."
)


def upgrade() -> None:
    op.execute("ALTER TABLE articles ADD COLUMN signature_scheme smallint NOT NULL DEFAULT 2")
    op.execute(
        "UPDATE articles SET signature_scheme = 1 WHERE signature IS NOT NULL AND text ~ '" + UNSPACED + "'"
    )
    op.execute("CREATE INDEX articles_old_signature ON articles (id) WHERE signature_scheme < 2")
    op.execute("COMMENT ON COLUMN articles.signature_scheme IS '" + COMMENT.replace("'", "''") + "'")


def downgrade() -> None:
    op.execute("DROP INDEX articles_old_signature")
    op.execute("ALTER TABLE articles DROP COLUMN signature_scheme")
