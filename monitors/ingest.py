"""Ingest stage: one queued URL in, an article ready to store (or a classified failure) out.

Fetch, extract, detect language, score relevance, fingerprint: everything but the database.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from monitors.boilerplate import SiteProfile, site_of
from monitors.dedup import fingerprint
from monitors.extract import ExtractionError, extract_article
from monitors.http import HTML_TYPES, PERMANENT, Client, FetchResult, HostThrottle, fetch
from monitors.language import detect_language, normalize_declared_language
from monitors.relevance import Topic, score_relevance
from monitors.robots import RobotsCache
from monitors.settings import Settings
from monitors.topic_scores import topic_row
from monitors.urls import canonicalize_url


@dataclass(frozen=True)
class QueueItem:
    """A claimed row of the URL queue, with what the feed said about it."""

    id: int
    source_id: int
    url: str
    canonical_url: str
    attempts: int = 0
    feed_title: str | None = None
    feed_author: str | None = None
    feed_published_at: datetime | None = None
    feed_language: str | None = None


@dataclass
class ArticleData:
    url: str
    canonical_url: str
    title: str | None
    author: str | None
    description: str | None
    published_at: datetime | None
    text: str
    text_hash: str
    language: str
    language_confidence: float
    declared_language: str | None
    declared_language_source: str | None
    relevance: float
    relevant: bool
    relevance_terms: list[str]
    relevance_evidence: dict
    topic_version: str
    content_type: str | None
    html_zlib: bytes
    signature: list[int]  # MinHash of the text, for near-duplicate lookup (monitors.neardup)
    modified_at: datetime | None = None
    paywalled: bool = False
    truncated: bool = False
    access_reasons: list[str] | None = None
    extraction_evidence: dict | None = None
    topic_scores: list[dict] = field(default_factory=list)  # article_topics rows, every topic
    site: str = ""
    blocks: dict[int, str] = field(default_factory=dict)  # what the page teaches about its site
    title_segments: tuple[str, ...] = ()


def extraction_columns(a: ArticleData) -> dict[str, object]:
    """The article columns the extraction adds beyond text and metadata (migration 0011)."""
    return {
        "modified_at": a.modified_at,
        "paywalled": a.paywalled,
        "truncated": a.truncated,
        "access_reasons": a.access_reasons,
        "extraction_evidence": a.extraction_evidence,
    }


@dataclass
class IngestOutcome:
    item: QueueItem
    article: ArticleData | None = None
    outcome: str = "ok"  # ok | error | refused | skipped
    error_class: str | None = None
    reason: str | None = None
    retry_after: float | None = None
    status: int | None = None
    bytes: int = 0
    elapsed_ms: int = 0
    final_url: str | None = None


def _published(extracted: datetime | None, feed: datetime | None) -> datetime | None:
    """The page's date, unless the feed gives the same day with a time (more precise)."""
    if extracted is None:
        return feed
    if feed is not None and feed.date() == extracted.date():
        return feed
    return extracted


def pick_declared_language(page: str | None, feed: str | None) -> tuple[str | None, str | None]:
    """The page's <html lang> when it has one, else the feed's language; and which it was."""
    page_lang = normalize_declared_language(page)
    if page_lang:
        return page_lang, "page"
    feed_lang = normalize_declared_language(feed)
    return (feed_lang, "feed") if feed_lang else (None, None)


def process_item(
    client: Client,
    settings: Settings,
    item: QueueItem,
    topic: Topic,
    throttle: HostThrottle | None = None,
    robots: RobotsCache | None = None,
    topics: Sequence[Topic] = (),
    site: SiteProfile | None = None,
) -> IngestOutcome:
    """Fetch and analyse one page; never raises for bad pages, classifies instead.

    ``topic`` scores the article's own relevance columns; every topic of ``topics`` (the active
    topic folder) gives an ``article_topics`` row. ``site`` is what the site's earlier pages
    taught (:func:`monitors.site_profiles.load_profile`).
    """
    result = fetch(client, item.url, settings, accept=HTML_TYPES, throttle=throttle, robots=robots)
    return analyse_page(item, result, topic, topics=topics, site=site)


def analyse_page(
    item: QueueItem,
    result: FetchResult,
    topic: Topic,
    page_url: str | None = None,
    topics: Sequence[Topic] = (),
    site: SiteProfile | None = None,
) -> IngestOutcome:
    """Extract, detect the language, score and fingerprint a fetched page (the same steps
    for a live page and for a web-archive capture, whose ``page_url`` is its original URL)."""
    out = IngestOutcome(
        item=item,
        outcome=result.outcome,
        error_class=result.error_class,
        reason=result.reason,
        retry_after=result.retry_after,
        status=result.status,
        bytes=result.size,
        elapsed_ms=result.elapsed_ms,
        final_url=result.final_url,
    )
    if not result.ok:
        return out
    html = result.content or b""
    page_url = page_url or result.final_url
    try:
        extracted = extract_article(html, page_url, result.headers.get("content-type"), site=site)
    except ExtractionError as exc:
        out.outcome, out.error_class, out.reason = "error", PERMANENT, str(exc)
        return out
    except Exception as exc:  # noqa: BLE001 - a parser crash on one page must not stop the run
        out.outcome, out.error_class = "error", PERMANENT
        out.reason = f"extraction failed: {type(exc).__name__}: {exc}"
        return out
    try:
        canonical = canonicalize_url(page_url, rel_canonical=extracted.canonical_url)
    except ValueError:
        canonical = item.canonical_url
    title = extracted.title or item.feed_title
    lang = detect_language(extracted.text, title=title)
    published = _published(extracted.published_at, item.feed_published_at)
    day = published.date() if published else None
    rel_result = score_relevance(
        topic, extracted.text, title=title, description=extracted.description, published_at=day
    )
    topic_scores = [
        topic_row(
            t,
            rel_result
            if t.name == topic.name and t.version == topic.version
            else score_relevance(
                t, extracted.text, title=title, description=extracted.description, published_at=day
            ),
        )
        for t in topics
    ]
    hashed, sig = fingerprint(extracted.text)
    declared, declared_source = pick_declared_language(extracted.declared_language, item.feed_language)
    out.article = ArticleData(
        url=item.url,
        canonical_url=canonical,
        title=title,
        author=extracted.author or item.feed_author,
        description=extracted.description,
        published_at=published,
        text=extracted.text,
        text_hash=hashed,
        language=lang.language,
        language_confidence=lang.confidence,
        declared_language=declared,
        declared_language_source=declared_source,
        relevance=rel_result.score,
        relevant=rel_result.relevant,
        relevance_terms=list(rel_result.terms),
        relevance_evidence=rel_result.evidence,
        topic_version=rel_result.topic_version,
        content_type=result.content_type or None,
        html_zlib=zlib.compress(html, 6),
        signature=sig,
        modified_at=extracted.modified_at,
        paywalled=extracted.paywalled,
        truncated=extracted.truncated,
        access_reasons=list(extracted.access_reasons) or None,
        extraction_evidence=extracted.evidence,
        topic_scores=topic_scores,
        site=site.site if site else site_of(item.url),
        blocks=extracted.blocks,
        title_segments=extracted.title_segments,
    )
    return out
