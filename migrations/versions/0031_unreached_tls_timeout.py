"""fetch_log.unreached: a TLS handshake that never completes is a kind of its own, tls-timeout

A TCP connection accepted whose TLS handshake did not complete in time (urllib3 reports a read
timeout) counted as a server that answered: a captive portal or filtering proxy that takes every
connection and never speaks TLS kept a run from saying the network looks down. It is now
``tls-timeout``, set where the HTTP client catches the failure; the column's comment lists it.
The values are text: no row changes.

Revision ID: 0031_unreached_tls_timeout
Revises: 0030_function_search_path
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0031_unreached_tls_timeout"
down_revision: str | None = "0030_function_search_path"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "COMMENT ON COLUMN fetch_log.unreached IS 'How the fetch failed before reaching a server: "
        "dns, refused, connect-timeout, no-route or tls-timeout (a TCP connection accepted, its TLS "
        "handshake never completed); NULL when a server answered'"
    )


def downgrade() -> None:
    op.execute(
        "COMMENT ON COLUMN fetch_log.unreached IS 'How the fetch failed before reaching a server: "
        "dns, refused, connect-timeout or no-route; NULL when a server answered'"
    )
