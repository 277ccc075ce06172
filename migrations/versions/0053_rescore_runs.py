"""rescore_runs: where a ``veille rescore --all`` stands, so an interrupted one resumes

``veille rescore --all`` rescores every article one committed batch at a time. Stopped half
way (a cancelled statement, a lost database, Ctrl-C, a killed process), the articles it had
not reached carried the topic's version already: a plain ``veille rescore`` skipped them and
only ``--all`` again finished, from the first article. Each ``--all`` now keeps a row per
target (the articles' own relevance columns, or a topic's ``article_topics`` rows) and topic:
the version it rescores with and the last article id committed (``after_id``, advanced in the
batch's own transaction), until it is finished. At most one unfinished row per target and
topic, by a unique partial index.

Revision ID: 0053_rescore_runs
Revises: 0052_fetch_log_transport
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0053_rescore_runs"
down_revision: str | None = "0052_fetch_log_transport"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rescore_runs (
            id bigserial PRIMARY KEY,
            target text NOT NULL CHECK (target IN ('articles', 'article_topics')),
            topic text NOT NULL,
            version text NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            after_id bigint NOT NULL DEFAULT 0,
            finished_at timestamptz,
            outcome text CHECK (outcome IN ('done', 'moot')),
            CHECK ((finished_at IS NULL) = (outcome IS NULL))
        )
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX rescore_runs_unfinished ON rescore_runs (target, topic) WHERE finished_at IS NULL"
    )
    op.execute(
        "COMMENT ON TABLE rescore_runs IS 'Each veille rescore --all, per target (articles: their"
        " relevance columns; article_topics: a topic''s rows) and topic: the version it rescores"
        " with, the last article id committed (after_id); finished_at and outcome (done, or moot:"
        " the topic changed before it finished) once over'"
    )


def downgrade() -> None:
    op.execute("DROP TABLE rescore_runs")
