"""An empty 200 (or one of blanks only) where a feed, a sitemap, a listing or an article was
expected: transient, tried again with backoff, as a timeout or a 503 is.

A server answers 200 with nothing between two deploys or from a cache entry gone wrong; the same
URL answers the next time. Taken as permanent (before), the article was lost for good (``failed``)
and the feed's source sent to discovery as if its feed were gone.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.articles import apply_ingest
from monitors.archive.models import QueuedUrl, Source
from monitors.archive.polls import apply_poll
from monitors.archive.queue import claim_items
from monitors.collect.http import Client, make_client
from monitors.collect.poll import SourceState, poll_source
from monitors.ingest import process_item
from monitors.judge.topic import load_topic
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed, seed_pages


@pytest.mark.parametrize("kind", ["feed", "sitemap", "listing"])
@pytest.mark.parametrize("body", [b"", b"\r\n  \n"], ids=["empty", "blank"])
def test_an_empty_200_source_is_transient_and_sent_to_no_discovery(
    site: LocalSite, db: Session, client: Client, settings: Settings, kind: str, body: bytes
) -> None:
    ctype = {"feed": "application/rss+xml", "sitemap": "application/xml", "listing": "text/html"}[kind]
    site.add(
        "/", "<html><head><link rel='alternate' type='application/rss+xml' href='/autre.xml'></head></html>"
    )
    site.add("/source", body, content_type=ctype)
    src = Source(name=f"vide {kind}", kind=kind, url=f"{site.base}/source", owner="media")
    db.add(src)
    db.flush()
    out = poll_source(client, settings, SourceState(src.id, src.name, kind, src.url))
    host = site.base.removeprefix("http://")
    what = "an empty body" if not body else f"a blank body ({len(body)} bytes of whitespace)"
    assert out.error_class == "transient", out.error
    assert out.error == f"empty answer: {host} sent HTTP 200 with {what}; tried again later"
    apply_poll(db, out, settings=settings)
    db.flush()
    db.refresh(src)
    assert src.status == "active" and src.consecutive_failures == 1
    assert src.last_error_class == "transient" and src.suggested_feeds is None  # no discovery
    assert not site.hits("/autre.xml")


def test_an_empty_200_article_is_retried_then_stored(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    page = seed_pages()[0]
    site.add("/une.xml", rss_feed(site.base, [(page.spec.feed_title, page.spec.slug, page.spec.published)]))
    site.add(page.spec.slug, b"", content_type="text/html; charset=utf-8")
    src = Source(name="Une", kind="feed", url=f"{site.base}/une.xml", owner="media")
    db.add(src)
    db.flush()
    topic = load_topic()
    with make_client(settings) as client:
        apply_poll(db, poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url)))
        [item] = claim_items(db, 5)
        assert apply_ingest(db, process_item(client, settings, item, topic), settings.max_attempts) == "retry"
        row = db.get(QueuedUrl, item.id)
        assert row is not None
        db.refresh(row)
        assert row.state == "pending" and row.next_attempt_at is not None
        assert row.next_attempt_at > datetime.now(UTC)  # backoff, not at once
        assert (row.reason or "").startswith(f"retry 1/{settings.max_attempts}: empty answer: ")
        # the deploy is over: the next attempt stores it
        site.add(page.spec.slug, page.html)
        db.execute(sa.update(QueuedUrl).where(QueuedUrl.id == item.id).values(next_attempt_at=sa.func.now()))
        [again] = claim_items(db, 5)
        assert (
            apply_ingest(db, process_item(client, settings, again, topic), settings.max_attempts) == "stored"
        )
