"""``url_queue_updated``: the queue rows by last change, for ``veille backfill``'s progress bar

The bar counts, twice a second while a backfill runs, the ``url_queue`` rows touched since the
run began (queued, re-queued, claimed or settled since) and how many are settled. It read
``WHERE discovered_at >= :start OR updated_at >= :start``, which no index served: the whole
queue, which is never pruned, twice a second, competing with the backfill itself. A row's
``updated_at`` is set when it is inserted and on each change, so it is never before its
``discovered_at``: the condition is ``updated_at >= :start`` alone, a range of this index
(figures and its cost on the queue's inserts and claims: bench/README.md, bench/backfill_progress.py).

Revision ID: 0045_queue_updated
Revises: 0044_queue_poll_discovered
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0045_queue_updated"
down_revision: str | None = "0044_queue_poll_discovered"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS url_queue_updated ON url_queue (updated_at)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS url_queue_updated")
