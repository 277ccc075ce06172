"""url_queue: ``feed_published_explicit``, whether the feed's date is the item's publication

A feed dates its item by its publication (RSS ``pubDate``, Atom ``published``, JSON Feed
``date_published``, a news sitemap's ``<news:publication_date>``) or, failing that, by its last
change (``dc:date``, Atom ``updated``, JSON Feed ``date_modified``), and a listing page by a
date printed near the link. Only the first is the publisher's statement of the publication: it
now wins over a page date that is only a guess (page_dates' generic hints; docs/extraction.md).
Rows queued before have none (NULL): their feed date is taken as before, never over the page's.

Revision ID: 0050_feed_date_published
Revises: 0049_unaccent_speed
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0050_feed_date_published"
down_revision: str | None = "0049_unaccent_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("url_queue", sa.Column("feed_published_explicit", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("url_queue", "feed_published_explicit")
