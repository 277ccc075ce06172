"""Stories in PostgreSQL: assign a stored article to its story, and find the copies MinHash misses.

Called by :func:`monitors.store.store_article` in the transaction that stores the article,
after :func:`monitors.neardup.link_and_index`:

1. :func:`lock_story_keys` takes a transaction-level advisory lock per lookup key of the
   article (its heaviest features, :func:`monitors.stories.lookup_keys`), in sorted order, in
   one statement, right after the band locks and before the article row is written.
2. Candidate stories are the ones sharing a lookup key on a day within
   :data:`monitors.stories.WINDOW_DAYS` (one indexed query on ``story_keys``); each is scored by
   cosine to its centroid times the time decay, in Python (:mod:`monitors.stories`).
3. If MinHash found no copy, the latest members of the closest stories are compared with the
   article by :func:`monitors.copies.compare` (containment, respun copy, translation); a copy is
   linked to the original's cluster as MinHash copies are (``cluster_id``/``duplicate_of``).
4. A copy joins its original's story; otherwise the article joins the best story above
   :data:`monitors.stories.JOIN_THRESHOLD`, or seeds a new one if it has at least
   :data:`monitors.stories.MIN_SEED_WORDS` words (``story_events`` records ``created``).

Concurrency, as for copies (:mod:`monitors.neardup`): two workers storing articles of one event
at once would each miss the other's uncommitted story and create two. A candidate story is
found only through a shared lookup key, and both transactions lock their lookup keys before
looking, so the second waits for the first to commit and then finds its story (READ COMMITTED:
the lookup is a new statement). The story locks come after the band locks in every
transaction and are taken in sorted order in one statement, and both before any row is
written: a transaction that waits for an advisory lock holds no row lock, so advisory and row
locks cannot form a cycle. Counts are recomputed from the members by ``story_refresh`` (migration 0008),
which a delete trigger on ``articles`` also calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from monitors.copies import compare, profile
from monitors.dedup import NUM_PERM
from monitors.neardup import LOCK_SQL, _array, _cursor, link_copy
from monitors.stories import (
    JOIN_THRESHOLD,
    MIN_SEED_WORDS,
    WINDOW_DAYS,
    add_vectors,
    cosine,
    decay,
    distance_days,
    features,
    key_hash,
    lookup_keys,
    word_count,
)

__all__ = ["COPY_CANDIDATE", "STORY_LOCK_CLASS", "StoryKeys", "StoryLink", "assign", "lock_story_keys"]

STORY_LOCK_CLASS = 0x53545259  # "STRY": namespace of the story-key advisory locks
#: Raw similarity (no decay) from which a story's members are compared for edit-tolerant copies.
COPY_CANDIDATE = 0.15
#: Candidate stories scored per article, and members compared for copies.
MAX_CANDIDATES = 20
MAX_COPY_MEMBERS = 30

_CANDIDATES_SQL = """
    SELECT s.id, s.first_seen, s.last_seen, s.centroid
    FROM stories s
    WHERE s.merged_into IS NULL AND s.id IN (
        SELECT k.story_id FROM story_keys k
        WHERE k.key = ANY(CAST(%(keys)s AS bigint[])) AND k.day BETWEEN %(d0)s AND %(d1)s
        GROUP BY k.story_id ORDER BY count(*) DESC LIMIT %(limit)s
    )
"""

# The latest members of the closest stories, kept only when they could be a copy: another
# language (a translation), or at least PREFILTER_SHARED equal MinHash values (a containment or
# a respun copy keeps some word 5-grams: Jaccard >= 0.18 shares about 23 of 128 values; two
# unrelated texts share none or one or two). Only those are read and compared in full.
_MEMBERS_SQL = """
    SELECT m.id, m.root, m.story_id, a.text, a.language
    FROM (
        SELECT a.id, coalesce(a.cluster_id, a.id) AS root, a.story_id, a.language, a.signature
        FROM articles a
        WHERE a.story_id = ANY(CAST(%(stories)s AS bigint[])) AND a.id <> %(self)s
        ORDER BY a.id DESC LIMIT %(limit)s
    ) m JOIN articles a ON a.id = m.id
    WHERE (m.language IS DISTINCT FROM %(lang)s AND m.language IS NOT NULL AND %(lang)s IS NOT NULL)
       OR (SELECT count(*) FROM unnest(m.signature, CAST(%(sig)s AS bigint[])) AS u(x, y) WHERE x = y)
          >= %(shared)s
"""
PREFILTER_SHARED = 8

_JOIN_SQL = """
    WITH upd AS (
        UPDATE stories SET centroid = CAST(%(centroid)s AS jsonb) WHERE id = %(story)s
    ), art AS (
        UPDATE articles SET story_id = %(story)s, story_score = %(score)s WHERE id = %(self)s
    ), seed AS (
        UPDATE articles SET story_score = %(score)s
        WHERE story_id = %(story)s AND story_score IS NULL AND id <> %(self)s
    )
    INSERT INTO story_keys (key, day, story_id)
    SELECT k, CAST(%(day)s AS date), %(story)s FROM unnest(CAST(%(keys)s AS bigint[])) AS k
    ON CONFLICT DO NOTHING
"""

_CREATE_SQL = """
    INSERT INTO stories (first_seen, last_seen, centroid)
    VALUES (%(at)s, %(at)s, CAST(%(centroid)s AS jsonb)) RETURNING id
"""


@dataclass(frozen=True)
class StoryLink:
    """Where the article went: its story (None: too short to seed one, and no story close
    enough), whether the story is new, the score, and the copy found by the edit-tolerant
    tests (its cluster root and rule) if MinHash had found none."""

    story_id: int | None
    created: bool
    score: float
    copy_root: int | None = None
    copy_rule: str | None = None


def _json(vector: dict[str, float]) -> str:
    return json.dumps({k: round(v, 5) for k, v in vector.items()}, separators=(",", ":"))


def _find_copy(
    cur: Any, article_id: int, text: str, language: str | None, signature: list[int], stories: list[int]
) -> tuple[int, int | None, str] | None:
    """(original's cluster root, its story, rule) of the first member of ``stories`` that the
    article is an edit-tolerant copy of."""
    if not stories or len(signature) != NUM_PERM:
        return None
    params = {
        "stories": _array(stories),
        "self": article_id,
        "limit": MAX_COPY_MEMBERS,
        "lang": language,
        "sig": _array(signature),
        "shared": PREFILTER_SHARED,
    }
    rows = cur.execute(_MEMBERS_SQL, params).fetchall()
    mine = profile(text, language)
    for _id, root, story, member_text, member_language in rows:
        evidence = compare(mine, profile(member_text, member_language))
        if evidence.rule:
            return root, story, evidence.rule
    return None


@dataclass(frozen=True)
class StoryKeys:
    """An article's story vector and lookup keys, computed once: the store locks the keys
    (:func:`lock_story_keys`) before it writes any row, then :func:`assign` uses them."""

    vector: dict[str, float]
    hashes: list[int]


def lock_story_keys(session: Session, text: str, title: str | None) -> StoryKeys:
    """Compute the article's story features and take the advisory locks of its lookup keys
    until the transaction ends. Call right after :func:`monitors.neardup.lock_bands`, before
    the article row is written: with every advisory lock taken before any row lock, a
    transaction waiting for a lock never holds a row another one waits for."""
    vector = features(text, title)
    hashes = [key_hash(k) for k in lookup_keys(vector)]
    if hashes:
        _cursor(session).execute(
            LOCK_SQL, {"cls": STORY_LOCK_CLASS, "ids": _array(sorted({h >> 32 for h in hashes}))}
        )
    return StoryKeys(vector, hashes)


def assign(
    session: Session,
    article_id: int,
    *,
    text: str,
    title: str | None,
    language: str | None,
    at: datetime,
    copy_root: int | None = None,
    keys: StoryKeys | None = None,
    signature: list[int] | None = None,
) -> StoryLink:
    """Put a stored article into its story (see the module docstring); ``at`` is its
    publication time, else its fetch time; ``copy_root`` the cluster root MinHash linked it to;
    ``keys`` what :func:`lock_story_keys` returned (taken now when None); ``signature`` its
    MinHash signature (without one, edit-tolerant copies are not looked for)."""
    if keys is None:
        keys = lock_story_keys(session, text, title)
    vector, hashes = keys.vector, keys.hashes
    cur = _cursor(session)
    window = timedelta(days=WINDOW_DAYS)
    rows = (
        cur.execute(
            _CANDIDATES_SQL,
            {
                "keys": _array(hashes),
                "d0": (at - window).date(),
                "d1": (at + window).date(),
                "limit": MAX_CANDIDATES,
            },
        ).fetchall()
        if hashes
        else []
    )
    scored: list[tuple[float, float, int, dict[str, float]]] = []
    for sid, first, last, total in rows:
        raw = cosine(vector, total)
        scored.append((raw * decay(distance_days(at, first, last)), raw, sid, total))
    scored.sort(key=lambda r: (-r[0], r[2]))

    target: int | None = None
    score = scored[0][0] if scored else 0.0
    rule: str | None = None
    if copy_root is not None:
        target = cur.execute("SELECT story_id FROM articles WHERE id = %s", (copy_root,)).fetchone()[0]
    else:
        close = sorted((r for r in scored if r[1] >= COPY_CANDIDATE), key=lambda r: -r[1])[:3]
        found = _find_copy(cur, article_id, text, language, signature or [], [r[2] for r in close])
        if found is not None:
            copy_root, target, rule = found
            link_copy(session, article_id, copy_root)
    if target is None and scored and scored[0][0] >= JOIN_THRESHOLD:
        target = scored[0][2]
    created = False
    if target is None:
        if word_count(text) < MIN_SEED_WORDS or not vector:
            return StoryLink(None, False, score, copy_root if rule else None, rule)
        target = cur.execute(_CREATE_SQL, {"at": at, "centroid": "{}"}).fetchone()[0]
        cur.execute(
            "INSERT INTO story_events (story_id, kind, article_id) VALUES (%s, 'created', %s)",
            (target, article_id),
        )
        centroid: dict[str, float] = {}
        created = True
    else:
        centroid = (
            next((r[3] for r in scored if r[2] == target), {})
            or cur.execute("SELECT centroid FROM stories WHERE id = %s", (target,)).fetchone()[0]
        )
    similarity = cosine(vector, centroid) if centroid else None
    cur.execute(
        _JOIN_SQL,
        {
            "centroid": _json(add_vectors(centroid, vector)),
            "story": target,
            "self": article_id,
            "score": similarity,
            "day": at.date(),
            "keys": _array(hashes),
        },
    )
    cur.execute("SELECT story_refresh(%s)", (target,))
    return StoryLink(target, created, score, copy_root if rule else None, rule)
