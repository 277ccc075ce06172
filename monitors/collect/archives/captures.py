"""A capture fetched from its archive (never from the site): Wayback's raw page, or a Common
Crawl / CC-NEWS record read by byte range from its WARC file; a redirect, a soft 404 or a page
that is not HTML is skipped with the reason."""

from __future__ import annotations

import dataclasses
import io
import time

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from monitors.collect.archives.common import WAYBACK, Capture, Sleep, archive_get
from monitors.collect.archives.wayback import original_of, time_of
from monitors.collect.http import Client
from monitors.collect.results import HTML_TYPES, PERMANENT, FetchResult
from monitors.collect.throttle import HostThrottle
from monitors.errors import describe
from monitors.not_found import soft_404
from monitors.settings import Settings


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


def served_capture(capture: Capture, result: FetchResult, settings: Settings) -> Capture:
    """The capture whose page ``result`` holds: the listed one, or for a Wayback capture whose
    playback redirected to the same page at another time (the nearest capture it can serve),
    that one, so the article's ``captured_at`` and ``archived_url`` say where its text is from."""
    if capture.archive != WAYBACK or not result.ok or result.final_url == capture.archived_url:
        return capture
    when = time_of(result.final_url, settings)
    if when is None or when == capture.captured_at:
        return capture
    return dataclasses.replace(capture, archived_url=result.final_url, captured_at=when)


def _same_page(a: str, b: str) -> bool:
    """Whether two URLs name one page: one canonical URL but for the scheme (the backfill
    queues a capture archived under http:// under the site's https://, or the other way)."""
    from monitors.group.urls import canonicalize_url

    try:
        return canonicalize_url(a).split(":", 1)[1] == canonicalize_url(b).split(":", 1)[1]
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
        data=True,  # an HTML page is no record: a proxy's or a busy server's, tried again
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
        declared_type = (record.http_headers.get_header("Content-Type") or "").strip()
        ctype = declared_type.split(";")[0].strip().lower()
        declared = record.http_headers.get_header("Content-Length")
        payload = record.content_stream().read()
    except (ArchiveLoadFailed, Exception) as exc:  # noqa: BLE001 - zlib.error, EOF: this record only
        return _error(result, f"truncated or corrupt WARC record: {describe(exc)}")
    result.status = status
    # whole, charset included: it may be the only one the page has (no <meta charset>)
    result.headers = {"content-type": declared_type} if ctype else {}
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
