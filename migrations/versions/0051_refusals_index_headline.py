"""The drain's re-queue of private-address refusals reads an index; snippets fold with veille_unaccent

``queue.requeue_private_refusals`` runs at the start of every queue drain while
``VEILLE_ALLOW_PRIVATE_NETWORK`` is on: it looks for the ``failed`` rows whose reason starts
with ``[private-address] `` (pages refused for their address while the setting was off). No
index covered that, so every drain read the whole ``url_queue``. ``url_queue_private_refusals``
is a partial index of those rows alone (empty nearly always); the query's ``WHERE`` is its
predicate, word for word, so the planner uses it. ``bench/queue_refusals.py``: at 1M rows about
0.5 s a drain down to 4 ms (20 refused rows), the queue's inserts unchanged (a new row is
outside the predicate); bench/README.md.

``veille_headline`` (0047) folded a document holding only the 15 accented letters French writes
most with a ``translate`` of those and its ligatures with a separate step, calling
``veille_unaccent`` only for other letters: 0049 made ``veille_unaccent`` faster than that
shortcut, so it now folds with ``veille_unaccent`` always (ligatures included, each to two
letters: the shown text still gets a filler after each ligature, so both stay the same length).
``bench/search.py --baseline 0049 --without-unaccent``: the snippets alone 1.05-1.07x faster, a
whole search within noise (bench/README.md); the same snippets. The downgrade restores 0047's
body and drops the index.

Revision ID: 0051_refusals_index_headline
Revises: 0050_feed_date_published
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

revision: str = "0051_refusals_index_headline"
down_revision: str | None = "0050_feed_date_published"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0030 = importlib.import_module("migrations.versions.0030_function_search_path")
_0047 = importlib.import_module("migrations.versions.0047_snippet_accents")

#: the rows ``queue.requeue_private_refusals`` reads (its ``WHERE``, word for word)
REFUSALS = "state = 'failed' AND reason LIKE '[private-address] %'"
REFUSALS_INDEX = f"CREATE INDEX IF NOT EXISTS url_queue_private_refusals ON url_queue (id) WHERE {REFUSALS}"

#: 0047's fold: veille_unaccent for other letters, else a translate of the common ones, then
#: the ligatures (from the comment before it to the ligatures' replace, which ends 'Æ', 'AE'))
_BEFORE, _REST = _0047.HEADLINE_FUNCTION.split(
    "    -- veille_unaccent(document), as the search column has it\n"
)
_FOLD_0047, _AFTER = _REST.split("'Æ', 'AE');\n", 1)
assert "translate(document" in _FOLD_0047 and _FOLD_0047.count("IF document ~ '[œŒæÆ]' THEN") == 1
_FOLD = """    -- veille_unaccent(document), as the search column has it (a ligature as two letters)
    folded := veille_unaccent(document);
    shown := document;
    IF document ~ '[œŒæÆ]' THEN
"""
#: 0047's snippet, folded by veille_unaccent alone
HEADLINE_FUNCTION = _BEFORE + _FOLD + _AFTER


def upgrade() -> None:
    op.execute(REFUSALS_INDEX)
    op.execute(_0030._in_schema([HEADLINE_FUNCTION]))  # noqa: SLF001


def downgrade() -> None:
    op.execute(_0030._in_schema([_0047.HEADLINE_FUNCTION]))  # noqa: SLF001
    op.execute("DROP INDEX IF EXISTS url_queue_private_refusals")
