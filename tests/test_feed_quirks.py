"""Quirks of real French news feeds and sitemaps, served locally and polled as veille polls.

Each feed here is one we wrote to look like what newsrooms' CMSes print: FeedBurner's tracking
links, double-escaped titles, a server's IANA zone name after the time, blank lines before
``<?xml``. Both the RSS fast path and feedparser are checked where they differ.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import pytest

from monitors.collect.feeds import parse_feed
from monitors.collect.http import Client
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.collect.sitemaps import parse_period as sitemap_period
from monitors.settings import Settings
from tests.site import LocalSite

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0" '
    'xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0"><channel><title>La Gazette</title>'
)


FRENCH_DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
FRENCH_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)


def _rss(items: str) -> str:
    return f"{HEAD}{items}</channel></rss>"


def _poll(client: Client, settings: Settings, url: str, kind: str = "feed") -> PollOutcome:
    return poll_source(client, settings, SourceState(1, "Gazette", kind, url))


def test_feedburner_origlink_is_the_entry_url(site: LocalSite, client: Client, settings: Settings) -> None:
    """A FeedBurner feed's <link> is its tracking redirect; the article is feedburner:origLink."""
    body = _rss(
        "<item><title>Budget : le 49.3 une nouvelle fois</title>"
        "<link>https://feeds.feedburner.com/~r/lagazette/~3/Xy12/</link>"
        f"<feedburner:origLink>{site.base}/politique/budget-49-3.html</feedburner:origLink>"
        "<pubDate>Mon, 10 Feb 2025 14:30:00 +0100</pubDate></item>"
        "<item><title>Sans origine</title><link>https://lagazette.test/sans-origine.html</link></item>"
    )
    site.add("/feedburner.xml", body, content_type="application/rss+xml")
    out = _poll(client, settings, f"{site.base}/feedburner.xml")
    assert out.error is None and out.warning is None
    assert [e.url for e in out.entries] == [
        f"{site.base}/politique/budget-49-3.html",
        "https://lagazette.test/sans-origine.html",
    ]
    for fast in (True, False):
        parsed = parse_feed(body.encode(), f"{site.base}/feedburner.xml", "application/rss+xml", fast=fast)
        assert parsed.entries[0].url == f"{site.base}/politique/budget-49-3.html"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_double_escaped_and_html_titles_are_plain_text(fast: bool) -> None:
    """CMSes escape titles twice (``&amp;eacute;`` in the XML) or put markup in them: the
    entry's title is the text a reader sees, not its HTML."""
    body = _rss(
        "<item><title>L&amp;eacute;gislatives : l&amp;#039;&amp;eacute;t&amp;eacute; des alliances</title>"
        "<link>https://lagazette.test/a.html</link></item>"
        "<item><title><![CDATA[Retraites &ndash; <b>le vote</b> &amp; ses suites]]></title>"
        "<link>https://lagazette.test/b.html</link></item>"
        "<item><title>Pierre &amp; Marie Curie</title><link>https://lagazette.test/c.html</link>"
        "<author>R&amp;eacute;daction</author></item>"
        "<item><title>Inflation &lt; 2 % en janvier, &gt; 1 % en février</title>"
        "<link>https://lagazette.test/d.html</link></item>"
    )
    parsed = parse_feed(body.encode(), "https://lagazette.test/rss.xml", "application/rss+xml", fast=fast)
    assert [e.title for e in parsed.entries] == [
        "Législatives : l'été des alliances",
        "Retraites – le vote & ses suites",
        "Pierre & Marie Curie",
        "Inflation < 2 % en janvier, > 1 % en février",
    ]
    assert parsed.entries[2].author == "Rédaction"


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize(
    ("raw", "instant"),
    [
        ("Mon, 10 Feb 2025 14:30:00 Europe/Paris", datetime(2025, 2, 10, 13, 30, tzinfo=UTC)),
        ("Sun, 10 Aug 2025 14:30:00 Europe/Paris", datetime(2025, 8, 10, 12, 30, tzinfo=UTC)),
        ("2025-08-10T14:30:00 Europe/Paris", datetime(2025, 8, 10, 12, 30, tzinfo=UTC)),
        ("lun., 10 févr. 2025 14:30:00 America/Guadeloupe", datetime(2025, 2, 10, 18, 30, tzinfo=UTC)),
    ],
)
def test_dates_ending_with_an_iana_zone_name_are_on_that_clock(
    raw: str, instant: datetime, fast: bool
) -> None:
    """A server that prints its configured zone ("Europe/Paris") after the time: feedparser
    read the unknown zone as UTC, an hour or two late."""
    body = _rss(
        f"<item><title>A</title><link>https://lagazette.test/a.html</link><pubDate>{raw}</pubDate></item>"
    )
    parsed = parse_feed(body.encode(), "https://lagazette.test/rss.xml", "application/rss+xml", fast=fast)
    assert parsed.entries[0].published_at == instant


def test_unknown_zone_path_is_not_a_zone() -> None:
    body = _rss(
        "<item><title>A</title><link>https://lagazette.test/a.html</link>"
        "<pubDate>Mon, 10 Feb 2025 14:30:00 Nulle/Part</pubDate></item>"
    )
    parsed = parse_feed(body.encode(), "https://lagazette.test/rss.xml", "application/rss+xml")
    assert parsed.entries[0].published_at in (None, datetime(2025, 2, 10, 14, 30, tzinfo=UTC))


@pytest.mark.parametrize("prefix", [b"\n\n  ", b"\xef\xbb\xbf\r\n"], ids=["blank-lines", "bom-then-newline"])
def test_blank_lines_before_the_xml_declaration_are_no_malformed_feed(
    site: LocalSite, client: Client, settings: Settings, prefix: bytes
) -> None:
    """A PHP include printing newlines before ``<?xml``: the feed is whole, not a warning."""
    body = _rss("<item><title>Nîmes &amp; Alès</title><link>https://lagazette.test/a.html</link></item>")
    site.add("/blank.xml", prefix + body.encode(), content_type="application/rss+xml; charset=utf-8")
    out = _poll(client, settings, f"{site.base}/blank.xml")
    assert out.error is None and out.warning is None
    assert [e.title for e in out.entries] == ["Nîmes & Alès"]


@pytest.mark.parametrize("ctype", ["application/octet-stream", "text/plain"])
def test_news_sitemap_after_blank_lines_keeps_its_entities(
    site: LocalSite, client: Client, settings: Settings, ctype: str
) -> None:
    """libxml2's recovering parser, finding ``<?xml`` after blank lines, dropped every entity
    of the text: ``L&apos;État &amp; moi`` became ``LÉtat  moi``."""
    now = datetime.now(UTC).replace(microsecond=0)
    body = (
        '\n\n<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        f"<url><loc>{site.base}/politique/etat-et-moi.html</loc><news:news><news:publication>"
        "<news:name>La Gazette</news:name><news:language>fr</news:language></news:publication>"
        f"<news:publication_date>{now.isoformat()}</news:publication_date>"
        "<news:title>L&apos;État &amp; moi</news:title></news:news></url></urlset>"
    )
    site.add("/news-sitemap.xml", body, content_type=ctype)
    out = _poll(client, settings, f"{site.base}/news-sitemap.xml", kind="sitemap")
    assert out.error is None
    assert [(e.url, e.title, e.published_at) for e in out.entries] == [
        (f"{site.base}/politique/etat-et-moi.html", "L'État & moi", now)
    ]


def test_a_news_sitemap_s_double_escaped_and_html_titles_are_plain_text(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """``news:title`` is read as a feed's title is: escaped twice (``&amp;eacute;``), with markup
    in CDATA or as elements, it went into the entry's title (the article's ``feed_title``) as
    written, ``&eacute;`` and ``<b>`` with it."""
    now = datetime.now(UTC).replace(microsecond=0)
    titles = [
        "L&amp;eacute;gislatives : l&amp;#039;&amp;eacute;t&amp;eacute; des alliances",
        "<![CDATA[Retraites &ndash; <b>le vote</b> &amp; ses suites]]>",
        "Le <b>sommet</b> de l&apos;IA",
        "Inflation &lt; 2 % en janvier, &gt; 1 % en février",
    ]
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        + "".join(
            f"<url><loc>{site.base}/a{i}.html</loc><news:news>"
            f"<news:publication_date>{now.isoformat()}</news:publication_date>"
            f"<news:title>{title}</news:title></news:news></url>"
            for i, title in enumerate(titles)
        )
        + "</urlset>"
    )
    site.add("/news-sitemap.xml", body, content_type="application/xml")
    out = _poll(client, settings, f"{site.base}/news-sitemap.xml", kind="sitemap")
    assert out.error is None
    assert [e.title for e in out.entries] == [
        "Législatives : l'été des alliances",
        "Retraites – le vote & ses suites",
        "Le sommet de l'IA",
        "Inflation < 2 % en janvier, > 1 % en février",
    ]


def test_sitemap_with_relative_locs_and_rfc822_dates(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """An index listing ``/sitemaps/news-1.xml.gz`` (relative, gzipped, served as
    octet-stream) whose URLs are relative too and dated as feeds date them: every URL is
    resolved against its sitemap, every date read (they were all lost: a relative child was
    never fetched, a relative URL was no URL, an RFC 822 date no date)."""
    now = datetime.now(UTC).replace(microsecond=0)
    paris = ZoneInfo("Europe/Paris")
    here = now.astimezone(paris)
    month = FRENCH_MONTHS[here.month - 1]
    zone = "CEST" if here.dst() else "CET"
    french = f"{FRENCH_DAYS[here.weekday()]} {here:%d} {month} {here:%Y %H:%M:%S} {zone}"
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>/sitemaps/news-1.xml.gz</loc><lastmod>{now.date().isoformat()}</lastmod></sitemap>"
        "</sitemapindex>"
    )
    child = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
        "<url><loc>/politique/conseil-des-ministres.html</loc><news:news>"
        f"<news:publication_date>{format_datetime(now)}</news:publication_date>"
        "<news:title>Conseil des ministres</news:title></news:news></url>"
        "<url><loc>societe/greve-sncf.html</loc>"
        f"<lastmod>{french}</lastmod></url>"
        "</urlset>"
    )
    site.add("/sitemap_index.xml", index, content_type="application/xml")
    site.add(
        "/sitemaps/news-1.xml.gz", gzip.compress(child.encode()), content_type="application/octet-stream"
    )
    out = _poll(client, settings, f"{site.base}/sitemap_index.xml", kind="sitemap")
    assert out.error is None and out.warning is None
    assert [(e.url, e.title, e.published_at) for e in out.entries] == [
        (f"{site.base}/politique/conseil-des-ministres.html", "Conseil des ministres", now),
        (
            f"{site.base}/sitemaps/societe/greve-sncf.html",
            None,
            None,
        ),  # lastmod: in the window, no publication
    ]


DAY_NAMES = ("Lundi", "Mardi", "Mercredi", "Jeudi", "Vendredi", "Samedi", "Dimanche")
MONTH_NAMES = [
    "Janvier", "Février", "Mars", "Avril", "Mai", "Juin",
    "Juillet", "Août", "Septembre", "Octobre", "Novembre", "Décembre",
]  # fmt: skip


def _shown_twice(instant: datetime) -> bool:
    """Whether Paris's clock shows ``instant``'s wall time twice (02:00 to 03:00 on the night
    summer time ends): the wall time alone cannot say which, and Python's == between zones is
    False for either reading of it."""
    here = instant.astimezone(ZoneInfo("Europe/Paris"))
    return here.replace(fold=0).utcoffset() != here.replace(fold=1).utcoffset()


def test_sitemap_dates_of_a_month_a_year_or_written_in_french(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """W3C datetimes may be a year or a month (``2025``, ``2025-02``): a child sitemap or a URL so
    dated is read when that period meets the window; dates written as French sites write them
    (``10/02/2025 14:30`` day first, ``Lundi 10 Février 2025 - 14:30``) are read on the local
    clock. Before, each of them was undated: the child never read, the URLs left out."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    then = now - timedelta(hours=1)
    if _shown_twice(then):  # the night of October's change: 3 hours ago, a wall time shown once
        then = now - timedelta(hours=3)
    here = then.astimezone(ZoneInfo("Europe/Paris"))
    numeric = f"{here:%d/%m/%Y %H:%M}"
    words = f"{DAY_NAMES[here.weekday()]} {here.day} {MONTH_NAMES[here.month - 1]} {here:%Y - %H:%M}"
    long_ago = now.year - 3
    index = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>/sitemap-mois.xml</loc><lastmod>{here:%Y-%m}</lastmod></sitemap>"
        f"<sitemap><loc>/sitemap-ancien.xml</loc><lastmod>{long_ago}-01</lastmod></sitemap>"
        "</sitemapindex>"
    )
    child = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<url><loc>/a/annee.html</loc><lastmod>{here:%Y}</lastmod></url>"
        f"<url><loc>/a/mois.html</loc><lastmod>{here:%Y-%m}</lastmod></url>"
        f"<url><loc>/a/chiffres.html</loc><lastmod>{numeric}</lastmod></url>"
        f"<url><loc>/a/lettres.html</loc><lastmod>{words.upper()}</lastmod></url>"
        f"<url><loc>/a/vieux-mois.html</loc><lastmod>{long_ago}-01</lastmod></url>"
        f"<url><loc>/a/vieille-annee.html</loc><lastmod>{long_ago}</lastmod></url>"
        "<url><loc>/a/illisible.html</loc><lastmod>le mois dernier</lastmod></url>"
        "</urlset>"
    )
    site.add("/sitemap_index.xml", index, content_type="application/xml")
    site.add("/sitemap-mois.xml", child, content_type="application/xml")
    site.add("/sitemap-ancien.xml", "never read", status=500, content_type="text/plain")
    out = _poll(client, settings, f"{site.base}/sitemap_index.xml", kind="sitemap")
    assert out.error is None and out.warning == (
        "1 sitemap problem(s): 1 URL date(s) naming no real day or time, taken as absent (an"
        " undated URL is not taken): 'le mois dernier' (not a W3C date, YYYY-MM-DD)"
    )  # the unreadable one is said (it was silent)
    assert [e.url.removeprefix(site.base) for e in out.entries] == [
        "/a/annee.html",
        "/a/mois.html",
        "/a/chiffres.html",
        "/a/lettres.html",
    ]
    assert out.ignored == 4  # the old child, the two old URLs and the unreadable one
    assert sitemap_period(numeric) == sitemap_period(words) == (then,) * 2
    assert sitemap_period(f"{here:%Y-%m}") == (
        datetime(here.year, here.month, 1, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(here.year + here.month // 12, here.month % 12 + 1, 1, tzinfo=ZoneInfo("Europe/Paris")),
    )


@pytest.mark.parametrize(
    ("kind", "ctype"),
    [
        ("feed", "text/rss+xml"),
        ("feed", "application/x-atom+xml"),
        ("feed", "binary/octet-stream"),  # Amazon S3's label for a file uploaded without one
        ("sitemap", "binary/octet-stream"),
        ("sitemap", "text/x-xml"),
    ],
)
def test_feeds_and_sitemaps_under_other_xml_labels_are_read(
    site: LocalSite, client: Client, settings: Settings, kind: str, ctype: str
) -> None:
    """Any XML type (``.../xml``, ``...+xml``), or S3's ``binary/octet-stream``, is a body the
    parser decides on, as ``text/xml`` is: it was refused, "content type ... is not one veille
    reads here"."""
    now = datetime.now(UTC).replace(microsecond=0)
    if kind == "feed":
        body = _rss(
            f"<item><title>A</title><link>{site.base}/a.html</link><pubDate>{format_datetime(now)}</pubDate></item>"
        )
    else:
        body = (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.base}/a.html</loc><lastmod>{now.isoformat()}</lastmod></url></urlset>"
        )
    site.add("/labelled", body, content_type=ctype)
    out = _poll(client, settings, f"{site.base}/labelled", kind=kind)
    assert out.error is None
    assert [e.url for e in out.entries] == [f"{site.base}/a.html"]


def test_an_image_is_still_no_feed(site: LocalSite, client: Client, settings: Settings) -> None:
    site.add("/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png")
    out = _poll(client, settings, f"{site.base}/logo.png")
    assert out.error_class == "permanent" and "image/png" in (out.error or "") and out.entries == []


@pytest.mark.parametrize(
    ("body", "ctype", "cause"),
    [
        (
            b"<!DOCTYPE html>\n<html lang=fr><head><title>Erreur 404 &ndash; Page introuvable</title></head>"
            b"<body><h1>Oups</h1></body></html>",
            "application/rss+xml",
            "not a feed: an HTML page ('Erreur 404 \u2013 Page introuvable')",
        ),
        (b"<html><body>Maintenance</body></html>", "text/xml", "not a feed: an HTML page"),
    ],
    ids=["html-error-page", "html-no-title"],
)
def test_a_200_that_is_no_feed_says_what_it_is(
    site: LocalSite, client: Client, settings: Settings, body: bytes, ctype: str, cause: str
) -> None:
    """An HTML error page served as the feed: a permanent error whose reason names it (it said
    "no RSS/Atom structure found", or a SAX parser's line and column). An empty 200 is
    transient: tests/test_empty_answers.py."""
    site.add("/une.xml", body, content_type=ctype)
    out = _poll(client, settings, f"{site.base}/une.xml")
    assert out.error_class == "permanent" and out.entries == []
    assert out.error == cause


NETSCAPE = (
    '<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
    '"http://my.netscape.com/publish/formats/rss-0.91.dtd">'
)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize(
    "doctype", [NETSCAPE, '<!DOCTYPE rss SYSTEM "rss.dtd">', ""], ids=["netscape", "system", "none"]
)
def test_html_named_entities_are_read_not_dropped(doctype: str, fast: bool) -> None:
    """HTML's ``&eacute;`` or ``&nbsp;`` in an RSS 0.91 feed that names Netscape's DTD: the
    parser dropped them without a word ("&eacute;t&eacute;" became "t"); without a DOCTYPE
    they were read, but the feed called malformed on every poll. CDATA is left as written."""
    body = (
        f'<?xml version="1.0" encoding="ISO-8859-1"?>{doctype}<rss version="0.91"><channel>'
        "<title>Le Journal de l&rsquo;&Eacute;t&eacute;</title><language>fr</language>"
        "<item><title>&Eacute;t&eacute;&nbsp;: la s&eacute;cheresse</title>"
        "<link>https://lejournal.test/ete-secheresse.html</link>"
        "<description><![CDATA[<p>Code &eacute;crit tel quel</p>]]></description></item>"
        "</channel></rss>"
    )
    parsed = parse_feed(body.encode("iso-8859-1"), "https://lejournal.test/rss.xml", "text/xml", fast=fast)
    assert parsed.bozo_reason is None
    assert parsed.title == "Le Journal de l\u2019\u00c9t\u00e9"
    assert [e.title for e in parsed.entries] == ["\u00c9t\u00e9\u00a0: la s\u00e9cheresse"]
    assert parsed.entries[0].summary == "<p>Code &eacute;crit tel quel</p>"  # HTML, as written


def test_an_entity_the_feed_declares_is_its_own() -> None:
    body = (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY eacute "E-AIGU">]><rss version="2.0"><channel>'
        "<title>T</title><item><title>&eacute;t&eacute;</title><link>https://lejournal.test/a.html</link>"
        "</item></channel></rss>"
    )
    parsed = parse_feed(body.encode(), "https://lejournal.test/rss.xml", "text/xml")
    assert [e.title for e in parsed.entries] == ["E-AIGUtE-AIGU"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize("raw", ["2025", "2025-02", " 2025-02 "])
def test_an_entry_dated_by_a_year_or_a_month_only_is_undated(raw: str, fast: bool) -> None:
    """A W3C date of a year or a month names no day: feedparser read "2025-02" as 1 February,
    a day the feed never gave, so the article was counted on it. Nothing is guessed: undated.
    (A sitemap's lastmod of a month is the period it names: that is a window, not a day.)"""
    body = _rss(
        "<item><title>A</title><link>https://lagazette.test/a.html</link>"
        f"<pubDate>{raw}</pubDate></item>"
        "<item><title>B</title><link>https://lagazette.test/b.html</link>"
        "<pubDate>2025-02-10T14:30:00Z</pubDate></item>"
    )
    parsed = parse_feed(body.encode(), "https://lagazette.test/rss.xml", "application/rss+xml", fast=fast)
    assert [e.published_at for e in parsed.entries] == [None, datetime(2025, 2, 10, 14, 30, tzinfo=UTC)]


def test_an_atom_entry_published_by_month_falls_back_to_its_dated_update() -> None:
    body = (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        '<entry><title>A</title><link href="https://lagazette.test/a.html"/>'
        "<published>2025-02</published><updated>2025-02-11T08:00:00+01:00</updated></entry></feed>"
    )
    parsed = parse_feed(body.encode(), "https://lagazette.test/atom.xml", "application/atom+xml")
    assert parsed.entries[0].published_at == datetime(2025, 2, 11, 7, 0, tzinfo=UTC)
