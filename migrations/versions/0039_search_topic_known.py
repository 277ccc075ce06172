"""search_articles with a topic no article was scored against is an error, not an empty answer

``veille search --topic nope`` says ``no topic named 'nope' (topics in the folder ...)`` and
exits 2; in psql, ``search_articles(q, n, topic => 'nope')`` (a misspelt name, or a topic's
file name for its name) quietly returned no rows, as if nothing matched. The archive does not
hold the topic folder; what it knows of topics is ``article_topics``, every article scored
against every active topic. ``search_topic_known(topic)`` is true when some article was
scored against ``topic`` (or ``topic`` is NULL) and otherwise raises ``invalid_parameter_value``
naming the topics that were (``SELECT DISTINCT topic FROM article_topics``), with a hint that a
topic new to the folder is scored by the next ``veille run`` or by ``veille rescore``.

``search_articles`` calls it once per search: a condition on its arguments alone is a one-time
filter of the plan, tested before any article is read (so an unknown topic is an error even
when the query matches nothing), and the function stays an SQL function inlined into its
caller's query. The body is otherwise 0034's, each archive object named with its schema.

Revision ID: 0039_search_topic_known
Revises: 0038_capture_alternates
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0039_search_topic_known"
down_revision: str | None = "0038_capture_alternates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0021 = importlib.import_module("migrations.versions.0021_search_repeats")
_0030 = importlib.import_module("migrations.versions.0030_function_search_path")
_0034 = importlib.import_module("migrations.versions.0034_search_topic_relevant")

#: the check (a format() string for 0030's _in_schema: %1$I the archive's schema, no other %)
KNOWN_FUNCTION = """
CREATE OR REPLACE FUNCTION %1$I.search_topic_known(topic text) RETURNS boolean
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = %1$I, pg_temp AS $body$
BEGIN
    IF topic IS NULL OR EXISTS (SELECT 1 FROM article_topics t WHERE t.topic = search_topic_known.topic) THEN
        RETURN true;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'invalid_parameter_value',
        MESSAGE = 'no topic named ' || quote_literal(topic) || ' in the archive (topics its articles '
                  || 'were scored against: '
                  || coalesce((SELECT string_agg(DISTINCT t.topic, ', ' ORDER BY t.topic) FROM article_topics t),
                              'none yet')
                  || ')',
        HINT = 'SELECT DISTINCT topic FROM article_topics lists them; a topic new to the topic '
               'folder is scored by the next veille run, or by veille rescore.';
END
$body$
"""
KNOWN_COMMENT = (
    "search_topic_known(topic): true when some article was scored against topic (article_topics) "
    "or topic is NULL; otherwise raises invalid_parameter_value naming the topics that were "
    "(search_articles' check of its topic)."
)

#: 0034's body -> this one's: the topic checked before any article is read
CHECKED = "WHERE a.search @@ q AND "
assert _0034.SEARCH_FUNCTION.count(CHECKED) == 1
SEARCH_FUNCTION = _0034.SEARCH_FUNCTION.replace(
    CHECKED,
    "WHERE (search_articles.topic IS NULL OR %1$I.search_topic_known(search_articles.topic))\n"
    "          AND a.search @@ q AND ",
)

COMMENT = _0034.COMMENT.replace(
    "without, both are the summit's. ",
    "without, both are the summit's. A topic no article was scored against is an error naming "
    "those that were (search_topic_known). ",
)
assert COMMENT != _0034.COMMENT


def upgrade() -> None:
    op.execute(_0030._in_schema([KNOWN_FUNCTION, SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute(f"COMMENT ON FUNCTION search_topic_known(text) IS {_0021._quote(KNOWN_COMMENT)}")  # noqa: SLF001
    op.execute(_0034._comment(COMMENT))  # noqa: SLF001


def downgrade() -> None:
    op.execute(_0030._in_schema([_0034.SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute("DROP FUNCTION search_topic_known(text)")
    op.execute(_0034._comment(_0034.COMMENT))  # noqa: SLF001
