# ruff: noqa: E501
"""The RSS 2.0 fast path (monitors/collect/rss_fast.py) gives what feedparser gives.

Feeds written here, varied by hypothesis: every element an item or a channel may hold in
the wild (HTML and entities in titles and summaries, CDATA, relative and odd links, guids
with and without isPermaLink, dates in several formats, authors with e-mails, namespaced
extras, mis-decoded UTF-8), in any order. ``parse_feed`` must return the same result with
the fast path and with feedparser alone; the feeds the fast path must leave to feedparser
return ``None`` from it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitors.collect.feeds import parse_feed
from monitors.collect.rss_fast import parse_rss

BASE = "https://media.example.fr/rss/une.xml"
NAMESPACES = (
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    ' xmlns:atom="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"'
    ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:slash="http://purl.org/rss/1.0/modules/slash/"'
    ' xmlns:feedburner="http://rssnamespace.org/feedburner/ext/1.0" xmlns:x="http://example.org/x"'
)

TEXTS = [
    "Sommet de l’IA : « accélérer »",
    "  espaces autour  ",
    "Q&amp;A sur l&apos;IA",
    "&lt;b&gt;Gras&lt;/b&gt; et &lt;i&gt;italique&lt;/i&gt;",
    '<![CDATA[<p>Un <a href="/rel/lien.html">lien</a> et <script>alert(1)</script></p>]]>',
    "<![CDATA[Texte brut avec 3 < 4 & 5 > 2]]>",
    "&lt;img src=&quot;images/a.jpg&quot; onerror=&quot;x()&quot;&gt; légende",
    "Ã©tÃ© (UTF-8 lu comme latin-1)",
    "guillemets &#8220;doubles&#8221; &#x2019; et &#128; &#150;",
    "ligne 1&#13;\nligne 2",
    "&amp;nbsp; &amp;eacute; entités doublement échappées",
    "x &lt; y &amp;&amp; y &gt; z",
    "",
    "Έλληνες και 日本語",
    "&lt;/p&gt;fermeture seule",
    "&lt;a href=&quot;/relatif.html&quot; onclick=&quot;x()&quot;&gt;lien&lt;/a&gt; dans un titre",
]
LINKS = [
    "https://media.example.fr/a/un.html",
    "/a/relatif.html",
    "relatif/sans-slash.html?x=1&amp;y=2",
    "  https://media.example.fr/a/espaces.html  ",
    "https://media.example.fr/a/q?a=1&amp;amp;b=2",
    "javascript:alert(1)",
    "http://autre.example.org/%C3%A9t%C3%A9",
    "//cdn.example.fr/proto-relatif.html",
    "https://media.example.fr/a/é.html",
]
GUIDS = [
    "<guid>https://media.example.fr/a/guid.html</guid>",
    '<guid isPermaLink="false">urn:uuid:1234</guid>',
    '<guid isPermaLink="true">/a/guid-relatif.html</guid>',
    '<guid isPermaLink="false">https://media.example.fr/a/pas-un-lien.html</guid>',
    "<guid>12345</guid>",
    '<guid isPermaLink="false">/a/guid-pas-un-lien.html</guid>',
    '<guid isPermaLink="True">https://media.example.fr/a/majuscule.html</guid>',
]
DATES = [
    "Mon, 10 Feb 2025 09:00:00 +0100",
    "Mon, 10 Feb 2025 09:00:00 GMT",
    "10 Feb 2025 09:00 CET",
    "2025-02-10T09:00:00Z",
    "2025-02-10",
    "lundi 10 février 2025",
    "",
    "Tue, 31 Feb 2025 25:61:00 +0000",
]
AUTHORS = ["Jean Dupont", "jean@example.fr (Jean Dupont)", "redaction@example.fr", "  ", "Agence &amp; Cie"]


def _item_parts() -> st.SearchStrategy[list[str]]:
    text = st.sampled_from(TEXTS)
    read = [  # (kind, element): one of each kind per item, in any order
        text.map(lambda t: ("title", f"<title>{t}</title>")),
        st.sampled_from(LINKS).map(lambda u: ("link", f"<link>{u}</link>")),
        st.sampled_from(GUIDS).map(lambda g: ("guid", g)),
        text.map(lambda t: ("description", f"<description>{t}</description>")),
        text.map(lambda t: ("content", f"<content:encoded>{t}</content:encoded>")),
        st.sampled_from(DATES).map(lambda d: ("pubdate", f"<pubDate>{d}</pubDate>")),
        st.sampled_from(DATES).map(lambda d: ("dcdate", f"<dc:date>{d}</dc:date>")),
        st.sampled_from(AUTHORS).map(lambda a: ("author", f"<author>{a}</author>")),
        st.sampled_from(AUTHORS).map(lambda a: ("author", f"<dc:creator>{a}</dc:creator>")),
        st.just(("category", '<category domain="x">Politique</category>')),
        st.just(("enclosure", '<enclosure url="/media/son.mp3" type="audio/mpeg" length="1"/>')),
        st.just(("media", '<media:content url="https://cdn.example.fr/i.jpg" medium="image"/>')),
        text.map(
            lambda t: (
                "mediafull",
                '<media:content url="https://cdn.example.fr/i.jpg"><media:title>Photo</media:title>'
                f'<media:description>{t}</media:description><media:credit role="author">AFP</media:credit>'
                '<media:thumbnail url="/t.jpg"/><media:keywords>ia, sommet</media:keywords></media:content>',
            )
        ),
        st.just(
            (
                "mediagroup",
                '<media:group><media:content url="/v.mp4"/><media:title>Vidéo</media:title></media:group>',
            )
        ),
        st.just(("mtitle", "<media:title>Titre média</media:title>")),
        st.just(("mdesc", "<media:description>Légende directe</media:description>")),
        st.just(("slash", "<slash:comments>4</slash:comments>")),
        st.just(
            ("origlink", "<feedburner:origLink>https://media.example.fr/orig.html</feedburner:origLink>")
        ),
        st.just(("comments", "<comments>/a/commentaires.html</comments>")),
        st.just(("comment", "<!-- un commentaire -->")),
    ]
    # left to feedparser (the fast path must say so, and the result stays the same)
    other = st.sampled_from(
        [
            '<atom:link rel="alternate" href="/atom-lien.html"/>',
            '<source url="https://autre.example.org/rss">Autre</source>',
            "<x:title>inconnu</x:title>",
            "<title>Un second titre</title>",
            "<description>Une seconde description</description>",
        ]
    )
    parts = st.lists(st.one_of(*read), max_size=10, unique_by=lambda kv: kv[0]).map(
        lambda kvs: [v for _, v in kvs]
    )
    extra = st.lists(other, max_size=1)
    return st.tuples(parts, extra, st.integers(0, 10), st.booleans()).map(
        lambda p: p[0][: p[2]] + p[1] + p[0][p[2] :] if p[3] and p[1] else p[0]
    )


def _channel_parts() -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.one_of(
            st.sampled_from(TEXTS).map(lambda t: f"<title>{t}</title>"),
            st.sampled_from(["fr", "fr-FR", " en ", "FR_fr"]).map(lambda x: f"<language>{x}</language>"),
            st.sampled_from(["60", " 15 ", "x"]).map(lambda x: f"<ttl>{x}</ttl>"),
            st.sampled_from(["hourly", "daily", "Weekly"]).map(
                lambda x: f"<sy:updatePeriod>{x}</sy:updatePeriod>"
            ),
            st.sampled_from(["2", "0", "x"]).map(lambda x: f"<sy:updateFrequency>{x}</sy:updateFrequency>"),
            st.just("<link>https://media.example.fr/</link>"),
            st.just("<description>Toute l'actualité</description>"),
            st.just(
                '<atom:link href="https://media.example.fr/rss/une.xml" rel="self" type="application/rss+xml"/>'
            ),
            st.just("<image><url>/logo.png</url><title>Logo</title><link>/</link></image>"),
            st.just("<lastBuildDate>Mon, 10 Feb 2025 09:00:00 +0100</lastBuildDate>"),
            st.just("<generator>WordPress</generator>"),
            st.just("<textInput><title>Chercher</title><name>q</name><link>/s</link></textInput>"),
        ),
        max_size=6,
        unique_by=lambda e: e.split(">")[0].split(" ")[0],
    )


def _feed(channel: list[str], items: list[list[str]]) -> bytes:
    body = "".join(channel) + "".join(f"<item>{''.join(parts)}</item>" for parts in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" {NAMESPACES}><channel>{body}</channel></rss>'.encode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channel=_channel_parts(),
    items=st.lists(_item_parts(), max_size=5),
    ctype=st.sampled_from(["application/rss+xml", "application/rss+xml; charset=utf-8", "text/xml", None]),
)
def test_fast_path_gives_what_feedparser_gives(
    channel: list[str], items: list[list[str]], ctype: str | None
) -> None:
    body = _feed(channel, items)
    assert parse_feed(body, BASE, ctype) == parse_feed(body, BASE, ctype, fast=False)


TYPICAL = _feed(
    [
        "<title>Le Média — À la une</title>",
        "<link>https://media.example.fr/</link>",
        "<language>fr</language>",
        "<ttl>15</ttl>",
        '<atom:link href="https://media.example.fr/rss/une.xml" rel="self" type="application/rss+xml"/>',
    ],
    [
        [
            "<title>Sommet de l’IA : Q&amp;A</title>",
            "<link>/2025/02/10/sommet.html?utm=1&amp;x=2</link>",
            '<guid isPermaLink="false">urn:media:1</guid>',
            '<description><![CDATA[<p>Résumé avec <a href="/lien.html">un lien</a><script>x()</script></p>]]></description>',
            "<pubDate>Mon, 10 Feb 2025 09:00:00 +0100</pubDate>",
            "<dc:creator>Jean Dupont</dc:creator>",
            "<category>IA</category>",
            '<media:content url="https://cdn.example.fr/i.jpg" medium="image"><media:description>Légende</media:description>'
            "<media:credit>AFP</media:credit></media:content>",
        ],
        ["<title>Sans lien</title>", "<guid>https://media.example.fr/2025/02/10/guid.html</guid>"],
    ],
)


def test_typical_feed_takes_the_fast_path_with_feedparsers_values() -> None:
    headers = {"content-location": BASE, "content-type": "application/rss+xml"}
    assert parse_rss(TYPICAL, headers) is not None
    fast = parse_feed(TYPICAL, BASE, "application/rss+xml")
    assert fast == parse_feed(TYPICAL, BASE, "application/rss+xml", fast=False)
    first, second = fast.entries
    assert first.url == "https://media.example.fr/2025/02/10/sommet.html?utm=1&x=2"
    assert first.title == "Sommet de l’IA : Q&A"
    assert first.summary is not None and "<script>" not in first.summary and "x()" not in first.summary
    assert 'href="https://media.example.fr/lien.html"' in first.summary  # resolved as feedparser does
    assert first.author == "Jean Dupont" and first.published_at is not None
    assert second.url == "https://media.example.fr/2025/02/10/guid.html"
    assert (fast.title, fast.language, fast.ttl_minutes) == ("Le Média — À la une", "fr", 15)


def test_feeds_the_fast_path_leaves_to_feedparser() -> None:
    def fast(body: bytes, ctype: str = "application/rss+xml") -> object:
        return parse_rss(body, {"content-location": BASE, "content-type": ctype})

    def rss(extra: str = "", link: str = "<link>/a.html</link>", root: str = "") -> bytes:
        return _feed([], [[f"<title>t</title>{link}{extra}"]]).replace(b"<rss ", f"<rss {root} ".encode())

    assert fast(rss()) is not None
    assert fast(rss(), "text/html") is None  # feedparser flags a feed served as HTML (bozo)
    assert (
        fast(
            rss("<media:title>m</media:title>", link="<link>/a.html</link>").replace(b"<title>t</title>", b"")
        )
        is None
    )
    assert fast(rss("<media:description>d</media:description><description>s</description>")) is None
    # after content:encoded, a media:description beside the description replaces the summary
    body = rss(
        "<content:encoded>c</content:encoded><description>s</description><media:description>m</media:description>"
    )
    assert fast(body) is None and parse_feed(body, BASE, None).entries[0].summary == "m"
    assert fast(rss("<title>deux</title>")) is None  # repeats follow feedparser's depth rules
    assert fast(rss('<atom:link href="/b.html"/>')) is None
    assert fast(rss(root='xml:base="https://ailleurs.example.org/"')) is None
    assert fast(rss("<x:y><title>n</title></x:y>")) is None
    assert fast(rss("<enclosure url='/m.mp3'/>", link="")) is None  # its URL would be the link
    doctype = b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "x">]><rss version="2.0"><channel>'
    assert fast(doctype + b"<item><title>&e;</title><link>/a.html</link></item></channel></rss>") is None
    assert fast(b'<feed xmlns="http://www.w3.org/2005/Atom"><title>a</title></feed>') is None
    assert fast(b'<rss version="0.91"><channel><item><link>/a.html</link></item></channel></rss>') is None
    assert fast(b'<rss version="2.0"><channel><item><title>ouvert</channel></rss>') is None  # not well-formed
    assert fast(b"") is None


def test_an_unforeseen_failure_of_the_fast_path_falls_back_to_feedparser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fast path is a shortcut: a body it breaks on unexpectedly is read by feedparser,
    not lost."""
    from monitors.collect import feeds

    def broken(content: bytes, headers: dict[str, str]) -> None:
        raise TypeError("unforeseen")

    monkeypatch.setattr(feeds, "parse_rss", broken)
    got = parse_feed(TYPICAL, BASE, "application/rss+xml")
    assert got == parse_feed(TYPICAL, BASE, "application/rss+xml", fast=False)
    assert len(got.entries) == 2


# URLs built from pieces that urllib rewrites or rejects (case of the scheme, extra slashes,
# brackets, ports, params, empty queries and fragments, spaces, controls, non-ASCII) as well
# as plain ones, so both the shortcut of ``_join`` and its way through ``_urljoin`` are drawn.
_SCHEMES = st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "feed", "javascript", ""])
_SEPARATORS = st.sampled_from(["://", "://", "://", ":///", ":/", ":", "//", ""])
_HOST_CHARS = st.sampled_from(list("abz09.-_:@[]%é ") + ["\t", "\n", "xn--", "example.fr", "127.0.0.1"])
_PATH_CHARS = st.sampled_from(
    list("/az09._~!$&'()*+,=:@%-;?#é ") + ["\t", "\r\n", "..", "//", "%C3%A9", "&amp;", "?", "#"]
)


@st.composite
def _urls(draw: st.DrawFn) -> str:
    host = "".join(draw(st.lists(_HOST_CHARS, max_size=4)))
    port = draw(st.sampled_from(["", "", ":8080", ":", ":x", ":99999"]))
    path = "".join(draw(st.lists(_PATH_CHARS, max_size=8)))
    return f"{draw(_SCHEMES)}{draw(_SEPARATORS)}{host}{port}{path}"


_PLAIN_URLS = st.builds(
    lambda scheme, host, port, path, query, odd: f"{scheme}://{host}{port}{path}{query}{odd}",
    st.sampled_from(["http", "https"]),
    st.sampled_from(["media.example.fr", "127.1.0.1", "a-b.c", "x"]),
    st.sampled_from(["", ":8080", ":1"]),
    st.sampled_from(["", "/", "/a/b.html", "/%C3%A9t%C3%A9/", "/a/../b", "//c", "/a:b@c!$&'()*+,="]),
    st.sampled_from(["", "?x=1&y=2", "?a=b?c", "?utm=1&amp;x=2", "?%20"]),
    # mostly nothing; else one piece urllib drops, rewrites or rejects
    st.sampled_from([""] * 8 + [";", ";p", "#", "#f", "?", " ", "\t", "\n", "é", "[", "]", "\x00"]),
)


@settings(max_examples=1500, deadline=None)
@given(base=st.one_of(_PLAIN_URLS, _urls()), uri=st.one_of(_PLAIN_URLS, _urls()))
def test_join_gives_what_feedparsers_urljoin_gives(base: str, uri: str) -> None:
    from feedparser.urls import _urljoin

    from monitors.collect.rss_fast import _join

    assert _join(base, uri) == _urljoin(base, uri)


def test_join_takes_its_shortcut_on_plain_absolute_urls() -> None:
    from monitors.collect.rss_fast import _PLAIN_URL

    for url in [
        "https://media.example.fr/2025/02/10/sommet.html?utm=1&x=2",
        "http://127.1.0.1:8080/a/1-2.html",
    ]:
        assert _PLAIN_URL.fullmatch(url)
    for url in [
        "HTTP://a/b",
        "http://a/b;p",
        "http://a/b?",
        "http://a/b#f",
        "http://[::1]/",
        "http://a/é",
        "http:///a",
    ]:
        assert not _PLAIN_URL.fullmatch(url)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF)) | st.text())
def test_fix_gives_what_feedparsers_steps_give(text: str) -> None:
    import contextlib

    from feedparser.html import _cp1252

    from monitors.collect.rss_fast import _fix

    expected = text
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        expected = expected.encode("iso-8859-1").decode("utf-8")
    assert _fix(text) == expected.translate(_cp1252)
