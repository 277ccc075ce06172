"""the views' day: a range test on the instant before the clock, no overflow at PostgreSQL's ends

0042 made every view's day ``veille_day(instant, (SELECT veille_local_timezone()))``, plain SQL
PostgreSQL inlines (the plan shows its expression, the clock an InitPlan read once per query),
which clamps and ``nullif``s the local day of every row after ``AT TIME ZONE``. Two things:

- The first and last instants PostgreSQL holds (4714-11-24 BC, 294276-12-31) have a local time
  out of its range on a clock west or east of UTC, so ``AT TIME ZONE`` failed every query over
  a view with a day, "timestamp out of range" (0025 and 0042 alike), for one such article
  written by hand or by another program, where 0042 meant such a date to have no day.
- The clamp costs every row four calls of date comparisons (about 20 ns a row: grouping 300,000
  articles by day used 4-7% more of the server's CPU than 0025's bare cast, bench/view_days.py).

The views now write the day as ``CASE WHEN instant > LOW AND instant < HIGH THEN (instant AT
TIME ZONE clock)::date WHEN instant > OUTER_LOW AND instant < OUTER_HIGH THEN veille_day(instant,
clock) END``: 0025's cast when the instant is a week or more inside years 1 to 9999 (its day is
in them on every clock PostgreSQL takes: a POSIX zone goes to 169 hours with its summer time), 0042's function within a
month of their ends (the clock decides there), NULL further out and for NULL, without looking
at the clock. The same days as 0042 wherever 0042 gave one. A function cannot hold this test:
its clock argument, a subquery, would appear twice in its body, and PostgreSQL inlines a
function only if such an argument appears once.

Revision ID: 0048_view_days_inline
Revises: 0047_snippet_accents
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0048_view_days_inline"
down_revision: str | None = "0047_snippet_accents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0042 = importlib.import_module("migrations.versions.0042_view_days_undated")
_0046 = importlib.import_module("migrations.versions.0046_view_firsts_undated")

CLOCK = "(SELECT veille_local_timezone())"
#: instants whose day is in years 1 to 9999 on every clock (eight days from each end: a POSIX zone
#: goes to 169 hours with its summer time, an IANA one to 16): between them, the bare cast
LOW = "TIMESTAMPTZ '0001-01-09 00:00:00+00'"
HIGH = "TIMESTAMPTZ '9999-12-23 00:00:00+00'"
#: instants whose day is outside years 1 to 9999 on every clock (a month from each end): NULL
#: without the clock, whose local time overflows at the ends of PostgreSQL's range
OUTER_LOW = "TIMESTAMPTZ '0001-12-01 00:00:00+00 BC'"
OUTER_HIGH = "TIMESTAMPTZ '10000-02-01 00:00:00+00'"

# 0042's veille_day, the instant NULL beyond OUTER_LOW and OUTER_HIGH before the clock reads it
# (the clock still appears once: PostgreSQL inlines the function, the instant read three times
# when it is cheap, a column or a coalesce of columns)
FUNCTION = _0042.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION").replace(
    "(instant AT TIME ZONE clock)",
    f"(CASE WHEN instant > {OUTER_LOW} AND instant < {OUTER_HIGH} THEN instant END AT TIME ZONE clock)",
)


def day(instant: str) -> str:
    """The view's day of ``instant``: the bare cast between LOW and HIGH, veille_day up to a
    month beyond, NULL further out (and for NULL)."""
    return (
        f"CASE WHEN {instant} > {LOW} AND {instant} < {HIGH} THEN ({instant} AT TIME ZONE {CLOCK})::date"
        f" WHEN {instant} > {OUTER_LOW} AND {instant} < {OUTER_HIGH} THEN veille_day({instant}, {CLOCK}) END"
    )


def inline(body: str) -> str:
    """``body`` (0042's or 0046's) with each of its days through :func:`day` (every one: checked)."""
    new = body
    for instant in _0042.INSTANTS:
        new = new.replace(f"veille_day({instant}, {CLOCK})", day(instant))
    assert new.count(" THEN veille_day(") == body.count("veille_day(") > 0, body
    return new


def _bodies() -> dict[str, tuple[str, str]]:
    """Every view with a day as 0046 left it, and as this migration makes it."""
    views = {name: _0042._undated(body) for name, body in _0042._views().items()}
    views.update({name: new for name, (_, new) in _0046._bodies().items()})
    return {name: (old, inline(old)) for name, old in views.items()}


def upgrade() -> None:
    assert FUNCTION.count("CASE WHEN") == 1, FUNCTION
    op.execute(FUNCTION)
    for name, (_, new) in _bodies().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {new}")


def downgrade() -> None:
    for name, (old, _) in _bodies().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {old}")
    op.execute(_0042.FUNCTION.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"))
