"""``veille_local_timezone()`` reads ``veille_settings`` in the schema the migrations made it in

0025 wrote the function's body with the table's bare name. A SQL function's body is resolved
when it is called, on the caller's ``search_path``: a role whose path does not name the
archive's schema got ``relation "veille_settings" does not exist`` from every view with a day,
and one with a table of that name earlier on its path read that table's clock. The body now
names the table with its schema (found from the table itself, so an archive migrated into
another schema than ``public`` keeps it). Qualifying rather than ``SET search_path`` on the
function: a function with a ``SET`` clause is not inlined, and called on every row (``AT TIME
ZONE veille_local_timezone()``, docs/operating.md) it would pay the setting each time. The
function keeps its name, comment, owner and grants (``CREATE OR REPLACE``). A ``DO`` block, so
that the ``--sql`` script does the same. The table's comment says who writes it now: a process
whose environment sets ``VEILLE_LOCAL_TIMEZONE``, no longer every one (docs/operating.md).

Revision ID: 0027_clock_function_schema
Revises: 0026_settings_readable
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

from monitors.settings import DEFAULT_LOCAL_TIMEZONE

revision: str = "0027_clock_function_schema"
down_revision: str | None = "0026_settings_readable"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0025 = importlib.import_module("migrations.versions.0025_local_clock_views")

TABLE_COMMENT = (
    "One row: the local clock (VEILLE_LOCAL_TIMEZONE) the views' day columns are on, written by "
    "a veille command or flow (veille migrate, say) whose environment sets another one; a "
    "process without the setting keeps it."
)

#: the function's body with the table's schema and the function's as %I, for format()
BODY = (
    "CREATE OR REPLACE FUNCTION %I.veille_local_timezone() RETURNS text LANGUAGE sql STABLE"
    " PARALLEL SAFE AS $body$ SELECT coalesce((SELECT local_timezone FROM %I.veille_settings),"
    f" '{DEFAULT_LOCAL_TIMEZONE}') $body$"
)

#: 0025's, the table by its bare name (format() leaves the second argument unused)
OLD_BODY = (
    "CREATE OR REPLACE FUNCTION %I.veille_local_timezone() RETURNS text LANGUAGE sql STABLE"
    " PARALLEL SAFE AS $body$ SELECT coalesce((SELECT local_timezone FROM veille_settings),"
    f" '{DEFAULT_LOCAL_TIMEZONE}') $body$"
)


def _replace(body: str) -> str:
    """A DO block that replaces the function in its own schema, the table's schema in hand."""
    return f"""
DO $$
DECLARE
    function_schema text := (SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                             WHERE p.oid = 'veille_local_timezone()'::regprocedure);
    table_schema text := (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.oid = 'veille_settings'::regclass);
BEGIN
    EXECUTE format('{body.replace("'", "''")}', function_schema, table_schema);
END
$$
"""


def upgrade() -> None:
    op.execute(_replace(BODY))
    op.execute(f"COMMENT ON TABLE veille_settings IS {_0025._quote(TABLE_COMMENT)}")


def downgrade() -> None:
    op.execute(_replace(OLD_BODY))
    op.execute(f"COMMENT ON TABLE veille_settings IS {_0025._quote(_0025.TABLE_COMMENT)}")
