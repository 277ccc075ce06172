"""sources: the update period a feed declares (ttl, sy:updatePeriod)

Revision ID: 0003_feed_update_period
Revises: 0002_declared_language
Create Date: 2026-11-26 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_feed_update_period"
down_revision: str | None = "0002_declared_language"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("declared_interval_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("sources", "declared_interval_seconds")
