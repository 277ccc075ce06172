"""fetch_log.unreached: a fetch that sent no request at all is a kind of its own, not-sent

A fetch whose request never went (``VEILLE_FETCH_DEADLINE`` spent waiting for its host's turn,
its address refused, robots.txt's cached rules disallowing it) was logged with ``unreached``
NULL, which says a server answered: a run with nothing due then read its URL's host as reached
and kept quiet about a network that looked down. It is now ``not-sent``, set where the HTTP
client gives up on the request; it tells of no host, and the hints leave it out. The column's
comment lists it. The values are text: no column changes.

Existing rows are not back-filled: a row whose reason says "no time left" (or "refused:") does
not tell whether an earlier request of the same fetch, a redirect's first hop or the robots.txt
fetched for the check, was answered (then NULL is true), and a guess would be history rewritten.
Each URL's next fetch writes a row of its own, which is the one the hints read.

Revision ID: 0032_unreached_not_sent
Revises: 0031_unreached_tls_timeout
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032_unreached_not_sent"
down_revision: str | None = "0031_unreached_tls_timeout"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "COMMENT ON COLUMN fetch_log.unreached IS 'How the fetch failed before reaching a server: "
        "dns, refused, connect-timeout, no-route, tls-timeout (a TCP connection accepted, its TLS "
        "handshake never completed) or not-sent (no request sent: VEILLE_FETCH_DEADLINE spent "
        "before it, its address or robots.txt refused it); NULL when a server answered one of its "
        "requests'"
    )


def downgrade() -> None:
    op.execute(
        "COMMENT ON COLUMN fetch_log.unreached IS 'How the fetch failed before reaching a server: "
        "dns, refused, connect-timeout, no-route or tls-timeout (a TCP connection accepted, its TLS "
        "handshake never completed); NULL when a server answered'"
    )
