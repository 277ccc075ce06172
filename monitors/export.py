"""Export the archive as JSON lines, one object per article, streamed from the database.

``sightings`` lists every source and URL that carried the article itself (exact copies);
``cluster_sightings`` adds those of its near-duplicates (same ``cluster_id``), so one record
shows everyone who ran the story.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import text
from sqlalchemy.orm import Session

EXPORT_SQL = """
SELECT a.id, a.url, a.canonical_url, s.name AS source, s.owner, s.family, a.title, a.author,
       a.description, a.published_at, a.fetched_at, a.language, a.language_confidence,
       a.declared_language, a.relevance, a.relevant,
       coalesce(a.relevance_terms, ARRAY[]::text[]) AS relevance_terms, a.topic_version,
       a.duplicate_of, a.cluster_id, a.wire,
       coalesce((SELECT json_agg(json_build_object('source', ss.name, 'owner', ss.owner,
                                                  'url', si.url, 'first_seen', si.first_seen_at)
                                 ORDER BY si.first_seen_at, si.id)
                 FROM sightings si JOIN sources ss ON ss.id = si.source_id
                 WHERE si.article_id = a.id), '[]'::json) AS sightings,
       coalesce((SELECT json_agg(json_build_object('article_id', si.article_id, 'source', ss.name,
                                                  'owner', ss.owner, 'url', si.url,
                                                  'first_seen', si.first_seen_at)
                                 ORDER BY si.first_seen_at, si.id)
                 FROM articles m JOIN sightings si ON si.article_id = m.id
                 JOIN sources ss ON ss.id = si.source_id
                 WHERE m.id = a.id OR m.cluster_id = a.cluster_id), '[]'::json) AS cluster_sightings,
       a.text
FROM articles a JOIN sources s ON s.id = a.source_id
WHERE (CAST(:relevant AS boolean) IS NULL OR a.relevant = CAST(:relevant AS boolean))
  AND (CAST(:since AS timestamptz) IS NULL
       OR coalesce(a.published_at, a.fetched_at) >= CAST(:since AS timestamptz))
  AND (CAST(:source AS text) IS NULL OR s.name = CAST(:source AS text))
  AND (CAST(:owner AS text) IS NULL OR s.owner = CAST(:owner AS text))
ORDER BY coalesce(a.published_at, a.fetched_at), a.id
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def iter_articles(
    session: Session,
    *,
    relevant: bool | None = None,
    since: datetime | None = None,
    source: str | None = None,
    owner: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Articles as plain dicts, oldest first, streamed with a server-side cursor."""
    result = session.execute(
        text(EXPORT_SQL).execution_options(stream_results=True, yield_per=500),
        {"relevant": relevant, "since": since, "source": source, "owner": owner},
    )
    for row in result.mappings():
        yield {key: _jsonable(value) for key, value in row.items()}


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    """Write records as JSON lines; returns how many were written."""
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, default=str))
        out.write("\n")
        count += 1
    return count
