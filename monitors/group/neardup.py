"""Near-duplicate linking in PostgreSQL: LSH band keys in ``article_bands``, clusters on ``articles``.

How an article joins a cluster (called by :func:`monitors.archive.articles.store_article`, in the
transaction that stores the article):

1. :func:`lock_bands` takes a transaction-level advisory lock per band key of the article's
   MinHash signature, *before* the article row is inserted.
2. :func:`link_and_index` finds candidates with one indexed query on ``article_bands (band,
   key)`` (the primary key), confirms them as :func:`monitors.group.dedup.is_near_duplicate` does
   (the share of equal values of the stored signatures, counted by that query; a cluster's
   candidates only until one passes), links the article to the earliest copy and inserts its
   own band keys.

Decisions:

- A near-duplicate is stored as its own article row: its text differs (headline, a paragraph,
  credits), and that text, its source and its URL are worth keeping. The story is seen once by
  grouping on ``cluster_id``; exact copies (same canonical URL or same normalised text) do not
  get a row, only a sighting.
- The earliest copy is the first one archived (lowest id): it becomes the cluster root, with
  ``cluster_id`` = its own id, and every later copy gets ``duplicate_of`` = ``cluster_id`` = the
  root's id. First-archived rather than earliest ``published_at``: many pages carry no or a
  wrong date, and a root that never changes keeps ``cluster_id`` stable for users. A copy that
  matches articles of several clusters joins the earliest of them; clusters are not merged
  (merging would rewrite links users may have exported, and chains of merges drift).
- A revised article (same canonical URL, new text) gets its band keys replaced; it keeps the
  cluster it had, and is linked now if it had none.
- Concurrency: two workers storing copies of one dispatch at the same moment would each miss
  the other's uncommitted row and both become roots. The advisory locks serialise exactly the
  transactions that share a band key, which all LSH candidate pairs do by definition; the
  second one waits until the first commits, and its lookup (a new statement under READ
  COMMITTED) then sees the first copy. Locks are taken in sorted order, in one statement,
  before the article insert, so they cannot deadlock with each other, and ids follow lock order
  so the root is the lowest id. Alternatives rejected: SERIALIZABLE would need a retry loop
  around every ingest and abort unrelated transactions on predicate-lock false positives; a
  unique constraint cannot express "similar". Unrelated articles share no band key (probability
  about 3e-7 per pair) and never wait for each other. The locks use the two-key form with
  :data:`LOCK_CLASS`, apart from the single-key locks other code takes (migrations); a 32-bit
  collision between two band keys only makes two transactions wait, it never links anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from monitors.group.dedup import NUM_PERM, SIGNATURE_SCHEME, band_keys, signature
from monitors.group.dedup import THRESHOLD as SIMILARITY_THRESHOLD

LOCK_CLASS = 0x4C534842  # "LSHB": namespace of the band-key advisory locks
#: Equal signature values that make a near-duplicate: the least k with k / NUM_PERM >= THRESHOLD,
#: the same test as monitors.group.dedup.is_near_duplicate.
MIN_SHARED = next(k for k in range(NUM_PERM + 1) if k / NUM_PERM >= SIMILARITY_THRESHOLD)

# The statements below run on the session's psycopg connection, in its transaction, not through
# Session.execute: on this path (three statements per stored article) SQLAlchemy's per-statement
# work cost about 0.08 ms each, a tenth of the dedup stage (bench/dedup.py).
LOCK_SQL = (
    "SELECT count(pg_advisory_xact_lock(CAST(%(cls)s AS integer), k))"
    " FROM unnest(CAST(%(ids)s AS integer[])) WITH ORDINALITY AS t(k, n)"
)

# One indexed query: the (band, key) pairs of the new article against the primary key of
# article_bands, then the candidates' clusters. Each cluster is confirmed by the first of its
# candidates that shares at least min_shared signature values with the new article: a copy of a
# syndicated story meets every earlier copy of it in the lookup, and comparing all of them
# made a copy's lookup cost grow with the cluster. A cluster none of whose candidates passes
# reports its best count. The same statement inserts the new article's band keys (one round
# trip); its own rows are not in the statement's snapshot.
LOOKUP_AND_INSERT_SQL = """
    WITH q AS (
        SELECT * FROM unnest(CAST(%(bands)s AS smallint[]), CAST(%(keys)s AS bigint[])) AS q(band, key)
    ), ins AS (
        INSERT INTO article_bands (band, key, article_id)
        SELECT q.band, q.key, CAST(%(self)s AS bigint) FROM q
        ON CONFLICT DO NOTHING
    ), cand AS (
        SELECT coalesce(a.cluster_id, a.id) AS root, a.signature
        FROM articles a
        WHERE a.id IN (
            SELECT b.article_id FROM q JOIN article_bands b ON b.band = q.band AND b.key = q.key
            WHERE b.article_id <> CAST(%(self)s AS bigint)
        )
        AND a.signature IS NOT NULL
    ), scored AS (
        SELECT c.root, s.shared
        FROM cand c CROSS JOIN LATERAL (
            SELECT count(*) AS shared
            FROM unnest(c.signature, CAST(%(sig)s AS bigint[])) AS u(x, y) WHERE x = y
        ) s
    )
    SELECT r.root, r.members, coalesce(
        (SELECT s.shared FROM scored s WHERE s.root = r.root AND s.shared >= %(min_shared)s LIMIT 1),
        (SELECT max(s.shared) FROM scored s WHERE s.root = r.root)
    )
    FROM (SELECT root, count(*) AS members FROM cand GROUP BY root) r
"""

_INSERT_BANDS_SQL = """
    INSERT INTO article_bands (band, key, article_id)
    SELECT q.band, q.key, CAST(%(self)s AS bigint)
    FROM unnest(CAST(%(bands)s AS smallint[]), CAST(%(keys)s AS bigint[])) AS q(band, key)
    ON CONFLICT DO NOTHING
"""

_DELETE_BANDS_SQL = "DELETE FROM article_bands WHERE article_id = CAST(%(id)s AS bigint)"

# One round trip for both rows: the root becomes its own cluster if it was not in one yet, the
# new article points to it. A root deleted since (its copies keep its id as ``cluster_id``, their
# ``duplicate_of`` set NULL by the foreign key) is no row to point to: the new copy joins the
# cluster the same way, ``duplicate_of`` NULL (it was a foreign-key violation that failed the
# store of every later copy of the dispatch).
_LINK_SQL = """
    UPDATE articles
    SET cluster_id = CAST(%(root)s AS bigint),
        duplicate_of = CASE WHEN id = CAST(%(id)s AS bigint)
                            THEN (SELECT r.id FROM articles r WHERE r.id = CAST(%(root)s AS bigint))
                            ELSE duplicate_of END
    WHERE id = CAST(%(id)s AS bigint) OR (id = CAST(%(root)s AS bigint) AND cluster_id IS NULL)
"""


def _array(values: Iterable[int]) -> str:
    """A PostgreSQL array literal of integers, cast in SQL: psycopg's list dumper checked each of
    the 96 values of a lookup for quoting, with a regex."""
    return "{" + ",".join(map(str, values)) + "}"


def _cursor(session: Session) -> Any:
    """A psycopg cursor on the session's connection, inside the session's transaction, after
    flushing pending ORM changes (as ``Session.execute`` would)."""
    session.flush()
    driver = session.connection().connection.driver_connection
    assert driver is not None, "the session's connection is closed"
    return driver.cursor()


@dataclass(frozen=True)
class Link:
    """Where an article landed: its cluster root (None: no near-duplicate) and the evidence: the
    candidates the band keys found, and the best similarity compared (a cluster's candidates are
    compared until one passes, so with a match this is at least the threshold, not always the
    maximum)."""

    root: int | None
    candidates: int
    best_similarity: float


def lock_ids(keys: list[tuple[int, int]]) -> list[int]:
    """Sorted, distinct 32-bit lock ids for band keys: the high half of each key (already a
    blake2b digest, the same in every process), as a signed int."""
    return sorted({key >> 32 for _band, key in keys})


def lock_bands(session: Session, sig: list[int]) -> list[tuple[int, int]]:
    """Take the advisory locks of the signature's band keys until the transaction ends;
    returns the band keys (to pass on to :func:`link_and_index`)."""
    keys = band_keys(sig) if len(sig) == NUM_PERM else []
    if keys:
        # unnest keeps array order and the volatile lock function runs once per row, in order.
        _cursor(session).execute(LOCK_SQL, {"cls": LOCK_CLASS, "ids": _array(lock_ids(keys))})
    return keys


def lookup_params(article_id: int, sig: list[int], keys: list[tuple[int, int]]) -> dict[str, Any]:
    """Parameters of :data:`LOOKUP_AND_INSERT_SQL` for an article, its signature and band keys."""
    return {
        "bands": _array(b for b, _ in keys),
        "keys": _array(k for _, k in keys),
        "self": article_id,
        "sig": _array(sig),
        "min_shared": MIN_SHARED,
    }


def link_copy(session: Session, article_id: int, root: int) -> None:
    """Link the article to a copy cluster's root found another way (monitors/group/story_store.py's
    edit-tolerant copies), as a MinHash copy is linked."""
    _cursor(session).execute(_LINK_SQL, {"root": root, "id": article_id})


def link_and_index(
    session: Session,
    article_id: int,
    sig: list[int],
    *,
    keys: list[tuple[int, int]] | None = None,
    cluster_id: int | None = None,
    reindex: bool = False,
) -> Link:
    """Link the article to the earliest near-duplicate copy and store its band keys.

    Call after :func:`lock_bands` with the same signature, in the same transaction (``keys``:
    what it returned). With ``reindex`` (a revision) the article's old band keys are replaced,
    and an article already in a cluster (``cluster_id``) stays there; a revised article with
    no cluster that now matches a cluster joins it like any new copy.
    """
    if keys is None:
        keys = band_keys(sig) if len(sig) == NUM_PERM else []
    cur = _cursor(session)
    if reindex:
        cur.execute(_DELETE_BANDS_SQL, {"id": article_id})
    if not keys:
        return Link(root=cluster_id, candidates=0, best_similarity=0.0)
    params = lookup_params(article_id, sig, keys)
    if cluster_id is not None:
        cur.execute(_INSERT_BANDS_SQL, params)
        return Link(root=cluster_id, candidates=0, best_similarity=0.0)
    rows = cur.execute(LOOKUP_AND_INSERT_SQL, params).fetchall()
    candidates = sum(members for _root, members, _shared in rows)
    best = max((shared for _root, _members, shared in rows), default=0) / NUM_PERM
    roots = [root for root, _members, shared in rows if shared >= MIN_SHARED]
    if not roots:
        return Link(root=None, candidates=candidates, best_similarity=best)
    root = min(roots)
    cur.execute(_LINK_SQL, {"root": root, "id": article_id})
    return Link(root=root, candidates=candidates, best_similarity=best)


#: Articles whose signature is recomputed in one transaction by :func:`resign_old_signatures`.
RESIGN_BATCH = 200

_OLD_SIGNATURES_SQL = (
    "SELECT id, text FROM articles WHERE signature_scheme < %(scheme)s AND id > %(after)s"
    " ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED"
)
_SET_SIGNATURE_SQL = (
    "UPDATE articles SET signature = CAST(%(sig)s AS bigint[]), signature_scheme = %(scheme)s"
    " WHERE id = CAST(%(id)s AS bigint)"
)


def resign_old_signatures(
    engine: Engine,
    batch: int = RESIGN_BATCH,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Recompute the MinHash signature and band keys of the articles signed under an older
    :data:`SIGNATURE_SCHEME` (a Chinese or Japanese text stored before its runs were cut into
    bigrams, migration 0041): a later copy of such an article is then linked to it. One
    committed transaction per ``batch`` articles, so an interrupted run keeps what it did and
    the next one goes on; a second run finds nothing to do. The batch's band locks are taken
    first, in one sorted statement as an ingest takes its own, so a copy stored meanwhile waits
    and then sees the new keys. Links are not revisited (a cluster's root stays its first
    copy). ``on_start(total)`` and ``on_batch(done)`` report progress. Returns the count done."""

    def step(cur: Any, after: int) -> tuple[int, int] | None:
        rows = cur.execute(
            _OLD_SIGNATURES_SQL, {"scheme": SIGNATURE_SCHEME, "after": after, "limit": batch}
        ).fetchall()
        if not rows:
            return None
        sigs = {article_id: signature(text) for article_id, text in rows}
        keys = {article_id: band_keys(sig) for article_id, sig in sigs.items()}
        every = [key for found in keys.values() for key in found]
        if every:
            cur.execute(LOCK_SQL, {"cls": LOCK_CLASS, "ids": _array(lock_ids(every))})
        for article_id, sig in sigs.items():
            cur.execute(_DELETE_BANDS_SQL, {"id": article_id})
            if keys[article_id]:
                cur.execute(_INSERT_BANDS_SQL, lookup_params(article_id, sig, keys[article_id]))
            cur.execute(
                _SET_SIGNATURE_SQL, {"sig": _array(sig), "scheme": SIGNATURE_SCHEME, "id": article_id}
            )
        return len(rows), rows[-1][0]

    count = "SELECT count(*) FROM articles WHERE signature_scheme < %(scheme)s"
    return in_batches(engine, count, {"scheme": SIGNATURE_SCHEME}, step, on_start, on_batch)


def in_batches(
    engine: Engine,
    count_sql: str,
    params: dict[str, Any],
    step: Callable[[Any, int], tuple[int, int] | None],
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Run ``step(cursor, after)`` in one committed transaction each, ``after`` the last id the
    previous one did (0 first), until it returns None; it returns (rows done, last id).
    ``on_start`` gets what ``count_sql`` counts, ``on_batch`` each batch's rows. Returns the
    rows done: the maintenance's recomputes of an older scheme (signatures, story vectors)."""
    with engine.connect() as conn:
        total = conn.exec_driver_sql(count_sql, params).scalar_one()
    if on_start:
        on_start(total)
    done, after = 0, 0
    while True:
        with Session(engine) as session, session.begin():
            result = step(_cursor(session), after)
        if result is None:
            return done
        rows, after = result
        done += rows
        if on_batch:
            on_batch(rows)


__all__ = [
    "LOCK_CLASS",
    "LOCK_SQL",
    "LOOKUP_AND_INSERT_SQL",
    "Link",
    "in_batches",
    "link_and_index",
    "link_copy",
    "lookup_params",
    "lock_bands",
    "resign_old_signatures",
    "lock_ids",
]
