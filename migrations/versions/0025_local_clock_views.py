"""the views' day on the local clock (``VEILLE_LOCAL_TIMEZONE``), not Europe/Paris written in them

Python gives an article its day on ``VEILLE_LOCAL_TIMEZONE``'s clock (monitors.dates), but the
views computed theirs with ``AT TIME ZONE 'Europe/Paris'``: with another setting, ``veille
stats`` and the cookbook's queries counted different days. The database now holds the local
clock in a one-row table, ``veille_settings`` (written here with the setting of the process that
migrates, then by veille each time a command or a flow opens the database:
monitors.archive.schema.record_local_timezone), and ``veille_local_timezone()`` returns it; every
view's ``day`` is ``AT TIME ZONE (SELECT veille_local_timezone())``, so a user in plain psql,
who has no veille session setting, gets the days veille gives.

A table rather than ``ALTER DATABASE ... SET``: it needs no ownership of the database, it is
written in the same transaction as the schema (offline ``--sql`` scripts included), every
session sees a change at once (a database setting reaches new sessions only), and pg_dump
keeps it with the data. The views read it through a scalar subquery, evaluated once per query
(an InitPlan), not once per row.

Revision ID: 0025_local_clock_views
Revises: 0024_sitemap_children_index
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from alembic import op

from monitors.settings import DEFAULT_LOCAL_TIMEZONE, LOCAL_TIMEZONE_VARIABLE, zone_setting

revision: str = "0025_local_clock_views"
down_revision: str | None = "0024_sitemap_children_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_0004 = importlib.import_module("migrations.versions.0004_archive_views")
_0008 = importlib.import_module("migrations.versions.0008_stories")
_0016 = importlib.import_module("migrations.versions.0016_topic_views")
_0018 = importlib.import_module("migrations.versions.0018_wire_copies_story")
_0019 = importlib.import_module("migrations.versions.0019_extraction_evidence_view")

PARIS = "AT TIME ZONE 'Europe/Paris'"
LOCAL = "AT TIME ZONE (SELECT veille_local_timezone())"
#: the comments' words: "day ... in Europe/Paris", "Per day (Europe/Paris) and source"
WORDS = (
    ("in Europe/Paris", "on the local clock, veille_local_timezone()"),
    ("Europe/Paris", "local clock: veille_local_timezone()"),
)

#: article_topics_with_source as migration 0013 made it (its body was not a constant there)
ARTICLE_TOPICS = f"""
        SELECT t.topic, t.version, t.score, t.relevant, t.terms,
               t.evidence -> 'best_sentence' AS best_sentence,
               a.id AS article_id, ((coalesce(a.published_at, a.fetched_at) {PARIS})::date) AS day,
               a.published_at, s.name AS source, s.owner, s.family, a.title, a.url, a.language
        FROM article_topics t
        JOIN articles a ON a.id = t.article_id
        JOIN sources s ON s.id = a.source_id
        """


def _views() -> dict[str, str]:
    """Every view with a day, as the newest earlier migration that defines it left it."""
    views = {name: body for name, body, _ in [*_0004.VIEWS, *_0008.VIEWS, *_0016.VIEWS] if PARIS in body}
    views["articles_with_source"] = _0019.NEW_BODY
    views["article_topics_with_source"] = ARTICLE_TOPICS
    views["wire_copies"] = _0018.VIEW.split(" AS\n", 1)[1]
    return views


def _comments() -> dict[str, str]:
    """The comments that name Europe/Paris, as the earlier migrations left them."""
    comments = {name: text for name, _, text in [*_0004.VIEWS, *_0008.VIEWS, *_0016.VIEWS]}
    comments["articles_with_source"] = _0019.COMMENT
    return {name: text for name, text in comments.items() if "Europe/Paris" in text}


def _on_local_clock(comment: str) -> str:
    for paris, local in WORDS:
        comment = comment.replace(paris, local)
    return comment


SETTINGS_TABLE = """
CREATE TABLE veille_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    local_timezone text NOT NULL
        CHECK (timestamptz '2000-01-01 00:00+00' AT TIME ZONE local_timezone IS NOT NULL),
    updated_at timestamptz NOT NULL DEFAULT now()
)
"""

FUNCTION = f"""
CREATE FUNCTION veille_local_timezone() RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce((SELECT local_timezone FROM veille_settings), '{DEFAULT_LOCAL_TIMEZONE}')
$$
"""

TABLE_COMMENT = (
    "One row: the local clock (VEILLE_LOCAL_TIMEZONE) the views' day columns are on, written by "
    "veille each time a command or a flow opens the database with that setting."
)
FUNCTION_COMMENT = (
    "The local clock (an IANA zone name) of the views' day columns, VEILLE_LOCAL_TIMEZONE as veille "
    f"last recorded it ({DEFAULT_LOCAL_TIMEZONE} when no row): (ts AT TIME ZONE "
    "(SELECT veille_local_timezone()))::date is an article's day as veille gives it."
)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    zone = zone_setting(LOCAL_TIMEZONE_VARIABLE, DEFAULT_LOCAL_TIMEZONE)
    op.execute(SETTINGS_TABLE)
    op.execute(f"INSERT INTO veille_settings (local_timezone) VALUES ({_quote(zone)})")
    op.execute(f"COMMENT ON TABLE veille_settings IS {_quote(TABLE_COMMENT)}")
    op.execute(FUNCTION)
    op.execute(f"COMMENT ON FUNCTION veille_local_timezone() IS {_quote(FUNCTION_COMMENT)}")
    for name, body in _views().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body.replace(PARIS, LOCAL)}")
    for name, text in _comments().items():
        op.execute(f"COMMENT ON VIEW {name} IS {_quote(_on_local_clock(text))}")


def downgrade() -> None:
    for name, body in _views().items():
        op.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
    for name, text in _comments().items():
        op.execute(f"COMMENT ON VIEW {name} IS {_quote(text)}")
    op.execute("DROP FUNCTION veille_local_timezone()")
    op.execute("DROP TABLE veille_settings")
