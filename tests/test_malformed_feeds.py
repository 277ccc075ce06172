"""A malformed RSS/Atom feed: one cut short (its root never closed) from which no entry could be
read is an error of its poll (transient, polled again with backoff, counted in the source's
health), as a cut JSON Feed is; one read in part stays a warning; an empty feed, a feedparser
note (a charset label overridden, a content type that is no XML type), or a whole empty feed
that is not well-formed for a reason the loose parser reads past (a stray ``&``) is no error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.models import FetchLog, Source
from monitors.collect.feeds import FeedError, _cut_short, parse_feed
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


def test_a_cut_body_is_told_by_its_root_never_closed() -> None:
    """A whole empty body, however feedparser notes it, is no cut; a body that never closes
    its root is, whatever its strict parse said."""
    empty = b"<?xml version='1.0'?><rss version='2.0'><channel><title>x</title></channel></rss>"
    assert not _cut_short(empty)
    assert not _cut_short(empty.replace(b"</rss>", b"</rss >\n<!-- cached 0.2s -->\n"))
    assert _cut_short(empty.replace(b"</rss>", b""))
    assert _cut_short(b"<?xml version='1.0'?><rdf:RDF xmlns:rdf='r'><channel></channel></RDF>")
    with pytest.raises(FeedError) as cut:
        parse_feed(CUT_RSS.encode(), "http://x.invalid/f", "application/rss+xml", fast=False)
    assert cut.value.transient and str(cut.value).startswith("malformed feed, no entry could be read: ")


RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_EMPTY_RSS = rss_feed("http://x.invalid", [], title="Les partis")
_EMPTY_ATOM = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<feed xmlns='http://www.w3.org/2005/Atom'>"
    "<title>TITLE</title><id>urn:x</id><updated>2026-12-01T10:00:00Z</updated></feed>\n"
)
_EMPTY_RDF = (
    f"<?xml version='1.0' encoding='UTF-8'?>\n<rdf:RDF xmlns:rdf='{RDF}' xmlns='http://purl.org/rss/1.0/'>"
    "<channel rdf:about='http://x.invalid/'><title>Fil</title><link>http://x.invalid/</link>"
    "<description>DESC</description></channel></rdf:RDF>\n"
)


@pytest.mark.parametrize(
    ("body", "warning"),
    [
        # a stray & in the channel's link (a query string not escaped), the page cache's comment after
        (
            _EMPTY_RSS.replace("<link>http://x.invalid/", "<link>http://x.invalid/?rubrique=12&lang=fr")
            + "\n<!-- Dynamic page generated in 0.210 seconds. -->\n",
            "not well-formed (invalid token)",
        ),
        (_EMPTY_ATOM.replace("TITLE", "Politique & société"), "not well-formed (invalid token)"),
        (_EMPTY_RDF.replace("DESC", "Le fil<br>des débats"), "mismatched tag"),
        (_EMPTY_RSS.replace("Les partis", "Les&nbsp partis"), "not well-formed (invalid token)"),
        (_EMPTY_RSS.replace("Les partis", "Les partis&trade2;"), "undefined entity"),
        # HTML's named entities were made numeric references before: no note at all
        (_EMPTY_RSS.replace("Les partis", "Les partis&nbsp;&eacute;lus"), None),
    ],
    ids=[
        "ampersand-in-link",
        "ampersand-in-atom-title",
        "br-in-rdf",
        "nbsp-no-semicolon",
        "unknown-entity",
        "nbsp",
    ],
)
def test_a_whole_empty_feed_not_well_formed_for_a_harmless_reason_is_no_error(
    site: LocalSite, db: Session, client: Client, settings: Settings, body: str, warning: str | None
) -> None:
    """A quiet feed (no item right now) whose body closes its root but is not strictly
    well-formed, the loose parser reading it whole: it was a transient error since the rule
    that a malformed feed with no entry read is cut, so a healthy source counted failures
    and would end disabled after 30."""
    out, src = _poll_and_store(db, client, settings, site, body.encode("utf-8"), "application/rss+xml")
    assert out.error_class is None and out.error is None and out.entries == [], out.error
    if warning is None:
        assert out.warning is None and src.last_error is None
    else:
        assert out.warning is not None and out.warning.startswith(
            "malformed feed, 0 entries read: SAXParseException: "
        ), out.warning
        assert out.warning.endswith(warning), out.warning
        assert src.last_error == out.warning and src.last_error_class == "warning"
    assert src.consecutive_failures == 0 and src.last_success_at is not None


@pytest.mark.parametrize(
    "body",
    [
        _EMPTY_RSS[: _EMPTY_RSS.index("</rss>")],  # cut right after </channel>: whole so far
        # cut, and not well-formed before the cut
        _EMPTY_ATOM.replace("TITLE", "A & B").removesuffix("</feed>\n"),
        _EMPTY_RDF[: _EMPTY_RDF.index("<description>")],
    ],
    ids=["rss-after-channel", "atom-with-ampersand", "rdf"],
)
@pytest.mark.parametrize("fast", [True, False])
def test_a_body_that_never_closes_its_root_is_still_cut(body: str, fast: bool) -> None:
    with pytest.raises(FeedError) as cut:
        parse_feed(body.encode(), "http://x.invalid/f", "application/rss+xml", fast=fast)
    assert cut.value.transient and str(cut.value).startswith("malformed feed, no entry could be read: ")
