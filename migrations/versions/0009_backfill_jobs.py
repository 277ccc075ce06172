"""backfill_jobs and archive_captures: backfills from the web archives, resumable

A ``veille backfill --from wayback|commoncrawl`` is cut into jobs, one per (archive, site,
month chunk of the window). Each job keeps its cursor (the CDX resume key, the crawl and page
of Common Crawl's index) so an interrupted backfill resumes where it stopped, and its errors
as columns. Each capture it queues keeps where it lives in the archive (the Wayback URL, or
the WARC file, offset and length). Articles and sightings that came from an archive say so.

Revision ID: 0009_backfill_jobs
Revises: 0008_stories
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_backfill_jobs"
down_revision: str | None = "0008_stories"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backfill_jobs",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("archive", sa.Text(), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("source_id", sa.BigInteger(), sa.ForeignKey("sources.id", ondelete="CASCADE")),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("window_end", TS, nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("crawl", sa.Text()),
        sa.Column("page", sa.Integer(), server_default="0", nullable=False),
        sa.Column("pages", sa.Integer()),
        sa.Column("resume_key", sa.Text()),
        sa.Column("discovered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("queued", sa.Integer(), server_default="0", nullable=False),
        sa.Column("filtered", sa.Integer(), server_default="0", nullable=False),
        sa.Column("malformed", sa.Integer(), server_default="0", nullable=False),
        sa.Column("errors", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("relevant_only", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.text("now()"), nullable=False),
        sa.Column("discovered_at", TS),
        sa.Column("finished_at", TS),
        sa.CheckConstraint("archive IN ('wayback', 'commoncrawl')", name="backfill_jobs_archive"),
        sa.CheckConstraint(
            "state IN ('pending', 'discovering', 'fetching', 'done', 'error')", name="backfill_jobs_state"
        ),
        sa.UniqueConstraint("archive", "site", "window_start", "window_end", name="backfill_jobs_chunk"),
    )
    op.create_table(
        "archive_captures",
        sa.Column(
            "queue_id",
            sa.BigInteger(),
            sa.ForeignKey("url_queue.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("job_id", sa.BigInteger(), sa.ForeignKey("backfill_jobs.id", ondelete="CASCADE")),
        sa.Column("archive", sa.Text(), nullable=False),
        sa.Column("archived_url", sa.Text(), nullable=False),
        sa.Column("captured_at", TS, nullable=False),
        sa.Column("warc_filename", sa.Text()),
        sa.Column("warc_offset", sa.BigInteger()),
        sa.Column("warc_length", sa.BigInteger()),
        sa.Column("relevance", sa.Float()),
    )
    op.create_index("archive_captures_job", "archive_captures", ["job_id"])
    op.add_column("articles", sa.Column("archived_url", sa.Text()))
    op.add_column("articles", sa.Column("captured_at", TS))
    op.add_column("sightings", sa.Column("archive", sa.Text()))
    op.add_column("sightings", sa.Column("archived_url", sa.Text()))
    op.execute(
        "COMMENT ON TABLE backfill_jobs IS 'One backfill from a web archive over one site and one"
        " month chunk: its cursor (resume_key; crawl and page for Common Crawl), counts and errors.'"
    )
    op.execute(
        "COMMENT ON TABLE archive_captures IS 'Where a queued URL found by a backfill lives in its"
        " archive; relevance is set for captures --relevant-only did not store.'"
    )


def downgrade() -> None:
    op.drop_column("sightings", "archived_url")
    op.drop_column("sightings", "archive")
    op.drop_column("articles", "captured_at")
    op.drop_column("articles", "archived_url")
    op.drop_index("archive_captures_job", table_name="archive_captures")
    op.drop_table("archive_captures")
    op.drop_table("backfill_jobs")
