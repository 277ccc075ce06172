"""url_queue.found_by: how a queued URL was found (live polling, a backfill of the site, a web archive)

``veille sources`` counts a source's new items in 7 days from the URLs queued for it in 7 days
(``discovered_at``). A backfill queues its past URLs with today's ``discovered_at``: a source
backfilled today showed "4 new in 7 days" while ``never polled`` or ``quiet`` (whose
``last_new_item_at`` only live polling sets). ``found_by`` says who queued the row: ``poll``
(live polling, the default), ``backfill`` (``veille backfill`` reading the site's own feeds,
sitemaps and listings for the past) or ``archive`` (a web archive's capture: ``--from
wayback``, ``commoncrawl``, ``ccnews``); the new items of a week are the rows live polling
found. A row keeps the value of whoever queued it first (a poll listing a URL a backfill
queued finds nothing new). Rows queued before: ``archive`` when they have an
``archive_captures`` row, else ``poll`` (a past backfill of the live site left no mark).

Revision ID: 0040_queue_found_by
Revises: 0039_search_topic_known
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0040_queue_found_by"
down_revision: str | None = "0039_search_topic_known"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMENT = (
    "How the URL was found: poll (live polling), backfill (veille backfill reading the site's past) "
    "or archive (a web archive's capture); veille sources' new items in 7 days are poll's."
)


def upgrade() -> None:
    op.execute(
        "ALTER TABLE url_queue ADD COLUMN found_by text NOT NULL DEFAULT 'poll'"
        " CONSTRAINT url_queue_found_by CHECK (found_by IN ('poll', 'backfill', 'archive'))"
    )
    op.execute(
        "UPDATE url_queue q SET found_by = 'archive'"
        " WHERE EXISTS (SELECT 1 FROM archive_captures c WHERE c.queue_id = q.id)"
    )
    op.execute("COMMENT ON COLUMN url_queue.found_by IS '" + COMMENT.replace("'", "''") + "'")


def downgrade() -> None:
    op.execute("ALTER TABLE url_queue DROP COLUMN found_by")
