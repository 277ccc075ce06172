"""``url_queue_poll_discovered``: the URLs live polling queued, by discovery time and source

``veille sources`` counts each source's new items in 7 days: the ``url_queue`` rows live
polling found (``found_by = 'poll'``) discovered in the last 7 days (``health.source_rows``).
No index covered ``discovered_at``, so every call read the whole queue, which is never pruned
(every URL ever discovered, with its feed title and summary): 0.3-0.5 s on 1M rows, growing
with the archive. A partial index on ``(discovered_at, source_id)`` of the polled rows answers
it from the index (an index-only scan of the week's rows): 50 ms on 1M rows (8x), 12 ms
instead of 34 on 100k (3x; ``bench/queue_recent.py``). Its cost on the poll's queue insert:
about 0.2-0.4 ms more a statement of 100 URLs (1.07-1.13x), the commit unchanged; 26 MB on
1M rows. Rows are added at the index's end, and ``discovered_at`` and ``found_by`` are never
updated, so the queue's updates stay as they were.

Revision ID: 0044_queue_poll_discovered
Revises: 0043_story_feature_scheme
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0044_queue_poll_discovered"
down_revision: str | None = "0043_story_feature_scheme"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS url_queue_poll_discovered ON url_queue (discovered_at, source_id)"
        " WHERE found_by = 'poll'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS url_queue_poll_discovered")
