"""Stories in PostgreSQL: assign a stored article to its story, and find the copies MinHash misses.

Called by :func:`monitors.archive.articles.store_article` in the transaction that stores the article,
after :func:`monitors.group.neardup.link_and_index`:

1. :func:`lock_story_keys` takes a transaction-level advisory lock per lookup key of the
   article (its heaviest features that say which event it is about: no small number, year or
   common word, :func:`monitors.group.stories.article_keys`), in sorted order, in
   the statement that takes the band locks (after them), before the article row is written.
2. One statement finds the candidate stories (sharing a lookup key on a day within
   :data:`monitors.group.stories.WINDOW_DAYS`, :data:`PER_KEY_STORIES` per key) and the latest
   members of the nearest ones that could be copies; each story is scored by cosine to its
   centroid times the time decay, in Python (:mod:`monitors.group.stories`).
3. If MinHash found no copy, those members are compared with the article by
   :func:`monitors.group.copies.compare` (containment, respun copy, translation); a copy is linked to
   the original's cluster as MinHash copies are (``cluster_id``/``duplicate_of``).
4. A copy joins its original's story; otherwise the article joins the best story above
   :data:`monitors.group.stories.JOIN_THRESHOLD`, or seeds a new one if it has at least
   :data:`monitors.group.stories.MIN_SEED_WORDS` words (``story_events`` records ``created``). Either
   is one write statement that keeps the story's counts, outlets, span and central article up
   to date in place (``story_refresh``, a recount from the members, runs on delete).

Concurrency, as for copies (:mod:`monitors.group.neardup`): two workers storing articles of one event
at once would each miss the other's uncommitted story and create two. A candidate story is
found only through a shared lookup key, and both transactions lock their lookup keys before
looking, so the second waits for the first to commit and then finds its story (READ COMMITTED:
the lookup is a new statement). The story locks come after the band locks in every
transaction and are taken in sorted order in one statement, and both before any row is
written: a transaction that waits for an advisory lock holds no row lock, so advisory and row
locks cannot form a cycle. Two articles that join one story without sharing a key are
serialised by the story row: the write checks the row is still the version it read (see
:data:`_JOIN_SQL`), else locks it and reads it again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from monitors.dates import article_day
from monitors.group.copies import UNDETERMINED, compare, profile
from monitors.group.dedup import NUM_PERM, SIGNATURE_SCHEME, band_keys
from monitors.group.neardup import LOCK_CLASS, _array, _cursor, in_batches, link_copy, lock_ids
from monitors.group.stories import (
    JOIN_THRESHOLD,
    MIN_SEED_WORDS,
    WINDOW_DAYS,
    add_vectors,
    article_keys,
    cosine,
    decay,
    distance_days,
    key_hash,
    merge_pair,
    word_count,
)

__all__ = [
    "COPY_CANDIDATE",
    "STORY_LOCK_CLASS",
    "StoryKeys",
    "StoryLink",
    "assign",
    "key_day",
    "lock_story_keys",
    "refeature_old_stories",
    "show_revision",
]

STORY_LOCK_CLASS = 0x53545259  # "STRY": namespace of the story-key advisory locks
#: Raw similarity (no decay) from which a story's members are compared for edit-tolerant copies.
COPY_CANDIDATE = 0.15
#: Candidate stories scored per article; of those, the NEAR_STORIES sharing the most lookup
#: keys have their latest COPY_MEMBERS members read for the copy check.
MAX_CANDIDATES = 20
NEAR_STORIES = 3
COPY_MEMBERS = 10
#: Stories read per lookup key, the latest days first: a common word is a key of thousands of
#: stories in a window, and counting them all was most of an assignment's cost at 100k
#: articles (bench/stories.py); a story of the same event shares its names and numbers.
PER_KEY_STORIES = 64
#: Equal MinHash values from which a member of the same language is compared as a copy: a
#: containment or a respun copy keeps some word 5-grams (Jaccard >= 0.18 shares about 23 of
#: 128 values), two unrelated texts share none or one or two.
PREFILTER_SHARED = 8

# One statement finds the candidate stories and, for the NEAR_STORIES of them that share the
# most lookup keys, the latest members that could be a copy of the article: another language
# (a translation) or at least PREFILTER_SHARED equal MinHash values; only those texts are sent.
# A key of a story merged into another finds the survivor (merged_into always names a live
# story: a merge repoints older merges). A story whose members were all deleted is no
# candidate: its centroid and span are the deleted articles' (an article joined it, and the
# story came back with their first_seen). ``xmin`` is the story row's version (see _JOIN_SQL);
# ``root_story`` the story of the MinHash copy's original, if any.
_CANDIDATES_SQL = """
    WITH hits AS (
        SELECT k.story_id, count(*) AS n
        FROM unnest(CAST(%(keys)s AS bigint[])) AS q(key)
        CROSS JOIN LATERAL (
            SELECT sk.story_id FROM story_keys sk
            WHERE sk.key = q.key AND sk.day BETWEEN %(d0)s AND %(d1)s
            ORDER BY sk.day DESC, sk.story_id DESC LIMIT %(per_key)s
        ) k
        GROUP BY k.story_id ORDER BY n DESC, k.story_id DESC LIMIT %(limit)s
    ), cand AS (
        SELECT DISTINCT ON (t.id) t.id, t.first_seen, t.last_seen, t.centroid,
               CAST(t.xmin AS text) AS xmin, h.n
        FROM hits h JOIN stories s ON s.id = h.story_id
        JOIN stories t ON t.id = coalesce(s.merged_into, s.id)
        WHERE t.merged_into IS NULL AND t.articles > 0
        ORDER BY t.id, h.n DESC
    ), ranked AS (
        SELECT cand.*, row_number() OVER (ORDER BY n DESC, id DESC) AS rank FROM cand
    )
    SELECT r.id, r.first_seen, r.last_seen, r.centroid, r.xmin,
           CASE WHEN r.rank <= %(near)s AND CAST(%(copies)s AS boolean) THEN (
               SELECT jsonb_agg(jsonb_build_array(m.root, a.text, a.language) ORDER BY m.id DESC)
               FROM (
                   SELECT a.id, coalesce(a.cluster_id, a.id) AS root, a.language, a.signature
                   FROM articles a
                   WHERE a.story_id = r.id AND a.id <> %(self)s
                   ORDER BY a.id DESC LIMIT %(members)s
               ) m JOIN articles a ON a.id = m.id
               WHERE (m.language IS DISTINCT FROM %(lang)s AND m.language IS NOT NULL
                      AND m.language <> %(und)s AND CAST(%(lang)s AS text) IS NOT NULL)
                  OR (SELECT count(*) FROM unnest(m.signature, CAST(%(sig)s AS bigint[])) AS u(x, y)
                      WHERE x = y) >= %(shared)s
           ) END
    FROM ranked r
"""

# One statement joins the article to its story: the story's centroid, counts, outlets, span
# and central article (the member most similar to the story when it joined) are updated in
# place (story_refresh, which recounts the members, runs on delete and merge), the article gets
# its story and score, the seed its score (the first joiner's), and the article's lookup keys
# are added. ``xmin`` is the story row's version when its centroid was read: if another
# transaction changed the story since, the update matches no row (it re-checks the newest
# version) and nothing else is written; the caller then locks the row, reads it again and
# writes with ``xmin`` NULL. A concurrent join of the same story therefore never loses a
# centroid update or an outlet.
_JOIN_SQL = """
    WITH me AS (
        SELECT a.id, a.source_id, coalesce(a.published_at, a.fetched_at) AS at,
               coalesce(src.owner, '') AS owner
        FROM articles a JOIN sources src ON src.id = a.source_id
        WHERE a.id = %(self)s
    ), st AS (
        UPDATE stories s SET
            centroid = CAST(%(centroid)s AS jsonb),
            articles = s.articles + 1,
            outlets = s.outlets + CAST(me.source_id <> ALL(s.source_ids) AS integer),
            media = s.media + CAST(me.source_id <> ALL(s.source_ids) AND me.owner = 'media' AS integer),
            parties = s.parties + CAST(me.source_id <> ALL(s.source_ids) AND me.owner = 'party' AS integer),
            source_ids = CASE WHEN me.source_id = ANY(s.source_ids) THEN s.source_ids
                              ELSE s.source_ids || me.source_id END,
            first_seen = least(s.first_seen, me.at),
            last_seen = greatest(s.last_seen, me.at),
            (article_id, title, source_id, language) = (
                SELECT c.id, c.title, c.source_id, c.language FROM articles c
                WHERE c.id = CASE
                    WHEN s.article_id IS NULL
                      OR CAST(%(score)s AS double precision)
                         > (SELECT x.story_score FROM articles x WHERE x.id = s.article_id)
                    THEN me.id ELSE s.article_id END
            ),
            updated_at = now()
        FROM me
        WHERE s.id = %(story)s AND (CAST(%(xmin)s AS text) IS NULL OR CAST(s.xmin AS text) = %(xmin)s)
        RETURNING s.id
    ), art AS (
        UPDATE articles SET story_id = %(story)s, story_score = %(score)s
        WHERE id = %(self)s AND EXISTS (SELECT 1 FROM st)
    ), seed AS (
        UPDATE articles SET story_score = %(score)s
        WHERE id = (SELECT article_id FROM stories WHERE id = %(story)s)
          AND story_score IS NULL AND id <> %(self)s AND EXISTS (SELECT 1 FROM st)
    ), keys AS (
        INSERT INTO story_keys (key, day, story_id)
        SELECT k, CAST(%(day)s AS date), %(story)s FROM unnest(CAST(%(keys)s AS bigint[])) AS k
        WHERE EXISTS (SELECT 1 FROM st)
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) FROM st
"""

# Story ``gone`` is merged into ``survivor`` (both rows locked): its members move, stories
# merged into it before now name the survivor (merged_into always names a live story), the
# survivor takes the summed centroid and the 'merged' event names the bridging article. The
# counts of both are then recounted by story_refresh (a separate statement, which sees the
# moved members).
_MERGE_SQL = """
    WITH moved AS (
        UPDATE articles SET story_id = %(survivor)s WHERE story_id = %(gone)s
    ), earlier AS (
        UPDATE stories SET merged_into = %(survivor)s WHERE merged_into = %(gone)s
    ), gone AS (
        UPDATE stories SET merged_into = %(survivor)s, updated_at = now() WHERE id = %(gone)s
    ), event AS (
        INSERT INTO story_events (story_id, kind, other_story_id, article_id, detail)
        VALUES (%(survivor)s, 'merged', %(gone)s, %(self)s, CAST(%(detail)s AS jsonb))
    )
    UPDATE stories SET centroid = CAST(%(centroid)s AS jsonb) WHERE id = %(survivor)s
"""
_REFRESH_SQL = "SELECT story_refresh(%(survivor)s), story_refresh(%(gone)s)"
_LOCK_PAIR_SQL = """
    SELECT id, centroid FROM stories WHERE id IN (%(survivor)s, %(gone)s) AND merged_into IS NULL
    ORDER BY id FOR UPDATE
"""

# The story an article is about to join, locked, as it is now (after a concurrent change).
_LOCK_STORY_SQL = "SELECT centroid, merged_into FROM stories WHERE id = %s FOR UPDATE"
# The story of a copy's original (when it was not among the candidates), locked.
_ROOT_STORY_SQL = """
    SELECT s.id, s.centroid FROM articles a JOIN stories s ON s.id = a.story_id
    WHERE a.id = %s FOR UPDATE OF s
"""

# One statement creates the story with the article as its only member and central article,
# records the 'created' event and adds the lookup keys.
_CREATE_SQL = """
    WITH me AS (
        SELECT a.id, a.title, a.source_id, a.language, coalesce(a.published_at, a.fetched_at) AS at,
               coalesce(src.owner, '') AS owner
        FROM articles a JOIN sources src ON src.id = a.source_id
        WHERE a.id = %(self)s
    ), st AS (
        INSERT INTO stories (first_seen, last_seen, centroid, articles, outlets, media, parties,
                             source_ids, article_id, title, source_id, language)
        SELECT me.at, me.at, CAST(%(centroid)s AS jsonb), 1, 1, CAST(me.owner = 'media' AS integer),
               CAST(me.owner = 'party' AS integer), ARRAY[me.source_id], me.id, me.title,
               me.source_id, me.language
        FROM me
        RETURNING id
    ), ev AS (
        INSERT INTO story_events (story_id, kind, article_id) SELECT id, 'created', %(self)s FROM st
    ), art AS (
        UPDATE articles SET story_id = (SELECT id FROM st), story_score = NULL WHERE id = %(self)s
    ), keys AS (
        INSERT INTO story_keys (key, day, story_id)
        SELECT k, CAST(%(day)s AS date), st.id FROM st, unnest(CAST(%(keys)s AS bigint[])) AS k
        ON CONFLICT DO NOTHING
    )
    SELECT id FROM st
"""


@dataclass(frozen=True)
class StoryLink:
    """Where the article went: its story (None: too short to seed one, and no story close
    enough), whether the story is new, the score, the copy found by the edit-tolerant tests
    (its cluster root and rule) if MinHash had found none, and the story merged into its own
    if the article bridged two (:func:`monitors.group.stories.merge_pair`)."""

    story_id: int | None
    created: bool
    score: float
    copy_root: int | None = None
    copy_rule: str | None = None
    merged: int | None = None


def _json(vector: dict[str, float]) -> str:
    return json.dumps({k: round(v, 5) for k, v in vector.items()}, separators=(",", ":"))


@dataclass(frozen=True)
class StoryKeys:
    """An article's story vector and lookup keys, computed once: the store locks the keys
    (:func:`lock_story_keys`) before it writes any row, then :func:`assign` uses them; and the
    band keys of its MinHash signature when they were locked in the same statement."""

    vector: dict[str, float]
    hashes: list[int]
    bands: list[tuple[int, int]] = field(default_factory=list)


# The band locks of monitors.group.neardup first, then the story-key locks, each set sorted, in one
# statement (one round trip instead of two); unnest keeps array order and the volatile lock
# function runs once per row, in order.
_LOCK_BOTH_SQL = (
    "SELECT count(pg_advisory_xact_lock(c, k))"
    " FROM unnest(CAST(%(cls)s AS integer[]), CAST(%(ids)s AS integer[])) WITH ORDINALITY AS t(c, k, n)"
)


def lock_story_keys(
    session: Session,
    text: str,
    title: str | None,
    signature: list[int] | None = None,
    language: str | None = None,
) -> StoryKeys:
    """Compute the article's story features and take the advisory locks of its lookup keys
    until the transaction ends; with ``signature``, also the band-key locks of
    :func:`monitors.group.neardup.lock_bands`, first, in the same statement (``StoryKeys.bands`` are
    then the band keys for :func:`monitors.group.neardup.link_and_index`). Call before the article
    row is written: with every advisory lock taken before any row lock, a transaction waiting
    for a lock never holds a row another one waits for. ``language`` (the detected one) keeps
    its common words out of the keys (:func:`monitors.group.stories.article_keys`)."""
    vector, keys = article_keys(text, title, language)
    hashes = [key_hash(k) for k in keys]
    bands = band_keys(signature) if signature is not None and len(signature) == NUM_PERM else []
    band_ids = lock_ids(bands)
    story_ids = sorted({h >> 32 for h in hashes})
    if band_ids or story_ids:
        classes = [LOCK_CLASS] * len(band_ids) + [STORY_LOCK_CLASS] * len(story_ids)
        _cursor(session).execute(
            _LOCK_BOTH_SQL, {"cls": _array(classes), "ids": _array(band_ids + story_ids)}
        )
    return StoryKeys(vector, hashes, bands)


def _copy_of(
    text: str, language: str | None, members: list[tuple[float, int, list[Any]]]
) -> tuple[int, int, str] | None:
    """(original's cluster root, its story, rule) of the first member the article is an
    edit-tolerant copy of; ``members`` are (raw similarity, story, [[root, text, language]...])
    of the nearest stories, the most similar first."""
    mine = None
    for _raw, story, rows in members:
        for root, member_text, member_language in rows:
            mine = mine or profile(text, language)
            evidence = compare(mine, profile(member_text, member_language))
            if evidence.rule:
                return root, story, evidence.rule
    return None


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
        keys = lock_story_keys(session, text, title, language=language)
    if at.tzinfo is None:  # as the database reads a naive timestamp (UTC sessions)
        at = at.replace(tzinfo=UTC)
    vector, hashes = keys.vector, keys.hashes
    cur = _cursor(session)
    sig = signature or []
    copies = copy_root is None and len(sig) == NUM_PERM
    rows = (
        cur.execute(
            _CANDIDATES_SQL,
            {
                "keys": _array(hashes),
                "d0": key_day(at, -WINDOW_DAYS),
                "d1": key_day(at, WINDOW_DAYS),
                "limit": MAX_CANDIDATES,
                "per_key": PER_KEY_STORIES,
                "near": NEAR_STORIES,
                "copies": copies,
                "self": article_id,
                "members": COPY_MEMBERS,
                "lang": None if language == UNDETERMINED else language,  # no language, not another
                "und": UNDETERMINED,
                "sig": _array(sig) if copies else "{}",
                "shared": PREFILTER_SHARED,
            },
        ).fetchall()
        if hashes
        else []
    )
    scored: list[tuple[float, float, int, dict[str, float], str]] = []
    members: list[tuple[float, int, list[Any]]] = []
    for sid, first, last, total, xmin, near in rows:
        raw = cosine(vector, total)
        scored.append((raw * decay(distance_days(at, first, last)), raw, sid, total, xmin))
        if near and raw >= COPY_CANDIDATE:
            members.append((raw, sid, near))
    scored.sort(key=lambda r: (-r[0], r[2]))
    members.sort(key=lambda m: (-m[0], m[1]))
    by_id = {r[2]: r for r in scored}

    target: tuple[int, dict[str, float], str | None] | None = None
    score = scored[0][0] if scored else 0.0
    rule: str | None = None
    if copy_root is not None:
        row = cur.execute(_ROOT_STORY_SQL, (copy_root,)).fetchone()
        target = (row[0], row[1], None) if row else None
    else:
        found = _copy_of(text, language, members)
        if found is not None:
            copy_root, story, rule = found
            link_copy(session, article_id, copy_root)
            target = (story, by_id[story][3], by_id[story][4])
    merged: int | None = None
    if target is None and scored and scored[0][0] >= JOIN_THRESHOLD:
        target = (scored[0][2], scored[0][3], scored[0][4])
        pair = merge_pair(
            (scored[0][0], scored[0][2]), (scored[1][0], scored[1][2]) if len(scored) > 1 else None
        )
        if pair is not None:
            joined = _merge(cur, article_id, *pair, scores=(scored[0][0], scored[1][0]))
            if joined is not None:
                target, merged = (pair[0], joined, None), pair[1]
    day = key_day(at, 0)
    if target is None:
        if word_count(text) < MIN_SEED_WORDS or not vector:
            return StoryLink(None, False, score, copy_root if rule else None, rule)
        params = {
            "self": article_id,
            "centroid": _json(add_vectors({}, vector)),
            "day": day,
            "keys": _array(hashes),
        }
        story_id = cur.execute(_CREATE_SQL, params).fetchone()[0]
        return StoryLink(story_id, True, score, copy_root if rule else None, rule)
    story_id, centroid, xmin = target
    if not _join(cur, article_id, story_id, vector, centroid, xmin, day, hashes):
        # The story changed since its centroid was read: lock it, read it again, write.
        centroid, merged_into = cur.execute(_LOCK_STORY_SQL, (story_id,)).fetchone()
        if merged_into is not None:
            story_id = merged_into
            centroid = cur.execute(_LOCK_STORY_SQL, (story_id,)).fetchone()[0]
        _join(cur, article_id, story_id, vector, centroid, None, day, hashes)
    return StoryLink(story_id, False, score, copy_root if rule else None, rule, merged)


# A story shows its central article's title and language; a join copies them, a revision of
# that article wrote neither (the story kept a headline no member has any more).
_REVISED_SQL = """
    UPDATE stories st SET title = a.title, language = a.language, updated_at = now()
    FROM articles a
    WHERE a.id = %s AND st.article_id = a.id
      AND (st.title IS DISTINCT FROM a.title OR st.language IS DISTINCT FROM a.language)
"""


def show_revision(session: Session, article_id: int) -> None:
    """A revised article that is its story's central one: the story takes its new title and
    language (its story, span and centroid stay: a story is never re-decided)."""
    _cursor(session).execute(_REVISED_SQL, (article_id,))


def key_day(at: datetime, days: float) -> date:
    """The day ``days`` from ``at`` (a ``story_keys`` day, or a bound of the lookup window),
    held to the calendar's ends: a feed's "31 Dec 9999" (or
    "1 Jan 0001") for a page without its own date raised OverflowError here, out of the
    store, and the ingest worker's task failed at that page."""
    try:
        return article_day(at + timedelta(days=days)) or date.max  # the local day (monitors.dates)
    except OverflowError:
        return date.max if days > 0 else date.min if days < 0 else at.date()


def _merge(
    cur: Any, article_id: int, survivor: int, gone: int, scores: tuple[float, float]
) -> dict[str, float] | None:
    """Merge story ``gone`` into ``survivor`` (the older), bridged by the article; returns the
    survivor's new centroid, or None when one of them was merged meanwhile (then no merge)."""
    rows = cur.execute(_LOCK_PAIR_SQL, {"survivor": survivor, "gone": gone}).fetchall()
    if len(rows) != 2:
        return None
    centroid = add_vectors(rows[0][1], rows[1][1])
    detail = json.dumps({"scores": [round(scores[0], 4), round(scores[1], 4)]})
    params = {
        "survivor": survivor,
        "gone": gone,
        "self": article_id,
        "centroid": _json(centroid),
        "detail": detail,
    }
    cur.execute(_MERGE_SQL, params)
    cur.execute(_REFRESH_SQL, params)
    return centroid


def _join(
    cur: Any,
    article_id: int,
    story_id: int,
    vector: dict[str, float],
    centroid: dict[str, float],
    xmin: str | None,
    day: date,
    hashes: list[int],
) -> bool:
    """Run :data:`_JOIN_SQL` (``xmin`` None: the row is locked, no version check); False when
    the story row is no longer at version ``xmin``."""
    params = {
        "centroid": _json(add_vectors(centroid, vector)),
        "story": story_id,
        "self": article_id,
        "score": cosine(vector, centroid) if centroid else None,
        "xmin": xmin,
        "day": day,
        "keys": _array(hashes),
    }
    return bool(cur.execute(_JOIN_SQL, params).fetchone()[0])


#: Stories recomputed per transaction by :func:`refeature_old_stories`.
REFEATURE_BATCH = 50

_OLD_STORIES_SQL = (
    "SELECT id FROM stories WHERE feature_scheme < %(scheme)s AND id > %(after)s"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
_MEMBERS_SQL = (
    "SELECT story_id, text, title, language, coalesce(published_at, fetched_at) FROM articles"
    " WHERE story_id = ANY(CAST(%(ids)s AS bigint[])) ORDER BY story_id, id"
)
# The keys are replaced in two statements: in one, the insert would not see the delete's effect
# (the sub-statements of a WITH share one snapshot) and skip a key as already there.
_DROP_KEYS_SQL = "DELETE FROM story_keys WHERE story_id = %(story)s"
_REFEATURE_SQL = """
    WITH keys AS (
        INSERT INTO story_keys (key, day, story_id)
        SELECT k, d, %(story)s FROM unnest(CAST(%(keys)s AS bigint[]), CAST(%(days)s AS date[])) AS q(k, d)
        ON CONFLICT DO NOTHING
    )
    UPDATE stories SET centroid = CAST(%(centroid)s AS jsonb), feature_scheme = %(scheme)s
    WHERE id = %(story)s
"""


def refeature_old_stories(
    engine: Engine,
    batch: int = REFEATURE_BATCH,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Recompute the centroid and lookup keys of the stories made of older words
    (``feature_scheme`` 1, migration 0043: a Chinese or Japanese member joined before its runs
    were cut into bigrams) from their members, in the order they joined, as an ingest would
    now: a later report of the event in that script then scores against its words. One
    committed transaction per ``batch`` stories, each row locked (a join or merge meanwhile
    waits, then reads the new centroid: :data:`_JOIN_SQL`'s version check), so an interrupted
    run keeps what it did; a second run finds nothing. ``on_start(total)`` and
    ``on_batch(done)`` report progress. Returns the count done."""

    def step(cur: Any, after: int) -> tuple[int, int] | None:
        ids = [
            row[0]
            for row in cur.execute(
                _OLD_STORIES_SQL, {"scheme": SIGNATURE_SCHEME, "after": after, "limit": batch}
            )
        ]
        if not ids:
            return None
        stories: dict[int, tuple[dict[str, float], list[int], list[date]]] = {i: ({}, [], []) for i in ids}
        for story, text, title, language, at in cur.execute(_MEMBERS_SQL, {"ids": _array(ids)}).fetchall():
            vector, keys = article_keys(text or "", title, language)
            centroid, hashes, days = stories[story]
            stories[story] = (add_vectors(centroid, vector), hashes, days)
            if at is not None:  # a date veille reads as none gives no key day
                hashes += [key_hash(k) for k in keys]
                days += [key_day(at, 0)] * len(keys)
        for story, (centroid, hashes, days) in stories.items():
            cur.execute(_DROP_KEYS_SQL, {"story": story})
            params = {
                "story": story,
                "keys": _array(hashes),
                "days": "{" + ",".join(d.isoformat() for d in days) + "}",
                "centroid": _json(centroid),
                "scheme": SIGNATURE_SCHEME,
            }
            cur.execute(_REFEATURE_SQL, params)
        return len(ids), ids[-1]

    count = "SELECT count(*) FROM stories WHERE feature_scheme < %(scheme)s"
    return in_batches(engine, count, {"scheme": SIGNATURE_SCHEME}, step, on_start, on_batch)
