"""``fetch_log_sitemap_children``: the child sitemaps a source's polls read, by source and time

Each poll batch asks which child sitemaps its sources' polls read within the sitemap window
(``polls._sitemaps_read``: ``kind = 'sitemap-child'``, ``outcome = 'ok'``, ``at >= since``).
Only the ``source_id`` index served it, so the query read every ``fetch_log`` row of the batch's
sources (page fetches, polls, their whole history) to keep the few child-sitemap rows of the
last days: about 30 ms a batch of 50 sources on 2M rows, growing with the log, which is never
pruned. A partial index on those rows alone makes it about 1 ms (``bench/sitemaps_read.py``,
29x on 2M rows); it holds only the ``sitemap-child`` rows, a small share of the log.

Revision ID: 0024_sitemap_children_index
Revises: 0023_search_speed
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_sitemap_children_index"
down_revision: str | None = "0023_search_speed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS fetch_log_sitemap_children ON fetch_log (source_id, at)"
        " WHERE kind = 'sitemap-child' AND outcome = 'ok'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS fetch_log_sitemap_children")
