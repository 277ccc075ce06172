"""The Internet Archive (Wayback Machine): the CDX server (``/cdx/search/cdx``), a prefix query
on the site over the window, HTML with status 200, collapsed by URL key, paged with its resume
key; captures read raw (``/web/<timestamp>id_/<url>``, without the archive's banner)."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from urllib.parse import urlencode

from monitors.collect.archives.common import (
    WAYBACK,
    ArchiveError,
    Capture,
    CdxPage,
    Sleep,
    archive_get,
    cdx_time,
    http_url,
    json_failure,
    parse_cdx_time,
    read_list,
)
from monitors.collect.http import Client
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings

WAYBACK_FIELDS = ("urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length")


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


def parse_wayback_cdx(body: bytes, settings: Settings) -> CdxPage:
    """A Wayback CDX JSON answer: a header row, capture rows, then (with ``showResumeKey``)
    an empty row and the resume key. A row that cannot be read is kept as malformed."""
    try:
        rows = json.loads(body.decode("utf-8")) if body.strip() else []
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, nested too deep to read
        raise ArchiveError(f"CDX answer is not JSON: {json_failure(exc)}") from exc
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
            original = http_url(rec["original"])
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
        client,
        wayback_query(settings, site, since, until, resume_key),
        settings,
        throttle,
        sleep=sleep,
        data=True,
    )
    page, fetches = read_list(
        attempts, "Wayback CDX query failed", lambda body: parse_wayback_cdx(body, settings)
    )
    page.fetches = fetches
    return page


def _capture_parts(wayback_url: str, settings: Settings) -> re.Match[str] | None:
    return re.match(re.escape(settings.wayback_url) + r"/web/(\d{1,14})[a-z_]*/(.+)$", wayback_url)


def original_of(wayback_url: str, settings: Settings) -> str | None:
    """The original URL inside a Wayback capture URL (``.../web/<ts>[id_]/<original>``)."""
    m = _capture_parts(wayback_url, settings)
    return m.group(2) if m else None


def time_of(wayback_url: str, settings: Settings) -> datetime | None:
    """The time of a Wayback capture URL (``.../web/<ts>[id_]/<original>``), UTC."""
    m = _capture_parts(wayback_url, settings)
    try:
        return parse_cdx_time(m.group(1)) if m else None
    except ValueError:
        return None
