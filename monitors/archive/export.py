"""Export the archive (JSON lines, CSV, Parquet), one record per article, streamed from the database.

``sightings`` lists every source and URL that carried the article itself (exact copies);
``cluster_sightings`` adds those of its near-duplicates (same ``cluster_id``), so one record
shows everyone who ran the story. ``extraction_evidence`` says where the title and dates came
from, the dates that disagreed and what the clean-up removed; ``published_at`` is written
with the site's offset when the page gave one (its day is the site's day).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.judge.explain import why

EXPORT_SQL = """
SELECT a.id, a.url, a.canonical_url, s.name AS source, s.owner, s.family, a.title, a.author,
       a.description, a.published_at, a.fetched_at, a.language, a.language_confidence,
       a.declared_language,
       CASE WHEN tt.article_id IS NULL THEN a.relevance
            ELSE CAST(CAST(tt.score AS numeric) AS double precision) END AS relevance,
       CASE WHEN tt.article_id IS NULL THEN a.relevant ELSE tt.relevant END AS relevant,
       coalesce(CASE WHEN tt.article_id IS NULL THEN a.relevance_terms ELSE tt.terms END,
                ARRAY[]::text[]) AS relevance_terms,
       CASE WHEN tt.article_id IS NULL THEN a.topic_version ELSE tt.version END AS topic_version,
       CASE WHEN tt.article_id IS NULL THEN a.relevance_evidence ELSE tt.evidence END AS relevance_why,
       coalesce((SELECT json_object_agg(t.topic, CASE WHEN t.score IN ('NaN', 'Infinity', '-Infinity')
                                                      THEN NULL ELSE t.score END ORDER BY t.topic)
                 FROM article_topics t
                 WHERE t.article_id = a.id AND t.relevant), '{}'::json) AS topics,
       a.duplicate_of, a.cluster_id, a.story_id, a.wire, a.modified_at, a.paywalled, a.truncated,
       coalesce(a.access_reasons, ARRAY[]::text[]) AS access_reasons,
       a.extraction_evidence,
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
LEFT JOIN article_topics tt ON tt.article_id = a.id AND tt.topic = CAST(:topic AS text)
WHERE (CAST(:relevant AS boolean) IS NULL OR CAST(:topic AS text) IS NOT NULL
       OR a.relevant = CAST(:relevant AS boolean))
  AND (CAST(:topic AS text) IS NULL
       OR EXISTS (SELECT 1 FROM article_topics t WHERE t.article_id = a.id AND t.topic = CAST(:topic AS text)
                  AND (CAST(:relevant AS boolean) IS NULL OR t.relevant = CAST(:relevant AS boolean))))
  AND (CAST(:since AS timestamptz) IS NULL
       OR coalesce(a.published_at, a.fetched_at) >= CAST(:since AS timestamptz))
  AND (CAST(:source AS text) IS NULL OR s.name = CAST(:source AS text)
       OR EXISTS (SELECT 1 FROM sightings si JOIN sources ss ON ss.id = si.source_id
                  WHERE si.article_id = a.id AND ss.name = CAST(:source AS text)))
  AND (CAST(:owner AS text) IS NULL OR s.owner = CAST(:owner AS text)
       OR EXISTS (SELECT 1 FROM sightings si JOIN sources ss ON ss.id = si.source_id
                  WHERE si.article_id = a.id AND ss.owner = CAST(:owner AS text)))
ORDER BY coalesce(a.published_at, a.fetched_at), a.id
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def iter_rows(
    session: Session,
    *,
    relevant: bool | None = None,
    since: datetime | None = None,
    source: str | None = None,
    owner: str | None = None,
    topic: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Articles as dicts of database values, oldest first, streamed with a server-side cursor.

    ``source`` / ``owner``: the articles that source (a source of that owner) carried, its
    copies of an article first stored from another source included (a row of ``sightings``, as
    the views count them; the record's ``source`` and ``owner`` are the first carrier's).

    ``topic``: only articles scored against that topic (relevant to it with ``relevant``), and
    ``relevance``, ``relevant``, ``relevance_terms``, ``topic_version`` and ``relevance_why``
    are that topic's (article_topics), not the default topic's;
    ``relevance_why`` says in one line why the article is relevant (monitors.judge.explain.why);
    ``topics`` maps each topic the article is relevant to to its score.
    """
    result = session.execute(
        text(EXPORT_SQL).execution_options(stream_results=True, yield_per=500),
        {"relevant": relevant, "since": since, "source": source, "owner": owner, "topic": topic},
    )
    for row in result.mappings():
        record = dict(row)
        record["relevance_why"] = why(record["relevance_why"])
        record["published_at"] = on_site_clock(record["published_at"], record["extraction_evidence"])
        yield record


def on_site_clock(published: datetime | None, evidence: dict[str, Any] | None) -> datetime | None:
    """The publication instant with the offset the page gave it (``published_local`` in the
    extraction evidence), so that its day is the site's day; a ``timestamptz`` keeps only the
    instant. Unchanged when the evidence names no offset or another instant."""
    local = (evidence or {}).get("published_local")
    if published is None or not isinstance(local, str):
        return published
    try:
        shown = datetime.fromisoformat(local)
    except ValueError:
        return published
    if shown.tzinfo is None or shown != published:
        return published  # the stored date is not the extracted one (a feed's date, an edit)
    return published.astimezone(shown.tzinfo)


def iter_articles(session: Session, **filters: Any) -> Iterator[dict[str, Any]]:
    """Articles as JSON-ready dicts (dates as ISO strings), oldest first; ``filters`` as for
    :func:`iter_rows`."""
    for row in iter_rows(session, **filters):
        yield {key: _jsonable(value) for key, value in row.items()}


def source_names(session: Session) -> list[str]:
    """The names ``source`` can take (the archive's sources), sorted."""
    return list(session.scalars(text("SELECT name FROM sources ORDER BY name")))


def count_articles(
    session: Session,
    *,
    relevant: bool | None = None,
    since: datetime | None = None,
    source: str | None = None,
    owner: str | None = None,
    topic: str | None = None,
) -> int:
    """How many articles an export with these filters writes (for a progress bar)."""
    body = EXPORT_SQL.split("\nFROM articles a", 1)[1].rsplit("ORDER BY", 1)[0]
    count: int = session.execute(
        text("SELECT count(*) FROM articles a" + body),
        {"relevant": relevant, "since": since, "source": source, "owner": owner, "topic": topic},
    ).scalar_one()
    return count


# DEL and the C1 controls: JSON lets them stand unescaped, but a terminal obeys the C1 ones
# (CSI, OSC as one character each), as it does ESC, which JSON writes escaped
_TERMINAL_CONTROLS = re.compile("[\x7f-\x9f]")


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite number, at any depth, as None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_line(record: dict[str, Any]) -> str:
    """A record as one line of strict JSON, for ``export --format jsonl``, ``search --json``,
    ``stories --json`` and ``stats --json``, its text as is (not ``\\u00ea``): a NaN or
    infinite number is null (JSON has none: Python writes bare NaN/Infinity, which jq turns
    into other numbers and strict readers, JSON.parse and PostgreSQL's jsonb, refuse; pandas'
    to_json writes null), and DEL and the C1 controls are escaped like the C0 ones
    (``\\u009b``), so the line printed to a terminal cannot act on it; both read back as stored."""
    text = json.dumps(_finite(record), ensure_ascii=False, default=str, allow_nan=False)
    return _TERMINAL_CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    """Write records as JSON lines (:func:`json_line`); returns how many were written."""
    count = 0
    for record in records:
        out.write(json_line(record))
        out.write("\n")
        count += 1
    return count


def _flat(value: Any) -> Any:
    """A CSV cell: lists joined with "; ", other structures as JSON, dates in ISO form."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return _jsonable(value)


# the export's columns, in order (EXPORT_SQL's; a test keeps them equal): the CSV header
# when nothing matched too, so that a script reading the file finds its columns
COLUMNS = (
    "id", "url", "canonical_url", "source", "owner", "family", "title", "author", "description",
    "published_at", "fetched_at", "language", "language_confidence", "declared_language",
    "relevance", "relevant", "relevance_terms", "topic_version", "relevance_why", "topics",
    "duplicate_of", "cluster_id", "story_id", "wire", "modified_at", "paywalled", "truncated",
    "access_reasons", "extraction_evidence", "sightings", "cluster_sightings", "text",
)  # fmt: skip


#: how a cell a spreadsheet evaluates as a formula begins (OWASP, "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: Any) -> Any:
    """``value`` with a leading ``'`` when it is text a spreadsheet would evaluate as a formula
    (it begins with one of :data:`FORMULA_START`): Excel and LibreOffice show it as text."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def write_csv(records: Iterator[dict[str, Any]], out: TextIO, *, spreadsheet: bool = False) -> int:
    """Write records as CSV with a header row (RFC 4180 quoting), the header alone when there
    is no record; returns how many. With ``spreadsheet``, each text cell a spreadsheet would
    evaluate as a formula is neutralised (:func:`spreadsheet_cell`; the data a script reads
    changes, hence not by default)."""
    import csv

    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for record in records:
        cells = {k: _flat(v) for k, v in record.items()}
        if spreadsheet:
            cells = {k: spreadsheet_cell(v) for k, v in cells.items()}
        writer.writerow(cells)
        count += 1
    return count


def parquet_schema() -> Any:
    """Column types of the Parquet export (fixed, so batches full of NULLs keep their type),
    its columns those of the CSV header in its order (:data:`COLUMNS`, docs/operating.md)."""
    import pyarrow as pa

    ts = pa.timestamp("us", tz="UTC")
    words = pa.list_(pa.string())
    types = {
        "id": pa.int64(),
        "published_at": ts,
        "fetched_at": ts,
        "modified_at": ts,
        "language_confidence": pa.float64(),
        "relevance": pa.float64(),
        "relevant": pa.bool_(),
        "paywalled": pa.bool_(),
        "truncated": pa.bool_(),
        "relevance_terms": words,
        "access_reasons": words,
        "duplicate_of": pa.int64(),
        "cluster_id": pa.int64(),
        "story_id": pa.int64(),
    }
    # the others are strings; topics, sightings, cluster_sightings and extraction_evidence
    # hold JSON (:data:`JSON_COLUMNS`)
    return pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS])


#: the Parquet columns written as JSON text: {topic: score}, the lists of {source, owner,
#: url, first_seen}, what extraction decided
JSON_COLUMNS = ("topics", "sightings", "cluster_sightings", "extraction_evidence")


def write_parquet(records: Iterator[dict[str, Any]], path: str, batch_size: int = 500) -> int:
    """Write database-valued records (:func:`iter_rows`) to a Parquet file; returns how many."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise OSError("Parquet export needs pyarrow: pip install 'veille[parquet]'") from exc

    schema = parquet_schema()
    count = 0
    batch: list[dict[str, Any]] = []
    with pq.ParquetWriter(path, schema) as writer:

        def flush() -> None:
            if batch:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch.clear()

        for record in records:
            row = dict(record)
            for name in JSON_COLUMNS:
                value = row.get(name)
                row[name] = None if value is None else json.dumps(value, ensure_ascii=False, default=str)
            batch.append(row)
            count += 1
            if len(batch) >= batch_size:
                flush()
        flush()
    return count
