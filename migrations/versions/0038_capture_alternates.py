"""archive_capture_alternates: a page's other captures, fetched when the kept one comes to nothing

A backfill queues one capture a page (the first one listed, or the first under the source's
scheme) and dropped the others the archive listed: when that capture was a redirect, a soft
404, not HTML or failed for good, the page was never stored though the archive held a good
capture of it. The others are kept here, one row each, and the next one (oldest first) takes
the kept capture's place in ``archive_captures`` when it comes to nothing.

Revision ID: 0038_capture_alternates
Revises: 0037_archive_capture_outcome
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_capture_alternates"
down_revision: str | None = "0037_archive_capture_outcome"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "archive_capture_alternates",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column(
            "queue_id", sa.BigInteger(), sa.ForeignKey("url_queue.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("archive", sa.Text(), nullable=False),
        sa.Column("archived_url", sa.Text(), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warc_filename", sa.Text()),
        sa.Column("warc_offset", sa.BigInteger()),
        sa.Column("warc_length", sa.BigInteger()),
    )
    # one row a capture: a Common Crawl file holds many, told apart by their offset
    op.execute(
        "CREATE UNIQUE INDEX archive_capture_alternates_capture ON archive_capture_alternates"
        " (queue_id, archived_url, coalesce(warc_offset, -1))"
    )
    op.execute(
        "COMMENT ON TABLE archive_capture_alternates IS 'The other captures a backfill found of a"
        " queued page (archive_captures has the one it fetches): the oldest takes its place when"
        " that one is a redirect, a soft 404, not HTML or failed for good.'"
    )


def downgrade() -> None:
    op.drop_table("archive_capture_alternates")
