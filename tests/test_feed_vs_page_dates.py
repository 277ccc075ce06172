"""A feed's explicit publication date against a page date that is only a guess (generic hints:
htmldate's search of the text, the URL, a first <time>): the feed's wins when they name different
days (an RSS item's dc:date without pubDate counts: RSS 1.0's only date, SPIP's RSS 2.0 items); an
update's date (Atom updated, JSON Feed date_modified, dcterms:modified) does not, and article
metadata or a date the reader sees still beats any feed (docs/extraction.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from monitors.archive.models import Article, QueuedUrl
from monitors.collect.feeds import parse_feed
from monitors.judge.extract_eval import HALVES, Page, date_tiers
from monitors.settings import Settings
from tests.site import LocalSite
from tests.test_faults import _poll_and_ingest

BODY = " ".join(["Le sommet pour l'action sur l'intelligence artificielle s'ouvre à Paris."] * 20)
#: no date metadata, no byline: htmldate finds 5 February in the text (a guess)
GUESSED = (
    "<html><head><title>Sommet de l'IA</title></head><body><article><h1>Sommet de l'IA</h1>"
    f"<p>Le rapport remis le 5 février 2025 au gouvernement.</p><p>{BODY}</p></article></body></html>"
)
FEED_AT = datetime(2025, 2, 10, 13, 30, tzinfo=UTC)  # 14:30 in Paris, five days after the guess
GUESS = "2025-02-05T00:00:00+01:00"


def _rss(url: str, date_tag: str) -> tuple[str, str]:
    ns = " xmlns:dc='http://purl.org/dc/elements/1.1/'"
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rss version='2.0'{ns}><channel><title>Une</title>"
        f"<item><title>Sommet de l'IA</title><link>{url}</link>{date_tag}</item></channel></rss>",
        "application/rss+xml",
    )


def _atom(url: str, date_tag: str) -> tuple[str, str]:
    return (
        "<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
        f"<title>Une</title><id>urn:une</id><updated>2025-02-11T00:00:00Z</updated><entry>"
        f"<title>Sommet de l'IA</title><id>urn:1</id><link href='{url}'/>{date_tag}</entry></feed>",
        "application/atom+xml",
    )


def _rdf(url: str, date_tags: str) -> tuple[str, str]:
    """An RSS 1.0 (RDF) feed: its items have no date but the Dublin Core module's."""
    ns = (
        " xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#' xmlns='http://purl.org/rss/1.0/'"
        " xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:dcterms='http://purl.org/dc/terms/'"
    )
    return (
        f"<?xml version='1.0' encoding='utf-8'?><rdf:RDF{ns}><channel rdf:about='{url}'><title>Une</title>"
        f"<link>{url}</link><description>Une</description><items><rdf:Seq><rdf:li rdf:resource='{url}'/>"
        f"</rdf:Seq></items></channel><item rdf:about='{url}'><title>Sommet de l'IA</title>"
        f"<link>{url}</link>{date_tags}</item></rdf:RDF>",
        "application/rdf+xml",
    )


def _spip(url: str, extra: str = "", ns: str = "") -> tuple[str, str]:
    """An RSS 2.0 feed shaped like SPIP's backend.html / inc-rss-item.html (written here): items
    dated by dc:date (the article's date, set when it is published) and no pubDate."""
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'"
        f" xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:content='http://purl.org/rss/1.0/modules/content/'{ns}>"
        "<channel xml:lang='fr'><title>Mairie de Saint-Exemple</title><link>https://mairie.example/</link>"
        "<description>Le site de la commune</description><language>fr</language>"
        "<generator>SPIP - www.spip.net</generator>"
        f"<item xml:lang='fr'><title>Sommet de l'IA</title><link>{url}</link>"
        f"<guid isPermaLink='true'>{url}</guid><dc:date>2025-02-10T13:30:00Z</dc:date>"
        "<dc:format>text/html</dc:format><dc:language>fr</dc:language>"
        "<dc:creator>Service communication</dc:creator>"
        f"<dc:subject>Numérique</dc:subject>{extra}<description>Le conseil municipal au sommet.\n"
        '-\n&lt;a href="https://mairie.example/actualites" rel="directory"&gt;Actualités&lt;/a&gt;'
        "</description></item></channel></rss>",
        "application/rss+xml",
    )


def _json(url: str, key: str) -> tuple[str, str]:
    item = {"id": "1", "url": url, "title": "Sommet de l'IA", key: "2025-02-10T14:30:00+01:00"}
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "Une", "items": [item]}
    return json.dumps(feed), "application/feed+json"


FEEDS = {
    "rss-pubDate": (lambda u: _rss(u, "<pubDate>Mon, 10 Feb 2025 14:30:00 +0100</pubDate>"), True),
    "atom-published": (lambda u: _atom(u, "<published>2025-02-10T14:30:00+01:00</published>"), True),
    "json-date_published": (lambda u: _json(u, "date_published"), True),
    "atom-updated-only": (lambda u: _atom(u, "<updated>2025-02-10T14:30:00+01:00</updated>"), False),
    "json-date_modified-only": (lambda u: _json(u, "date_modified"), False),
    # An RSS 2.0 item dated by dc:date alone: DCMI's date of creation or availability, SPIP's
    # article date (set when published; edits go to its date_modif, not in the feed). It was
    # pinned False while RSS 2.0's pubDate was taken as the only statement of publication.
    "rss-dc-date-only": (lambda u: _rss(u, "<dc:date>2025-02-10T14:30:00+01:00</dc:date>"), True),
    "spip-rss-2.0": (_spip, True),
    # a dcterms:modified or atom:updated lands where feedparser puts dc:date: not told apart
    "spip-dc-date-and-modified": (
        lambda u: _spip(
            u,
            "<dcterms:modified>2025-02-10T14:30:00+01:00</dcterms:modified>",
            " xmlns:dcterms='http://purl.org/dc/terms/'",
        ),
        False,
    ),
    "spip-dc-date-and-atom-updated": (
        lambda u: _spip(
            u,
            "<atom:updated>2025-02-10T14:30:00+01:00</atom:updated>",
            " xmlns:atom='http://www.w3.org/2005/Atom'",
        ),
        False,
    ),
    # RSS 1.0 dates an item by dc:date alone: its creation or availability (Dublin Core)
    "rdf-dc-date": (lambda u: _rdf(u, "<dc:date>2025-02-10T14:30:00+01:00</dc:date>"), True),
    # a dcterms:modified beside it lands where feedparser puts dc:date: not told apart
    "rdf-dc-date-and-modified": (
        lambda u: _rdf(
            u,
            "<dc:date>2025-02-01T10:00:00+01:00</dc:date>"
            "<dcterms:modified>2025-02-10T14:30:00+01:00</dcterms:modified>",
        ),
        False,
    ),
    # RSS 2.0's pubDate states the publication, over a dc:date beside it
    "rss-pubDate-and-dc-date": (
        lambda u: _rss(
            u,
            "<pubDate>Mon, 10 Feb 2025 14:30:00 +0100</pubDate><dc:date>2025-02-12T09:00:00+01:00</dc:date>",
        ),
        True,
    ),
}


def _ingest(site: LocalSite, db: Session, settings: Settings, path: str, page: str, feed: str) -> Article:
    url = f"{site.base}{path}"
    body, content_type = FEEDS[feed][0](url)
    site.add("/une.xml", body, content_type=content_type)
    site.add(path, page)
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    queued = db.scalars(select(QueuedUrl).where(QueuedUrl.url == url)).one()
    assert queued.feed_published_at == FEED_AT
    assert queued.feed_published_explicit is FEEDS[feed][1]
    return db.scalars(select(Article).where(Article.url == url)).one()


@pytest.mark.parametrize("feed", list(FEEDS))
def test_a_feeds_publication_date_beats_a_date_guessed_from_the_text(
    site: LocalSite, db: Session, settings: Settings, feed: str
) -> None:
    """Before, a page without date metadata whose text names 5 February was stored on the 5th
    though its feed's pubDate said the 10th (the day then drives topics' periods and peaks,
    views, stories). An update's date in the feed is no statement of the publication: the
    page's guess stays."""
    article = _ingest(site, db, settings, "/a/1.html", GUESSED, feed)
    evidence = article.extraction_evidence or {}
    if FEEDS[feed][1]:
        assert article.published_at == FEED_AT
        assert evidence["published_from"] == "feed (its publication date, over the page's guess)"
        page = {"source": "htmldate", "value": GUESS}
        assert evidence["published_page"] == page
        assert page in evidence["published_disagreeing"]
        assert evidence.get("published_local") != GUESS  # the guess's clock is not the date's
    else:
        assert article.published_at == datetime.fromisoformat(GUESS)
        assert evidence["published_from"] == "htmldate"
        assert "published_page" not in evidence


def test_a_feeds_publication_date_beats_the_urls_date(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """The URL's date (/2025/02/05/) is a generic hint too: the feed's pubDate wins."""
    page = GUESSED.replace("le 5 février 2025 ", "")
    article = _ingest(site, db, settings, "/2025/02/05/sommet.html", page, "rss-pubDate")
    assert article.published_at == FEED_AT
    evidence = article.extraction_evidence or {}
    assert evidence["published_page"] == {"source": "url", "value": GUESS}


@pytest.mark.parametrize(
    ("page", "source"),
    [
        (
            GUESSED.replace(
                "</title>", "</title><meta property='article:published_time' content='2025-02-05'>"
            ),
            "meta article:published_time",
        ),
        (GUESSED.replace("<h1>", "<p class='byline'>5 février 2025</p><h1>"), "visible date"),
        (GUESSED.replace("<h1>", "<p>Publié le 5 février 2025</p><h1>"), "phrase publié le"),
    ],
    ids=["metadata", "byline", "phrase"],
)
def test_article_metadata_and_a_shown_date_still_beat_the_feed(
    site: LocalSite, db: Session, settings: Settings, page: str, source: str
) -> None:
    """The page's own metadata and the date its readers see are kept over the feed's, as before."""
    article = _ingest(site, db, settings, "/a/1.html", page, "rss-pubDate")
    assert article.published_at == datetime.fromisoformat(GUESS)
    assert (article.extraction_evidence or {})["published_from"] == source


def test_the_date_tiers_measure_a_guess_against_the_pages_metadata() -> None:
    """bench/extract.py --date-tiers (docs/extraction.md's figures): a page whose metadata says
    the 10th and whose text names the 5th counts as metadata right, and once stripped as a
    guess that disagrees with the metadata and is wrong; a byline counts as shown."""
    meta = "<meta property='article:published_time' content='2025-02-10'>"
    pages = [
        Page("a.html", GUESSED.replace("</title>", f"</title>{meta}").encode(), {"date": "2025-02-10"}),
        Page(
            "b.html",
            GUESSED.replace("<h1>", "<p class='byline'>7 février 2025</p><h1>").encode(),
            {"date": "2025-02-07"},
        ),
        Page("c.html", GUESSED.encode(), {}),  # no expected date: not counted
    ]
    counts = date_tiers(pages)["all"]
    assert counts.tiers == {"metadata": [1, 1], "shown": [1, 1]}
    assert counts.stripped == {"guess": [0, 1], "shown": [1, 1]}
    assert (counts.guess_over_metadata, counts.disagree, counts.guess_right, counts.metadata_right) == (
        1,
        1,
        0,
        1,
    )
    assert sum(date_tiers(pages)[h].tiers.get("metadata", [0, 0])[1] for h in HALVES) == 1


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "feedparser"])
@pytest.mark.parametrize(
    ("extra", "ns", "explicit"),
    [
        ("", "", True),
        ("<lastBuildDate>Mon, 10 Feb 2025 14:30:00 +0100</lastBuildDate>", "", False),
        (
            "<dcterms:modified>2025-02-10T14:30:00+01:00</dcterms:modified>",
            " xmlns:dcterms='http://purl.org/dc/terms/'",
            False,
        ),
    ],
    ids=["dc-date", "item-lastBuildDate", "dcterms-modified"],
)
def test_a_spip_items_dc_date_is_its_publication_on_either_parser(
    fast: bool, extra: str, ns: str, explicit: bool
) -> None:
    """SPIP's RSS 2.0 items carry dc:date and no pubDate: the date is the item's publication
    whether the fast path or feedparser reads it, unless the item has another element
    feedparser reads as its update (then the two are not told apart)."""
    url = "https://mairie.example/spip.php?article12"
    body, content_type = _spip(url, extra, ns)
    feed = parse_feed(body.encode(), "https://mairie.example/spip.php?page=backend", content_type, fast=fast)
    assert [(e.url, e.published_at, e.published_explicit) for e in feed.entries] == [(url, FEED_AT, explicit)]
