"""site_blocks: boilerplate and title segments learned per site

One row per (site, kind, fingerprint): ``kind`` is ``block`` (a line of extracted text) or
``title`` (a segment of a page's ``<title>``); ``pages`` counts the stored pages of the site
that carried it; ``sample`` is its text. Blocks seen on three pages or more are removed from
the site's new extractions; title segments seen as often are the site's name (monitors/
boilerplate.py).

Revision ID: 0014_site_boilerplate
Revises: 0013_article_topics
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_site_boilerplate"
down_revision: str | None = "0013_article_topics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_blocks",
        sa.Column("site", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, primary_key=True),
        sa.Column("fingerprint", sa.BigInteger, primary_key=True),
        sa.Column("pages", sa.Integer, nullable=False, server_default="1"),
        sa.Column("sample", sa.Text, nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('block', 'title')", name="site_blocks_kind"),
    )
    op.execute(
        "COMMENT ON TABLE site_blocks IS 'Blocks (lines of extracted text) and <title> segments "
        "seen on a site''s pages, with how many pages carried them: from 3 pages on, blocks are "
        "removed from the site''s new extractions and title segments are its name.'"
    )


def downgrade() -> None:
    op.drop_table("site_blocks")
