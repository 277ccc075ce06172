"""search_articles ranks a query with an excluded word (-lait) on its other words

PostgreSQL's ``ts_rank`` gives a query holding a NOT (``'sommet' & !'lait'``, what
``websearch_to_tsquery`` makes of ``sommet -lait``) 1e-20 for every article it matches: the
hits of any query with a ``-word`` came in publication order, the best match anywhere among them.
The rank is now ``ts_rank`` of ``querytree(q)``, the query without its negated parts
(``'sommet'``), which is the query itself when it has none (the ranks of other queries are
unchanged); a query of exclusions only (``querytree`` is ``T``) keeps ``ts_rank`` of itself. The
matching is unchanged: the WHERE clause still tests the whole query. The body is otherwise
0030's, each archive object named with its schema.

Revision ID: 0033_search_rank_exclusions
Revises: 0032_unreached_not_sent
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0033_search_rank_exclusions"
down_revision: str | None = "0032_unreached_not_sent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0030 = importlib.import_module("migrations.versions.0030_function_search_path")

RANKED = "ts_rank(a.search, q) AS rank"
#: the rank on the query's words that are not excluded (querytree drops the negated parts)
RANKED_ON_WORDS = (
    "ts_rank(a.search, CASE WHEN querytree(q) = 'T' THEN q ELSE CAST(querytree(q) AS tsquery) END) AS rank"
)
assert _0030.SEARCH_FUNCTION.count(RANKED) == 1
SEARCH_FUNCTION = _0030.SEARCH_FUNCTION.replace(RANKED, RANKED_ON_WORDS)


def upgrade() -> None:
    op.execute(_0030._in_schema([SEARCH_FUNCTION]))  # noqa: SLF001


def downgrade() -> None:
    op.execute(_0030._in_schema([_0030.SEARCH_FUNCTION]))  # noqa: SLF001
