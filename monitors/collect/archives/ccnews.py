"""CC-NEWS (Common Crawl's news crawl), which has no CDX index: the WARC files of each month
(``crawl-data/CC-NEWS/YYYY/MM/warc.paths.gz``) whose time span meets the window, each
streamed once (:class:`WarcStream`, ``warcio`` over the HTTP stream, never stored) for the
records of every site; a record is then read again by byte range, as Common Crawl's."""

from __future__ import annotations

import gzip
import re
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from urllib3.exceptions import HTTPError as Urllib3Error
from warcio.archiveiterator import ArchiveIterator

from monitors.collect.archives.common import (
    ArchiveError,
    Sleep,
    archive_get,
    backoff_delay,
    iso_time,
    not_data,
    pause_asked,
    read_list,
    wait_for_pause,
)
from monitors.collect.codings import GZIP_MAGIC
from monitors.collect.failures import network_reason
from monitors.collect.http import Client, TooSlow, open_stream
from monitors.collect.results import HTML_TYPES, TRANSIENT, FetchResult
from monitors.collect.throttle import HostThrottle
from monitors.errors import describe
from monitors.settings import Settings

_CCNEWS_PATH = re.compile(r"crawl-data/CC-NEWS/\d{4}/\d{2}/[\w.-]+\.warc(?:\.gz)?")
_CCNEWS_TIME = re.compile(r"CC-NEWS-(\d{14})-\d+\.warc")


def ccnews_listing_url(settings: Settings, year: int, month: int) -> str:
    """The month's list of WARC files (one path a line, gzipped)."""
    return f"{settings.commoncrawl_data_url}/crawl-data/CC-NEWS/{year:04d}/{month:02d}/warc.paths.gz"


def parse_warc_paths(body: bytes) -> list[str]:
    """The WARC paths of a ``warc.paths.gz`` (gunzipped here unless the server already did);
    a line that is not a CC-NEWS WARC path is left out."""
    if body[:2] == GZIP_MAGIC:
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
) -> tuple[list[str] | None, list[FetchResult]]:
    """The WARC paths of one CC-NEWS month, or None when the news crawl has no such month
    (404 or 403, as the bucket answers a missing key), and every request for its list (for
    the fetch log); raises :class:`ArchiveError`, which holds them too."""
    attempts = archive_get(
        client,
        ccnews_listing_url(settings, year, month),
        settings,
        throttle,
        accept=None,
        sleep=sleep,
        data=True,
    )
    if attempts[-1].status in {403, 404}:
        return None, attempts
    return read_list(attempts, "CC-NEWS file list failed", parse_warc_paths)


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
        self.ended = False  # a read found the end of the stream

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.raw.read(size)  # type: ignore[attr-defined]
        self.ended = self.ended or (not data and size != 0)
        self.count += len(data)
        self.last += data
        if len(self.last) > 2 * self.KEEP:
            del self.last[: len(self.last) - self.KEEP]
        return data


def _member_cut(records: ArchiveIterator | None) -> bool:
    """Whether the gzip member warcio is reading was never finished: the stream ended inside it
    (a file cut in a record's last bytes, its gzip CRC and length: warcio reads the record whole
    and says nothing; cut in its headers, it fails with what it could not parse)."""
    decompressor = getattr(getattr(records, "reader", None), "decompressor", None)
    return decompressor is not None and not getattr(decompressor, "eof", True)


def _peek_record(head: bytes) -> tuple[str | None, datetime | None]:
    """The WARC-Target-URI and WARC-Date of a record's first bytes (gzipped or not), for a
    record too short to parse."""
    try:
        text = (
            zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head[:65536])
            if head[:2] == GZIP_MAGIC
            else head
        )
    except zlib.error:
        return None, None
    headers = text.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace") + ("\n" if b"\r\n\r\n" in text else "")
    uri = re.search(r"^WARC-Target-URI:[ \t]*(\S+)\r?\n", headers, re.M | re.I)  # a whole line only
    date = re.search(r"^WARC-Date:[ \t]*(\S+)\r?\n", headers, re.M | re.I)
    return (uri[1] if uri else None), (_warc_date(date[1]) if date else None)


def _warc_date(value: str | None) -> datetime | None:
    """A record's WARC-Date, or None when it has none or it is malformed."""
    if not value:
        return None
    try:
        return iso_time(value)
    except ValueError:
        return None


class WarcStream:
    """The records of a WARC file from byte ``start`` on, read from the HTTP stream with
    ``warcio`` (nothing is stored: memory stays flat for a file of a gigabyte).

    A connection lost, a read that times out or a stream under ``VEILLE_STREAM_MIN_RATE``
    (:class:`~monitors.collect.http.TooSlow`) resumes with a ``Range`` from the end of the
    last complete record, with backoff, the archive's request slot free while it waits; after
    ``VEILLE_ARCHIVE_RETRIES`` failures in a row without progress, :class:`ArchiveError`.
    Bytes at the end that make no record (a cut file, the stream ending cleanly inside a gzip
    member, even in its last bytes) come as one entry with its ``problem``, as does a record
    ``warcio`` cannot read (a corrupt gzip member: the rest of the file cannot be found again,
    so it ends there).
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
        pause: float | None = None  # the backoff before the next request, out of the last one's slot
        while True:
            if pause is not None:
                self.sleep(pause)
                pause = None
            headers = {"Range": f"bytes={position}-"} if position else None
            wait_for_pause(self.throttle, self.url, self.sleep)
            with open_stream(
                self.client, self.url, self.settings, throttle=self.throttle, extra_headers=headers
            ) as (result, response):
                if response is not None and result.content_type in HTML_TYPES:  # no WARC file
                    result, response = not_data(result), None  # a proxy's or busy server's page
                self.fetches.append(result)
                pause_asked(self.throttle, result)  # a 429's Retry-After: every job waits
                if response is None:
                    if result.status == 416:  # nothing from there on: the file was read to its end
                        return
                    if result.error_class == TRANSIENT and failures < self.settings.archive_retries:
                        pause = backoff_delay(self.settings, failures, result.retry_after)
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
                records: ArchiveIterator | None = None
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
                        problem = None
                        if missing > 0:
                            problem = f"truncated WARC record at byte {start}: {missing} bytes missing"
                        elif _member_cut(records):
                            problem = (
                                f"truncated WARC record at byte {start}: the file ends {length} bytes"
                                " into it, before the end of its gzip member"
                            )
                        entry = WarcEntry(start, length, uri, date, problem)
                        end = entry.end
                        failures = 0
                        yield entry
                except (Urllib3Error, OSError) as exc:
                    lost = FetchResult(self.url, self.url, "error", error_class=TRANSIENT)
                    cut = f"stream cut at byte {base + reader.count}"
                    if isinstance(exc, TooSlow):  # the cause first: "too slow: HOST sent N bytes in S s, ..."
                        lost.reason = f"{exc}; {cut}"
                    else:
                        lost.reason = f"{cut}: {network_reason(exc, self.url)}"
                    self.fetches.append(lost)
                    if failures >= self.settings.archive_retries:
                        tries = f"after {failures + 1} attempts"
                        raise ArchiveError(
                            f"CC-NEWS WARC file failed: {lost.reason} {tries} ({self.url})", self.fetches
                        ) from exc
                    pause = backoff_delay(self.settings, failures, None)
                    failures += 1
                    position = end
                    continue
                except Exception as exc:  # noqa: BLE001 - ArchiveLoadFailed, zlib.error, EOFError: this record
                    if not (reader.ended and _member_cut(records)):
                        yield WarcEntry(
                            end, 0, None, None, f"corrupt WARC record at byte {end}: {describe(exc)}"
                        )
                        return
                    # the file ends inside the record (its headers cut): said below, as a cut file
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
