"""Faults of the grouping stage met on real-world input (URLs, copies, stories), end to end."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session


def test_a_feed_entry_with_an_over_long_url_is_declined_and_the_poll_goes_on(db: Session) -> None:
    """A 3,000-byte link (a tracking token) failed the poll of every source in the batch with
    ProgramLimitExceeded: the queue's unique index on the canonical URL holds at most 2,704
    bytes. The entry is now declined with its reason, as other unusable links are."""
    from monitors.archive.models import FetchLog, QueuedUrl, Source
    from monitors.archive.store import apply_poll
    from monitors.collect.feeds import parse_feed
    from monitors.collect.http import FetchResult
    from monitors.collect.poll import PollOutcome

    token = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(48))  # incompressible
    long_link = "https://example.fr/a.html?session=" + token
    links = [long_link, "https://example.fr/ok.html"]
    items = "".join(f"<item><title>T{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    body = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()
    )
    parsed = parse_feed(body, "https://example.fr/feed.xml", "application/rss+xml")
    assert [e.url for e in parsed.entries] == links
    source = Source(name="Long links", kind="feed", url="https://example.fr/feed.xml", owner="media")
    db.add(source)
    db.flush()
    fetched = FetchResult("https://example.fr/feed.xml", "https://example.fr/feed.xml", "ok", 200, body)
    summary = apply_poll(
        db, PollOutcome(source_id=source.id, kind="feed", fetch=fetched, entries=parsed.entries)
    )
    assert summary.error is None
    queued = db.query(QueuedUrl.url).filter(QueuedUrl.source_id == source.id).all()
    assert [u for (u,) in queued] == ["https://example.fr/ok.html"]
    declined = db.query(FetchLog.url, FetchLog.reason).filter(FetchLog.kind == "entry").all()
    assert [(url, reason and "longer than 2048 bytes" in reason) for url, reason in declined] == [
        (long_link, True)
    ]
