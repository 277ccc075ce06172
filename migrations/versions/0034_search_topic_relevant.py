"""search_articles with a topic: relevant_only and the relevant column are that topic's

``veille search --topic T --relevant`` and ``veille export --topic T --relevant`` keep the
articles relevant to T; in psql, ``search_articles(q, n, relevant_only => true, topic => 'T')``
kept those relevant to T *and* to the summit (``articles.relevant``): an article relevant to T
alone was dropped. With a topic, ``relevant_only`` now adds nothing (every hit is relevant to
it, as article_topics says) and the ``relevant`` column is relevance to that topic (true for
every hit), as ``veille search --topic T --json`` says; without a topic both are the summit's,
as before. The body is otherwise 0033's, each archive object named with its schema.

Revision ID: 0034_search_topic_relevant
Revises: 0033_search_rank_exclusions
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0034_search_topic_relevant"
down_revision: str | None = "0033_search_rank_exclusions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0030 = importlib.import_module("migrations.versions.0030_function_search_path")
_0033 = importlib.import_module("migrations.versions.0033_search_rank_exclusions")
_0021 = importlib.import_module("migrations.versions.0021_search_repeats")
_0023 = importlib.import_module("migrations.versions.0023_search_speed")

#: 0033's body -> this one's (each piece there once)
TOPIC_RELEVANT = {
    # the relevant column: the topic's when one is given (its hits are all relevant to it)
    "a.url, a.relevant, a.description": (
        "a.url, (search_articles.topic IS NOT NULL OR a.relevant) AS relevant, a.description"
    ),
    # relevant_only: to the summit, or to the topic when given (which the topic filter is)
    "(NOT relevant_only OR a.relevant)": "(NOT relevant_only OR search_articles.topic IS NOT NULL OR a.relevant)",
}


def _topic_relevant(body: str) -> str:
    for before, after in TOPIC_RELEVANT.items():
        assert body.count(before) == 1, before
        body = body.replace(before, after)
    return body


SEARCH_FUNCTION = _topic_relevant(_0033.SEARCH_FUNCTION)

COMMENT = _0023.NEW_COMMENT.replace(
    "With topic, only the articles article_topics marks relevant to it. ",
    "With topic, only the articles article_topics marks relevant to it, relevant (the column) "
    "is relevance to that topic and relevant_only adds nothing; without, both are the summit's. ",
)
assert COMMENT != _0023.NEW_COMMENT


def _comment(text: str) -> str:
    return f"COMMENT ON FUNCTION search_articles(text, integer, boolean, text) IS {_0021._quote(text)}"  # noqa: SLF001


def upgrade() -> None:
    op.execute(_0030._in_schema([SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute(_comment(COMMENT))


def downgrade() -> None:
    op.execute(_0030._in_schema([_0033.SEARCH_FUNCTION]))  # noqa: SLF001
    op.execute(_comment(_0023.NEW_COMMENT))
