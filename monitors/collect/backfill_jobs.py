"""Backfills from the web archives in the database: jobs and their cursors, the captures they
queue, and what becomes of them.

A job is one (archive, site, month chunk of the window); for CC-NEWS, which has no index,
one (month chunk, WARC file) for every site at once. Each CDX page (each batch of a WARC
file's records) is recorded in one transaction with the job's cursor, so a backfill killed
at any point resumes from the next page with nothing queued twice and nothing lost.
Captures go into the same URL queue as listings (``ON CONFLICT`` on the canonical URL: a URL
already queued or stored is not fetched again), with where they live in the archive in
``archive_captures``. Only a job's own workers claim its captures (``veille run`` leaves
them alone: they are not on the site).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from monitors.archive.articles import apply_ingest
from monitors.archive.bulk import as_rows, recordset_insert
from monitors.archive.fetch_log import insert_log_rows, log_row
from monitors.archive.locks import Hold, advisory_locks
from monitors.archive.models import BackfillJob, Source
from monitors.archive.queue import CLAIM_LEASE
from monitors.collect.archives.common import Capture, CdxPage
from monitors.collect.listing import looks_like_article
from monitors.collect.results import PERMANENT, FetchResult
from monitors.dates import article_day, local_zone
from monitors.group.urls import canonicalize_url, host_of
from monitors.records import ArticleData, IngestOutcome, QueueItem

#: First key of the advisory locks that keep one process per job (the second is the job id);
#: a space of its own: no rescore's lock (monitors.archive.rescore_runs) has it.
JOB_LOCK_SPACE = 0x7E11E


class BackfillError(ValueError):
    """A backfill that cannot start (bad window, unknown site, no crawl): one line, cause first."""


@dataclass(frozen=True)
class Site:
    site: str  # host without www., the CDX prefix
    source_id: int
    source_name: str
    scheme: str = "https"  # the scheme of the source's own URL: its captures are queued in it


def live_scheme(source_url: str | None) -> str:
    """The scheme a site's live URLs use, read from its source's URL (home or feed): ``http``
    when that URL is http, else ``https``."""
    return "http" if (source_url or "").lower().startswith("http://") else "https"


def in_scheme(url: str, scheme: str) -> str:
    """``url`` under ``scheme`` (an explicit default port of its own scheme dropped): an archive
    keeps a page under http:// and https://, and the backfill queues it in the form live
    polling sees, so both captures, and the page live polling stored, are one canonical URL."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in {"http", "https"} or parts.scheme.lower() == scheme:
        return url
    netloc = parts.netloc
    default = ":80" if parts.scheme.lower() == "http" else ":443"
    if netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return parts._replace(scheme=scheme, netloc=netloc).geturl()


def month_chunks(since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """[since, until] cut at month boundaries on the local clock (monitors.dates, as the command
    line's dates are: ``--since 2025-02-01 --until 2025-02-28`` is one month, one job per site),
    as UTC instants."""
    if until < since:
        raise BackfillError(f"--until {article_day(until)} is before --since {article_day(since)}")
    zone = local_zone()
    chunks = []
    try:
        start, end = since.astimezone(zone), until.astimezone(zone)
    except OverflowError:  # at the calendar's ends, where the local clock cannot go: UTC's months
        start, end = since.astimezone(UTC), until.astimezone(UTC)
    while start <= end:
        first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (first + timedelta(days=32)).replace(day=1)
        chunks.append((start.astimezone(UTC), min(end, nxt - timedelta(seconds=1)).astimezone(UTC)))
        start = nxt
    return chunks


def site_host(only: str) -> str:
    """The host a backfill's ``--site`` names (a domain, or a URL)."""
    return host_of(only if "://" in only else f"https://{only}/")


def on_site(host: str, wanted: str) -> bool:
    """Whether ``host`` is the site ``wanted`` (:func:`site_host`) or under it."""
    return host == wanted or host.endswith("." + wanted)


def sites_of_sources(session: Session, source_ids: list[int], only: str | None = None) -> list[Site]:
    """The sites of the sources (one per host; the first source of a host owns its articles),
    or just ``only`` (a domain: the sources on it or under it)."""
    sources = session.execute(
        select(Source.id, Source.name, Source.url).where(Source.id.in_(source_ids)).order_by(Source.id)
    ).all()
    sites: dict[str, Site] = {}
    for source_id, name, url in sources:
        try:
            host = host_of(url)
        except ValueError:
            continue
        sites.setdefault(host, Site(host, source_id, name, live_scheme(url)))
    if only is None:
        return list(sites.values())
    wanted = site_host(only)
    matched = [s for h, s in sites.items() if on_site(h, wanted)]
    if not matched:
        raise BackfillError(
            f"no source on {wanted}: add one for it to the sources file (its articles need a source)"
        )
    return [dataclasses.replace(matched[0], site=wanted)]


def split_disabled(
    session: Session, source_ids: list[int], only: str | None = None
) -> tuple[list[int], list[str]]:
    """The sources among ``source_ids`` that are not disabled, and the names of those that are
    (on the site ``only`` if given): a disabled source is not backfilled from an archive, as
    ``veille backfill`` without ``--from`` does not read it."""
    rows = session.execute(
        select(Source.id, Source.name, Source.url, Source.status)
        .where(Source.id.in_(source_ids))
        .order_by(Source.id)
    ).all()
    wanted = site_host(only) if only else None
    enabled, disabled = [], []
    for source_id, name, url, status in rows:
        if status != "disabled":
            enabled.append(source_id)
            continue
        try:
            if wanted is None or on_site(host_of(url), wanted):
                disabled.append(name)
        except ValueError:  # no host to tell: not on the site
            continue
    return enabled, disabled


#: The ``site`` of a CC-NEWS job that reads its file for every source's site.
ALL_SITES = "*"


def plan_jobs(
    session: Session,
    archive: str,
    sites: list[Site],
    since: datetime,
    until: datetime,
    relevant_only: bool,
    warc_files: dict[tuple[datetime, datetime], list[str]] | None = None,
) -> list[int]:
    """The jobs of a backfill (created, or found again to resume them); a job that stopped on
    an error is taken up again from its cursor. With ``warc_files`` (CC-NEWS: the files of
    each month chunk), one job per chunk and file, shared by the sites: its ``site`` is the
    one site asked for, or ``*`` for all of them."""
    if warc_files is None:
        rows = [
            {
                "archive": archive,
                "site": s.site,
                "source_id": s.source_id,
                "window_start": start,
                "window_end": end,
                "relevant_only": relevant_only,
                "warc_file": "",
            }
            for s in sites
            for start, end in month_chunks(since, until)
        ]
    else:
        one = sites[0] if len(sites) == 1 else None
        rows = [
            {
                "archive": archive,
                "site": one.site if one else ALL_SITES,
                "source_id": one.source_id if one else None,
                "window_start": start,
                "window_end": end,
                "relevant_only": relevant_only,
                "warc_file": path,
            }
            for (start, end), paths in sorted(warc_files.items())
            for path in paths
        ]
    if not rows:
        return []
    stmt = recordset_insert(
        "backfill_jobs",
        {
            "archive": "text",
            "site": "text",
            "source_id": "bigint",
            "window_start": "timestamptz",
            "window_end": "timestamptz",
            "relevant_only": "boolean",
            "warc_file": "text",
        },
        "ON CONFLICT ON CONSTRAINT backfill_jobs_chunk DO UPDATE SET relevant_only = excluded.relevant_only,"
        " source_id = excluded.source_id, updated_at = now(),"
        " state = CASE WHEN backfill_jobs.state = 'error' THEN 'pending' ELSE backfill_jobs.state END"
        " RETURNING id",
    )
    return sorted(session.scalars(stmt, as_rows(rows)))


@contextmanager
def job_lock(engine: Engine, job_id: int) -> Iterator[Hold]:
    """Hold the job's advisory lock on a connection of its own for as long as the job runs
    (:func:`monitors.archive.locks.advisory_locks`): true when this process has the job,
    false when another one works on it (``holders()`` names it). A killed process loses its
    lock with its connection, so the leases it held on the job's captures are void: they are
    released here at once rather than after the queue's lease time."""
    with advisory_locks(engine, JOB_LOCK_SPACE, [job_id]) as hold:
        if hold:
            # a change of the row like any other (updated_at, as queue.release_claims's
            # ORM update sets it): veille backfill's bar counts the queue rows touched
            # since it began by updated_at (flows.commands.backfill.PROGRESS_COUNTS)
            hold.conn.execute(
                text(
                    "UPDATE url_queue q SET claimed_at = NULL, updated_at = now() FROM archive_captures c"
                    " WHERE c.queue_id = q.id AND c.job_id = :id AND q.state = 'pending'"
                    " AND q.claimed_at IS NOT NULL"
                ),
                {"id": job_id},
            )
            hold.conn.commit()
        yield hold


def get_job(session: Session, job_id: int) -> BackfillJob:
    job = session.get(BackfillJob, job_id)
    if job is None:
        raise LookupError(f"no backfill job {job_id}")
    return job


_QUEUE = recordset_insert(
    "url_queue",
    {"url": "text", "canonical_url": "text", "source_id": "bigint", "found_by": "text"},
    "ON CONFLICT (canonical_url) DO NOTHING RETURNING id, canonical_url",
)
_CAPTURES = recordset_insert(
    "archive_captures",
    {
        "queue_id": "bigint",
        "job_id": "bigint",
        "archive": "text",
        "archived_url": "text",
        "captured_at": "timestamptz",
        "warc_filename": "text",
        "warc_offset": "bigint",
        "warc_length": "bigint",
    },
    "ON CONFLICT (queue_id) DO NOTHING",
)


#: ``fetch_log.kind`` of an archive's index lookups (a Wayback CDX page, a Common Crawl
#: crawl's page count and pages) and of a CC-NEWS file's stream (each request, its resumptions
#: included, and each record of it found cut or corrupt, ``FILE#offset=N``): CC-NEWS has no
#: index. A capture fetched is a ``page``, as any page (docs/backfill.md, "Queries").
INDEX_KIND, STREAM_KIND = "cdx", "warc"


def log_archive_fetches(
    session: Session,
    fetches: list[FetchResult],
    source_id: int | None,
    run_id: str | None,
    kind: str = INDEX_KIND,
) -> None:
    """The archive requests in the fetch log (every attempt, so retries can be queried)."""
    rows = [
        log_row(
            url=f.url,
            kind=kind,
            outcome=f.outcome,
            run_id=run_id,
            source_id=source_id,
            status=f.status,
            error_class=f.error_class,
            reason=f.reason,
            size=f.size,
            elapsed_ms=f.elapsed_ms,
            unreached=f.unreached,
            transport=f.transport,  # a header the body belied, as a poll's and a page's rows say
        )
        for f in fetches
    ]
    insert_log_rows(session, rows)


def candidates(
    page: CdxPage, site_root: str
) -> tuple[dict[str, Capture], list[tuple[str, str]], dict[str, list[Capture]]]:
    """The page's captures that pass the listings' filters, by canonical URL under the scheme
    of ``site_root`` (:func:`in_scheme`; of a URL's captures the first one wins, or the first
    one archived under that scheme: :func:`preferred`), the others with why they were left
    out, and a URL's other captures (its alternates, :func:`queue_captures`)."""
    scheme = urlsplit(site_root).scheme
    kept: dict[str, Capture] = {}
    left: list[tuple[str, str]] = []
    others: dict[str, list[Capture]] = {}
    for capture in page.captures:
        try:
            canonical = canonicalize_url(in_scheme(capture.original, scheme))
        except ValueError as exc:
            left.append((capture.original, f"unusable URL: {exc}"))
            continue
        if not looks_like_article(capture.original, site_root):
            left.append((capture.original, "not an article link (home, section, tag page or asset)"))
            continue
        earlier = kept.get(canonical)
        aside = earlier if preferred(earlier, capture, scheme) else capture
        if aside is not capture:
            kept[canonical] = capture
        if aside is not None:
            others.setdefault(canonical, []).append(aside)
    return kept, left, others


def preferred(earlier: Capture | None, capture: Capture, scheme: str) -> bool:
    """Whether ``capture`` is kept for its page rather than ``earlier`` (a capture of the same
    page listed before it): the first one wins, unless only ``capture`` was archived under
    ``scheme`` (the site's live form)."""
    if earlier is None:
        return True
    return _scheme_of(capture.original) == scheme != _scheme_of(earlier.original)


def _scheme_of(url: str) -> str:
    return url.split(":", 1)[0].strip().lower()


def _same_scheme(canonical: str, queued: str) -> str:
    """``canonical`` under the scheme of ``queued``, still canonical."""
    if _scheme_of(canonical) == _scheme_of(queued):
        return canonical
    try:
        return canonicalize_url(in_scheme(canonical, _scheme_of(queued)))
    except ValueError:
        return canonical


def record_page(
    session: Session,
    job: BackfillJob,
    page: CdxPage,
    cursor: dict[str, Any],
    run_id: str | None,
) -> int:
    """Queue a CDX page's article captures and move the job's cursor, in the caller's one
    transaction; malformed lines go to the fetch log. Returns the captures newly queued."""
    assert job.source_id is not None
    scheme = live_scheme(session.scalar(select(Source.url).where(Source.id == job.source_id)))
    kept, left, others = candidates(page, f"{scheme}://{job.site}/")
    log_archive_fetches(session, page.fetches, job.source_id, run_id)
    skipped = [
        FetchResult(line, line, "skipped", error_class=PERMANENT, reason=reason)
        for line, reason in page.malformed
    ]
    log_archive_fetches(session, skipped, job.source_id, run_id)
    queued = len(queue_captures(session, job.id, {k: (c, job.source_id) for k, c in kept.items()}, others))
    session.execute(
        update(BackfillJob)
        .where(BackfillJob.id == job.id)
        .values(
            discovered=BackfillJob.discovered + len(page.captures),
            queued=BackfillJob.queued + queued,
            filtered=BackfillJob.filtered + len(left),
            malformed=BackfillJob.malformed + len(page.malformed),
            updated_at=datetime.now(UTC),
            **cursor,
        )
    )
    return queued


def queue_captures(
    session: Session,
    job_id: int,
    kept: dict[str, tuple[Capture, int]],
    others: dict[str, list[Capture]] | None = None,
) -> dict[str, int]:
    """Queue captures by canonical URL, each for its source and under its canonical URL's
    scheme, with where it lives in the archive; a URL already queued or stored is left alone.
    A capture of a page already queued from an archive, and ``others`` (a page's other
    captures listed with it), are kept as the page's alternates (:func:`take_alternate`).
    Returns the queue ids of those queued, by canonical URL."""
    if not kept:
        return {}
    rows = [  # under the scheme the backfill chose for the page: its canonical URL's
        {
            "url": in_scheme(c.original, _scheme_of(k)),
            "canonical_url": k,
            "source_id": source_id,
            "found_by": "archive",  # not the source's new items of the week (veille sources)
        }
        for k, (c, source_id) in sorted(kept.items())
    ]
    ids = dict((canonical, qid) for qid, canonical in session.execute(_QUEUE, as_rows(rows)))
    captures = [
        {"queue_id": ids[k], "job_id": job_id, **_place(c)} for k, (c, _) in sorted(kept.items()) if k in ids
    ]
    if captures:
        session.execute(_CAPTURES, as_rows(captures))
    alternates = [
        *((k, c) for k, (c, _) in sorted(kept.items()) if k not in ids),
        *((k, c) for k, listed in sorted((others or {}).items()) for c in listed),
    ]
    if alternates:
        session.execute(_ALTERNATES, as_rows([{"canonical_url": k, **_place(c)} for k, c in alternates]))
        # a page an earlier job's capture of came to nothing: this job fetches the new one
        for (queue_id,) in session.execute(_SETTLED, {"urls": sorted({k for k, _ in alternates})}):
            take_alternate(session, queue_id, job_id)
    return ids


def _place(c: Capture) -> dict[str, Any]:
    """Where a capture lives in its archive, as ``archive_captures`` keeps it."""
    return {
        "archive": c.archive,
        "archived_url": c.archived_url,
        "captured_at": c.captured_at,
        "warc_filename": c.warc_filename,
        "warc_offset": c.warc_offset,
        "warc_length": c.warc_length,
    }


# A page's other captures, for the queue row of its capture (a row queued by live polling has
# none: the page is fetched from its site) and not that capture itself; none for a page read.
_ALTERNATES = text(
    "INSERT INTO archive_capture_alternates"
    " (queue_id, archive, archived_url, captured_at, warc_filename, warc_offset, warc_length)"
    " SELECT c.queue_id, r.archive, r.archived_url, r.captured_at, r.warc_filename, r.warc_offset,"
    " r.warc_length FROM json_to_recordset(CAST(:rows AS json)) AS r(canonical_url text, archive text,"
    " archived_url text, captured_at timestamptz, warc_filename text, warc_offset bigint, warc_length bigint)"
    " JOIN url_queue q ON q.canonical_url = r.canonical_url"
    " JOIN archive_captures c ON c.queue_id = q.id"
    " WHERE (c.archived_url, coalesce(c.warc_offset, -1)) <> (r.archived_url, coalesce(r.warc_offset, -1))"
    " AND q.state <> 'fetched'"
    " ON CONFLICT DO NOTHING"
)

# The pages whose capture came to nothing (not those --relevant-only left out: read, not
# relevant) and that have an alternate.
_SETTLED = text(
    "SELECT q.id FROM url_queue q JOIN archive_captures c ON c.queue_id = q.id"
    " WHERE q.canonical_url = ANY(CAST(:urls AS text[])) AND q.state IN ('skipped', 'failed')"
    " AND c.relevance IS NULL"
    " AND EXISTS (SELECT 1 FROM archive_capture_alternates a WHERE a.queue_id = q.id)"
    " ORDER BY q.id"
)

# The oldest alternate of a page takes its capture's place and the page is due again.
_TAKE_ALTERNATE = text(
    "WITH alt AS ("
    " DELETE FROM archive_capture_alternates a WHERE a.id = ("
    "  SELECT id FROM archive_capture_alternates WHERE queue_id = :id ORDER BY captured_at, id LIMIT 1)"
    " RETURNING a.*"
    "), cap AS ("
    " UPDATE archive_captures c SET archive = alt.archive, archived_url = alt.archived_url,"
    " captured_at = alt.captured_at, warc_filename = alt.warc_filename, warc_offset = alt.warc_offset,"
    " warc_length = alt.warc_length, job_id = coalesce(CAST(:job AS bigint), c.job_id)"
    " FROM alt WHERE c.queue_id = alt.queue_id"
    " RETURNING c.queue_id, c.archived_url"
    ")"
    " UPDATE url_queue q SET state = 'pending', attempts = 0, next_attempt_at = now(), claimed_at = NULL,"
    " claimed_by = NULL, updated_at = now(),"
    " reason = 'another capture next (' || cap.archived_url || '): ' || coalesce(q.reason, q.state)"
    " FROM cap WHERE q.id = cap.queue_id RETURNING q.id"
)


_DROP_ALTERNATES = text("DELETE FROM archive_capture_alternates WHERE queue_id = :id")


def take_alternate(session: Session, queue_id: int, job_id: int | None = None) -> bool:
    """When a page's capture came to nothing (a redirect, a soft 404, not HTML, failed for
    good), its oldest other capture takes its place and the page is due again (for ``job_id``
    when given, the job that found it, else the capture's); False when the archive listed no
    other."""
    return session.execute(_TAKE_ALTERNATE, {"id": queue_id, "job": job_id}).first() is not None


class SiteMatcher:
    """Which of the sites a URL belongs to (its host, or a host under it), for the records
    of a CC-NEWS file, read for every site at once."""

    def __init__(self, sites: list[Site]) -> None:
        self.by_host = {s.site: s for s in sites}

    def __call__(self, url: str) -> Site | None:
        try:
            host = host_of(url).split(":")[0]
        except ValueError:
            return None
        labels = host.split(".")
        for i in range(len(labels) - 1):
            site = self.by_host.get(".".join(labels[i:]))
            if site is not None:
                return site
        return None


@dataclass
class WarcBatch:
    """The records of a CC-NEWS file read since the last commit: the sites' article
    captures (first of a URL wins), those whose record is cut, the counts, and the cursor
    after them."""

    kept: dict[str, tuple[Capture, int]]
    broken: dict[str, str] = field(default_factory=dict)  # canonical URL -> why its record is unreadable
    others: dict[str, list[Capture]] = field(default_factory=dict)  # a page's other records
    discovered: int = 0
    filtered: int = 0
    malformed: int = 0
    cursor: int = 0


def record_warc_batch(session: Session, job_id: int, batch: WarcBatch) -> int:
    """Queue a batch of a CC-NEWS file's captures and move the job's cursor (the byte where
    the first record not yet processed starts), in the caller's one transaction."""
    ids = queue_captures(session, job_id, batch.kept, batch.others)
    failed = [{"id": ids[k], "reason": why} for k, why in batch.broken.items() if k in ids]
    if failed:  # a record the stream found cut: an error on that capture only, never fetched
        session.execute(
            text(
                "UPDATE url_queue SET state = 'failed', reason = :reason, updated_at = now() WHERE id = :id"
            ),
            failed,
        )
        for k in batch.broken.keys() & ids.keys():  # the page's other record, if the file had one
            take_alternate(session, ids[k])
    queued = len(ids)
    session.execute(
        update(BackfillJob)
        .where(BackfillJob.id == job_id)
        .values(
            discovered=BackfillJob.discovered + batch.discovered,
            queued=BackfillJob.queued + queued,
            filtered=BackfillJob.filtered + batch.filtered,
            malformed=BackfillJob.malformed + batch.malformed,
            warc_offset=batch.cursor,
            updated_at=datetime.now(UTC),
        )
    )
    return queued


def set_job(session: Session, job_id: int, **values: Any) -> None:
    session.execute(
        update(BackfillJob).where(BackfillJob.id == job_id).values(updated_at=datetime.now(UTC), **values)
    )


def record_job_error(session: Session, job_id: int, message: str) -> None:
    """The job stops on an archive error (after retries); the next run resumes it."""
    set_job(session, job_id, state="error", errors=BackfillJob.errors + 1, last_error=message)


# A claim is a change of the row (its attempts, its lease): it sets updated_at, as the live
# queue's claim (queue.claim_items, by the column's onupdate) does, so the captures a job
# takes count in the queue's activity (flows.commands.backfill.PROGRESS_COUNTS), as the
# pages the drain takes do.
_CLAIM = text(
    "WITH due AS (SELECT q.id FROM url_queue q JOIN archive_captures c ON c.queue_id = q.id"
    " WHERE c.job_id = :job AND q.state = 'pending' AND q.next_attempt_at <= now()"
    " AND (q.claimed_at IS NULL OR q.claimed_at < now() - CAST(:lease AS interval))"
    " ORDER BY q.id LIMIT :limit FOR UPDATE OF q SKIP LOCKED)"
    " UPDATE url_queue q SET claimed_at = now(), attempts = q.attempts + 1, updated_at = now()"
    " FROM due JOIN archive_captures c ON c.queue_id = due.id WHERE q.id = due.id"
    " RETURNING q.id, q.source_id, q.url, q.canonical_url, q.attempts, c.archive, c.archived_url,"
    " c.captured_at, c.warc_filename, c.warc_offset, c.warc_length"
)


def claim_captures(session: Session, job_id: int, limit: int) -> list[tuple[QueueItem, Capture]]:
    """Lease up to ``limit`` of the job's due captures (``SKIP LOCKED``, as the queue does)."""
    rows = session.execute(
        _CLAIM, {"job": job_id, "limit": limit, "lease": f"{int(CLAIM_LEASE.total_seconds())} seconds"}
    ).all()
    out = []
    for (
        qid,
        source_id,
        url,
        canonical,
        attempts,
        archive,
        archived,
        captured,
        fname,
        offset,
        length,
    ) in sorted(rows):
        item = QueueItem(id=qid, source_id=source_id, url=url, canonical_url=canonical, attempts=attempts)
        capture = Capture(archive, url, captured, archived, None, None, fname, offset, length)
        out.append((item, capture))
    return out


def best_score(a: ArticleData) -> float:
    """The capture's highest score over the topics, kept for a capture not stored."""
    return max([a.relevance, *(float(row["score"]) for row in a.topic_scores)])


def store_capture(
    session: Session,
    out: IngestOutcome,
    capture: Capture,
    max_attempts: int,
    run_id: str | None,
    relevant_only: bool,
    *,
    learn_site: Callable[[Session, ArticleData], bool],
) -> tuple[str, bool]:
    """Store an analysed capture as any page (queue, fetch log, article, copies), the
    article written with its ``archived_url`` and ``captured_at`` and its sighting naming the
    archive; (what happened, whether its site's boilerplate profile changed). With
    ``relevant_only`` a capture relevant to no topic is not stored: its queue row is settled
    as skipped and its score kept on the capture. ``learn_site`` counts a stored article's
    blocks for its site's boilerplate in the same transaction, as `veille run` does, and says
    whether the profile changed: the caller's (judging's ``learn``), collection imports no
    judging module."""
    if relevant_only and out.article is not None and not out.article.relevant_to_a_topic():
        score = best_score(out.article)
        session.execute(
            text("UPDATE archive_captures SET relevance = :score WHERE queue_id = :id"),
            {"score": score, "id": out.item.id},
        )
        out.article, out.outcome, out.error_class = None, "skipped", PERMANENT
        out.reason = f"not relevant to any topic (best score {score:.3f}); --relevant-only"
        apply_ingest(session, out, max_attempts, run_id)
        return "not_relevant", False
    a = out.article
    if a is not None:
        a.archive, a.archived_url, a.captured_at = capture.archive, capture.archived_url, capture.captured_at
        # an archived page's <link rel="canonical"> may still name it under http://: the
        # article keeps the scheme its capture was queued under (the site's live form)
        a.canonical_url = _same_scheme(a.canonical_url, out.item.canonical_url)
    status = apply_ingest(session, out, max_attempts, run_id)
    if a is not None and status in STORED_OUTCOMES:  # the job's row counts a revision apart
        session.execute(
            text("UPDATE archive_captures SET outcome = :status WHERE queue_id = :id"),
            {"status": status, "id": out.item.id},
        )
    if status in {"skipped", "failed"} and take_alternate(session, out.item.id):
        return "retry", False
    if status != "retry":  # the page is read (or settled for good): its other captures are not needed
        session.execute(_DROP_ALTERNATES, {"id": out.item.id})
    # the site's boilerplate, learned as veille run does
    return status, status == "stored" and a is not None and learn_site(session, a)


#: What apply_ingest answers for a capture it stored as an article (kept in its ``outcome``).
STORED_OUTCOMES = frozenset({"stored", "revised", "unchanged", "duplicate"})


def settle_job(session: Session, job_id: int) -> str:
    """After a job's workers stop: done when none of its captures wait (a retry later keeps
    it fetching); a job stopped on an error keeps that state."""
    job = get_job(session, job_id)
    if job.state == "error":
        return job.state
    waiting = session.scalar(
        text(
            "SELECT count(*) FROM archive_captures c JOIN url_queue q ON q.id = c.queue_id"
            " WHERE c.job_id = :id AND q.state = 'pending'"
        ),
        {"id": job_id},
    )
    state = "fetching" if waiting else "done"
    set_job(session, job_id, state=state, finished_at=datetime.now(UTC) if state == "done" else None)
    return state


def job_summary(session: Session, job_id: int) -> dict[str, Any]:
    """One row of the backfill's report: the job, its counts and what became of its captures."""
    job = get_job(session, job_id)
    counts: dict[str, int] = dict(
        session.execute(
            text(
                "SELECT CASE WHEN q.state = 'skipped' AND c.relevance IS NOT NULL THEN 'not_relevant'"
                " WHEN q.state = 'fetched' AND c.outcome = 'revised' THEN 'revised'"
                " ELSE q.state END, count(*) FROM archive_captures c JOIN url_queue q ON q.id = c.queue_id"
                " WHERE c.job_id = :id GROUP BY 1"
            ),
            {"id": job_id},
        ).all()
    )
    return {
        "archive": job.archive,
        "site": f"{job.site} {job.warc_file.rsplit('/', 1)[-1]}" if job.warc_file else job.site,
        # days on the local clock, as --since/--until were typed (not the session's TimeZone)
        "window": f"{article_day(job.window_start)} .. {article_day(job.window_end)}",
        "state": job.state,
        "captures": job.discovered,
        "queued": job.queued,
        # left out as no article page (home, section, tag page, asset): a capture found and never
        # queued would otherwise look lost
        "not_article": job.filtered,
        # the rest: pages already queued or stored (by a feed, an earlier backfill) or another
        # capture of a page queued; "captures 1, queued 0" read as a capture lost
        "known": max(0, job.discovered - job.queued - job.filtered),
        "stored": counts.get("fetched", 0),
        "revised": counts.get("revised", 0),  # an article stored before, its text changed
        "not_relevant": counts.get("not_relevant", 0),
        "skipped": counts.get("skipped", 0) + counts.get("failed", 0),
        "pending": counts.get("pending", 0),
        "malformed": job.malformed,
        "error": job.last_error or "",
    }


def progress_counts(session: Session, job_ids: list[int]) -> tuple[int, int, bool]:
    """(captures queued, captures settled, discovery still running) over the jobs."""
    total, done = session.execute(
        text(
            "SELECT count(*), count(*) FILTER (WHERE q.state <> 'pending') FROM archive_captures c"
            " JOIN url_queue q ON q.id = c.queue_id WHERE c.job_id = ANY(:ids)"
        ),
        {"ids": job_ids},
    ).one()
    discovering = bool(
        session.scalar(
            text(
                "SELECT count(*) FROM backfill_jobs"
                " WHERE id = ANY(:ids) AND state IN ('pending', 'discovering')"
            ),
            {"ids": job_ids},
        )
    )
    return int(total), int(done), discovering
