"""source_health.errors_last_day counts polls and pages, not the probes around them

A feed that answered 404 once was counted as five errors: its poll, then the homepage and
candidate feeds that discovery fetched. Discovery probes (kind ``discovery``), sitemap
children (``sitemap-child``) and unusable entries (``entry``) are now left out; a poll
(``feed``, ``sitemap``, ``listing``, ``fallback``) or a page that failed counts once.

Revision ID: 0007_errors_last_day
Revises: 0006_article_bands_no_fk
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_errors_last_day"
down_revision: str | None = "0006_article_bands_no_fk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_FILTER = "AND f.at > now() - interval '1 day' AND f.error_class IS NOT NULL)"
NEW_FILTER = (
    "AND f.at > now() - interval '1 day' AND f.error_class IS NOT NULL\n"
    "                   AND f.kind IN ('feed', 'sitemap', 'listing', 'fallback', 'page'))"
)
# As defined in 0004_archive_views (the newest definition of the view before this one).
VIEW = f"""
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
                   {OLD_FILTER}
                   AS errors_last_day
        FROM sources s
"""
COMMENT = (
    "One row per source: status and a health label (disabled, failing, erroring, warning, "
    "quiet = nothing new for 7 days, never polled, ok), the health columns, articles "
    "stored, URLs pending and failed, and errors_last_day: polls and page fetches that "
    "failed in the last 24 hours (discovery probes and sitemap children not counted)."
)
OLD_COMMENT = (
    "One row per source: status and a health label (disabled, failing, erroring, warning, "
    "quiet = nothing new for 7 days, never polled, ok), the health columns, articles "
    "stored, URLs pending and failed, fetch errors in the last 24 hours."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW source_health AS {VIEW.replace(OLD_FILTER, NEW_FILTER)}")
    op.execute(f"COMMENT ON VIEW source_health IS {_quote(COMMENT)}")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW source_health AS {VIEW}")
    op.execute(f"COMMENT ON VIEW source_health IS {_quote(OLD_COMMENT)}")
