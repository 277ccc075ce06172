"""The run report's "new articles relevant to a topic" (reads.new_relevant_since): the articles
first stored since the run began, revised since or not; not an older article revised since."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.reads import database_now, new_relevant_since


def test_an_article_stored_then_revised_since_is_new_an_older_one_revised_is_not(db: Session) -> None:
    """NEW_RELEVANT_SQL left out every article with a revision since the cut-off: one first
    stored after it and revised later in the run (or in a later run a report covers) was
    dropped from the report, although it is new. ``fetched_at`` is the first fetch (a
    revision keeps it): it alone says new."""
    now = database_now(db)
    since = now - timedelta(hours=1)
    source = db.scalar(
        sa.text(
            "INSERT INTO sources (name, kind, url, owner) VALUES ('Le Fil', 'feed', 'http://f/', 'media')"
            " RETURNING id"
        )
    )
    ids = {}
    for name, first_fetch in (("fresh", now - timedelta(minutes=30)), ("old", now - timedelta(days=2))):
        ids[name] = db.scalar(
            sa.text(
                "INSERT INTO articles (canonical_url, url, source_id, title, text, text_hash, fetched_at,"
                " relevant, relevance) VALUES (:u, :u, :s, :t, 'texte corrigé', :h, :f, true, 0.8)"
                " RETURNING id"
            ),
            {"u": f"http://f/{name}", "s": source, "t": name, "h": name, "f": first_fetch},
        )
        # each revised ten minutes ago (its earlier text kept as a revision)
        db.execute(
            sa.text(
                "INSERT INTO article_revisions (article_id, revised_at, title, text, text_hash)"
                " VALUES (:a, :r, :t, 'texte', :h)"
            ),
            {"a": ids[name], "r": now - timedelta(minutes=10), "t": name, "h": f"{name}-before"},
        )
    listed = [row["id"] for row in new_relevant_since(db, since)]
    assert listed == [ids["fresh"]], listed
