"""Backfill from the web archives: steps mapping over (site, month) jobs, or for CC-NEWS
(month, WARC file) jobs shared by every site; :mod:`flows.backfill_flows` wraps them in the
``veille-archive-backfill`` flow, :mod:`flows.direct` runs them on threads when no Prefect
server is configured (``VEILLE_PREFECT``, :mod:`flows.mode`).

Each job task discovers its captures page by page through the archive's CDX API (the page
and the job's cursor committed together), or for CC-NEWS by streaming its WARC file (each
batch of records committed with the byte offset reached), then fetches them from the
archive and runs them through the same analysis and store as any page. Jobs are locked per
process (an advisory lock), so several work-pool workers running the same backfill share
its jobs.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as dt_time
from functools import partial
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.exc import DBAPIError

from flows.commands.common import counted
from flows.outcome import (
    RunOutcome,
    bad_entries_problem,
    disabled_words,
    interrupted,
    some_names,
    stored_words,
)
from flows.polling import skipped_entries
from flows.queue_drain import learn_from
from flows.retries import DatabaseLosses, _cause, waited_for
from flows.runtime import Submit, reset_runtime, run_logger, runtime
from monitors.archive.articles import store_or_fail
from monitors.archive.db import DatabaseUnavailable, get_engine, lost_database_reported, session_scope
from monitors.archive.schema import ensure_schema
from monitors.collect.addresses import RefusedAddress, Unresolvable, check_url_allowed
from monitors.collect.archives.captures import fetch_capture, served_capture
from monitors.collect.archives.ccnews import WarcStream, ccnews_month, ccnews_months, files_covering
from monitors.collect.archives.common import (
    ARCHIVE_NAMES,
    ARCHIVES,
    CCNEWS,
    COMMONCRAWL,
    WAYBACK,
    ArchiveError,
    Capture,
    throttles,
)
from monitors.collect.archives.commoncrawl import (
    Crawl,
    commoncrawl_crawls,
    commoncrawl_num_pages,
    commoncrawl_page,
    crawls_covering,
)
from monitors.collect.archives.wayback import wayback_page
from monitors.collect.backfill_jobs import (
    ALL_SITES,
    INDEX_KIND,
    STREAM_KIND,
    BackfillError,
    Site,
    SiteMatcher,
    WarcBatch,
    claim_captures,
    get_job,
    in_scheme,
    job_lock,
    job_summary,
    log_archive_fetches,
    month_chunks,
    on_site,
    plan_jobs,
    preferred,
    record_job_error,
    record_page,
    record_warc_batch,
    set_job,
    settle_job,
    site_host,
    sites_of_sources,
    split_disabled,
    store_capture,
)
from monitors.collect.listing import looks_like_article
from monitors.collect.results import DNS, PERMANENT, TRANSIENT, FetchResult
from monitors.collect.sources import BadEntry, load_sources_file, record_problems, sources_label, sync_sources
from monitors.collect.throttle import HostThrottle
from monitors.dates import article_day, backfill_day
from monitors.group.urls import canonicalize_url, host_of
from monitors.ingest import analyse_page
from monitors.judge.boilerplate import site_of
from monitors.records import QueueItem
from monitors.settings import BACKFILL_BUDGET, Settings, stopped_at_budget

#: A CC-NEWS job commits its batch (captures and byte offset) after VEILLE_ARCHIVE_PAGE_SIZE
#: captures, or this many seconds, whichever comes first.
WARC_COMMIT_SECONDS = 5.0

_throttles: dict[str, HostThrottle] = {}
_throttles_lock = threading.Lock()


def archive_throttle(archive: str) -> HostThrottle:
    """The process's throttle for an archive (its rate limit, shared by all jobs)."""
    with _throttles_lock:
        if not _throttles:
            _throttles.update(throttles(runtime().settings))
        return _throttles[archive]


class Plan(NamedTuple):
    """A backfill's jobs, its Common Crawl crawls, its sites, the bad entries of the sources
    file it leaves out, the disabled sources it does not read, and the database losses the
    planning waited out (:func:`plan`; said by the run's verdict)."""

    jobs: list[int]
    crawls: list[Crawl]
    sites: list[Site]
    bad: list[BadEntry]
    disabled: tuple[str, ...] = ()
    recovered: tuple[str, ...] = ()


def _may_be_on(entry: BadEntry, site: str | None) -> bool:
    """Whether a bad entry may be a source of ``site`` (any site: every one; an entry
    without a usable URL may be of any)."""
    if site is None or not entry.url:
        return True
    try:
        return on_site(host_of(entry.url or ""), site_host(site))
    except ValueError:
        return True


def plan(
    archive: str,
    since: datetime,
    until: datetime,
    site: str | None = None,
    sources_file: str | None = None,
    relevant_only: bool = False,
    run_id: str | None = None,
) -> Plan:
    """Check the request, sync the sources (the file's bad entries into ``source_problems``)
    and create (or find again) the backfill's jobs; with Common Crawl, also the crawls that
    cover the window; the sites; and the file's bad entries (of ``site`` if given), which it
    leaves out. Raises BackfillError. A database lost meanwhile is waited for
    (``VEILLE_DB_WAIT``) and the planning made again, finding the jobs it made (the loss kept
    in :attr:`Plan.recovered`, for the run's verdict: partly done, as the jobs' own losses);
    one that stays away is said in one line, during the planning
    (:class:`DatabaseUnavailable`): the same command plans again."""
    what = "the planning of the archive backfill's jobs"
    with lost_database_reported(what, "veille backfill"):  # a statement cancelled, said so
        planned, recovered = waited_for(
            lambda: _plan(archive, since, until, site, sources_file, relevant_only, run_id),
            f"during {what}",
            "what was committed stays; run `veille backfill` again",
        )
    return planned._replace(recovered=tuple(recovered))


def _plan(
    archive: str,
    since: datetime,
    until: datetime,
    site: str | None,
    sources_file: str | None,
    relevant_only: bool,
    run_id: str | None,
) -> Plan:
    """:func:`plan`'s work."""
    if archive not in ARCHIVES:
        raise BackfillError(f"unknown archive {archive!r}: wayback, commoncrawl or ccnews")
    if until < since:
        raise BackfillError(f"--until {article_day(until)} is before --since {article_day(since)}")
    crawls: list[Crawl] = []
    if archive in (COMMONCRAWL, CCNEWS):
        _check_list_server(archive, run_id)
    if archive == COMMONCRAWL:
        rt = runtime()
        try:
            listed, fetches = commoncrawl_crawls(rt.client, rt.settings, archive_throttle(archive))
        except ArchiveError as exc:
            _log_index(exc.attempts, run_id)
            raise BackfillError(str(exc)) from exc
        _log_index(fetches, run_id)
        crawls = crawls_covering(listed, since, until)
        if not crawls:
            raise BackfillError(
                f"no Common Crawl crawl covers {article_day(since)} .. {article_day(until)}"
                f" ({len(listed)} crawls listed in collinfo.json)"
            )
    warc_files = ccnews_files(since, until, run_id) if archive == CCNEWS else None
    read = load_sources_file(sources_file)
    with session_scope() as session:  # committed first: a refused backfill records them too
        ids = sync_sources(session, read.specs)
        record_problems(session, read)
    with session_scope() as session:
        enabled, disabled = split_disabled(session, ids, site)
        try:
            sites = sites_of_sources(session, enabled, site)
        except BackfillError as exc:
            raise _only_bad_entries(read.bad, site) or _only_disabled(disabled, site) or exc from None
        jobs = plan_jobs(session, archive, sites, since, until, relevant_only, warc_files)
    return Plan(jobs, crawls, sites, [b for b in read.bad if _may_be_on(b, site)], tuple(disabled))


def _check_list_server(archive: str, run_id: str | None) -> None:
    """Raise BackfillError at once, the cause first, when the server of the list the plan reads
    (Common Crawl's collinfo.json on its index server, CC-NEWS's monthly file lists on its data
    server) does not resolve: the read retried its DNS failure ``VEILLE_ARCHIVE_RETRIES`` times
    with backoff before it said so, as the jobs did (:func:`unresolved_archive`). The failed
    lookup goes in the fetch log, as the list's read would have."""
    settings = runtime().settings
    index = archive == COMMONCRAWL
    offline = unresolved([settings.commoncrawl_index_url if index else settings.commoncrawl_data_url])
    if offline:
        _log_index(offline[1], run_id)
        what = "Common Crawl crawl list" if index else "CC-NEWS file lists"
        raise BackfillError(f"{offline[0]} ({what} not read; run the same command again)")


def _only_disabled(disabled: list[str], site: str | None) -> BackfillError | None:
    """The error of a ``site`` whose sources are all disabled: they are not backfilled (as
    ``veille backfill`` without ``--from`` does not read them), rather than "no source on" a
    site the file names."""
    if not disabled or site is None:
        return None
    which = (
        f"the source on {site_host(site)} is"
        if len(disabled) == 1
        else (f"the {len(disabled)} sources on {site_host(site)} are")
    )
    return BackfillError(
        f"{which} disabled ({some_names(disabled)}), and a disabled source is not backfilled:"
        " `veille sources enable NAME` turns one back on"
    )


def _only_bad_entries(bad: list[BadEntry], site: str | None) -> BackfillError | None:
    """The error of a ``site`` no valid source is on while bad entries of the file are (their
    URL on it, with or without its scheme): each one's line and reason, as recorded in
    ``source_problems``, rather than "no source on" a site the file names."""
    wanted = site_host(site) if site else None
    on_it = []
    for entry in bad:
        try:
            if wanted and entry.url and on_site(site_host(entry.url), wanted):
                on_it.append(entry)
        except ValueError:
            continue
    if not on_it:
        return None
    what = "its entry is" if len(on_it) == 1 else f"its {len(on_it)} entries are"
    return BackfillError(
        "; ".join(map(str, on_it))
        + f" (no usable source on {wanted}: {what} skipped until fixed, see `veille sources`)"
    )


def archive_urls(archive: str, settings: Settings) -> list[str]:
    """The archive servers a job of ``archive`` fetches from: the Wayback Machine's; Common
    Crawl's index and the server of its WARC files; CC-NEWS's (that same data server)."""
    if archive == WAYBACK:
        return [settings.wayback_url]
    if archive == COMMONCRAWL:
        return list(dict.fromkeys([settings.commoncrawl_index_url, settings.commoncrawl_data_url]))
    return [settings.commoncrawl_data_url]


#: Seconds waited before each new lookup of an archive's hosts while every lookup failed
#: "for now" (EAI_AGAIN, "Temporary failure in name resolution": the resolver did not answer):
#: a resolver's blip does not stop a long backfill; 3.5 s in all before the backfill stops.
#: A host the resolver said does not exist (EAI_NONAME) is not looked up again.
DNS_RETRY_WAITS = (0.5, 1.0, 2.0)


def _temporary(exc: Unresolvable) -> bool:
    """Whether the lookup failed for now (the resolver did not answer), not for good."""
    cause = exc.__cause__
    return isinstance(cause, socket.gaierror) and cause.errno == socket.EAI_AGAIN


def unresolved_archive(archive: str, settings: Settings) -> tuple[str, list[FetchResult]] | None:
    """When no host of the archive's servers (:func:`archive_urls`) resolves, the cause (the
    machine offline, its DNS down) and one failed fetch for each, for the fetch log; None when
    one resolves (or is an address): the jobs run as they would, and say what else fails.
    Each job retried its DNS failure ``VEILLE_ARCHIVE_RETRIES`` times with backoff, a few at a
    time: minutes before a backfill with no network said why. A lookup that failed for now
    is tried again after each of :data:`DNS_RETRY_WAITS`: one failed lookup of a resolver
    that answers the next stopped the whole backfill."""
    return unresolved(archive_urls(archive, settings))


def unresolved(urls: list[str]) -> tuple[str, list[FetchResult]] | None:
    """:func:`unresolved_archive` for these servers' ``urls``."""
    waits = list(DNS_RETRY_WAITS)
    lookups, started = 0, time.monotonic()
    while True:
        failed, temporary = [], False
        lookups += 1
        for url in urls:
            try:
                check_url_allowed(url, allow_private=True)  # resolved only: the fetch checks the address
            except Unresolvable as exc:
                temporary = temporary or _temporary(exc)
                failed.append(
                    FetchResult(url, url, "error", error_class=TRANSIENT, reason=str(exc), unreached=DNS)
                )
                continue
            except RefusedAddress:
                pass  # a URL the fetch refuses: the jobs say why
            return None
        if not (temporary and waits):
            break
        time.sleep(waits.pop(0))
    tried = f", {lookups} lookups in {time.monotonic() - started:.1f} s" if lookups > 1 else ""
    if len(failed) == 1:
        return f"{failed[0].reason}{tried}: is the network up?", failed
    said = "; ".join(f.reason or "" for f in failed)
    return f"none of the archive's {len(failed)} hosts resolved ({said}){tried}: is the network up?", failed


def _not_run(
    job_ids: list[int], cause: str, fetches: list[FetchResult], run_id: str | None
) -> list[dict[str, Any]]:
    """The rows of jobs not run, no archive host resolving (:func:`unresolved_archive`): each
    job not finished stops on that error (``last_error``, resumed by the next run, as after an
    archive error) and the failed lookups go in the fetch log (no source's)."""
    _log_index(fetches, run_id)
    rows = []
    for job_id in job_ids:
        with job_lock(get_engine(), job_id) as mine, session_scope() as session:
            if mine and get_job(session, job_id).state != "done":  # not another worker's job
                record_job_error(session, job_id, f"not run: {cause}")
        with session_scope() as session:
            rows.append(job_summary(session, job_id))
    return rows


def _log_index(fetches: list[FetchResult], run_id: str | None) -> None:
    """An archive's list read when planning (collinfo.json, a CC-NEWS month's warc.paths.gz)
    in the fetch log, as its index lookups (kind ``cdx``), a failed one included: no source's."""
    with session_scope() as session:
        log_archive_fetches(session, fetches, None, run_id, INDEX_KIND)


def ccnews_files(
    since: datetime, until: datetime, run_id: str | None = None
) -> dict[tuple[datetime, datetime], list[str]]:
    """The CC-NEWS files of each month chunk of the window (those whose span meets it), each
    month's list in the fetch log; raises BackfillError when no month of the window is in
    CC-NEWS, or its list fails."""
    rt = runtime()
    files: dict[tuple[datetime, datetime], list[str]] = {}
    lists: dict[tuple[int, int], list[str] | None] = {}  # each UTC month's files, read once
    for start, end in month_chunks(since, until):
        paths: list[str] = []
        for year, month in ccnews_months(start, end):  # the local month's UTC months
            if (year, month) not in lists:
                try:
                    lists[(year, month)], fetches = ccnews_month(
                        rt.client, rt.settings, archive_throttle(CCNEWS), year, month
                    )
                except ArchiveError as exc:
                    _log_index(exc.attempts, run_id)
                    raise BackfillError(str(exc)) from exc
                _log_index(fetches, run_id)
            paths += lists[(year, month)] or []
        files[(start, end)] = files_covering(paths, start, end)
    missing = [f"{year:04d}-{month:02d}" for (year, month), listed in lists.items() if listed is None]
    if not any(files.values()):
        raise BackfillError(
            f"no CC-NEWS month covers {article_day(since)} .. {article_day(until)}"
            f" (no WARC file listed for {', '.join(missing) or 'the window'}; CC-NEWS starts in 2016-08)"
        )
    if missing:
        logging.getLogger(__name__).warning(
            "CC-NEWS has no files for %s: those months are skipped", ", ".join(missing)
        )
    return files


def discover(job_id: int, crawls: list[Crawl], sites: list[Site], run_id: str | None) -> None:
    """Read the job's CDX pages (its WARC file) from its cursor on, each recorded with the next
    cursor in one transaction; an archive error (after retries) is recorded on the job and
    stops discovery."""
    with session_scope() as session:
        job = get_job(session, job_id)
        if job.state not in {"pending", "discovering"}:
            return
        set_job(session, job_id, state="discovering", last_error=None)
        archive, site, start, end = job.archive, job.site, job.window_start, job.window_end
    throttle = archive_throttle(archive)
    try:
        if archive == WAYBACK:
            _discover_wayback(job_id, site, start, end, throttle, run_id)
        elif archive == CCNEWS:
            _discover_ccnews(job_id, start, end, sites, throttle, run_id)
        else:
            _discover_commoncrawl(job_id, site, start, end, crawls, throttle, run_id)
    except ArchiveError as exc:
        kind = STREAM_KIND if archive == CCNEWS else INDEX_KIND  # a CC-NEWS file's stream failed
        with session_scope() as session:
            log_archive_fetches(session, exc.attempts, get_job(session, job_id).source_id, run_id, kind)
            record_job_error(session, job_id, str(exc))
        return
    with session_scope() as session:
        set_job(session, job_id, state="fetching", discovered_at=datetime.now(UTC))


def _discover_wayback(
    job_id: int, site: str, start: datetime, end: datetime, throttle: HostThrottle, run_id: str | None
) -> None:
    rt = runtime()
    asked: set[str] = set()  # the resume keys this run asked with: one answered again is a circle
    while True:
        with session_scope() as session:
            job = get_job(session, job_id)
            key, page_no = job.resume_key, job.page
        if page_no and not key:
            return  # the last page was read
        page = wayback_page(rt.client, rt.settings, throttle, site, start, end, key)
        with session_scope() as session:
            job = get_job(session, job_id)
            record_page(session, job, page, {"resume_key": page.resume_key, "page": page_no + 1}, run_id)
        if not page.resume_key:
            return
        if key:
            asked.add(key)
        if page.resume_key in asked:  # index pages are outside the fetch budget: it never ended
            which = "that key" if page.resume_key == key else "an earlier page's key"
            raise ArchiveError(
                f"Wayback CDX paging goes round in a circle: the page asked with resume key {key!r}"
                f" answered {which} {page.resume_key!r} as the next one; the captures after it"
                " cannot be listed until the archive pages right"
            )


def _discover_commoncrawl(
    job_id: int,
    site: str,
    start: datetime,
    end: datetime,
    crawls: list[Crawl],
    throttle: HostThrottle,
    run_id: str | None,
) -> None:
    rt = runtime()
    mine = crawls_covering(crawls, start, end)
    with session_scope() as session:
        job = get_job(session, job_id)
        current, page_no, pages = job.crawl, job.page, job.pages
    ids = [c.id for c in mine]
    first = ids.index(current) if current in ids else 0
    if current not in ids:
        page_no, pages = 0, None
    for crawl in mine[first:]:
        if crawl.id != current:
            page_no, pages = 0, None
        if pages is None:
            pages, fetches = commoncrawl_num_pages(rt.client, rt.settings, throttle, crawl, site, start, end)
            with session_scope() as session:
                log_archive_fetches(session, fetches, get_job(session, job_id).source_id, run_id)
                set_job(session, job_id, crawl=crawl.id, page=page_no, pages=pages)
        while page_no < pages:
            page = commoncrawl_page(rt.client, rt.settings, throttle, crawl, site, start, end, page_no)
            page_no += 1
            with session_scope() as session:
                job = get_job(session, job_id)
                record_page(session, job, page, {"crawl": crawl.id, "page": page_no, "pages": pages}, run_id)
        current = None
        pages = None


def _discover_ccnews(
    job_id: int, start: datetime, end: datetime, sites: list[Site], throttle: HostThrottle, run_id: str | None
) -> None:
    """Stream the job's WARC file from its offset and queue the records of the sites (their
    response records dated in the window, through the listings' article filters); every
    batch is committed with the offset where the first record after it starts."""
    rt = runtime()
    with session_scope() as session:
        job = get_job(session, job_id)
        path, offset, only = job.warc_file, job.warc_offset, job.site
        source_id = job.source_id  # a --site job's: its attempts are logged under it, as on failure
    if only != ALL_SITES:
        sites = [s for s in sites if s.site == only]
    match = SiteMatcher(sites)
    url = f"{rt.settings.commoncrawl_data_url}/{path}"
    stream = WarcStream(rt.client, rt.settings, throttle, url, offset)
    batch = WarcBatch({}, cursor=offset)
    problems: list[FetchResult] = []
    last_commit = time.monotonic()

    def commit() -> None:
        nonlocal batch, problems, last_commit
        with session_scope() as session:
            log_archive_fetches(session, stream.fetches, source_id, run_id, STREAM_KIND)
            log_archive_fetches(session, problems, source_id, run_id, STREAM_KIND)
            record_warc_batch(session, job_id, batch)
        stream.fetches.clear()
        batch, problems, last_commit = WarcBatch({}, cursor=batch.cursor), [], time.monotonic()

    for entry in stream:
        batch.cursor = entry.end
        if entry.problem:  # in the fetch log; a capture of the sites is settled as failed with it
            batch.malformed += 1
            problems.append(
                FetchResult(
                    f"{url}#offset={entry.offset}", url, "error", error_class=PERMANENT, reason=entry.problem
                )
            )
        site = match(entry.uri) if entry.uri else None
        if site is not None and entry.uri and (entry.date is None or start <= entry.date <= end):
            batch.discovered += 1
            try:
                canonical = canonicalize_url(in_scheme(entry.uri, site.scheme))
            except ValueError:
                canonical = None
            if canonical is None or not looks_like_article(entry.uri, f"https://{site.site}/"):
                batch.filtered += 1
            else:
                capture = Capture(
                    archive=CCNEWS,
                    original=entry.uri,
                    captured_at=entry.date or start,
                    archived_url=f"{url}#offset={entry.offset}",
                    warc_filename=path,
                    warc_offset=entry.offset,
                    warc_length=entry.length,
                )
                earlier = batch.kept.get(canonical)
                # a cut record never replaces an earlier record of the page
                if preferred(earlier[0] if earlier else None, capture, site.scheme) and not (
                    earlier and entry.problem
                ):
                    batch.kept[canonical] = (capture, site.source_id)
                    if earlier and canonical not in batch.broken:  # the page's alternate
                        batch.others.setdefault(canonical, []).append(earlier[0])
                    batch.broken.pop(canonical, None)
                    if entry.problem:
                        batch.broken[canonical] = entry.problem
                elif not entry.problem:
                    batch.others.setdefault(canonical, []).append(capture)
        if (
            len(batch.kept) >= max(1, rt.settings.archive_page_size)
            or time.monotonic() - last_commit >= WARC_COMMIT_SECONDS
        ):
            commit()
    commit()


T = TypeVar("T")


class FetchBudget:
    """The captures one backfill run may fetch (``VEILLE_BACKFILL_MAX_FETCHES``,
    ``--max-fetches``), shared by its jobs' workers; the captures beyond stay queued with their
    job, which the next run resumes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.spent = 0  # taken or reserved
        self._held = 0  # reserved by :meth:`reserve` and not settled yet: may come back
        self._changed = threading.Condition()

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` fetches from what is left (0: spent)."""
        with self._changed:
            granted = max(0, min(wanted, self.limit - self.spent))
            self.spent += granted
            return granted

    def give_back(self, unused: int) -> None:
        with self._changed:
            self.spent -= unused
            self._changed.notify_all()

    @contextmanager
    def reserve(self, wanted: int) -> Iterator[Reservation]:
        """Up to ``wanted`` fetches for a worker's batch, spent when the block ends but for
        those it gives back (:meth:`Reservation.give_back`). All that is left being reserved by
        other workers, who may give some back, it waits for them: 0 only once the budget is
        spent for good, so no job gives up on captures the run could still fetch."""
        with self._changed:
            while self.spent >= self.limit and self._held:
                self._changed.wait()  # a worker holding a reservation notifies when it settles
            granted = max(0, min(wanted, self.limit - self.spent))
            self.spent += granted
            self._held += granted
        reservation = Reservation(self, granted)
        try:
            yield reservation
        finally:
            with self._changed:  # what was not given back is spent
                self._held -= reservation.granted
                self._changed.notify_all()

    def _return(self, unused: int) -> None:
        with self._changed:
            self.spent -= unused
            self._held -= unused
            self._changed.notify_all()

    def note(self, rows: list[dict[str, Any]]) -> str | None:
        """The line saying the run spent its budget and what it left, if it did."""
        left = sum(r["pending"] for r in rows)
        if self.spent < self.limit or not left:
            return None
        return stopped_at_budget(
            self.limit,
            "capture fetches",
            BACKFILL_BUDGET,
            left,
            "capture(s)",
            "run",
        )


class Reservation:
    """A worker's share of the :class:`FetchBudget` (:meth:`FetchBudget.reserve`)."""

    def __init__(self, budget: FetchBudget, granted: int) -> None:
        self._budget = budget
        self.granted = granted

    def give_back(self, unused: int) -> None:
        """``unused`` of the reserved fetches not made (no capture claimed for them, or a
        capture held): back to the budget at once, for the other workers."""
        unused = min(unused, self.granted)
        if unused > 0:
            self.granted -= unused
            self._budget._return(unused)


#: The budget of the run in progress in this process (set by :func:`archive_backfill`).
_budget = FetchBudget(0)
#: The database losses of its jobs (reset by :func:`archive_backfill`).
_losses = DatabaseLosses()


def budget_note(rows: list[dict[str, Any]]) -> str | None:
    """The last run's "stopped after N capture fetches" line, if it spent its budget."""
    return _budget.note(rows)


def fetch_captures(job_id: int, relevant_only: bool, run_id: str | None) -> int:
    """Claim the job's captures in batches on a few threads, fetch each from its archive,
    analyse and store it; returns how many were settled."""
    rt = runtime()
    workers = max(1, min(rt.settings.concurrency, 8))
    done = 0
    lock = threading.Lock()

    def settle(claimed: tuple[QueueItem, Capture], reserved: Reservation) -> None:
        """Fetch, analyse and store one claimed capture."""
        nonlocal done
        item, capture = claimed
        with session_scope() as session:
            site = rt.profiles.get(session, site_of(capture.original))
        result = fetch_capture(rt.client, rt.settings, capture, archive_throttle(capture.archive))
        if result.held:  # not asked: the archive unreachable earlier in the run (or on hold)
            reserved.give_back(1)
        capture = served_capture(capture, result, rt.settings)  # replayed from another time?
        out = analyse_page(
            item,
            result,
            rt.topic,
            page_url=capture.original,
            topics=rt.topics,
            site=site,
            workers=rt.settings.parse_workers,
            deadline=rt.settings.analysis_deadline,
        )
        store = partial(
            store_capture,
            out=out,
            capture=capture,
            max_attempts=rt.settings.max_attempts,
            run_id=run_id,
            relevant_only=relevant_only,
            learn_site=learn_from,
        )
        _, changed = store_or_fail(store, out, run_id, lambda s: (s, False), rt.settings.max_attempts)
        if changed and out.article is not None:  # its blocks taught the site's profile
            rt.profiles.invalidate(out.article.site)
        with lock:
            done += 1

    with ThreadPoolExecutor(workers, thread_name_prefix=f"backfill-{job_id}") as pool:
        worker = partial(claim_within, _budget, rt.settings.batch_size, partial(_claim, job_id), settle)
        for future in [pool.submit(worker) for _ in range(workers)]:
            future.result()
    return done


def _claim(job_id: int, wanted: int) -> list[tuple[QueueItem, Capture]]:
    with session_scope() as session:
        return claim_captures(session, job_id, wanted)


def claim_within(
    budget: FetchBudget,
    batch_size: int,
    claim: Callable[[int], list[T]],
    settle: Callable[[T, Reservation], None],
) -> None:
    """One worker of a job: reserve a batch of the run's ``budget``, ``claim`` that many of the
    job's captures (what it finds none for going back at once), ``settle`` each, again; until
    the job has none left or the budget is spent for good. A capture ``settle`` did not fetch
    (held) goes back to its :class:`Reservation`, as do those left when ``settle`` raises: the
    run's "stopped after N capture fetches" counts the fetches made."""
    while True:
        with budget.reserve(batch_size) as reserved:
            if not reserved.granted:
                return  # the run's budget is spent: the job's other captures wait for the next run
            claimed = claim(reserved.granted)
            reserved.give_back(reserved.granted - len(claimed))
            if not claimed:
                return
            for i, each in enumerate(claimed):
                try:
                    settle(each, reserved)
                except BaseException:  # the job stops: the captures after it were not fetched
                    reserved.give_back(len(claimed) - i - 1)
                    raise


def backfill_job_task(
    job_id: int, crawls: list[Crawl], sites: list[Site], relevant_only: bool, run_id: str | None
) -> dict[str, Any]:
    """One (archive, site, month) job: discovery from its cursor, then its captures (the body
    of the task ``archive backfill job N``). A database lost meanwhile is waited for
    (``VEILLE_DB_WAIT``) and the job taken up again from its cursor (:data:`_losses`); one that
    stays away leaves the job's row in state ``error``, "database lost: ...", for the run to
    say (:func:`archive_backfill`), rather than the task's retries and their tracebacks."""
    row = _losses.run(lambda: _run_job(job_id, crawls, sites, relevant_only, run_id))
    if row is None:
        empty = dict.fromkeys(JOB_COUNTS, 0)
        row = {"archive": "", "site": f"job {job_id}", "window": "", **empty, "state": "error"}
        row["error"] = f"database lost: {_losses.gone}"
    return row


def _run_job(
    job_id: int, crawls: list[Crawl], sites: list[Site], relevant_only: bool, run_id: str | None
) -> dict[str, Any]:
    """:func:`backfill_job_task`'s work: the job's row once done."""
    logger = run_logger()
    with job_lock(get_engine(), job_id) as mine:
        if not mine:
            logger.info("job %d: another worker has it: %s", job_id, mine.holders())
        else:
            discover(job_id, crawls, sites, run_id)
            settled = fetch_captures(job_id, relevant_only, run_id)
            with session_scope() as session:
                settle_job(session, job_id)
            logger.info("job %d: %s settled", job_id, counted(settled, "capture"))
    with session_scope() as session:
        row = job_summary(session, job_id)
    if row["error"]:
        logger.warning("job %d (%s %s): %s", job_id, row["archive"], row["site"], row["error"])
    return row


#: The counts of a job's row (monitors.collect.backfill_jobs.job_summary).
JOB_COUNTS = (
    "captures",
    "queued",
    "not_article",
    "known",
    "stored",
    "revised",
    "not_relevant",
    "skipped",
    "pending",
    "malformed",
)


def _job_row(job_id: int, future: Any) -> dict[str, Any]:
    """A job task's row; for a task that failed (a bug, bad data, the database gone through
    its retries), the job's row in state ``error`` with the cause: one job's failure must not
    hide the others' rows, their artifact and the run's verdict."""
    try:
        row: dict[str, Any] = future.result()
        return row
    except Exception as exc:  # noqa: BLE001 - judged with the other jobs
        cause = f"job failed: {_cause(exc)}"
        run_logger().error("job %d: %s", job_id, cause)
    try:
        with job_lock(get_engine(), job_id) as mine:
            if mine:  # in the job's row too, as an archive error is (not another worker's job)
                with session_scope() as session:
                    record_job_error(session, job_id, cause)
        with session_scope() as session:
            row = job_summary(session, job_id)
    except DBAPIError:
        row = {"archive": "", "site": f"job {job_id}", "window": "", **dict.fromkeys(JOB_COUNTS, 0)}
    return {**row, "state": "error", "error": cause}


def _totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The job rows' stored and revised captures, for :func:`flows.outcome.stored_words`."""
    return {k: sum(int(r.get(k, 0)) for r in rows) for k in ("stored", "revised")}


def judge_backfill(
    rows: list[dict[str, Any]],
    stopped: str | None = None,
    bad: Sequence[BadEntry] = (),
    offline: str | None = None,
    recovered: Sequence[str] = (),
) -> RunOutcome:
    """The run's verdict from its job rows: all good, partly done (some jobs stopped on an
    archive error, or the run spent its fetch budget, ``stopped``: they resume on the next
    run; or it left out ``bad`` entries of the sources file, as ``veille run`` does), or
    failed (every job stopped on an error, and none stored a capture). ``offline``: why no
    job ran (no archive host resolved, :func:`unresolved_archive`), said first. ``recovered``:
    the database losses its jobs waited out, partly done as ``veille run`` is after one."""
    errors = [r for r in rows if r["state"] == "error"]
    summary = (
        f"{counted(len(rows), 'job')}, {counted(sum(r['captures'] for r in rows), 'capture')} found,"
        f" {stored_words(_totals(rows))}, {sum(r['pending'] for r in rows)} waiting"
    )
    problems = [bad_entries_problem([str(b) for b in bad])] if bad else []
    problems += [stopped] if stopped else []
    problems += interrupted(list(recovered), gave_up=False)
    if not errors:
        # "Nothing to do" only when nothing went wrong: a run of a file whose every entry is bad
        # plans no job, and is partly done, saying why
        return RunOutcome("partial" if problems else "ok", summary, problems, empty=not rows and not problems)
    if offline:  # the cause first; each job's error says it again
        problems.insert(0, offline)
        problems.append(f"{counted(len(errors), 'job')} not run; run the same command again to resume")
    else:
        problems.append(
            f"{counted(len(errors), 'job')} stopped on an archive error ({errors[0]['error']});"
            " run the same command again to resume"
        )
    # failed as a `veille run` whose every source failed: every job stopped and none stored a capture
    done = any(int(r.get(k, 0)) for r in rows for k in ("stored", "revised", "not_relevant"))
    return RunOutcome("failed" if len(errors) == len(rows) and not done else "partial", summary, problems)


def _utc(when: datetime) -> datetime:
    """A deployment's parameters may come without a zone (``"2025-02-01"``): on the local
    clock, as the CLI reads them (monitors.dates), once the database is open (a worker without
    ``VEILLE_LOCAL_TIMEZONE`` takes the database's)."""
    from monitors.dates import on_local_clock_bounded

    return on_local_clock_bounded(when)


def _until(when: date | datetime) -> datetime:
    """A deployment's ``until`` given as a day (``"2025-02-28"``, which the flow's parameter
    reads as a date) runs to the end of that day, as ``veille backfill --until`` does; a time
    (``"2025-02-28T18:00"``) is that instant."""
    return _utc(when if isinstance(when, datetime) else datetime.combine(when, dt_time.max))


def archive_backfill(
    archive: str,
    since: datetime,
    until: date | datetime,
    site: str | None,
    sources_file: str | None,
    relevant_only: bool,
    max_fetches: int | None,
    submit: Submit,
    run_id: str | None,
    planned: Plan | None = None,
) -> tuple[list[dict[str, Any]], RunOutcome]:
    """Find the sites' captures over [since, until] in a web archive and ingest them, one step
    per (site, month) job (CC-NEWS: per month and WARC file) run by ``submit``; several runs of
    it (one per work-pool worker) share the jobs. At most ``max_fetches`` captures are fetched
    (default ``VEILLE_BACKFILL_MAX_FETCHES``): the jobs keep the others for the next run, and
    the run is partly done, saying so. The job rows and the verdict: every job finished (ok),
    some stopped on an archive error (partial) or all did before storing any (failed).

    ``planned`` is the :func:`plan` of this same request made by ``veille backfill`` to check
    it: the run uses it rather than planning again (which read collinfo.json or CC-NEWS's file
    lists a second time, and could fail on them after the check had passed). Without it (a
    deployment's run), the run plans."""
    global _budget
    ensure_schema()  # first: without VEILLE_LOCAL_TIMEZONE, the parameters are on the database's clock
    since, until = _utc(since), _until(until)
    for name, bound in (("since", since), ("until", until)):
        try:  # the CLI's rule for --since/--until, for a deployment's parameters too
            backfill_day(bound)
        except ValueError as exc:
            raise BackfillError(f"{name}: {exc}") from None
    reset_runtime()
    _throttles.clear()
    _losses.reset()
    try:
        if planned is None:
            planned = plan(archive, since, until, site, sources_file, relevant_only, run_id)
        job_ids, crawls, sites, bad, disabled, recovered = planned
        skipped_entries(bad)  # each warned of; the run's state says so
        if disabled:
            run_logger().info("disabled sources not backfilled: %s", some_names(list(disabled)))
        run_logger().info(
            "%s backfill %s .. %s: %s",
            archive,
            article_day(since),
            article_day(until),
            counted(len(job_ids), "job"),
        )
        _budget = FetchBudget(max_fetches or runtime().settings.backfill_max_fetches)
        offline = unresolved_archive(archive, runtime().settings) if job_ids else None
        if offline:  # the cause first, at once, rather than each job's retries of it
            run_logger().error("no job run: %s", offline[0])
            rows = _not_run(job_ids, *offline, run_id)
        else:
            futures = [submit(backfill_job_task, j, crawls, sites, relevant_only, run_id) for j in job_ids]
            rows = [_job_row(j, f) for j, f in zip(job_ids, futures, strict=True)]
    finally:
        reset_runtime()
        _throttles.clear()
    if _losses.gone:  # no job can go on, nor its row be read: said in one line, as other commands say it
        raise DatabaseUnavailable(
            f"lost the database during the {ARCHIVE_NAMES[archive]} backfill's jobs ({_losses.gone}):"
            " what was committed stays; run the same command again to resume"
        )
    stopped = budget_note(rows)
    if stopped:
        run_logger().warning(stopped)
    outcome = judge_backfill(
        rows, stopped, bad, offline[0] if offline else None, [*recovered, *_losses.recovered]
    )
    if outcome.empty:  # "no source was due" are a cycle's words: no job was planned
        if sites:
            why = "no job was planned for this window"
        elif disabled:  # as `veille backfill`: the disabled sources named
            why = f"no source to backfill ({disabled_words(disabled)})"
        else:
            why = f"{sources_label(sources_file)} has no source"
        outcome.nothing = f"Nothing to do: {why}."
    return rows, outcome


def __getattr__(name: str) -> Any:
    """The flow lived here before :mod:`flows.backfill_flows`: deployments made with the
    entrypoint ``flows.archive_backfill:archive_backfill_flow`` keep working."""
    if name == "archive_backfill_flow":
        from flows import backfill_flows

        return backfill_flows.archive_backfill_flow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
