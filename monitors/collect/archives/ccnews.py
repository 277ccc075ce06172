"""The web archives as a source of past pages: discovery through their CDX APIs, captures
fetched from the archive (never from the site).

- Internet Archive (Wayback Machine): the CDX server (``/cdx/search/cdx``), a prefix query on
  the site over the window, HTML with status 200, collapsed by URL key, paged with its resume
  key; captures read raw (``/web/<timestamp>id_/<url>``, without the archive's banner).
- Common Crawl: the crawls listed by ``collinfo.json`` whose dates meet the window, each
  crawl's CDX index (pywb, JSON lines, ``page=N`` of ``showNumPages``); records read by byte
  range from the WARC file and parsed with ``warcio``.
- CC-NEWS (Common Crawl's news crawl), which has no CDX index: the WARC files of each month
  (``crawl-data/CC-NEWS/YYYY/MM/warc.paths.gz``) whose time span meets the window, each
  streamed once (:class:`WarcStream`, ``warcio`` over the HTTP stream, never stored) for the
  records of every site; a record is then read again by byte range, as Common Crawl's.

All HTTP goes through :func:`monitors.collect.http.fetch`, with a throttle per archive (its delay is
the archive's rate limit) and retries with backoff for 5xx, timeouts and 429 (whose
``Retry-After`` is honoured). The CDX paging is ours rather than ``cdx_toolkit``'s: that
library sends its own requests (``requests``), around veille's HTTP module, politeness and
fetch log, and hides the page and resume key a job must store to resume.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from urllib3.exceptions import HTTPError as Urllib3Error
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from monitors.collect.http import (
    HTML_TYPES,
    PERMANENT,
    TRANSIENT,
    Client,
    FetchResult,
    HostThrottle,
    empty_is_transient,
    fetch,
    network_reason,
    open_stream,
)
from monitors.judge.not_found import soft_404
from monitors.settings import Settings

WAYBACK = "wayback"
COMMONCRAWL = "commoncrawl"
CCNEWS = "ccnews"
ARCHIVES = (WAYBACK, COMMONCRAWL, CCNEWS)
ARCHIVE_NAMES = {
    WAYBACK: "Internet Archive (Wayback Machine)",
    COMMONCRAWL: "Common Crawl",
    CCNEWS: "Common Crawl News (CC-NEWS)",
}
WAYBACK_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")
MAX_RETRY_AFTER = 600.0

Sleep = Callable[[float], None]


class ArchiveError(Exception):
    """An archive request that failed for good (after its retries); the message says why,
    ``attempts`` holds every try (for the fetch log)."""

    def __init__(self, message: str, attempts: list[FetchResult] | None = None) -> None:
        super().__init__(message)
        self.attempts = attempts or []


@dataclass(frozen=True)
class Capture:
    """One capture of a page in an archive."""

    archive: str
    original: str
    captured_at: datetime
    archived_url: str
    mime: str | None = None
    status: int | None = None
    warc_filename: str | None = None
    warc_offset: int | None = None
    warc_length: int | None = None


@dataclass
class CdxPage:
    """One page of a CDX answer: its captures, the lines it could not read (with why), the
    cursor of the next page (``None`` when this was the last) and the requests it took."""

    captures: list[Capture] = field(default_factory=list)
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (line, reason)
    resume_key: str | None = None
    fetches: list[FetchResult] = field(default_factory=list)


@dataclass(frozen=True)
class Crawl:
    """A Common Crawl crawl from ``collinfo.json``."""

    id: str
    cdx_api: str
    start: datetime
    end: datetime


def throttles(settings: Settings) -> dict[str, HostThrottle]:
    """One throttle per archive: ``VEILLE_ARCHIVE_CONCURRENCY`` requests in flight per archive
    host, starts at least the archive's delay apart (its rate limit)."""
    per = max(1, settings.archive_concurrency)
    commoncrawl = HostThrottle(per, settings.commoncrawl_delay)  # CC-NEWS is on the same server
    return {WAYBACK: HostThrottle(per, settings.wayback_delay), COMMONCRAWL: commoncrawl, CCNEWS: commoncrawl}


def backoff_delay(settings: Settings, attempt: int, retry_after: float | None) -> float:
    """The wait before retry ``attempt + 1``: exponential with full jitter, never sooner than
    the archive's ``Retry-After``; both capped at :data:`MAX_RETRY_AFTER`, so many retries
    (``VEILLE_ARCHIVE_RETRIES=40``) wait ten minutes each at most, not 2**39 base seconds
    (and 1,024 or more no longer overflow a float)."""
    backoff = min(settings.archive_retry_base * 2.0 ** min(attempt, 64), MAX_RETRY_AFTER)
    return max(random.uniform(backoff / 2, backoff), min(retry_after or 0.0, MAX_RETRY_AFTER))


def archive_get(
    client: Client,
    url: str,
    settings: Settings,
    throttle: HostThrottle | None,
    *,
    accept: tuple[str, ...] | None = None,
    extra_headers: dict[str, str] | None = None,
    sleep: Sleep = time.sleep,
    empty_transient: bool = False,
) -> list[FetchResult]:
    """GET from an archive, retrying transient failures (5xx, timeouts, 429; with
    ``empty_transient``, an empty 200 too) with exponential backoff and full jitter, never
    sooner than the archive's ``Retry-After``; every attempt is returned (the last one is the
    outcome), for the fetch log."""
    attempts: list[FetchResult] = []
    for attempt in range(max(0, settings.archive_retries) + 1):
        result = fetch(client, url, settings, accept=accept, throttle=throttle, extra_headers=extra_headers)
        if empty_transient:
            result = empty_is_transient(result)
        attempts.append(result)
        if result.error_class != TRANSIENT or attempt >= settings.archive_retries:
            break
        sleep(backoff_delay(settings, attempt, result.retry_after))
    return attempts


def _ok_or_raise(attempts: list[FetchResult], what: str) -> FetchResult:
    last = attempts[-1]
    if not last.ok:
        tries = f" after {len(attempts)} attempts" if len(attempts) > 1 else ""
        raise ArchiveError(f"{what}: {last.reason or last.outcome}{tries} ({last.url})", attempts)
    return last


def cdx_time(when: datetime) -> str:
    """A CDX timestamp (14 digits, UTC)."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_cdx_time(value: str) -> datetime:
    """A CDX timestamp (4 to 14 digits, UTC) as an aware datetime; ValueError if malformed."""
    if not value.isdigit() or not 4 <= len(value) <= 14:
        raise ValueError(f"bad timestamp {value!r}")
    padded = value + "0101000000"[len(value) - 4 :] if len(value) < 14 else value
    return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def _http_url(value: object) -> str:
    if not isinstance(value, str) or urlsplit(value).scheme not in {"http", "https"}:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return value


# --- Internet Archive ------------------------------------------------------------------


def wayback_query(
    settings: Settings, site: str, since: datetime, until: datetime, resume_key: str | None
) -> str:
    """The CDX query of one page: prefix on the site, the window, HTML 200, one per URL key."""
    params: list[tuple[str, str]] = [
        ("url", f"{site}/"),
        ("matchType", "prefix"),
        ("from", cdx_time(since)),
        ("to", cdx_time(until)),
        ("output", "json"),
        ("fl", ",".join(WAYBACK_FIELDS)),
        ("filter", "statuscode:200"),
        ("filter", "mimetype:text/html"),
        ("collapse", "urlkey"),
        ("limit", str(max(1, settings.archive_page_size))),
        ("showResumeKey", "true"),
    ]
    if resume_key:
        params.append(("resumeKey", resume_key))
    return f"{settings.wayback_url}/cdx/search/cdx?{urlencode(params)}"


def wayback_capture_url(settings: Settings, timestamp: str, original: str) -> str:
    """The raw capture (``id_``: the page as archived, without the Wayback banner)."""
    return f"{settings.wayback_url}/web/{timestamp}id_/{original}"


def _json_failure(exc: BaseException) -> str:
    """Why an archive's JSON could not be read; json's own message, or for a document nested
    deeper than Python's recursion limit (which json.loads raises as RecursionError), that."""
    if isinstance(exc, RecursionError):
        return "nested too deep to read (RecursionError)"
    return str(exc)


def parse_wayback_cdx(body: bytes, settings: Settings) -> CdxPage:
    """A Wayback CDX JSON answer: a header row, capture rows, then (with ``showResumeKey``)
    an empty row and the resume key. A row that cannot be read is kept as malformed."""
    try:
        rows = json.loads(body.decode("utf-8")) if body.strip() else []
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep to read
        raise ArchiveError(f"CDX answer is not JSON: {_json_failure(exc)}") from exc
    if not isinstance(rows, list):
        raise ArchiveError("CDX answer is not a JSON list")
    page = CdxPage()
    if not rows:
        return page
    header = rows[0]
    if not isinstance(header, list) or "original" not in header or "timestamp" not in header:
        raise ArchiveError(f"CDX answer has no header row: {str(header)[:100]}")
    body_rows = rows[1:]
    last = body_rows[-1] if body_rows else None
    if len(body_rows) >= 2 and body_rows[-2] == [] and isinstance(last, list) and len(last) == 1:
        page.resume_key = str(last[0])  # an empty row, then the resume key alone in its row
        body_rows = body_rows[:-2]
    for row in body_rows:
        try:
            if not isinstance(row, list) or len(row) != len(header):
                raise ValueError(f"{len(row) if isinstance(row, list) else 'no'} fields for {len(header)}")
            rec = dict(zip(header, row, strict=True))
            original = _http_url(rec["original"])
            captured = parse_cdx_time(str(rec["timestamp"]))
            status = rec.get("statuscode")
            page.captures.append(
                Capture(
                    archive=WAYBACK,
                    original=original,
                    captured_at=captured,
                    archived_url=wayback_capture_url(settings, str(rec["timestamp"]), original),
                    mime=rec.get("mimetype"),
                    status=int(status) if status and str(status).isdigit() else None,
                )
            )
        except (ValueError, TypeError) as exc:
            page.malformed.append((json.dumps(row, ensure_ascii=False)[:300], f"malformed CDX line: {exc}"))
    return page


def wayback_page(
    client: Client,
    settings: Settings,
    throttle: HostThrottle | None,
    site: str,
    since: datetime,
    until: datetime,
    resume_key: str | None,
    sleep: Sleep = time.sleep,
) -> CdxPage:
    """One page of the site's captures in the window; raises :class:`ArchiveError`."""
    attempts = archive_get(
        client, wayback_query(settings, site, since, until, resume_key), settings, throttle, sleep=sleep
    )
    result = _ok_or_raise(attempts, "Wayback CDX query failed")
    page = parse_wayback_cdx(result.content or b"", settings)
    page.fetches = attempts
    return page


# --- Common Crawl ----------------------------------------------------------------------


def _crawl_time(value: object) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_collinfo(body: bytes) -> list[Crawl]:
    """The crawls of ``collinfo.json``, with their dates: ``from``/``to`` when given, else the
    fortnight before the week in the crawl's id (``CC-MAIN-2025-08``: week 8 of 2025)."""
    try:
        entries = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ArchiveError(f"Common Crawl collinfo.json is not JSON: {_json_failure(exc)}") from exc
    crawls = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "id" not in entry or "cdx-api" not in entry:
            continue
        try:
            if entry.get("from") and entry.get("to"):
                start, end = _crawl_time(entry["from"]), _crawl_time(entry["to"])
            else:
                m = re.fullmatch(r"CC-(?:MAIN|NEWS)-(\d{4})-(\d{2})", str(entry["id"]))
                if not m:
                    continue
                end = datetime.fromisocalendar(int(m[1]), int(m[2]), 7).replace(tzinfo=UTC)
                start = end - timedelta(days=14)
        except ValueError:
            continue
        crawls.append(Crawl(id=str(entry["id"]), cdx_api=str(entry["cdx-api"]), start=start, end=end))
    return crawls


def commoncrawl_crawls(
    client: Client, settings: Settings, throttle: HostThrottle | None, sleep: Sleep = time.sleep
) -> list[Crawl]:
    attempts = archive_get(
        client, f"{settings.commoncrawl_index_url}/collinfo.json", settings, throttle, sleep=sleep
    )
    return parse_collinfo(_ok_or_raise(attempts, "Common Crawl crawl list failed").content or b"")


def crawls_covering(crawls: list[Crawl], since: datetime, until: datetime) -> list[Crawl]:
    """The crawls whose dates meet [since, until], oldest first."""
    return sorted((c for c in crawls if c.start <= until and c.end >= since), key=lambda c: (c.start, c.id))


def commoncrawl_query(crawl: Crawl, site: str, since: datetime, until: datetime, page: int | None) -> str:
    params = [
        ("url", f"{site}/*"),
        ("from", cdx_time(since)),
        ("to", cdx_time(until)),
        ("output", "json"),
        ("filter", "=status:200"),
        ("filter", "=mime:text/html"),
    ]
    params.append(("showNumPages", "true") if page is None else ("page", str(page)))
    return f"{crawl.cdx_api}?{urlencode(params)}"


def commoncrawl_num_pages(
    client: Client,
    settings: Settings,
    throttle: HostThrottle | None,
    crawl: Crawl,
    site: str,
    since: datetime,
    until: datetime,
    sleep: Sleep = time.sleep,
) -> tuple[int, list[FetchResult]]:
    """How many index pages the site's captures take in this crawl (``showNumPages``), and
    the requests that took."""
    url = commoncrawl_query(crawl, site, since, until, None)
    attempts = archive_get(client, url, settings, throttle, sleep=sleep)
    result = _ok_or_raise(attempts, f"Common Crawl index {crawl.id} failed")
    try:
        return int(json.loads((result.content or b"{}").decode("utf-8"))["pages"]), attempts
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ArchiveError(f"Common Crawl showNumPages answer unreadable: {_json_failure(exc)}") from exc


def parse_commoncrawl_cdx(body: bytes, settings: Settings) -> CdxPage:
    """Common Crawl's CDX answer: one JSON object per line (pywb ``output=json``)."""
    page = CdxPage()
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
            original = _http_url(rec.get("url"))
            captured = parse_cdx_time(str(rec.get("timestamp", "")))
            filename = rec.get("filename")
            if not isinstance(filename, str) or not filename or filename.startswith("/") or ".." in filename:
                raise ValueError(f"bad WARC filename {filename!r}")
            offset, length = int(rec["offset"]), int(rec["length"])
            if offset < 0 or length <= 0:
                raise ValueError(f"bad WARC range {offset}+{length}")
            status = rec.get("status")
            page.captures.append(
                Capture(
                    archive=COMMONCRAWL,
                    original=original,
                    captured_at=captured,
                    archived_url=f"{settings.commoncrawl_data_url}/{filename}",
                    mime=rec.get("mime"),
                    status=int(str(status)) if str(status).isdigit() else None,
                    warc_filename=filename,
                    warc_offset=offset,
                    warc_length=length,
                )
            )
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            reason = f"malformed CDX line: {_json_failure(exc)}"
            page.malformed.append((line[:300].decode("utf-8", "replace"), reason))
    return page


def commoncrawl_page(
    client: Client,
    settings: Settings,
    throttle: HostThrottle | None,
    crawl: Crawl,
    site: str,
    since: datetime,
    until: datetime,
    page: int,
    sleep: Sleep = time.sleep,
) -> CdxPage:
    """Page ``page`` of the site's captures in one crawl; raises :class:`ArchiveError`."""
    url = commoncrawl_query(crawl, site, since, until, page)
    attempts = archive_get(client, url, settings, throttle, sleep=sleep)
    last = attempts[-1]
    if last.status == 404 and b"No Captures found" in (last.content or b""):
        return CdxPage(fetches=attempts)  # pywb's answer for a query with no capture
    result = _ok_or_raise(attempts, f"Common Crawl index {crawl.id} failed")
    out = parse_commoncrawl_cdx(result.content or b"", settings)
    out.fetches = attempts
    return out


# --- CC-NEWS -----------------------------------------------------------------------------

_CCNEWS_PATH = re.compile(r"crawl-data/CC-NEWS/\d{4}/\d{2}/[\w.-]+\.warc(?:\.gz)?")
_CCNEWS_TIME = re.compile(r"CC-NEWS-(\d{14})-\d+\.warc")


def ccnews_listing_url(settings: Settings, year: int, month: int) -> str:
    """The month's list of WARC files (one path a line, gzipped)."""
    return f"{settings.commoncrawl_data_url}/crawl-data/CC-NEWS/{year:04d}/{month:02d}/warc.paths.gz"


def parse_warc_paths(body: bytes) -> list[str]:
    """The WARC paths of a ``warc.paths.gz`` (gunzipped here unless the server already did);
    a line that is not a CC-NEWS WARC path is left out."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise ArchiveError(f"CC-NEWS warc.paths.gz is not readable gzip: {exc}") from exc
    lines = (line.strip() for line in body.decode("utf-8", "replace").splitlines())
    return [line for line in lines if _CCNEWS_PATH.fullmatch(line) and ".." not in line]


def warc_file_time(path: str) -> datetime | None:
    """When a CC-NEWS WARC file was started (``CC-NEWS-20250212093000-01234.warc.gz``)."""
    m = _CCNEWS_TIME.search(path)
    try:
        return datetime.strptime(m[1], "%Y%m%d%H%M%S").replace(tzinfo=UTC) if m else None
    except ValueError:
        return None


def files_covering(paths: list[str], since: datetime, until: datetime) -> list[str]:
    """The files whose span (from their start to the next file's) meets [since, until], in
    order; a file whose name has no time is kept (it cannot be ruled out)."""
    timed = sorted(((warc_file_time(p), p) for p in paths), key=lambda tp: (tp[0] or since, tp[1]))
    kept = []
    for i, (start, path) in enumerate(timed):
        nxt = next((t for t, _ in timed[i + 1 :] if t is not None), None)
        if start is None or (start <= until and (nxt is None or nxt > since)):
            kept.append(path)
    return kept


def ccnews_months(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """The (year, month) of the file lists that hold [start, end]: CC-NEWS names and lists its
    files by UTC time, and a month on the local clock meets two or three UTC months (February
    in Paris starts on 31 January at 23:00 UTC)."""
    first, last = start.astimezone(UTC), end.astimezone(UTC)
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def ccnews_month(
    client: Client,
    settings: Settings,
    throttle: HostThrottle | None,
    year: int,
    month: int,
    sleep: Sleep = time.sleep,
) -> list[str] | None:
    """The WARC paths of one CC-NEWS month, or None when the news crawl has no such month
    (404 or 403, as the bucket answers a missing key); raises :class:`ArchiveError`."""
    attempts = archive_get(
        client, ccnews_listing_url(settings, year, month), settings, throttle, accept=None, sleep=sleep
    )
    if attempts[-1].status in {403, 404}:
        return None
    return parse_warc_paths(_ok_or_raise(attempts, "CC-NEWS file list failed").content or b"")


@dataclass(frozen=True)
class WarcEntry:
    """One record of a streamed WARC file: where it is (``offset``, ``length``), and for a
    response record its URL and WARC-Date; ``problem`` says why a record could not be read
    (truncated, corrupt), then the file ends there."""

    offset: int
    length: int
    uri: str | None = None
    date: datetime | None = None
    problem: str | None = None

    @property
    def end(self) -> int:
        return self.offset + self.length


class _Counting:
    """A response read by warcio: counts the bytes and keeps the last ones (to name a
    truncated record at the end of the file)."""

    KEEP = 1 << 20

    def __init__(self, raw: object) -> None:
        self.raw = raw
        self.count = 0
        self.last = bytearray()

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)  # type: ignore[attr-defined]
        self.count += len(data)
        self.last += data
        if len(self.last) > 2 * self.KEEP:
            del self.last[: len(self.last) - self.KEEP]
        return data


def _peek_record(head: bytes) -> tuple[str | None, datetime | None]:
    """The WARC-Target-URI and WARC-Date of a record's first bytes (gzipped or not), for a
    record too short to parse."""
    try:
        text = (
            zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head[:65536])
            if head[:2] == b"\x1f\x8b"
            else head
        )
    except zlib.error:
        return None, None
    headers = text.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace") + ("\n" if b"\r\n\r\n" in text else "")
    uri = re.search(r"^WARC-Target-URI:[ \t]*(\S+)\r?\n", headers, re.M | re.I)  # a whole line only
    date = re.search(r"^WARC-Date:[ \t]*(\S+)\r?\n", headers, re.M | re.I)
    return (uri[1] if uri else None), (_warc_date(date[1]) if date else None)


def _warc_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class WarcStream:
    """The records of a WARC file from byte ``start`` on, read from the HTTP stream with
    ``warcio`` (nothing is stored: memory stays flat for a file of a gigabyte).

    A connection lost or a read that times out resumes with a ``Range`` from the end of the
    last complete record, with backoff; after ``VEILLE_ARCHIVE_RETRIES`` failures in a row
    without progress, :class:`ArchiveError`. Bytes at the end that make no record (a cut
    file) come as one entry with its ``problem``, as does a record ``warcio`` cannot read
    (a corrupt gzip member: the rest of the file cannot be found again, so it ends there).
    ``fetches`` holds every request, for the fetch log (the caller empties it).
    """

    def __init__(
        self,
        client: Client,
        settings: Settings,
        throttle: HostThrottle | None,
        url: str,
        start: int = 0,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.client, self.settings, self.throttle = client, settings, throttle
        self.url, self.start, self.sleep = url, start, sleep
        self.fetches: list[FetchResult] = []

    def __iter__(self) -> Iterator[WarcEntry]:
        position, failures = self.start, 0
        while True:
            headers = {"Range": f"bytes={position}-"} if position else None
            with open_stream(
                self.client, self.url, self.settings, throttle=self.throttle, extra_headers=headers
            ) as (result, response):
                self.fetches.append(result)
                if response is None:
                    if result.status == 416:  # nothing from there on: the file was read to its end
                        return
                    if result.error_class == TRANSIENT and failures < self.settings.archive_retries:
                        self.sleep(backoff_delay(self.settings, failures, result.retry_after))
                        failures += 1
                        continue
                    tries = f" after {failures + 1} attempts" if failures else ""
                    raise ArchiveError(
                        f"CC-NEWS WARC file failed: {result.reason or result.outcome}{tries} ({self.url})",
                        self.fetches,
                    )
                base = position
                if response.status == 200 and position:  # the server sent the whole file
                    base = 0
                reader = _Counting(response)
                end = position
                try:
                    if base < position:
                        _discard(reader, position - base)
                        reader.count, reader.last = 0, bytearray()
                        base = position
                    records = ArchiveIterator(reader)
                    for record in records:
                        uri = date = None
                        if record.rec_type == "response":
                            uri = record.rec_headers.get_header("WARC-Target-URI")
                            date = _warc_date(record.rec_headers.get_header("WARC-Date"))
                        while record.raw_stream.read(1 << 16):  # to the record's end
                            pass
                        missing = int(getattr(record.raw_stream, "limit", 0) or 0)  # its length says more
                        start, length = base + records.get_record_offset(), records.get_record_length()
                        problem = (
                            f"truncated WARC record at byte {start}: {missing} bytes missing"
                            if missing > 0
                            else None
                        )
                        entry = WarcEntry(start, length, uri, date, problem)
                        end = entry.end
                        failures = 0
                        yield entry
                except (Urllib3Error, OSError) as exc:
                    lost = FetchResult(self.url, self.url, "error", error_class=TRANSIENT)
                    lost.reason = f"stream cut at byte {base + reader.count}: {network_reason(exc, self.url)}"
                    self.fetches.append(lost)
                    if failures >= self.settings.archive_retries:
                        tries = f"after {failures + 1} attempts"
                        raise ArchiveError(
                            f"CC-NEWS WARC file failed: {lost.reason} {tries} ({self.url})", self.fetches
                        ) from exc
                    self.sleep(backoff_delay(self.settings, failures, None))
                    failures += 1
                    position = end
                    continue
                except Exception as exc:  # noqa: BLE001 - ArchiveLoadFailed, zlib.error, EOFError: this record
                    yield WarcEntry(
                        end, 0, None, None, f"corrupt WARC record at byte {end}: {type(exc).__name__}: {exc}"
                    )
                    return
                tail = base + reader.count - end
                if tail > 0:  # bytes that make no complete record: a cut file
                    head = bytes(reader.last[-tail:]) if tail <= len(reader.last) else b""
                    uri, date = _peek_record(head)
                    yield WarcEntry(
                        end,
                        tail,
                        uri,
                        date,
                        f"truncated WARC record at byte {end}: the file ends {tail} bytes into it",
                    )
                return


def _discard(reader: _Counting, count: int) -> None:
    """Skip ``count`` bytes of a stream (a server that ignored the Range)."""
    while count > 0:
        chunk = reader.read(min(count, 1 << 20))
        if not chunk:
            return
        count -= len(chunk)


# --- Captures ----------------------------------------------------------------------------


def original_of(wayback_url: str, settings: Settings) -> str | None:
    """The original URL inside a Wayback capture URL (``.../web/<ts>[id_]/<original>``)."""
    m = re.match(re.escape(settings.wayback_url) + r"/web/(\d{1,14})[a-z_]*/(.+)$", wayback_url)
    return m.group(2) if m else None


def _skip(result: FetchResult, reason: str) -> FetchResult:
    result.outcome, result.error_class, result.reason, result.content = "skipped", PERMANENT, reason, None
    return result


def fetch_capture(
    client: Client,
    settings: Settings,
    capture: Capture,
    throttle: HostThrottle | None,
    sleep: Sleep = time.sleep,
) -> FetchResult:
    """The archived page as a fetch result: ok with the HTML, or skipped (a redirect, a soft
    404, not HTML) or an error (archive down, a truncated WARC record), with the reason.

    Wayback's empty 200 is a transient error, retried with backoff as its 503s are: under load
    its playback sends empty bodies for captures it serves whole later, and as a permanent
    failure the page was lost to the backfill for good. A Common Crawl record with an empty
    payload is what the crawler got, the same on every read: it stays a failure."""
    if capture.archive == WAYBACK:
        result = archive_get(
            client,
            capture.archived_url,
            settings,
            throttle,
            accept=HTML_TYPES,
            sleep=sleep,
            empty_transient=True,
        )[-1]
        if result.ok and result.final_url != capture.archived_url:
            target = original_of(result.final_url, settings) or result.final_url
            if _same_page(target, capture.original) is False:
                return _skip(result, f"the capture is a redirect to {target}")
    else:
        result = _warc_record(client, settings, capture, throttle, sleep)
    if result.ok:
        reason = soft_404(result.content or b"")
        if reason:
            return _skip(result, reason)
    return result


def _same_page(a: str, b: str) -> bool:
    from monitors.group.urls import canonicalize_url

    try:
        return canonicalize_url(a) == canonicalize_url(b)
    except ValueError:
        return False


def _warc_record(
    client: Client, settings: Settings, capture: Capture, throttle: HostThrottle | None, sleep: Sleep
) -> FetchResult:
    """Read one record by byte range from its WARC file and unpack its HTTP response."""
    assert capture.warc_offset is not None and capture.warc_length is not None
    first, last = capture.warc_offset, capture.warc_offset + capture.warc_length - 1
    attempts = archive_get(
        client,
        capture.archived_url.split("#", 1)[0],  # a CC-NEWS capture's URL names its offset after #
        settings,
        throttle,
        accept=None,
        extra_headers={"Range": f"bytes={first}-{last}", "Accept-Encoding": "identity"},
        sleep=sleep,
    )
    result = attempts[-1]
    if not result.ok:
        return result
    body = result.content or b""
    if result.status == 200 and len(body) > capture.warc_length:  # the server ignored the range
        body = body[first : last + 1]
    if len(body) < capture.warc_length:
        return _error(result, f"truncated WARC record: {len(body)} of {capture.warc_length} bytes")
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(body))), None)
        if record is None:
            return _error(result, "truncated or corrupt WARC record: no record could be read in the range")
        if record.rec_type != "response" or record.http_headers is None:
            return _error(result, f"the WARC range holds a {record.rec_type} record, not a response")
        status = int(record.http_headers.get_statuscode() or 0)
        ctype = (record.http_headers.get_header("Content-Type") or "").split(";")[0].strip().lower()
        declared = record.http_headers.get_header("Content-Length")
        payload = record.content_stream().read()
    except (ArchiveLoadFailed, Exception) as exc:  # noqa: BLE001 - zlib.error, EOF: this record only
        return _error(result, f"truncated or corrupt WARC record: {type(exc).__name__}: {exc}")
    result.status = status
    result.headers = {"content-type": ctype} if ctype else {}
    if 300 <= status < 400:
        target = record.http_headers.get_header("Location") or "?"
        return _skip(result, f"the capture is a redirect (HTTP {status}) to {target}")
    if status != 200:
        return _skip(result, f"the capture is HTTP {status}")
    if ctype and ctype not in HTML_TYPES:
        return _skip(result, f"content type {ctype} is not one veille reads here")
    if (
        declared
        and declared.isdigit()
        and int(declared) > len(payload)
        and not record.http_headers.get_header("Content-Encoding")
    ):
        return _error(result, f"truncated WARC record: payload {len(payload)} of {declared} bytes")
    result.content = payload
    return result


def _error(result: FetchResult, reason: str) -> FetchResult:
    result.outcome, result.error_class, result.reason, result.content = "error", PERMANENT, reason, None
    return result
