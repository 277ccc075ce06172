"""A malformed RSS/Atom feed: one that does not parse and from which no entry could be read is
an error of its poll (transient, polled again with backoff, counted in the source's health),
as a cut JSON Feed is; one read in part stays a warning; an empty feed, or a feedparser note
(a charset label overridden, a content type that is no XML type), is no error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from feedparser.exceptions import CharacterEncodingOverride, NonXMLContentType
from sqlalchemy.orm import Session

from monitors.archive.models import FetchLog, Source
from monitors.collect.feeds import FeedError, _unparsable, parse_feed
from monitors.collect.http import Client
from monitors.collect.poll import PollOutcome
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed
from tests.test_json_feed import _poll_and_store as poll_and_store

NOW = datetime.now(UTC)
CUT_RSS = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<rss version='2.0'><channel><title>Fil</title><item><title>Coupé"
)
CUT_ATOM = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns='http://www.w3.org/2005/Atom'><title>Fil</title>"
    "<entry><title>Coupé"
)


def _poll_and_store(
    db: Session, client: Client, settings: Settings, site: LocalSite, body: str | bytes, ctype: str
) -> tuple[PollOutcome, Source]:
    return poll_and_store(db, client, settings, site, body, "/feed.xml", ctype)


@pytest.mark.parametrize("body", [CUT_RSS, CUT_ATOM], ids=["rss", "atom"])
def test_a_feed_that_does_not_parse_and_yields_no_entry_is_a_transient_error(
    site: LocalSite, db: Session, client: Client, settings: Settings, body: str
) -> None:
    """It was a poll ok with the warning "malformed feed, 0 entries read: ...", the source
    healthy and a run of such feeds "All good" though the user got nothing."""
    out, src = _poll_and_store(db, client, settings, site, body, "application/rss+xml")
    assert out.error_class == "transient" and out.entries == [] and out.warning is None
    assert out.suggested_feeds is None  # a cut transfer: no search for other feeds
    assert src.last_error is not None
    assert src.last_error.startswith("malformed feed, no entry could be read: SAXParseException: "), (
        src.last_error
    )
    assert src.last_error.endswith("no element found")
    assert src.last_error_class == "transient" and src.consecutive_failures == 1
    assert src.next_poll_at is not None and src.last_polled_at is not None
    assert src.next_poll_at - src.last_polled_at < timedelta(hours=1)  # backoff, not the day
    logged = db.execute(
        sa.select(FetchLog.outcome, FetchLog.reason).where(
            FetchLog.source_id == src.id, FetchLog.kind == "feed"
        )
    ).one()
    assert logged == ("error", src.last_error)


def test_a_cut_feed_with_entries_read_stays_a_warning(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    body = rss_feed(site.base, [(f"Article {i}", f"b/{i}.html", NOW) for i in range(4)])
    cut = body[: body.index("<item>", body.index("b/2.html"))] + "<item><title>Coupé"
    out, src = _poll_and_store(db, client, settings, site, cut, "application/rss+xml")
    assert out.error is None and len(out.entries) == 3
    assert out.warning is not None and out.warning.startswith(
        "malformed feed, 3 entries read: SAXParseException"
    )
    assert src.last_error == out.warning and src.last_error_class == "warning"
    assert src.consecutive_failures == 0 and src.last_success_at is not None


@pytest.mark.parametrize(
    ("body", "ctype", "warning"),
    [
        (rss_feed("http://x.invalid", []), "application/rss+xml", None),
        # a label saying Latin-1 on UTF-8 bytes: read as UTF-8, as today
        (
            rss_feed("http://x.invalid", [], title="Café").replace("UTF-8", "ISO-8859-1"),
            "application/rss+xml; charset=iso-8859-1",
            None,
        ),
        # served as HTML: feedparser's NonXMLContentType note, a warning as today
        (rss_feed("http://x.invalid", []), "text/html", "malformed feed, 0 entries read: NonXMLContentType"),
        # an undeclared prefix the loose parser reads past, in a well-formed empty channel
        (
            rss_feed("http://x.invalid", []).replace("<language>", "<dc:creator>x</dc:creator><language>"),
            "application/rss+xml",
            "malformed feed, 0 entries read: SAXParseException: <unknown>:4:",
        ),
    ],
    ids=["empty", "wrong-declared-encoding", "served-as-html", "undeclared-prefix"],
)
def test_a_well_formed_feed_with_no_item_is_no_error(
    site: LocalSite,
    db: Session,
    client: Client,
    settings: Settings,
    body: str,
    ctype: str,
    warning: str | None,
) -> None:
    out, src = _poll_and_store(db, client, settings, site, body.encode("utf-8"), ctype)
    assert out.error is None and out.entries == []
    if warning is None:
        assert out.warning is None and src.last_error is None
    else:
        assert out.warning is not None and out.warning.startswith(warning), out.warning
        assert src.last_error_class == "warning"
    assert src.consecutive_failures == 0 and src.last_success_at is not None


def test_feedparser_s_notes_are_no_parse_error() -> None:
    """feedparser's notes on a document it read whole (a declared encoding it overrode or
    could not use, a content type that is no XML type) do not make an empty feed an error;
    veille hands feedparser UTF-8 that says so, so these rarely reach it whole."""
    empty = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>"
    for note in (
        CharacterEncodingOverride("declared utf-8, read as windows-1252"),
        NonXMLContentType("text/html"),
    ):
        assert not _unparsable(note, empty)
    with pytest.raises(FeedError) as cut:
        parse_feed(CUT_RSS.encode(), "http://x.invalid/f", "application/rss+xml", fast=False)
    assert cut.value.transient and str(cut.value).startswith("malformed feed, no entry could be read: ")
