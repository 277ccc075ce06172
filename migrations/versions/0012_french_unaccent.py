"""accent-insensitive French search: the ``french_unaccent`` configuration

``veille search elysee`` found nothing, "Elysée" and "Élysée" found disjoint sets and
"Melenchon" missed "Mélenchon": the ``french`` configuration keeps accents in its lexemes.
Now every text and query is folded by ``veille_unaccent(text)`` (accents and the ligatures
œ/æ, in plain SQL, so it works on every PostgreSQL, the embedded one included, whose build has
no contrib extensions) before the ``french_unaccent`` configuration (a copy of ``french``)
stems it. Where the ``unaccent`` extension can be installed, the configuration also maps words
through it ahead of the French stemmer (``unaccent, french_stem``), so a raw
``to_tsquery('french_unaccent', 'Élysée')`` typed in psql matches too, and ``ts_headline``
highlights accented words found by an unaccented query.

The generated ``search`` column cannot change its expression in place (before PostgreSQL
17): it is dropped and added again, which rebuilds its GIN index; the views that read it are
saved (``pg_get_viewdef``, their comments) and recreated as they were, whoever defined them.

``search_articles`` folds its query the same way, takes its snippet from the text (or the
description when only it matches) instead of both joined (their lead was shown twice), and
returns it on one line.

Revision ID: 0012_french_unaccent
Revises: 0011_extraction_quality
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_french_unaccent"
down_revision: str | None = "0011_extraction_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACCENTED = "ÀÁÂÃÄÅàáâãäåÇçÈÉÊËèéêëÌÍÎÏìíîïÑñÒÓÔÕÖØòóôõöøÙÚÛÜùúûüÝýÿŸ"
PLAIN = "AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiNnOOOOOOooooooUUUUuuuuYyyY"
assert len(ACCENTED) == len(PLAIN)

FOLD_FUNCTION = f"""
CREATE FUNCTION veille_unaccent(input text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT replace(replace(replace(replace(translate(input, '{ACCENTED}', '{PLAIN}'),
           'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE')
$$
"""
FOLD_COMMENT = (
    "The text without accents (and with oe/ae for the ligatures): veille folds every text and "
    "query with it before the french_unaccent configuration, so that elysee finds Élysée."
)


def _vector(config: str, fold: bool) -> str:
    def part(column: str, weight: str) -> str:
        value = f"coalesce({column}, '')" if column != "text" else "text"
        if fold:
            value = f"veille_unaccent({value})"
        return f"setweight(to_tsvector('{config}'::regconfig, {value}), '{weight}')"

    return " || ".join(part(c, w) for c, w in (("title", "A"), ("description", "B"), ("text", "C")))


NEW_SEARCH = _vector("french_unaccent", fold=True)
OLD_SEARCH = _vector("french", fold=False)

# The snippet: from the text when it matches, else from the description; one line.
NEW_FUNCTION = """
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
        FROM articles a, websearch_to_tsquery('french_unaccent', veille_unaccent(query)) AS q
        WHERE a.search @@ q AND (NOT relevant_only OR a.relevant)
        ORDER BY rank DESC, a.published_at DESC NULLS LAST, a.id
        LIMIT max_results
    ) hit
    JOIN sources s ON s.id = hit.source_id
    ORDER BY hit.rank DESC, hit.published_at DESC NULLS LAST, hit.id
$$
"""

# 0004_archive_views' definition, restored on downgrade.
OLD_FUNCTION = """
CREATE OR REPLACE FUNCTION search_articles(query text, max_results integer DEFAULT 20,
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
    'syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), accents ignored '
    "(elysee finds Élysée), ranked with ts_rank (title weighs more than description, "
    "description more than text), snippet on one line from ts_headline with matches in **bold**."
)

# Views reading articles.search, directly or through another view, deepest last.
DEPENDENT_VIEWS = """
WITH RECURSIVE deps(oid, depth) AS (
    SELECT DISTINCT r.ev_class, 1
    FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
    WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = 'articles'::regclass
      AND d.refobjsubid = (SELECT attnum FROM pg_attribute
                           WHERE attrelid = 'articles'::regclass AND attname = 'search')
    UNION
    SELECT r.ev_class, deps.depth + 1
    FROM deps JOIN pg_depend d ON d.refobjid = deps.oid AND d.classid = 'pg_rewrite'::regclass
    JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> deps.oid
)
SELECT c.oid::regclass::text AS name, c.relkind, max(deps.depth) AS depth,
       pg_get_viewdef(c.oid) AS body, obj_description(c.oid, 'pg_class') AS comment
FROM deps JOIN pg_class c ON c.oid = deps.oid
GROUP BY c.oid, c.relkind
ORDER BY depth, name
"""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# The views are saved, dropped and made again by the server itself (plpgsql), not read back
# into Python: the migration then also runs as a script, `alembic upgrade head --sql`.
SAVE_VIEWS = f"CREATE TEMP TABLE veille_saved_views AS {DEPENDENT_VIEWS}"
VIEW_KIND = "CASE WHEN v.relkind = 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END"
DROP_VIEWS = f"""
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT * FROM veille_saved_views ORDER BY depth DESC, name DESC LOOP
        EXECUTE format('DROP %s IF EXISTS %s', {VIEW_KIND}, v.name);
    END LOOP;
END $$
"""
RESTORE_VIEWS = f"""
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT * FROM veille_saved_views ORDER BY depth, name LOOP
        EXECUTE format('CREATE %s %s AS %s', {VIEW_KIND}, v.name, v.body);
        IF v.comment IS NOT NULL THEN
            EXECUTE format('COMMENT ON %s %s IS %L', {VIEW_KIND}, v.name, v.comment);
        END IF;
    END LOOP;
END $$
"""


def _rebuild_search_column(expression: str) -> None:
    """Drop and add ``articles.search`` (and its index), keeping the views that read it."""
    op.execute(SAVE_VIEWS)
    op.execute(DROP_VIEWS)
    op.execute("DROP INDEX IF EXISTS articles_search")
    op.execute("ALTER TABLE articles DROP COLUMN search")
    op.execute(f"ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS ({expression}) STORED")
    op.execute("CREATE INDEX articles_search ON articles USING gin (search)")
    op.execute(RESTORE_VIEWS)
    op.execute("DROP TABLE veille_saved_views")


#: Where this server ships the unaccent extension and this role may install it, the
#: configuration maps words through it too (decided by the server: a script works as well).
UNACCENT_IF_INSTALLABLE = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent')
       OR (EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent')
           AND has_database_privilege(current_database(), 'CREATE')) THEN
        CREATE EXTENSION IF NOT EXISTS unaccent;
        ALTER TEXT SEARCH CONFIGURATION french_unaccent
            ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
    END IF;
END $$
"""


def upgrade() -> None:
    op.execute(FOLD_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION veille_unaccent(text) IS {_quote(FOLD_COMMENT)}")
    op.execute("CREATE TEXT SEARCH CONFIGURATION french_unaccent (COPY = pg_catalog.french)")
    op.execute(UNACCENT_IF_INSTALLABLE)
    op.execute(
        "COMMENT ON TEXT SEARCH CONFIGURATION french_unaccent IS "
        + _quote("French stemming of text folded by veille_unaccent(): accents do not count.")
    )
    _rebuild_search_column(NEW_SEARCH)
    op.execute(NEW_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_quote(SEARCH_COMMENT)}")


OLD_COMMENT = (
    "search_articles(query, max_results = 20, relevant_only = false): French web-search "
    'syntax (websearch_to_tsquery: words, "exact phrase", OR, -excluded), ranked with '
    "ts_rank (title weighs more than description, description more than text), snippet "
    "from ts_headline with matches in **bold**."
)


def downgrade() -> None:
    op.execute(OLD_FUNCTION)
    op.execute(f"COMMENT ON FUNCTION search_articles(text, integer, boolean) IS {_quote(OLD_COMMENT)}")
    _rebuild_search_column(OLD_SEARCH)
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS french_unaccent")
    op.execute("DROP FUNCTION IF EXISTS veille_unaccent(text)")
