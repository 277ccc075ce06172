"""rescore_runs.outcome may be 'restarted': `veille rescore --all --restart` closes a run

An interrupted ``veille rescore --all`` was always resumed by the next rescore at the same
topic version: there was no way to start over from the first article. ``--all --restart``
closes the unfinished run with the outcome ``restarted`` (neither ``done`` nor ``moot``) and
starts a new one; the CHECK on ``outcome`` lets it.

Revision ID: 0054_rescore_restarted
Revises: 0053_rescore_runs
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0054_rescore_restarted"
down_revision: str | None = "0053_rescore_runs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE rescore_runs DROP CONSTRAINT rescore_runs_outcome_check")
    op.execute(
        "ALTER TABLE rescore_runs ADD CONSTRAINT rescore_runs_outcome_check"
        " CHECK (outcome IN ('done', 'moot', 'restarted'))"
    )
    op.execute(
        "COMMENT ON TABLE rescore_runs IS 'Each veille rescore --all, per target (articles: their"
        " relevance columns; article_topics: a topic''s rows) and topic: the version it rescores"
        " with, the last article id committed (after_id); finished_at and outcome (done; moot: the"
        " topic changed before it finished; restarted: closed by --all --restart, which started"
        " over) once over'"
    )


def downgrade() -> None:
    # a restarted run was closed before it finished: moot is the nearest older outcome
    op.execute("UPDATE rescore_runs SET outcome = 'moot' WHERE outcome = 'restarted'")
    op.execute("ALTER TABLE rescore_runs DROP CONSTRAINT rescore_runs_outcome_check")
    op.execute(
        "ALTER TABLE rescore_runs ADD CONSTRAINT rescore_runs_outcome_check CHECK (outcome IN ('done', 'moot'))"
    )
    op.execute(
        "COMMENT ON TABLE rescore_runs IS 'Each veille rescore --all, per target (articles: their"
        " relevance columns; article_topics: a topic''s rows) and topic: the version it rescores"
        " with, the last article id committed (after_id); finished_at and outcome (done, or moot:"
        " the topic changed before it finished) once over'"
    )
