"""the views' first publication ignores a date veille reads as none (infinity, a year BC or after 9999)

0042 gave no day to a date veille's commands read as none, but ``story_outlets.first_published``,
``first_article_id`` and ``publication_rank`` and ``wire_copies.dispatch_published_at`` and
``dispatch_title`` still took the earliest instant as written: an article dated ``'-infinity'``
or a year BC made its outlet the story's first publisher (and ``veille stories``' first
publisher, "undated") and its dispatch time, title and day those of the wire copies. They now
take ``veille_instant(instant)``: the instant, NULL when it is not in years 1 to 9999 (UTC),
so such an article is undated there too (NULLs last: an outlet with only such articles ranks
after those with a date, as its ``first_day`` is NULL). Plain SQL PostgreSQL inlines (the
instant is read once: a range clamp, then ``nullif``).

Revision ID: 0046_view_firsts_undated
Revises: 0045_queue_updated
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0046_view_firsts_undated"
down_revision: str | None = "0045_queue_updated"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0025 = importlib.import_module("migrations.versions.0025_local_clock_views")
_0042 = importlib.import_module("migrations.versions.0042_view_days_undated")

# Clamped to the first instant of year 10000 / the last of 1 BC, then dropped: the argument
# appears once, so PostgreSQL inlines the function with it as written.
FUNCTION = """
CREATE FUNCTION veille_instant(instant timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(nullif(
        greatest(least(instant, TIMESTAMPTZ '10000-01-01 00:00:00+00'),
                 TIMESTAMPTZ '0001-12-31 23:59:59.999999+00 BC'),
        TIMESTAMPTZ '10000-01-01 00:00:00+00'), TIMESTAMPTZ '0001-12-31 23:59:59.999999+00 BC')
$$
"""
COMMENT = (
    "The instant, NULL when it is not in years 1 to 9999 UTC (infinity, -infinity, BC, after 9999:"
    " veille reads such a date as none, the article undated). story_outlets and wire_copies take"
    " their first publication through it."
)

PUBLISHED = "coalesce(a.published_at, a.fetched_at)"
#: each view's instants as 0042 left them, and what they become
CHANGES = {
    "story_outlets": (
        (f"min({PUBLISHED}) AS first_published", f"min(veille_instant({PUBLISHED})) AS first_published"),
        (f"ORDER BY {PUBLISHED}, a.id", f"ORDER BY veille_instant({PUBLISHED}), a.id"),
        (f"ORDER BY min({PUBLISHED})", f"ORDER BY min(veille_instant({PUBLISHED}))"),
    ),
    "wire_copies": (
        (
            "ORDER BY a.published_at NULLS LAST, a.id",
            "ORDER BY veille_instant(a.published_at) NULLS LAST, a.id",
        ),
        ("min(a.published_at) OVER w", "min(veille_instant(a.published_at)) OVER w"),
    ),
}


def _bodies() -> dict[str, tuple[str, str]]:
    """Each view's body as 0042 left it, and as this migration makes it (every change found)."""
    views = _0042._views()
    bodies = {}
    for name, changes in CHANGES.items():
        old = _0042._undated(views[name])
        new = old
        for before, after in changes:
            assert new.count(before) == 1, (name, before)
            new = new.replace(before, after)
        bodies[name] = (old, new)
    return bodies


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(f"COMMENT ON FUNCTION veille_instant(timestamptz) IS {_0025._quote(COMMENT)}")
    for name, (_, new) in _bodies().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {new}")


def downgrade() -> None:
    for name, (old, _) in _bodies().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {old}")
    op.execute("DROP FUNCTION veille_instant(timestamptz)")
