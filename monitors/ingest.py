"""Ingest stage: one queued URL in, an article ready to store (or a classified failure) out.

Fetch, extract, detect language, score relevance, fingerprint: everything but the database.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import zlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from monitors.collect.http import Client, fetch
from monitors.collect.results import (
    HTML_TYPES,
    PERMANENT,
    TRANSIENT,
    FetchResult,
    empty_is_transient,
    home_is_gone,
    wall_in_the_way,
)
from monitors.collect.robots import RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.dates import article_day, impossible
from monitors.errors import describe
from monitors.group.dedup import fingerprint
from monitors.group.urls import canonicalize_url
from monitors.judge.boilerplate import SiteProfile, site_of
from monitors.judge.extract import CutShortError, Extracted, ExtractionError, extract_article
from monitors.judge.language import detect_language
from monitors.judge.page_dates import guessed
from monitors.judge.relevance import score_topics, topic_row
from monitors.judge.topic import Topic
from monitors.language_tags import normalize_declared_language
from monitors.records import ArticleData, IngestOutcome, QueueItem
from monitors.settings import Settings
from monitors.workers import Shared, WorkerDied, WorkerResultError, WorkerTimeout, get_pool

#: zlib level of the stored page (``article_html``). On the corpus's 120 pages (112 kB on
#: average): level 6 took 2.2 ms a page for 0.210 of the raw size, level 3 0.95 ms for 0.232,
#: level 1 0.77 ms for 0.244. Level 3 halves the cost for 10% more bytes.
HTML_ZLIB_LEVEL = 3


def _published(
    extracted: datetime | None,
    feed: datetime | None,
    now: datetime | None = None,
    with_time: bool = False,
    feed_explicit: bool | None = False,
    page_guessed: bool = False,
) -> datetime | None:
    """The page's date, unless the page gives only its day (``with_time`` False) and the feed
    gives the same day with a time (more precise), or the page's date is only a guess
    (``page_guessed``: :func:`monitors.judge.page_dates.guessed`) and the feed states the item's
    publication (``feed_explicit``) on another day; the feed's when the page has none. A feed
    date no page date could be (in the future, before the web: :func:`impossible`) is not used."""
    if feed is not None and impossible(feed, now):
        feed = None
    if extracted is None or feed is None:
        return feed if extracted is None else extracted
    if not with_time and article_day(feed) == article_day(extracted):
        return feed
    if feed_explicit and page_guessed and article_day(feed) != article_day(extracted):
        return feed
    return extracted


def _date_evidence(
    extracted: Extracted, feed: datetime | None, published: datetime | None
) -> dict[str, Any] | None:
    """The extraction's evidence, with the feed's part: why its date was refused, or that it
    is the publication date (``published_from`` "feed ...", the page's own in ``published_page``)."""
    evidence = extracted.evidence
    why = impossible(feed) if feed is not None else None
    if feed is not None and why:
        evidence = dict(evidence or {})
        refused = {"source": "feed", "value": feed.isoformat(), "why": why}
        evidence["dates_rejected"] = [*evidence.get("dates_rejected", []), refused]
    elif published is not None and published != extracted.published_at:
        evidence = dict(evidence or {})
        if extracted.published_at is None:
            evidence["published_from"] = "feed (the page gives no date)"
        else:
            page = {"source": evidence.get("published_from"), "value": extracted.published_at.isoformat()}
            evidence["published_page"] = page
            if article_day(published) == article_day(extracted.published_at):
                evidence["published_from"] = "feed (the page's day, with a time)"
            else:
                evidence["published_from"] = "feed (its publication date, over the page's guess)"
                # the page's date now disagrees; its other candidates do unless on the feed's day
                day = article_day(published)
                others = evidence.get("published_disagreeing", [])
                evidence["published_disagreeing"] = [page] + [
                    d for d in others if article_day(datetime.fromisoformat(d["value"])) != day
                ]
                evidence.pop("published_precision", None)  # the feed's names its day, not a month
        # the feed's clock, as the page's (page_dates.choose_dates): the stored timestamptz keeps
        # the instant only, and the export shows it on the site's clock (export.on_site_clock)
        evidence.pop("published_local", None)
        if published.utcoffset():
            evidence["published_local"] = published.isoformat()
    return evidence


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
    taught (:func:`monitors.judge.site_profiles.load_profile`).
    """
    result = fetch(
        client,
        item.url,
        settings,
        accept=HTML_TYPES,
        throttle=throttle,
        robots=robots,
        follow_refresh=True,
        hold_host=True,
    )
    result = empty_is_transient(result)  # a live page's empty 200: tried again, not lost
    result = home_is_gone(result)
    result = wall_in_the_way(result)  # a consent or login wall is no article (nor its copies)
    return analyse_page(
        item,
        result,
        topic,
        topics=topics,
        site=site,
        workers=settings.parse_workers,
        deadline=settings.analysis_deadline,
    )


def analyse_page(
    item: QueueItem,
    result: FetchResult,
    topic: Topic,
    page_url: str | None = None,
    topics: Sequence[Topic] = (),
    site: SiteProfile | None = None,
    workers: int = 0,
    deadline: float | None = None,
) -> IngestOutcome:
    """Extract, detect the language, score and fingerprint a fetched page (the same steps
    for a live page and for a web-archive capture, whose ``page_url`` is its original URL).

    With ``workers`` > 0 the analysis (:func:`analyse_content`) runs in one of that many
    worker processes (:mod:`monitors.workers`), killed if it takes more than ``deadline``
    seconds; a page it fails on is a permanent error with its reason. With 0 it runs in this
    thread, one page at a time in the process, with no deadline.
    """
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
        unreached=result.unreached,
        host=result.host,
        deferred=result.held,
        private_address=result.private_address,
        transport=result.transport,
    )
    if not result.ok:
        return out
    page = (item, result.content or b"", page_url or result.final_url)
    types = (result.headers.get("content-type"), result.content_type or None)
    try:
        if workers > 0:
            shared = _shared_topics(topic, topics)
            out.article = get_pool(workers).call(
                _analyse_in_worker,
                (shared, *page, *types, site, result.framed),
                deadline,
                warm="monitors.ingest:warm",
            )
        else:
            with _in_thread:
                out.article = analyse_content(*page, *types, topic, topics, site, result.framed)
    except CutShortAnalysis as exc:  # the next fetch may bring the page whole
        out.outcome, out.error_class, out.reason = "error", TRANSIENT, str(exc)
    except AnalysisError as exc:
        out.outcome, out.error_class, out.reason = "error", PERMANENT, str(exc)
    except WorkerTimeout as exc:
        out.outcome, out.error_class = "error", PERMANENT
        out.reason = f"analysis timed out: {exc} (VEILLE_ANALYSIS_DEADLINE)"
    except WorkerDied as exc:
        out.outcome, out.error_class = "error", PERMANENT
        out.reason = f"analysis crashed: {exc}"
    except WorkerResultError as exc:  # before, it ended the ingest worker, the run Incomplete
        out.outcome, out.error_class = "error", PERMANENT
        out.reason = f"analysis result lost: {exc}"
    if out.article is not None and result.transport:  # what the headers said wrongly
        evidence = out.article.extraction_evidence or {}
        out.article.extraction_evidence = {**evidence, "transport": list(result.transport)}
    return out


#: With no workers, one analysis at a time in the process: lxml from several threads at once
#: can corrupt memory (a `veille run` with eight ingest threads aborted with "double free or
#: corruption"; adbar/trafilatura#840), and the GIL runs them one at a time anyway.
_in_thread = threading.Lock()


class AnalysisError(ValueError):
    """The page holds no article veille can use (permanent for this page); the message says why."""


class CutShortAnalysis(AnalysisError):
    """The page's HTML was cut short before any article text (:class:`CutShortError`): a
    transient failure, the page fetched again later."""


def analyse_content(
    item: QueueItem,
    html: bytes,
    page_url: str,
    header_type: str | None,
    content_type: str | None,
    topic: Topic,
    topics: Sequence[Topic] = (),
    site: SiteProfile | None = None,
    framed: bool = False,
) -> ArticleData:
    """The pure analysis of a page's bytes: extraction and metadata, language, relevance for
    ``topic`` and every topic of ``topics``, fingerprint, compressed HTML; raises
    :class:`AnalysisError` when there is no article. No I/O: it runs in worker processes.
    ``framed``: its transport told the body's end and it came whole (:attr:`FetchResult.framed`)."""
    try:
        extracted = extract_article(html, page_url, header_type, site=site, framed=framed)
    except CutShortError as exc:
        raise CutShortAnalysis(str(exc)) from None
    except ExtractionError as exc:
        raise AnalysisError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - a parser crash on one page must not stop the run
        raise AnalysisError(f"extraction failed: {describe(exc)}") from None
    try:
        return _analysed(item, html, page_url, extracted, content_type, topic, topics, site)
    except Exception as exc:  # noqa: BLE001 - nor a bug met by one page in the later steps
        # before, it ended the ingest worker: the run Incomplete, the rest of its batch left for
        # the next run, where the same page stopped it again
        raise AnalysisError(f"analysis failed: {describe(exc)}") from None


def _analysed(
    item: QueueItem,
    html: bytes,
    page_url: str,
    extracted: Extracted,
    content_type: str | None,
    topic: Topic,
    topics: Sequence[Topic],
    site: SiteProfile | None,
) -> ArticleData:
    """The steps of :func:`analyse_content` after the extraction."""
    try:
        canonical = canonicalize_url(page_url, rel_canonical=extracted.canonical_url)
    except ValueError:
        canonical = item.canonical_url
    title = extracted.title or item.feed_title
    declared, declared_source = pick_declared_language(extracted.declared_language, item.feed_language)
    # what the page or feed declares leans a short or ambiguous text, never overrides a clear one
    lang = detect_language(extracted.text, title=title, declared=declared)
    published = _published(
        extracted.published_at,
        item.feed_published_at,
        with_time=extracted.published_with_time,
        feed_explicit=item.feed_published_explicit,
        page_guessed=guessed((extracted.evidence or {}).get("published_from")),
    )
    evidence = _date_evidence(extracted, item.feed_published_at, published)
    day = article_day(published)
    # the run's topic and every other active topic, scored in one go (the text folded and
    # scanned once for all of them)
    others = [t for t in topics if not (t.name == topic.name and t.version == topic.version)]
    rel_result, *other_results = score_topics(
        [topic, *others],
        extracted.text,
        title=title,
        description=extracted.description,
        published_at=day,
        url=canonical,
    )
    result_of = dict(zip(map(id, others), other_results, strict=True))
    topic_scores = [topic_row(t, result_of.get(id(t), rel_result)) for t in topics]
    hashed, sig = fingerprint(extracted.text)
    return ArticleData(
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
        content_type=content_type,
        html_zlib=zlib.compress(html, HTML_ZLIB_LEVEL),
        signature=sig,
        modified_at=extracted.modified_at,
        paywalled=extracted.paywalled,
        truncated=extracted.truncated,
        access_reasons=list(extracted.access_reasons) or None,
        extraction_evidence=evidence,
        topic_scores=topic_scores,
        site=site.site if site else site_of(item.url),
        blocks=extracted.blocks,
        title_segments=extracted.title_segments,
    )


#: Test-only: a worker whose page URL contains this variable's value hangs (ignoring SIGTERM,
#: as a thread stuck in native code would), so tests can check the analysis deadline.
HANG_ENV = "VEILLE_TEST_HANG_ANALYSIS"


def _analyse_in_worker(
    shared: Shared[tuple[Topic, tuple[Topic, ...]]],
    item: QueueItem,
    html: bytes,
    page_url: str,
    header_type: str | None,
    content_type: str | None,
    site: SiteProfile | None,
    framed: bool = False,
) -> ArticleData:
    """:func:`analyse_content` in a worker, the topics sent once per worker (``shared``)."""
    hang = os.environ.get(HANG_ENV)
    if hang and hang in item.url:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)
    topic, topics = shared.get()
    return analyse_content(item, html, page_url, header_type, content_type, topic, topics, site, framed)


_shared_lock = threading.Lock()
_shared: list[tuple[Topic, tuple[Topic, ...], Shared[tuple[Topic, tuple[Topic, ...]]]]] = []


def _shared_topics(topic: Topic, topics: Sequence[Topic]) -> Shared[tuple[Topic, tuple[Topic, ...]]]:
    """The topics pickled once for the workers (a run passes the same objects for every page)."""
    topics = tuple(topics)
    with _shared_lock:
        for known_topic, known_topics, shared in _shared:
            if (
                known_topic is topic
                and len(known_topics) == len(topics)
                and all(a is b for a, b in zip(known_topics, topics, strict=True))
            ):
                return shared
        shared = Shared.of((topic, topics))
        _shared[:] = [*_shared[-3:], (topic, topics, shared)]
        return shared


def warm() -> None:
    """Load what the first analysis would (trafilatura, the language profiles, the MinHash
    permutations), in a worker before its first page, outside the page's deadline."""
    import trafilatura  # noqa: F401 - imported by extract_article at the first page

    detect_language("Le sommet se tient à Paris cette semaine.")
    fingerprint("Le sommet se tient à Paris cette semaine.")
