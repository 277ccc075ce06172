"""Reading stories back: the list ``veille stories`` prints and the run report's new and growing
stories (read-only queries over ``stories``, ``articles`` and ``story_outlets``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.archive.export import on_site_clock

__all__ = ["list_stories", "stories_since"]

LIST_SQL = """
SELECT st.id, st.first_seen, st.last_seen, st.title, st.language, st.article_id,
       src.name AS central_source, st.articles, st.outlets, st.media, st.parties,
       first_pub.source AS first_publisher, first_pub.first_published,
       (SELECT array_agg(o.source ORDER BY o.publication_rank, o.source)
        FROM story_outlets o WHERE o.story_id = st.id) AS outlet_names
FROM stories st
LEFT JOIN sources src ON src.id = st.source_id
LEFT JOIN LATERAL (
    SELECT o.source, o.first_published FROM story_outlets o
    WHERE o.story_id = st.id ORDER BY o.first_published, o.source LIMIT 1
) first_pub ON true
WHERE st.merged_into IS NULL AND st.articles > 0
  AND (CAST(:since AS timestamptz) IS NULL OR st.last_seen >= CAST(:since AS timestamptz))
  AND (CAST(:topic AS text) IS NULL
       OR EXISTS (SELECT 1 FROM articles m JOIN article_topics t ON t.article_id = m.id
                  WHERE m.story_id = st.id AND t.topic = CAST(:topic AS text) AND t.relevant))
ORDER BY st.outlets DESC, st.articles DESC, st.last_seen DESC, st.id
LIMIT :limit
"""

SINCE_SQL = """
SELECT st.id, st.title, st.articles, st.outlets, st.media, st.parties, st.first_seen, st.last_seen,
       st.created_at >= CAST(:since AS timestamptz) AS new,
       count(a.id) AS added,
       -- over every story of the run, not only the ones listed (computed before the LIMIT)
       count(*) FILTER (WHERE st.created_at >= CAST(:since AS timestamptz)) OVER () AS all_new,
       count(*) OVER () AS all_stories
FROM stories st JOIN articles a ON a.story_id = st.id
WHERE st.merged_into IS NULL
  -- a member stored or revised since (fetched_at is the first fetch: a revision keeps it)
  AND (a.fetched_at >= CAST(:since AS timestamptz)
       OR EXISTS (SELECT 1 FROM article_revisions r
                  WHERE r.article_id = a.id AND r.revised_at >= CAST(:since AS timestamptz)))
  -- a member stored since (no sighting before), or any of a story made since (a teaser
  -- written out seeds one); not a member stored before and only revised since (its story
  -- got no article)
  AND (st.created_at >= CAST(:since AS timestamptz)
       OR NOT EXISTS (SELECT 1 FROM sightings si
                      WHERE si.article_id = a.id AND si.first_seen_at < CAST(:since AS timestamptz)))
GROUP BY st.id
ORDER BY count(a.id) DESC, st.outlets DESC, st.id
LIMIT :limit
"""


def list_stories(
    session: Session, *, since: datetime | None = None, topic: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Stories seen since ``since`` (last seen), widest coverage first, with their outlets in
    order of first publication and the first publisher; with ``topic``, only stories with an
    article relevant to it (``article_topics``, every topic an article was scored against)."""
    rows = [
        dict(r)
        for r in session.execute(text(LIST_SQL), {"since": since, "topic": topic, "limit": limit}).mappings()
    ]
    _on_site_clocks(session, rows)
    return rows


#: the story's articles' publication instants with the offset their pages gave (published_local)
_LOCAL_SQL = """
SELECT story_id, published_at, extraction_evidence->>'published_local' FROM articles
WHERE story_id = ANY(:ids) AND extraction_evidence->>'published_local' IS NOT NULL ORDER BY id
"""


def _on_site_clocks(session: Session, rows: list[dict[str, Any]]) -> None:
    """A story's ``first_seen``, ``last_seen`` and ``first_published`` are publication instants
    of its articles: each on that article's site's clock (:func:`on_site_clock`), as the export
    and ``search --json`` write its ``published_at``; as stored when no page gave an offset
    (``stories --json`` wrote them in UTC, another day than the export's for an evening article)."""
    shown: dict[tuple[int, datetime], datetime | None] = {}
    for story, published, local in session.execute(text(_LOCAL_SQL), {"ids": [r["id"] for r in rows]}):
        shown.setdefault((story, published), on_site_clock(published, {"published_local": local}))
    for row in rows:
        for key in ("first_seen", "last_seen", "first_published"):
            if row[key] is not None:
                row[key] = shown.get((row["id"], row[key])) or row[key]


def stories_since(session: Session, since: datetime, limit: int = 20) -> list[dict[str, Any]]:
    """Stories that got articles stored since ``since`` (an article stored before and revised
    since is no new member), the ``limit`` that got the most:
    ``new`` when created since then, else growing; ``added`` = how many articles they got;
    ``all_new`` and ``all_stories`` count every such story, listed or not."""
    return [dict(r) for r in session.execute(text(SINCE_SQL), {"since": since, "limit": limit}).mappings()]
