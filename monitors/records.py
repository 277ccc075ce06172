"""The records the pipeline's stages hand each other: a claimed row of the URL queue
(:class:`QueueItem`), an analysed page (:class:`ArticleData`) and what became of one queued URL
(:class:`IngestOutcome`).

Plain data, importing no stage: collection (``monitors.collect.backfill_jobs``) and the archive
(``monitors.archive.queue``, ``monitors.archive.articles``) use them without loading the judging
modules the ingest stage (``monitors.ingest``) composes (``tests/test_layers.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    #: ``feed_published_at`` is the item's publication as the feed states it (FeedEntry)
    feed_published_explicit: bool | None = False


@dataclass
class ArticleData:
    """An analysed page, as the archive stores it (``articles``, its HTML, its ``article_topics``
    rows and what it teaches about its site)."""

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
    signature: list[int]  # MinHash of the text, for near-duplicate lookup (monitors.group.neardup)
    modified_at: datetime | None = None
    paywalled: bool = False
    truncated: bool = False
    access_reasons: list[str] | None = None
    extraction_evidence: dict | None = None
    topic_scores: list[dict] = field(default_factory=list)  # article_topics rows, every topic
    site: str = ""
    blocks: dict[int, str] = field(default_factory=dict)  # what the page teaches about its site
    title_segments: tuple[str, ...] = ()
    #: a web-archive capture: the archive, the capture's URL there and when it was taken;
    #: written with the article and its sighting (one INSERT each, no UPDATE after)
    archive: str | None = None
    archived_url: str | None = None
    captured_at: datetime | None = None

    def relevant_to_a_topic(self) -> bool:
        """Relevant to the main topic or to any active topic of the folder (``article_topics``):
        what a run and a backfill count as relevant."""
        return self.relevant or any(row["relevant"] for row in self.topic_scores)


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
    """What became of one queued URL: its article, or why none (outcome, error class, reason),
    and what its fetch said (for ``fetch_log``)."""

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
    unreached: str | None = None  # the fetch reached no server: how (FetchResult.unreached)
    host: str | None = None  # its last request's host, None when none was sent (FetchResult.host)
    #: not asked, its host on hold (FetchResult.held): the attempt is not spent
    deferred: bool = False
    #: refused for a non-public address (FetchResult.private_address): queued again once
    #: VEILLE_ALLOW_PRIVATE_NETWORK allows it (monitors.archive.queue.requeue_private_refusals)
    private_address: bool = False
    #: what the response's headers said wrongly (FetchResult.transport), for fetch_log
    transport: tuple[str, ...] = ()
