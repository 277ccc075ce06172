"""the views' day is NULL for a date veille reads as none (infinity, a year BC or after 9999)

PostgreSQL holds dates Python cannot (``'infinity'``, ``'-infinity'``, a year BC or after 9999,
written by hand or by another program: veille writes none), and veille's commands read such a
date as none, the article undated (monitors.archive.db). The views gave the article a day all
the same: ``infinity``, a BC day or one of year 12025, which psql shows, which sorts before or
after every real day and which ``veille stats`` took as the archive's first or last relevant
day (and read as none). Every view's ``day`` (and ``wire_copies.dispatch_day``) is now
``veille_day(instant, (SELECT veille_local_timezone()))``: the day on the local clock (0025),
NULL when that day is not one of years 1 to 9999. The function is plain SQL PostgreSQL inlines
(the instant and the zone are each read once: a range test clamps the day, ``nullif`` drops it),
so the clock is still read once per query. ``veille_day(instant)`` is the same on the stored
clock, for one's own queries (the cookbook's).

Revision ID: 0042_view_days_undated
Revises: 0041_signature_scheme
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0042_view_days_undated"
down_revision: str | None = "0041_signature_scheme"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0025 = importlib.import_module("migrations.versions.0025_local_clock_views")
_0035 = importlib.import_module("migrations.versions.0035_wire_copies_agencies")

#: the instants the views take a day of, as 0025 wrote them
INSTANTS = ("coalesce(a.published_at, a.fetched_at)", "c.dispatch_published_at")

# The day on the ``clock`` zone, clamped to the day before year 1 / after 9999 and then dropped:
# each argument appears once, so PostgreSQL inlines the function with its arguments as written
# (an InitPlan for ``(SELECT veille_local_timezone())`` stays one per query).
FUNCTION = """
CREATE FUNCTION veille_day(instant timestamptz, clock text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT nullif(nullif(
        greatest(least((instant AT TIME ZONE clock)::date, DATE '10000-01-01'), DATE '0001-12-31 BC'),
        DATE '10000-01-01'), DATE '0001-12-31 BC')
$$
"""
# On the stored clock: the body names both functions with their schema (as 0027 does the
# clock's table: a body is resolved on the caller's search_path), from the functions themselves.
LOCAL_FUNCTION = """
DO $do$
DECLARE
    day_schema text := (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                        WHERE p.oid = 'veille_day(timestamptz, text)'::regprocedure);
    clock_schema text := (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                          WHERE p.oid = 'veille_local_timezone()'::regprocedure);
BEGIN
    EXECUTE format('CREATE FUNCTION %I.veille_day(instant timestamptz) RETURNS date'
                   ' LANGUAGE sql STABLE PARALLEL SAFE AS $body$ SELECT %I.veille_day(instant, %I.veille_local_timezone()) $body$',
                   day_schema, day_schema, clock_schema);
END
$do$
"""
COMMENTS = {
    "veille_day(timestamptz, text)": (
        "The day of an instant on the clock named (an IANA zone), NULL when it is not a day of years 1 to 9999"
        " (infinity, -infinity, BC, after 9999: veille reads such a date as none, the article"
        " undated). The views' day: veille_day(published_at, (SELECT veille_local_timezone()))."
    ),
    "veille_day(timestamptz)": (
        "The day of an instant on the local clock, veille_local_timezone() (read on each call),"
        " NULL when veille reads the date as none: an article's day as veille and the views give it."
    ),
}


def _views() -> dict[str, str]:
    """Every view with a day, as 0025 (and 0035, wire_copies) left it."""
    views = {name: body.replace(_0025.PARIS, _0025.LOCAL) for name, body in _0025._views().items()}
    views["wire_copies"] = _0035.NEW_BODY
    return views


def _undated(body: str) -> str:
    """``body`` with each of its days through veille_day (every one of them: checked)."""
    for instant in INSTANTS:
        body = body.replace(
            f"({instant} {_0025.LOCAL})::date", f"veille_day({instant}, (SELECT veille_local_timezone()))"
        )
    assert _0025.LOCAL not in body, body
    return body


def upgrade() -> None:
    op.execute(FUNCTION)
    op.execute(LOCAL_FUNCTION)
    for signature, text in COMMENTS.items():
        op.execute(f"COMMENT ON FUNCTION {signature} IS {_0025._quote(text)}")
    for name, body in _views().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {_undated(body)}")


def downgrade() -> None:
    for name, body in _views().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
    op.execute("DROP FUNCTION veille_day(timestamptz)")
    op.execute("DROP FUNCTION veille_day(timestamptz, text)")
