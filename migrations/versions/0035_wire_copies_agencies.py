"""wire_copies: ``agency`` lists every agency its dispatch is credited to

The view named one agency per copy cluster, ``max(wire)``: a dispatch whose copies credit AFP
and Reuters showed as Reuters alone (the alphabetically last). ``agency`` is now every distinct
credit of the cluster, in alphabetical order, joined by ", " ("AFP, Reuters"); a dispatch
credited to one agency reads as before. The body is otherwise 0025's (the local clock).

Revision ID: 0035_wire_copies_agencies
Revises: 0034_search_topic_relevant
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0035_wire_copies_agencies"
down_revision: str | None = "0034_search_topic_relevant"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0018 = importlib.import_module("migrations.versions.0018_wire_copies_story")
_0025 = importlib.import_module("migrations.versions.0025_local_clock_views")

#: the view as migration 0025 left it
OLD_BODY = _0018.VIEW.split(" AS\n", 1)[1].replace(_0025.PARIS, _0025.LOCAL)

#: 0025's body -> this one's (each piece there once)
AGENCIES = {
    "WITH copy AS (": (
        "WITH credit AS (\n"
        "    SELECT coalesce(cluster_id, id) AS cluster,\n"
        "           string_agg(DISTINCT wire, ', ' ORDER BY wire) AS agency\n"
        "    FROM articles\n"
        "    WHERE wire IS NOT NULL\n"
        "    GROUP BY coalesce(cluster_id, id)\n"
        "), copy AS ("
    ),
    "max(a.wire) OVER w AS agency,": "cr.agency,",
    "    FROM articles a\n": "    FROM articles a\n    LEFT JOIN credit cr ON cr.cluster = coalesce(a.cluster_id, a.id)\n",
}


def _agencies(body: str) -> str:
    for before, after in AGENCIES.items():
        assert body.count(before) == 1, before
        body = body.replace(before, after)
    return body


NEW_BODY = _agencies(OLD_BODY)

COMMENT = _0018.COMMENT.replace(
    "one row per copy and outlet URL. ",
    "one row per copy and outlet URL; agency is every agency the dispatch is credited to, "
    "alphabetical, joined by ', ' (AFP, Reuters). ",
)
assert COMMENT != _0018.COMMENT


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW wire_copies AS {NEW_BODY}")
    op.execute(f"COMMENT ON VIEW wire_copies IS {_quote(COMMENT)}")


def downgrade() -> None:
    op.execute(f"CREATE OR REPLACE VIEW wire_copies AS {OLD_BODY}")
    op.execute(f"COMMENT ON VIEW wire_copies IS {_quote(_0018.COMMENT)}")
