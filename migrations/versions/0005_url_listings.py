"""url_listings: every source that listed a queued URL, so each becomes a sighting

Revision ID: 0005_url_listings
Revises: 0004_archive_views
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_url_listings"
down_revision: str | None = "0004_archive_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "url_listings",
        sa.Column("queue_id", sa.BigInteger(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column(
            "first_seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.ForeignKeyConstraint(["queue_id"], ["url_queue.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("queue_id", "source_id", "url"),
    )
    op.create_index("url_listings_source", "url_listings", ["source_id"])
    op.execute(
        "INSERT INTO url_listings (queue_id, source_id, url, first_seen_at)"
        " SELECT id, source_id, url, discovered_at FROM url_queue"
    )
    op.execute(
        "COMMENT ON TABLE url_listings IS 'Every source that listed a queued URL (the queue row"
        " belongs to the first); each becomes a sighting of the article the URL led to.'"
    )


def downgrade() -> None:
    op.drop_index("url_listings_source", table_name="url_listings")
    op.drop_table("url_listings")
