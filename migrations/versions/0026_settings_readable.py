"""``veille_settings`` readable by every role, as the views that read it are

Since 0025 every view with a day calls ``veille_local_timezone()``, which reads
``veille_settings``. A function reads with the rights of the role that queries, not the view's
owner: a read-only role granted ``SELECT ON ALL TABLES IN SCHEMA public`` before 0025 (such a
grant covers the tables of that moment only) could read the views until then, and afterwards got
``permission denied for table veille_settings`` from all of them. The table holds one zone
name, no secret: ``SELECT`` is granted to ``PUBLIC``, as ``EXECUTE`` on the function is by
default.

Revision ID: 0026_settings_readable
Revises: 0025_local_clock_views
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0026_settings_readable"
down_revision: str | None = "0025_local_clock_views"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("GRANT SELECT ON veille_settings TO PUBLIC")


def downgrade() -> None:
    op.execute("REVOKE SELECT ON veille_settings FROM PUBLIC")
