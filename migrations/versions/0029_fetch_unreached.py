"""fetch_log.unreached: how a fetch failed before reaching a server, as a kind, not words

A fetch whose host did not resolve, refused the connection, took no connection in time or
was unreachable reached no server: when every fetch of a run did, the machine is likely
offline, which the run's verdict says first. That was decided by matching the reason's
words, which a reworded reason silently broke; the kind (``dns``, ``refused``,
``connect-timeout``, ``no-route``; NULL when a server answered or the fetch succeeded) is now
set where the HTTP client catches the failure and stored with each fetch's row.

Revision ID: 0029_fetch_unreached
Revises: 0028_source_problems
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_fetch_unreached"
down_revision: str | None = "0028_source_problems"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("fetch_log", sa.Column("unreached", sa.Text))
    op.execute(
        "COMMENT ON COLUMN fetch_log.unreached IS 'How the fetch failed before reaching a server: "
        "dns, refused, connect-timeout or no-route; NULL when a server answered'"
    )


def downgrade() -> None:
    op.drop_column("fetch_log", "unreached")
