"""archive_captures: ``outcome``, what storing the capture did

A capture stored as an article is ``fetched`` in the queue whatever storing it did: a new
article, or a revision of one stored before under its canonical URL (the page's
``<link rel=canonical>`` names a URL the archive already holds, with another text). The
backfill's report counted both as stored. ``outcome`` keeps apply_ingest's answer (stored,
revised, unchanged, duplicate) so that the job rows count the revisions apart, as ``veille run``
does ("0 stored, 1 revised"). Captures stored before it have none, and count as stored.

Revision ID: 0037_archive_capture_outcome
Revises: 0036_backfill_scheme_merge
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_archive_capture_outcome"
down_revision: str | None = "0036_backfill_scheme_merge"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("archive_captures", sa.Column("outcome", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("archive_captures", "outcome")
