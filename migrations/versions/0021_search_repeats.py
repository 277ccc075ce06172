"""``search_articles`` refuses a query too big for ``ts_headline``: ``search_query(query)``

``ts_headline`` (the snippet) takes time that grows much faster than the number of items of
its tsquery, repeated ones included: ``search_articles`` with "sommet" typed 300 times (a
tsquery of 599 items) took minutes for 20 results. ``veille search`` already drops repeated
words and refuses more than 32 words (``monitors/archive/web_query.py``), but the function
users call in psql took the query as typed.

Now the tsquery is built once, by ``search_query(query)`` (``websearch_to_tsquery`` on the
``french_unaccent`` configuration, as before), which raises ``program_limit_exceeded`` ("too
many words: ...", naming the limit) when it has more than 128 items (``numnode``);
``search_articles`` searches, ranks and highlights with it. ``SELECT numnode(search_query(q))``
shows in psql the size of the query a search runs.

Why a guard and not a de-duplication in SQL: PostgreSQL has no function that takes a tsquery
apart, so dropping a repeated operand would mean parsing the tsquery's text (or the query's
web-search syntax, again) in PL/pgSQL, a second copy of ``web_query``'s rules to keep in step.
A bound on the size is what makes the cost bounded, repeats or not, and is one comparison.
``veille search`` keeps dropping repeats first, so what it accepts (at most 32 words, at most
111 items: 16 negated hyphenated pairs, ``-a-b``) always passes; a psql user who types a word
many times gets the error, whose hint says to type each word once. The cost that is left is
that of the largest query allowed: "sommet" typed 64 times (127 items) takes 6.5 s for 20
results on 2,000 articles each holding the word about 15 times, 32 times 0.7 s, once 0.04 s;
65 times and more is refused at once, where 100 times took 29 s and 150 times 116 s (one-off).

Revision ID: 0021_search_repeats
Revises: 0020_ccnews_jobs
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021_search_repeats"
down_revision: str | None = "0020_ccnews_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the most items (``numnode``) a search's tsquery may have
MAX_QUERY_ITEMS = 128

QUERY_FUNCTION = f"""
CREATE FUNCTION search_query(query text) RETURNS tsquery
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
DECLARE
    q tsquery := websearch_to_tsquery('french_unaccent', veille_unaccent(query));
BEGIN
    IF numnode(q) > {MAX_QUERY_ITEMS} THEN
        RAISE EXCEPTION USING
            ERRCODE = 'program_limit_exceeded',
            MESSAGE = format('too many words: the query makes a tsquery of %s items (numnode), '
                             'a search takes at most {MAX_QUERY_ITEMS}', numnode(q)),
            HINT = 'Type each word once (veille search drops repeated words) and keep the words '
                   'that matter.';
    END IF;
    RETURN q;
END
$$
"""
QUERY_COMMENT = (
    "search_query(query): the tsquery search_articles runs for query (French web-search syntax, "
    f"accents ignored); raises 'too many words' past {MAX_QUERY_ITEMS} items (numnode), "
    "since ts_headline's time grows much faster than the query."
)


def _search_function(tsquery: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION search_articles(query text, max_results integer DEFAULT 20,
                                           relevant_only boolean DEFAULT false)
RETURNS TABLE (id bigint, title text, source text, owner text, family text,
               published_at timestamptz, url text, relevant boolean, rank real, snippet text)
LANGUAGE sql STABLE AS $$
    SELECT hit.id, hit.title, s.name, s.owner, s.family, hit.published_at, hit.url, hit.relevant,
           hit.rank,
           btrim(regexp_replace(
               ts_headline('french_unaccent',
                           CASE WHEN hit.description IS NOT NULL
                                     AND NOT to_tsvector('french_unaccent', veille_unaccent(hit.text)) @@ hit.q
                                THEN hit.description ELSE hit.text END,
                           hit.q,
                           'StartSel=**, StopSel=**, MaxFragments=2, MinWords=6, MaxWords=20, '
                           'FragmentDelimiter=" … "'),
               '\\s+', ' ', 'g'))
    FROM (
        SELECT a.id, a.title, a.source_id, a.published_at, a.url, a.relevant, a.description,
               a.text, q, ts_rank(a.search, q) AS rank
        FROM articles a, {tsquery} AS q
        WHERE a.search @@ q AND (NOT relevant_only OR a.relevant)
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT max_results
    ) hit
    JOIN sources s ON s.id = hit.source_id
    ORDER BY hit.rank DESC, hit.published_at DESC NULLS LAST, hit.id
$$
"""


NEW_FUNCTION = _search_function("search_query(query)")
# 0012_french_unaccent's definition, restored on downgrade.
OLD_FUNCTION = _search_function("websearch_to_tsquery('french_unaccent', veille_unaccent(query))")

NEW_COMMENT = (
    "search_articles(query, max_results = 20, relevant_only = false): French web-search "
    'syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), accents ignored '
    "(elysee finds Élysée), ranked with ts_rank (title weighs more than description, "
    "description more than text), snippet on one line from ts_headline with matches in **bold**. "
    f"The query is search_query(query): 'too many words' past {MAX_QUERY_ITEMS} items (numnode); "
    "type each word once."
)
OLD_COMMENT = (
    "search_articles(query, max_results = 20, relevant_only = false): French web-search "
    'syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), accents ignored '
    "(elysee finds Élysée), ranked with ts_rank (title weighs more than description, "
    "description more than text), snippet on one line from ts_headline with matches in **bold**."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(QUERY_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_query(text) IS {_quote(QUERY_COMMENT)}")
    op.execute(NEW_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_quote(NEW_COMMENT)}")


def downgrade() -> None:
    op.execute(OLD_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_quote(OLD_COMMENT)}")
    op.execute("DROP FUNCTION search_query(text)")
