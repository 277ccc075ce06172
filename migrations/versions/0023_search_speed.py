"""``search_articles`` reads the stored ``search`` vector to choose a snippet, and takes a topic

A hit's snippet comes from its text, or from its description when only the description
matches. To tell, ``search_articles`` folded and parsed each hit's whole text again
(``to_tsvector('french_unaccent', veille_unaccent(text)) @@ q``): about 3 ms for a 10 kB text,
``veille_unaccent``'s ``translate`` most of it, so 128 results took about four times as long as
their ``ts_headline`` snippets. The text's lexemes are already in the stored ``search`` column,
under weight C (title A, description B): ``ts_filter(search, '{c}') @@ q`` asks the same
question of them without reading the text (``bench/search.py``).

``veille search --topic T`` asked for ten times its limit (at least 200) and kept the topic's
relevant articles among them: the snippets of all of them were made, and a relevant article
ranked below them was not found. The fourth argument, ``topic`` (default NULL: every article),
keeps only the articles ``article_topics`` marks relevant to that topic, before the limit.

Revision ID: 0023_search_speed
Revises: 0022_language_view_comment
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0023_search_speed"
down_revision: str | None = "0022_language_view_comment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0021 = importlib.import_module("migrations.versions.0021_search_repeats")

NEW_FUNCTION = """
CREATE FUNCTION search_articles(query text, max_results integer DEFAULT 20,
                                relevant_only boolean DEFAULT false, topic text DEFAULT NULL)
RETURNS TABLE (id bigint, title text, source text, owner text, family text,
               published_at timestamptz, url text, relevant boolean, rank real, snippet text)
LANGUAGE sql STABLE AS $$
    SELECT hit.id, hit.title, s.name, s.owner, s.family, hit.published_at, hit.url, hit.relevant,
           hit.rank,
           btrim(regexp_replace(
               ts_headline('french_unaccent',
                           -- the text's lexemes are the search vector's of weight C
                           CASE WHEN hit.description IS NOT NULL AND NOT ts_filter(hit.search, '{c}') @@ hit.q
                                THEN hit.description ELSE hit.text END,
                           hit.q,
                           'StartSel=**, StopSel=**, MaxFragments=2, MinWords=6, MaxWords=20, '
                           'FragmentDelimiter=" … "'),
               '\\s+', ' ', 'g'))
    FROM (
        SELECT a.id, a.title, a.source_id, a.published_at, a.url, a.relevant, a.description,
               a.text, a.search, q, ts_rank(a.search, q) AS rank
        FROM articles a, search_query(query) AS q
        WHERE a.search @@ q AND (NOT relevant_only OR a.relevant)
          AND (search_articles.topic IS NULL
               OR EXISTS (SELECT 1 FROM article_topics t
                          WHERE t.article_id = a.id AND t.topic = search_articles.topic AND t.relevant))
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT max_results
    ) hit
    JOIN sources s ON s.id = hit.source_id
    ORDER BY hit.rank DESC, hit.published_at DESC NULLS LAST, hit.id
$$
"""

NEW_COMMENT = (
    "search_articles(query, max_results = 20, relevant_only = false, topic = NULL): French "
    'web-search syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), accents '
    "ignored (elysee finds Élysée), ranked with ts_rank (title weighs more than description, "
    "description more than text), snippet on one line from ts_headline with matches in **bold**. "
    "With topic, only the articles article_topics marks relevant to it. "
    f"The query is search_query(query): 'too many words' past {_0021.MAX_QUERY_ITEMS} items "
    "(numnode); type each word once."
)


def upgrade() -> None:
    op.execute("DROP FUNCTION search_articles(text, integer, boolean)")
    op.execute(NEW_FUNCTION)
    op.execute(
        f"COMMENT ON FUNCTION search_articles(text, integer, boolean, text) IS {_0021._quote(NEW_COMMENT)}"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION search_articles(text, integer, boolean, text)")
    op.execute(_0021.NEW_FUNCTION)
    op.execute(
        f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_0021._quote(_0021.NEW_COMMENT)}"
    )
