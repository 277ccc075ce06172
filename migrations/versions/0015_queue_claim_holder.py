"""url_queue.claimed_by: the claim token of the worker that leased a row

A worker holds its token as a session-level advisory lock for as long as it works. When its
connection ends (the worker was killed, the database restarted) the lock goes with it, and
the rows it had claimed can be claimed again at once instead of after the lease.

Revision ID: 0015_queue_claim_holder
Revises: 0014_site_boilerplate
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_queue_claim_holder"
down_revision: str | None = "0014_site_boilerplate"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("url_queue", sa.Column("claimed_by", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("url_queue", "claimed_by")
