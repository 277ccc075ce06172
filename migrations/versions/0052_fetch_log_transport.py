"""fetch_log.transport: what a response's headers said wrongly and how its body was read

A page, feed or sitemap sent with ``Content-Encoding: gzip`` (or deflate) on a body that is
not compressed is read as sent (498cff7). The article path wrote that to
``articles.extraction_evidence.transport``; a feed's or a sitemap's poll, and a page that
gave no article, kept it nowhere. Each fetch's row now says it (NULL when the headers were
right), for every kind.

Revision ID: 0052_fetch_log_transport
Revises: 0051_refusals_index_headline
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0052_fetch_log_transport"
down_revision: str | None = "0051_refusals_index_headline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fetch_log", sa.Column("transport", sa.Text))
    op.execute(
        "COMMENT ON COLUMN fetch_log.transport IS 'What the response''s headers said wrongly and "
        "how the body was read all the same (a Content-Encoding the body is not in); NULL when "
        "they were right'"
    )


def downgrade() -> None:
    op.drop_column("fetch_log", "transport")
