"""archive views and French full-text search function

Read-only views for analysts (each documented with COMMENT ON, so ``\\dv+`` in psql explains
them) and ``search_articles(query)``: ranked French web-search with highlighted snippets.

Revision ID: 0004_archive_views
Revises: 0003_feed_update_period
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004_archive_views"
down_revision: str | None = "0003_feed_update_period"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The day an article belongs to: its publication date (else when it was fetched), in Paris time.
DAY = "(coalesce(a.published_at, a.fetched_at) AT TIME ZONE 'Europe/Paris')::date"

VIEWS: list[tuple[str, str, str]] = [
    (
        "articles_with_source",
        f"""
        SELECT a.id, {DAY} AS day, a.published_at, a.fetched_at,
               s.name AS source, s.owner, s.family, s.kind AS source_kind,
               a.title, a.author, a.description, a.url, a.canonical_url,
               a.language, a.relevance, a.relevant, a.relevance_terms, a.topic_version,
               a.wire, a.cluster_id, a.duplicate_of,
               (SELECT count(*) FROM sightings si WHERE si.article_id = a.id) AS outlets,
               a.text, a.search
        FROM articles a JOIN sources s ON s.id = a.source_id
        """,
        "One row per stored article with the source that first carried it: name, owner "
        "(media or party), political family. day = publication date (else fetch date) in "
        "Europe/Paris; outlets = how many sightings (source, URL) carried the same text.",
    ),
    (
        "relevant_sightings",
        f"""
        SELECT DISTINCT ON (si.article_id, s.id)
               {DAY} AS day, a.id AS article_id, s.id AS source_id, s.name AS source, s.owner,
               s.family, a.title, si.url
        FROM sightings si
        JOIN articles a ON a.id = si.article_id
        JOIN sources s ON s.id = si.source_id
        WHERE a.relevant
        ORDER BY si.article_id, s.id, si.first_seen_at
        """,
        "Relevant articles once per source that ran them (the first source and every outlet "
        "that republished the same text): the base of the daily_relevant_* counts.",
    ),
    (
        "daily_relevant_by_source",
        """
        SELECT day, source, owner, family, count(*) AS articles
        FROM relevant_sightings GROUP BY day, source, owner, family
        """,
        "Per day (Europe/Paris) and source: relevant articles that source ran, republished copies included.",
    ),
    (
        "daily_relevant_by_owner",
        """
        SELECT day, owner, count(DISTINCT article_id) AS articles, count(DISTINCT source_id) AS sources
        FROM relevant_sightings GROUP BY day, owner
        """,
        "Per day (Europe/Paris) and owner (media | party): distinct relevant articles and how "
        "many sources ran them.",
    ),
    (
        "daily_relevant_by_family",
        """
        SELECT day, family, count(DISTINCT article_id) AS articles, count(DISTINCT source_id) AS sources
        FROM relevant_sightings WHERE family IS NOT NULL GROUP BY day, family
        """,
        "Per day (Europe/Paris) and political family (sources without a family are left out): "
        "distinct relevant articles and how many sources ran them.",
    ),
    (
        "source_health",
        """
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
                   AND f.at > now() - interval '1 day' AND f.error_class IS NOT NULL)
                   AS errors_last_day
        FROM sources s
        """,
        "One row per source: status and a health label (disabled, failing, erroring, warning, "
        "quiet = nothing new for 7 days, never polled, ok), the health columns, articles "
        "stored, URLs pending and failed, fetch errors in the last 24 hours.",
    ),
    (
        "wire_copies",
        """
        WITH story AS (
            SELECT a.*, coalesce(a.cluster_id, a.id) AS story_id,
                   max(a.wire) OVER w AS agency,
                   first_value(a.title) OVER (PARTITION BY coalesce(a.cluster_id, a.id)
                       ORDER BY a.published_at NULLS LAST, a.id) AS story_title,
                   min(a.published_at) OVER w AS story_published_at
            FROM articles a
            WINDOW w AS (PARTITION BY coalesce(a.cluster_id, a.id))
        )
        SELECT st.story_id, st.agency, st.story_title, st.story_published_at,
               (st.story_published_at AT TIME ZONE 'Europe/Paris')::date AS story_day,
               st.id AS article_id, s.name AS outlet, s.owner, s.family, si.url,
               st.published_at, si.first_seen_at
        FROM story st
        JOIN sightings si ON si.article_id = st.id
        JOIN sources s ON s.id = si.source_id
        WHERE st.agency IS NOT NULL
        """,
        "Agency (AFP, Reuters, AP) dispatches and every outlet that ran them: one row per "
        "story and outlet URL. A story is an article with a wire credit plus its exact copies "
        "(sightings) and its near-duplicates (same cluster_id, whose value is the id of an "
        "article of the cluster).",
    ),
]

SEARCH_FUNCTION = """
CREATE FUNCTION search_articles(query text, max_results integer DEFAULT 20,
                                relevant_only boolean DEFAULT false)
RETURNS TABLE (id bigint, title text, source text, owner text, family text,
               published_at timestamptz, url text, relevant boolean, rank real, snippet text)
LANGUAGE sql STABLE AS $$
    SELECT hit.id, hit.title, s.name, s.owner, s.family, hit.published_at, hit.url, hit.relevant,
           hit.rank,
           ts_headline('french', coalesce(hit.description || E'\\n', '') || hit.text, hit.q,
                       'StartSel=**, StopSel=**, MaxFragments=2, MinWords=6, MaxWords=20, '
                       'FragmentDelimiter=" … "')
    FROM (
        SELECT a.id, a.title, a.source_id, a.published_at, a.url, a.relevant, a.description,
               a.text, q, ts_rank(a.search, q) AS rank
        FROM articles a, websearch_to_tsquery('french', query) AS q
        WHERE a.search @@ q AND (NOT relevant_only OR a.relevant)
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT max_results
    ) hit
    JOIN sources s ON s.id = hit.source_id
    ORDER BY hit.rank DESC, hit.published_at DESC NULLS LAST, hit.id
$$
"""

SEARCH_COMMENT = (
    "search_articles(query, max_results = 20, relevant_only = false): French web-search "
    'syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), ranked with '
    "ts_rank (title weighs more than description, description more than text), snippet "
    "from ts_headline with matches in **bold**."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    for name, body, comment in VIEWS:
        op.execute(f"CREATE VIEW {name} AS {body}")
        op.execute(f"COMMENT ON VIEW {name} IS {_quote(comment)}")
    op.execute(SEARCH_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_quote(SEARCH_COMMENT)}")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS search_articles(text, integer, boolean)")
    for name, _body, _comment in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {name}")
