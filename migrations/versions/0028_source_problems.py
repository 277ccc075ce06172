"""source_problems: the bad entries of the sources files, queryable

A ``[[source]]`` entry with a mistake (no url, an unknown kind or key, ...) is left out of the
runs, which go on with the file's other sources. Its file, line, name, url and reason were
only in the run's log and report; they are now rows here, kept to what the file's last load
found (a fixed entry's row is deleted), with when the mistake was first and last seen.

Revision ID: 0028_source_problems
Revises: 0027_clock_function_schema
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_source_problems"
down_revision: str | None = "0027_clock_function_schema"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_problems",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("line", sa.Integer, nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    # md5: a reason may quote a value of any length, past what a btree index entry takes
    op.execute("CREATE UNIQUE INDEX source_problems_key ON source_problems (md5(file), line, md5(reason))")
    op.execute(
        "COMMENT ON TABLE source_problems IS 'Bad entries of the sources files, left out of the "
        "runs until fixed: file, line, name, url and reason, as the file''s last load found them.'"
    )


def downgrade() -> None:
    op.drop_table("source_problems")
