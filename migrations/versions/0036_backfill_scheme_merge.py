"""A backfill's rows under the other scheme take their source's scheme, merged with their twin

Backfills before a93b610 stored a capture under the scheme its archive listed it with: a page
of an https site captured as ``http://`` became the article ``http://site/x``, apart from the
``https://site/x`` live polling stored (two articles when their texts differ), and a later
backfill or poll of the page did not find it. Since then the backfill queues a capture under
the scheme of its source's own URL (``monitors.collect.backfill_jobs.live_scheme``: ``http``
when that URL is ``http://``, else ``https``). This migration gives the rows those backfills
left the same form, so the canonical-URL rule holds for them as for new rows:

- the articles a backfill stored (``archived_url`` set) and the queue rows of its captures
  (an ``archive_captures`` row) whose canonical URL's scheme is not their source's take it
  (an explicit port that is the new scheme's default dropped, as canonical URLs have none);
- where a row already holds that canonical URL (the page live polling or another backfill
  stored), the two are merged into it: the backfill's text becomes one of its revisions
  (``article_revisions``, at the time the backfill read it, ``changes.merged_from`` naming
  the URL it was under), and its revisions, sightings, topic scores, HTML, queue row and
  story references move to it (a topic score, the HTML or a capture the kept row has of its
  own stays its); a queue row's listings, capture and fetch log rows move to the kept queue
  row. The kept article takes the other's story or copy cluster when it has none; the other's
  copies stay one cluster, as when a cluster's root is deleted (docs/deduplication.md).

Live polling's own rows (no ``archived_url``) are left as they are: a feed may list its links
under ``http://`` whatever its source's URL, and its next listing must find them. Running the
upgrade again changes nothing. The downgrade leaves the rows merged (it cannot tell them apart
again).

Revision ID: 0036_backfill_scheme_merge
Revises: 0035_wire_copies_agencies
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0036_backfill_scheme_merge"
down_revision: str | None = "0035_wire_copies_agencies"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _target(url: str, scheme: str) -> str:
    """SQL for ``url`` (a canonical http(s) URL) under ``scheme``, the new scheme's default
    port dropped."""
    moved = f"{scheme} || substr({url}, strpos({url}, '://'))"
    return (
        f"regexp_replace(regexp_replace({moved}, '^(https://[^/]*)[:]443(/|$)', '\\1\\2'),"
        " '^(http://[^/]*)[:]80(/|$)', '\\1\\2')"
    )


#: the scheme of a source's own URL, as live_scheme reads it
LIVE_SCHEME = "CASE WHEN lower(s.url) LIKE 'http://%' THEN 'http' ELSE 'https' END"


def _moves(name: str, table: str, which: str) -> str:
    """SQL making the temporary table ``name``: the rows of ``table`` that ``which`` holds for
    and whose canonical URL is not under their source's scheme, with that URL under it
    (``new_url``) and the row already there, if any (``new_id``, set after)."""
    return f"""
    CREATE TEMP TABLE {name} AS
    SELECT r.id AS old_id, r.canonical_url AS old_url, {_target("r.canonical_url", "t.scheme")} AS new_url,
           t.scheme, CAST(NULL AS bigint) AS new_id
    FROM {table} r
    JOIN sources s ON s.id = r.source_id
    CROSS JOIN LATERAL (SELECT {LIVE_SCHEME} AS scheme) t
    WHERE {which}
      AND lower(split_part(r.canonical_url, '://', 1)) IN ('http', 'https')
      AND lower(split_part(r.canonical_url, '://', 1)) <> t.scheme
    """


def _move(moves: str, table: str, column: str, same: Sequence[str] | None = None) -> str:
    """SQL pointing the rows of ``table`` whose ``column`` is a merged row to the kept one;
    with ``same`` (the columns that with ``column`` make the row unique), those the kept row
    has already stay the other's (and go with it)."""
    kept = ""
    if same is not None:
        match = "".join(f" AND k.{c} = o.{c}" for c in same)
        kept = f" AND NOT EXISTS (SELECT 1 FROM {table} k WHERE k.{column} = m.new_id{match})"
    return (
        f"UPDATE {table} o SET {column} = m.new_id FROM {moves} m"
        f" WHERE o.{column} = m.old_id AND m.new_id IS NOT NULL{kept}"
    )


ARTICLES = "scheme_article_moves"
QUEUE = "scheme_queue_moves"

MERGE_ARTICLES = [
    _moves(ARTICLES, "articles", "r.archived_url IS NOT NULL"),
    f"UPDATE {ARTICLES} m SET new_id = w.id FROM articles w WHERE w.canonical_url = m.new_url",
    # the backfill's text, one of the kept article's revisions (as a revised page's old text is)
    f"""
    INSERT INTO article_revisions (article_id, revised_at, title, text, text_hash, changes)
    SELECT m.new_id, o.fetched_at, o.title, o.text, o.text_hash,
           jsonb_build_object(
               'title_changed', o.title IS NOT NULL AND w.title IS NOT NULL AND o.title <> w.title,
               'old_length', length(o.text), 'new_length', length(w.text),
               'merged_from', m.old_url, 'merged_article_id', m.old_id)
    FROM {ARTICLES} m JOIN articles o ON o.id = m.old_id JOIN articles w ON w.id = m.new_id
    """,
    _move(ARTICLES, "article_revisions", "article_id"),
    # a sighting the kept article has already (same source and URL) keeps the earlier date
    f"""
    UPDATE sightings k SET first_seen_at = least(k.first_seen_at, o.first_seen_at),
                           archive = coalesce(k.archive, o.archive),
                           archived_url = coalesce(k.archived_url, o.archived_url)
    FROM {ARTICLES} m JOIN sightings o ON o.article_id = m.old_id
    WHERE m.new_id IS NOT NULL AND k.article_id = m.new_id AND k.source_id = o.source_id AND k.url = o.url
    """,
    _move(ARTICLES, "sightings", "article_id", ["source_id", "url"]),
    _move(ARTICLES, "article_topics", "article_id", ["topic"]),
    _move(ARTICLES, "article_html", "article_id", []),
    _move(ARTICLES, "url_queue", "article_id"),
    _move(ARTICLES, "stories", "article_id"),
    _move(ARTICLES, "story_events", "article_id"),
    # the kept article takes the other's story and copy cluster when it has none
    f"""
    UPDATE articles w SET story_id = coalesce(w.story_id, o.story_id),
                          story_score = CASE WHEN w.story_id IS NULL THEN o.story_score ELSE w.story_score END,
                          cluster_id = coalesce(w.cluster_id, o.cluster_id),
                          duplicate_of = CASE WHEN w.cluster_id IS NULL THEN o.duplicate_of
                                              ELSE w.duplicate_of END
    FROM {ARTICLES} m JOIN articles o ON o.id = m.old_id
    WHERE w.id = m.new_id
    """,
    f"DELETE FROM articles a USING {ARTICLES} m WHERE a.id = m.old_id AND m.new_id IS NOT NULL",
    f"UPDATE articles a SET canonical_url = m.new_url FROM {ARTICLES} m WHERE a.id = m.old_id AND m.new_id IS NULL",
    f"DROP TABLE {ARTICLES}",
]

MERGE_QUEUE = [
    _moves(QUEUE, "url_queue", "EXISTS (SELECT 1 FROM archive_captures c WHERE c.queue_id = r.id)"),
    f"UPDATE {QUEUE} m SET new_id = k.id FROM url_queue k WHERE k.canonical_url = m.new_url",
    _move(QUEUE, "url_listings", "queue_id", ["source_id", "url"]),
    _move(QUEUE, "archive_captures", "queue_id", []),
    _move(QUEUE, "fetch_log", "queue_id"),
    f"""
    UPDATE url_queue k SET article_id = coalesce(k.article_id, o.article_id)
    FROM {QUEUE} m JOIN url_queue o ON o.id = m.old_id
    WHERE k.id = m.new_id
    """,
    f"DELETE FROM url_queue q USING {QUEUE} m WHERE q.id = m.old_id AND m.new_id IS NOT NULL",
    # a capture queued under the other scheme is fetched from the archive (archived_url): its
    # url takes the scheme as the backfill queues it today
    f"""
    UPDATE url_queue q SET canonical_url = m.new_url,
                           url = CASE WHEN lower(split_part(q.url, '://', 1)) IN ('http', 'https')
                                      THEN {_target("q.url", "m.scheme")} ELSE q.url END
    FROM {QUEUE} m WHERE q.id = m.old_id AND m.new_id IS NULL
    """,
    f"DROP TABLE {QUEUE}",
]


def upgrade() -> None:
    for statement in [*MERGE_ARTICLES, *MERGE_QUEUE]:
        op.execute(statement)


def downgrade() -> None:
    """The merged rows stay merged: which sighting, score or revision came from which row is
    not kept."""
