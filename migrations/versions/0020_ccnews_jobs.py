"""backfill_jobs for CC-NEWS: one job per WARC file, its cursor a byte offset

``veille backfill --from ccnews`` reads Common Crawl's news crawl, which has no CDX index:
each WARC file of the window's months is streamed once for every site, so a job is one
(month chunk, WARC file). ``warc_file`` names the file ('' for the CDX archives' jobs, so the
chunk's uniqueness keeps working without NULLS NOT DISTINCT), and ``warc_offset`` is the
cursor: the byte where the first record not yet processed starts (a resumed job asks the
file from there with an HTTP Range).

Revision ID: 0020_ccnews_jobs
Revises: 0019_extraction_evidence_view
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_ccnews_jobs"
down_revision: str | None = "0019_extraction_evidence_view"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("backfill_jobs", sa.Column("warc_file", sa.Text(), server_default="", nullable=False))
    op.add_column(
        "backfill_jobs", sa.Column("warc_offset", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.drop_constraint("backfill_jobs_archive", "backfill_jobs", type_="check")
    op.create_check_constraint(
        "backfill_jobs_archive", "backfill_jobs", "archive IN ('wayback', 'commoncrawl', 'ccnews')"
    )
    op.drop_constraint("backfill_jobs_chunk", "backfill_jobs", type_="unique")
    op.create_unique_constraint(
        "backfill_jobs_chunk", "backfill_jobs", ["archive", "site", "window_start", "window_end", "warc_file"]
    )
    op.execute(
        "COMMENT ON COLUMN backfill_jobs.warc_offset IS 'CC-NEWS: the byte of warc_file where the first"
        " record not yet processed starts (the job resumes there)'"
    )


def downgrade() -> None:
    op.execute("DELETE FROM backfill_jobs WHERE archive = 'ccnews'")
    op.drop_constraint("backfill_jobs_chunk", "backfill_jobs", type_="unique")
    op.create_unique_constraint(
        "backfill_jobs_chunk", "backfill_jobs", ["archive", "site", "window_start", "window_end"]
    )
    op.drop_constraint("backfill_jobs_archive", "backfill_jobs", type_="check")
    op.create_check_constraint(
        "backfill_jobs_archive", "backfill_jobs", "archive IN ('wayback', 'commoncrawl')"
    )
    op.drop_column("backfill_jobs", "warc_offset")
    op.drop_column("backfill_jobs", "warc_file")
