"""Database schema: sources, URL queue, articles and their satellites, fetch log.

The schema changes only through Alembic migrations in ``migrations/``; these models
describe the head revision and are what the code queries.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    column,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def table(model: Any) -> Table:
    """A model's Core table (the page and poll paths build their statements on it once)."""
    return cast(Table, model.__table__)


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
    }


SOURCE_KINDS = ("feed", "sitemap", "listing")
OWNERS = ("media", "party")
SOURCE_STATUSES = ("active", "failing", "disabled")
QUEUE_STATES = ("pending", "fetched", "failed", "skipped")
#: how a queued URL was found: live polling, a backfill of the site's past, a web archive's capture
FOUND_BY = ("poll", "backfill", "archive")


class Source(Base):
    """A polled source, with its HTTP validators and its health kept as columns."""

    __tablename__ = "sources"
    __table_args__ = (
        CheckConstraint(f"kind IN {SOURCE_KINDS}", name="sources_kind"),
        CheckConstraint(f"owner IN {OWNERS}", name="sources_owner"),
        CheckConstraint(f"status IN {SOURCE_STATUSES}", name="sources_status"),
        CheckConstraint(f"fallback_kind IN {SOURCE_KINDS}", name="sources_fallback_kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(Text)
    family: Mapped[str | None] = mapped_column(Text)
    link_pattern: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="active")
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, server_default="3600")
    declared_interval_seconds: Mapped[int | None] = mapped_column(Integer)
    last_polled_at: Mapped[datetime | None]
    next_poll_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_item_at: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    total_failures: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_class: Mapped[str | None] = mapped_column(Text)
    not_modified_count: Mapped[int] = mapped_column(Integer, server_default="0")
    new_items_count: Mapped[int] = mapped_column(Integer, server_default="0")
    suggested_feeds: Mapped[dict[str, Any] | None]
    fallback_url: Mapped[str | None] = mapped_column(Text)  # polled when the url fails for good
    fallback_kind: Mapped[str | None] = mapped_column(Text)
    fallback_since: Mapped[datetime | None]  # when veille last moved to the fallback
    blocked_at: Mapped[datetime | None]  # the url was last seen refusing veille (401/403/429, challenge)
    blocked_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class QueuedUrl(Base):
    """A discovered entry waiting to be fetched, or the record of what became of it."""

    __tablename__ = "url_queue"
    __table_args__ = (
        CheckConstraint(f"state IN {QUEUE_STATES}", name="url_queue_state"),
        CheckConstraint(f"found_by IN {FOUND_BY}", name="url_queue_found_by"),
        Index("url_queue_due", "next_attempt_at", postgresql_where="state = 'pending'"),
        # veille sources' new items in 7 days (health.source_rows; migration 0044)
        Index(
            "url_queue_poll_discovered",
            "discovered_at",
            "source_id",
            postgresql_where="found_by = 'poll'",
        ),
        # veille backfill's progress bar: the rows touched since the run began (migration 0045)
        Index("url_queue_updated", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[int | None] = mapped_column(BigInteger)  # the claimer's token (monitors.archive.queue)
    feed_title: Mapped[str | None] = mapped_column(Text)
    feed_author: Mapped[str | None] = mapped_column(Text)
    feed_summary: Mapped[str | None] = mapped_column(Text)
    feed_published_at: Mapped[datetime | None]
    #: the feed's date is the item's publication (pubDate, Atom published, JSON Feed
    #: date_published, a news sitemap's), not its last change nor a listing's (migration 0050)
    feed_published_explicit: Mapped[bool | None]
    feed_language: Mapped[str | None] = mapped_column(Text)  # the feed's <language>, ISO 639-1
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"), index=True)
    discovered_at: Mapped[datetime] = mapped_column(server_default=func.now())
    #: who queued it first (FOUND_BY): only live polling's are a source's new items of the week
    found_by: Mapped[str] = mapped_column(Text, server_default="poll")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class UrlListing(Base):
    """A source that listed a queued URL; the queue row belongs to the first such source, and
    every listing becomes a sighting of the article the URL led to."""

    __tablename__ = "url_listings"
    __table_args__ = (Index("url_listings_source", "source_id"),)

    queue_id: Mapped[int] = mapped_column(ForeignKey("url_queue.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    url: Mapped[str] = mapped_column(Text, primary_key=True)
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Article(Base):
    """One stored article; every fetched article is kept, relevant or not."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("articles_search", "search", postgresql_using="gin"),
        Index("articles_published_at", "published_at"),
        Index("articles_relevant", "relevant", "published_at"),
        Index("ix_articles_story_member", "story_id", "id"),
        # the signatures of an older scheme the daily maintenance recomputes (migration 0041)
        Index("articles_old_signature", "id", postgresql_where="signature_scheme < 2"),
        CheckConstraint(
            "declared_language_source IN ('page', 'feed')", name="articles_declared_language_source"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    canonical_url: Mapped[str] = mapped_column(Text, unique=True)
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    fetched_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
    language: Mapped[str | None] = mapped_column(Text)
    language_confidence: Mapped[float | None] = mapped_column(Float)
    declared_language: Mapped[str | None] = mapped_column(Text)
    #: "page" (its <html lang>, else its metadata's: og:locale...) or "feed" (when the page declares none)
    declared_language_source: Mapped[str | None] = mapped_column(Text)
    relevance: Mapped[float | None] = mapped_column(Float)
    relevant: Mapped[bool | None]
    relevance_terms: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    relevance_evidence: Mapped[dict[str, Any] | None]
    topic_version: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(Text, unique=True)
    signature: Mapped[list[int] | None] = mapped_column(ARRAY(BigInteger))
    #: the words ``signature`` was made of (monitors.group.dedup.SIGNATURE_SCHEME); an older
    #: one is recomputed by the daily maintenance
    signature_scheme: Mapped[int] = mapped_column(SmallInteger, server_default="2")
    duplicate_of: Mapped[int | None] = mapped_column(
        ForeignKey("articles.id", ondelete="SET NULL"), index=True
    )
    cluster_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    story_score: Mapped[float | None] = mapped_column(Float)
    wire: Mapped[str | None] = mapped_column(Text)
    #: where a backfill read it (the capture in a web archive) and when the archive took it
    archived_url: Mapped[str | None] = mapped_column(Text)
    captured_at: Mapped[datetime | None]
    #: the page's own modification date, kept apart from the publication date
    modified_at: Mapped[datetime | None]
    #: behind a paywall / cut short, with why (monitors.judge.paywall)
    paywalled: Mapped[bool] = mapped_column(server_default="false")
    truncated: Mapped[bool] = mapped_column(server_default="false")
    access_reasons: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    #: where the title and dates came from, dates that disagreed, boilerplate removed
    extraction_evidence: Mapped[dict[str, Any] | None]
    search: Mapped[str] = mapped_column(
        TSVECTOR,
        Computed(
            # accents folded, then French stemming (migration 0012_french_unaccent)
            "setweight(to_tsvector('french_unaccent'::regconfig, veille_unaccent(coalesce(title, ''))), 'A')"
            " || setweight(to_tsvector('french_unaccent'::regconfig, "
            "veille_unaccent(coalesce(description, ''))), 'B')"
            " || setweight(to_tsvector('french_unaccent'::regconfig, veille_unaccent(text)), 'C')",
            persisted=True,
        ),
    )


class ArticleHtml(Base):
    """The raw page as fetched, zlib-compressed, kept apart so article scans stay light."""

    __tablename__ = "article_html"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True)
    content_type: Mapped[str | None] = mapped_column(Text)
    html_zlib: Mapped[bytes] = mapped_column(LargeBinary)
    fetched_at: Mapped[datetime] = mapped_column(server_default=func.now())


class Sighting(Base):
    """Every source and URL that carried an article."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("article_id", "source_id", "url", name="sightings_unique"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    archive: Mapped[str | None] = mapped_column(Text)  # wayback | commoncrawl | ccnews: seen in that archive
    archived_url: Mapped[str | None] = mapped_column(Text)


class ArticleRevision(Base):
    """An earlier version of an article whose text changed at the same canonical URL."""

    __tablename__ = "article_revisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    revised_at: Mapped[datetime] = mapped_column(server_default=func.now())
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    text_hash: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any] | None]


class ArticleBand(Base):
    """Locality-sensitive hashing band keys of article signatures, for near-duplicate lookup.

    ``article_id`` has no foreign key (32 checks per stored article); a trigger on
    ``articles`` deletes the band rows of deleted articles (migration 0006).
    """

    __tablename__ = "article_bands"
    __table_args__ = (Index("article_bands_article", "article_id"),)

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    article_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class SiteBlock(Base):
    """A block or ``<title>`` segment seen on a site's pages, and on how many (monitors.judge.boilerplate)."""

    __tablename__ = "site_blocks"
    __table_args__ = (CheckConstraint("kind IN ('block', 'title')", name="site_blocks_kind"),)

    site: Mapped[str] = mapped_column(Text, primary_key=True)
    kind: Mapped[str] = mapped_column(Text, primary_key=True)
    fingerprint: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pages: Mapped[int] = mapped_column(Integer, server_default="1")
    sample: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


class FetchLog(Base):
    """One line per HTTP attempt (or refusal), so failures are queryable, not just logged."""

    __tablename__ = "fetch_log"
    __table_args__ = (
        Index("fetch_log_at", "at"),
        # the child sitemaps a source's polls read (polls._sitemaps_read; migration 0024)
        Index(
            "fetch_log_sitemap_children",
            "source_id",
            "at",
            postgresql_where="kind = 'sitemap-child' AND outcome = 'ok'",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    run_id: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("url_queue.id", ondelete="SET NULL"), index=True)
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(Text)
    error_class: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None] = mapped_column(Integer)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    #: how the fetch failed before reaching a server (monitors.collect.results.UNREACHED, NOT_SENT;
    #: 0029, 0031, 0032)
    unreached: Mapped[str | None] = mapped_column(Text)
    #: what the response's headers said wrongly and how the body was read all the same
    #: (FetchResult.transport, "; " between two; 0052)
    transport: Mapped[str | None] = mapped_column(Text)


class Story(Base):
    """One news event across outlets and languages (migration 0008, monitors/group/story_store.py).

    Counts, outlets, span and the central article (highest ``articles.story_score``) are kept
    up to date by the store's write statement and recomputed from the members by the SQL
    function ``story_refresh`` on article delete and on merge."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime] = mapped_column(index=True)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"))
    language: Mapped[str | None] = mapped_column(Text)
    articles: Mapped[int] = mapped_column(Integer, server_default="0")
    outlets: Mapped[int] = mapped_column(Integer, server_default="0")
    media: Mapped[int] = mapped_column(Integer, server_default="0")
    parties: Mapped[int] = mapped_column(Integer, server_default="0")
    #: the outlets of the members (migration 0017): is an article's outlet new to the story?
    source_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), server_default="{}")
    centroid: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    merged_into: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())


class StoryKey(Base):
    """Candidate lookup for story assignment: a feature id seen in a story on a day. No foreign
    key (migration 0017: the checks cost more than the lookup); a key of a merged story is
    resolved through ``stories.merged_into``."""

    __tablename__ = "story_keys"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    story_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class StoryEvent(Base):
    """Why a story id exists or went away: created, merged (into ``other_story_id``), split."""

    __tablename__ = "story_events"
    __table_args__ = (CheckConstraint("kind IN ('created', 'merged', 'split')", name="story_events_kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=func.now())
    story_id: Mapped[int] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(Text)
    other_story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id", ondelete="SET NULL"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any] | None]


ARCHIVES = ("wayback", "commoncrawl", "ccnews")
JOB_STATES = ("pending", "discovering", "fetching", "done", "error")


class BackfillJob(Base):
    """One backfill from a web archive over one site and one month chunk, with its cursor
    (CDX resume key; crawl and page for Common Crawl) so an interrupted backfill resumes."""

    __tablename__ = "backfill_jobs"
    __table_args__ = (
        CheckConstraint(f"archive IN {ARCHIVES}", name="backfill_jobs_archive"),
        CheckConstraint(f"state IN {JOB_STATES}", name="backfill_jobs_state"),
        UniqueConstraint(
            "archive", "site", "window_start", "window_end", "warc_file", name="backfill_jobs_chunk"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    archive: Mapped[str] = mapped_column(Text)
    site: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    state: Mapped[str] = mapped_column(Text, server_default="pending")
    crawl: Mapped[str | None] = mapped_column(Text)
    page: Mapped[int] = mapped_column(Integer, server_default="0")
    pages: Mapped[int | None] = mapped_column(Integer)
    resume_key: Mapped[str | None] = mapped_column(Text)
    #: CC-NEWS: the job's WARC file ('' for the CDX archives) and the byte where its first
    #: record not yet processed starts
    warc_file: Mapped[str] = mapped_column(Text, server_default="")
    warc_offset: Mapped[int] = mapped_column(BigInteger, server_default="0")
    discovered: Mapped[int] = mapped_column(Integer, server_default="0")
    queued: Mapped[int] = mapped_column(Integer, server_default="0")
    filtered: Mapped[int] = mapped_column(Integer, server_default="0")
    malformed: Mapped[int] = mapped_column(Integer, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    relevant_only: Mapped[bool] = mapped_column(server_default="false")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
    discovered_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class _CapturePlace:
    """Where a capture lives in its archive: the Wayback URL, or the WARC file and range."""

    archive: Mapped[str] = mapped_column(Text)
    archived_url: Mapped[str] = mapped_column(Text)
    captured_at: Mapped[datetime]
    warc_filename: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)


class ArchiveCapture(_CapturePlace, Base):
    """Where a queued URL found by a backfill lives in its archive."""

    __tablename__ = "archive_captures"
    __table_args__ = (Index("archive_captures_job", "job_id"),)

    queue_id: Mapped[int] = mapped_column(ForeignKey("url_queue.id", ondelete="CASCADE"), primary_key=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("backfill_jobs.id", ondelete="CASCADE"))
    relevance: Mapped[float | None] = mapped_column(Float)  # set when --relevant-only did not store it
    # what storing it as an article did: stored, revised, unchanged or duplicate (migration 0037)
    outcome: Mapped[str | None] = mapped_column(Text)


class ArchiveCaptureAlternate(_CapturePlace, Base):
    """Another capture a backfill found of a queued page (migration 0038): the oldest takes the
    place of its ``archive_captures`` row when that one comes to nothing."""

    __tablename__ = "archive_capture_alternates"
    __table_args__ = (
        Index(
            "archive_capture_alternates_capture",
            "queue_id",
            "archived_url",
            func.coalesce(column("warc_offset"), -1),
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("url_queue.id", ondelete="CASCADE"))


class SourceProblem(Base):
    """A bad entry of a sources file, left out of the runs until it is fixed (migration 0028):
    a file's rows are its bad entries as its last load found them (monitors/collect/sources.py)."""

    __tablename__ = "source_problems"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    file: Mapped[str] = mapped_column(Text)  # the sources file, its absolute path
    line: Mapped[int] = mapped_column(Integer)  # the line named in the warning (0: not found)
    name: Mapped[str | None] = mapped_column(Text)  # the entry's name, if it has one
    url: Mapped[str | None] = mapped_column(Text)  # the entry's url, if it is a string
    reason: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(server_default=func.now())


# one row per (file, line, reason); md5: a reason may quote a value of any length, and a file
# path be long, past what a btree index entry takes (2,704 bytes)
Index(
    "source_problems_key",
    func.md5(SourceProblem.file),
    SourceProblem.line,
    func.md5(SourceProblem.reason),
    unique=True,
)
