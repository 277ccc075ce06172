"""Common Crawl: the crawls listed by ``collinfo.json`` whose dates meet the window, each
crawl's CDX index (pywb, JSON lines, ``page=N`` of ``showNumPages``); records are read by byte
range from the WARC file (:mod:`monitors.collect.archives.captures`)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from monitors.collect.archives.common import (
    COMMONCRAWL,
    ArchiveError,
    Capture,
    CdxPage,
    Sleep,
    archive_get,
    cdx_time,
    http_url,
    iso_time,
    json_failure,
    ok_or_raise,
    parse_cdx_time,
    read_list,
)
from monitors.collect.http import Client
from monitors.collect.results import FetchResult
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings


@dataclass(frozen=True)
class Crawl:
    """A Common Crawl crawl from ``collinfo.json``."""

    id: str
    cdx_api: str
    start: datetime
    end: datetime


def parse_collinfo(body: bytes) -> list[Crawl]:
    """The crawls of ``collinfo.json``, with their dates: ``from``/``to`` when given, else the
    fortnight before the week in the crawl's id (``CC-MAIN-2025-08``: week 8 of 2025)."""
    try:
        entries = json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise ArchiveError(f"Common Crawl collinfo.json is not JSON: {json_failure(exc)}") from exc
    crawls = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or "id" not in entry or "cdx-api" not in entry:
            continue
        try:
            if entry.get("from") and entry.get("to"):
                start, end = iso_time(entry["from"]), iso_time(entry["to"])
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
) -> tuple[list[Crawl], list[FetchResult]]:
    """The crawls ``collinfo.json`` lists, and every request for it (for the fetch log);
    raises :class:`ArchiveError`, which holds them too."""
    attempts = archive_get(
        client, f"{settings.commoncrawl_index_url}/collinfo.json", settings, throttle, sleep=sleep, data=True
    )
    return read_list(attempts, "Common Crawl crawl list failed", parse_collinfo)


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
    attempts = archive_get(client, url, settings, throttle, sleep=sleep, data=True)
    return read_list(attempts, f"Common Crawl index {crawl.id} failed", parse_num_pages)


def parse_num_pages(body: bytes) -> int:
    """The page count of a ``showNumPages`` answer; raises :class:`ArchiveError`."""
    try:
        return int(json.loads((body or b"{}").decode("utf-8"))["pages"])
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        raise ArchiveError(f"Common Crawl showNumPages answer unreadable: {json_failure(exc)}") from exc


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
            original = http_url(rec.get("url"))
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
            reason = f"malformed CDX line: {json_failure(exc)}"
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
    attempts = archive_get(client, url, settings, throttle, sleep=sleep, data=True)
    last = attempts[-1]
    if last.status == 404 and b"No Captures found" in (last.content or b""):
        return CdxPage(fetches=attempts)  # pywb's answer for a query with no capture
    result = ok_or_raise(attempts, f"Common Crawl index {crawl.id} failed")
    out = parse_commoncrawl_cdx(result.content or b"", settings)
    out.fetches = attempts
    return out
