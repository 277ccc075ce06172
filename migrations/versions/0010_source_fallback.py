"""sources: a fallback URL, and blocking told apart from other failures

``fallback_url``/``fallback_kind`` (from the sources file) are polled when the primary URL
fails for good a few polls in a row; ``fallback_since`` says when veille last moved to the
fallback. ``blocked_at``/``blocked_reason``: the primary URL was last seen refusing veille
(401, 403, 429 or a bot-protection challenge page) and why. ``source_health`` gains the
labels ``blocked`` and ``on fallback`` and these columns (at its end).

Revision ID: 0010_source_fallback
Revises: 0009_backfill_jobs
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_source_fallback"
down_revision: str | None = "0009_backfill_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As defined in 0007_errors_last_day (the newest definition of the view before this one).
OLD_VIEW = """
        SELECT s.id, s.name, s.kind, s.owner, s.family, s.status,
               CASE
                   WHEN s.status <> 'active' THEN s.status
                   WHEN s.last_polled_at IS NULL THEN 'never polled'
                   WHEN s.consecutive_failures > 0 THEN 'erroring'
                   WHEN s.last_error_class = 'warning' THEN 'warning'
                   WHEN s.last_new_item_at IS NULL OR s.last_new_item_at < now() - interval '7 days'
                       THEN 'quiet'
                   ELSE 'ok'
               END AS health,
               s.last_polled_at, s.last_success_at, s.last_new_item_at, s.next_poll_at,
               s.consecutive_failures, s.total_failures, s.last_error_class, s.last_error,
               s.not_modified_count, s.new_items_count,
               (SELECT count(*) FROM articles a WHERE a.source_id = s.id) AS articles,
               (SELECT count(*) FROM url_queue q WHERE q.source_id = s.id AND q.state = 'pending')
                   AS pending_urls,
               (SELECT count(*) FROM url_queue q WHERE q.source_id = s.id
                   AND q.state IN ('failed', 'skipped')) AS failed_urls,
               (SELECT count(*) FROM fetch_log f WHERE f.source_id = s.id
                   AND f.at > now() - interval '1 day' AND f.error_class IS NOT NULL
                   AND f.kind IN ('feed', 'sitemap', 'listing', 'fallback', 'page'))
                   AS errors_last_day
        FROM sources s
"""
NEW_HEALTH = """                   WHEN s.consecutive_failures > 0 AND s.last_error_class = 'blocked' THEN 'blocked'
                   WHEN s.consecutive_failures > 0 THEN 'erroring'
                   WHEN s.fallback_since IS NOT NULL THEN 'on fallback'
"""
NEW_VIEW = OLD_VIEW.replace(
    "                   WHEN s.consecutive_failures > 0 THEN 'erroring'\n", NEW_HEALTH
).replace(
    "                   AS errors_last_day\n",
    "                   AS errors_last_day,\n"
    "               s.blocked_at, s.blocked_reason, s.fallback_url, s.fallback_kind, s.fallback_since\n",
)
COMMENT = (
    "One row per source: status and a health label (disabled, failing, blocked = refused as "
    "a bot, erroring, on fallback = polled at its fallback URL, warning, quiet = nothing new "
    "for 7 days, never polled, ok), the health columns, articles stored, URLs pending and "
    "failed, errors_last_day (polls and page fetches that failed in the last 24 hours; "
    "discovery probes and sitemap children not counted), and the blocked and fallback columns."
)
OLD_COMMENT = (
    "One row per source: status and a health label (disabled, failing, erroring, warning, "
    "quiet = nothing new for 7 days, never polled, ok), the health columns, articles "
    "stored, URLs pending and failed, and errors_last_day: polls and page fetches that "
    "failed in the last 24 hours (discovery probes and sitemap children not counted)."
)
KINDS = "('feed', 'sitemap', 'listing')"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.add_column("sources", sa.Column("fallback_url", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("fallback_kind", sa.Text(), nullable=True))
    op.add_column("sources", sa.Column("fallback_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sources", sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("sources", sa.Column("blocked_reason", sa.Text(), nullable=True))
    op.create_check_constraint("sources_fallback_kind", "sources", f"fallback_kind IN {KINDS}")
    op.execute(f"CREATE OR REPLACE VIEW source_health AS {NEW_VIEW}")
    op.execute(f"COMMENT ON VIEW source_health IS {_quote(COMMENT)}")


def downgrade() -> None:
    op.execute("DROP VIEW source_health")
    op.execute(f"CREATE VIEW source_health AS {OLD_VIEW}")
    op.execute(f"COMMENT ON VIEW source_health IS {_quote(OLD_COMMENT)}")
    op.drop_constraint("sources_fallback_kind", "sources", type_="check")
    for column in ("blocked_reason", "blocked_at", "fallback_since", "fallback_kind", "fallback_url"):
        op.drop_column("sources", column)
