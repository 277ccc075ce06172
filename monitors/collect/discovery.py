"""Feed discovery for a feed that failed for good (404, 410, not a feed).

The site's homepage (and the failing URL's own body when it was an HTML page) is searched
for feed links with trafilatura's parser (``<link rel="alternate">``, then feed-looking
``<a href>``); with none, a few usual paths are tried. Each candidate is fetched and must
parse as a feed with entries. The result is a suggestion for a person to review: veille
never switches a source's URL by itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from monitors.collect.encoding import decode_html
from monitors.collect.feeds import FeedError, parse_feed
from monitors.collect.http import Client, fetch
from monitors.collect.results import FEED_TYPES, HTML_TYPES, FetchResult
from monitors.collect.robots import RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.settings import Settings

COMMON_PATHS = ("/feed/", "/rss.xml", "/feed.xml", "/feed.json")
MAX_CANDIDATES = 5


def feed_links(html: bytes, page_url: str, content_type: str | None = None) -> list[str]:
    """Feed URLs an HTML page advertises, absolute, in page order."""
    from trafilatura.feeds import (
        FeedParameters,
        determine_feed,
    )  # at the first page: a poll of feeds alone does without it

    parts = urlsplit(page_url)
    params = FeedParameters(f"{parts.scheme}://{parts.netloc}", parts.hostname or "", page_url)
    try:
        return determine_feed(decode_html(html, content_type), params)
    except Exception:  # noqa: BLE001 - a parser crash means no suggestion, not a failed poll
        return []


def discover_feeds(
    client: Client,
    settings: Settings,
    failed_url: str,
    failed: FetchResult | None = None,
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
) -> tuple[dict[str, Any], list[FetchResult]]:
    """Look for working feeds of ``failed_url``'s site; returns (suggestion, fetches made)."""
    parts = urlsplit(failed_url)
    homepage = f"{parts.scheme}://{parts.netloc}/"
    fetches: list[FetchResult] = []
    candidates: list[str] = []
    if failed is not None and failed.ok and failed.content_type in HTML_TYPES:
        candidates += feed_links(failed.content or b"", failed.final_url, failed.headers.get("content-type"))
    home = fetch(client, homepage, settings, accept=HTML_TYPES, throttle=throttle, robots=robots)
    fetches.append(home)
    if home.ok:
        candidates += feed_links(home.content or b"", home.final_url, home.headers.get("content-type"))
    if not candidates:
        candidates = [f"{parts.scheme}://{parts.netloc}{p}" for p in COMMON_PATHS]
    feeds: list[dict[str, Any]] = []
    for url in list(dict.fromkeys(c for c in candidates if c != failed_url))[:MAX_CANDIDATES]:
        result = fetch(client, url, settings, accept=FEED_TYPES, throttle=throttle, robots=robots)
        fetches.append(result)
        if not result.ok:
            continue
        try:
            parsed = parse_feed(result.content or b"", result.final_url, result.headers.get("content-type"))
        except FeedError:
            continue
        if parsed.entries:
            feeds.append({"url": result.final_url, "title": parsed.title, "entries": len(parsed.entries)})
    suggestion = {
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "homepage": homepage,
        "homepage_status": home.status or home.reason,
        "feeds": feeds,
    }
    return suggestion, fetches
