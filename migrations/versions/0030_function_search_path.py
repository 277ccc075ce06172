"""The archive's SQL functions find its tables and functions whatever the caller's ``search_path``

0027 fixed ``veille_local_timezone()``; the other functions the migrations made name tables,
functions and the ``french_unaccent`` text search configuration by their bare names too,
resolved when they run, on the caller's ``search_path``. A role whose path does not name the
archive's schema (a user's psql session, a reader role) got ``relation "articles" does not
exist`` from ``search_articles`` (``function veille_unaccent(text) does not exist`` from
``search_query``), and a ``DELETE FROM articles`` failed in its triggers
(``article_bands_cascade``, ``articles_story_refresh`` and the ``story_refresh`` it calls).

``search_articles`` (SQL, STABLE, one SELECT) is inlined into the query calling it; a function
with a ``SET`` clause is not, so its body (0023's) names each object with its schema instead:
the schema of ``articles``, as 0027 finds it. The others are never inlined (PL/pgSQL,
or an UPDATE): each gets ``SET search_path`` to that schema (then ``pg_temp``, so that a
temporary table cannot stand in for an archive table), its body unchanged. Functions keep their
names, comments, owners and grants. ``veille_unaccent`` calls only built-in functions.

Revision ID: 0030_function_search_path
Revises: 0029_fetch_unreached
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0030_function_search_path"
down_revision: str | None = "0029_fetch_unreached"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0023 = importlib.import_module("migrations.versions.0023_search_speed")

#: the functions given a search_path (their bodies unchanged)
PINNED = (
    "search_query(text)",
    "story_refresh(bigint)",
    "articles_story_refresh()",
    "article_bands_cascade()",
)

#: 0023's search_articles (a format() string): each archive object it names, with its schema
#: (%1$I); the body otherwise the same
QUALIFIED = {
    "CREATE FUNCTION search_articles(": "CREATE OR REPLACE FUNCTION %1$I.search_articles(",
    "'french_unaccent'": "'%1$I.french_unaccent'",
    "FROM articles a, search_query(query)": "FROM %1$I.articles a, %1$I.search_query(query)",
    "FROM article_topics t": "FROM %1$I.article_topics t",
    "JOIN sources s": "JOIN %1$I.sources s",
    "$$": "$body$",
}


def _qualified(body: str) -> str:
    for bare, qualified in QUALIFIED.items():
        assert body.count(bare) == (2 if bare == "$$" else 1), bare  # 0023's body as written
        body = body.replace(bare, qualified)
    assert "%" not in body.replace("%1$I", ""), "a % format() would read"
    return body


SEARCH_FUNCTION = _qualified(_0023.NEW_FUNCTION)


def _in_schema(statements: list[str]) -> str:
    """A DO block running each statement (a format() string, %1$I the schema of ``articles``)
    in that schema: the same in the ``--sql`` script as online."""
    body = "\n".join(
        f"    EXECUTE format('{s.replace(chr(39), chr(39) * 2)}', archive_schema);" for s in statements
    )
    return f"""
DO $do$
DECLARE
    archive_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE c.oid = 'articles'::regclass);
BEGIN
{body}
END
$do$
"""


def upgrade() -> None:
    op.execute(
        _in_schema(
            [SEARCH_FUNCTION] + [f"ALTER FUNCTION %1$I.{f} SET search_path = %1$I, pg_temp" for f in PINNED]
        )
    )


def downgrade() -> None:
    for function in PINNED:
        op.execute(f"ALTER FUNCTION {function} RESET search_path")
    op.execute(_0023.NEW_FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
