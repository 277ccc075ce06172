"""Tests for monitors.group.urls: canonical URLs are idempotent and ignore tracking, fragments, AMP."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from monitors.group.urls import _is_tracking, canonicalize_url, host_of, same_site

# --- strategies ------------------------------------------------------------------------------

_HOSTS = st.sampled_from(
    [
        "lemonde.fr",
        "www.lemonde.fr",
        "WWW.LeFigaro.fr",
        "m.liberation.fr",
        "mobile.lesechos.fr",
        "www.francetvinfo.fr",
        "news.bbc.co.uk",
        "alice.github.io",
        "127.0.0.1",
        "localhost",
        "pcf.fr",
        "xn--caf-dma.fr",
        "café.fr",
        "www2.ouest-france.fr",
    ]
)
_SEGMENT = st.lists(
    st.sampled_from(list("abcXYZ019-._~!$&'()*+,;=:@%é ü") + ["%2F", "%41", "%7e", "%c3%a9", "amp", ".."]),
    max_size=8,
).map("".join)
_PATH = st.lists(_SEGMENT, max_size=5).map(lambda segs: "/" + "/".join(segs))
_KEY = st.text(alphabet=st.sampled_from(list("abcdefpq_")), min_size=1, max_size=6).filter(
    lambda k: not _is_tracking(k, "") and k.lower() != "amp"
)
_VALUE = st.lists(st.sampled_from(list("abc12 +%é/?=") + ["%20", "%2B"]), max_size=8).map("".join)
_QUERY = st.lists(st.tuples(_KEY, _VALUE), max_size=4)
_FRAGMENT = st.text(alphabet=st.sampled_from(list("abc12-/#?=&")), max_size=10)
_TRACKING = st.lists(
    st.sampled_from(
        [
            ("utm_source", "twitter"),
            ("utm_medium", "social"),
            ("utm_campaign", "sommet-ia"),
            ("UTM_Content", "x"),
            ("xtor", "RSS-1"),
            ("at_medium", "rss"),
            ("at_campaign", "a b"),
            ("fbclid", "IwAR0abc"),
            ("gclid", "Cj0K"),
            ("dclid", "1"),
            ("msclkid", "z"),
            ("mc_cid", "123"),
            ("mc_eid", "456"),
            ("_ga", "2.1.2"),
            ("yclid", "9"),
            ("igshid", "MzRl"),
            ("ref", "twitter"),
            ("ref_src", "twsrc^tfw"),
            ("ref", "rss"),
            ("Echobox", "1739"),
            ("_gl", "1*abc"),
        ]
    ),
    min_size=1,
    max_size=4,
)


def _build(scheme: str, host: str, path: str, query: list[tuple[str, str]], fragment: str) -> str:
    qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
    return (
        f"{scheme}://{host}{quote(path, safe='/%:@!$&()*+,;=~')}"
        + (f"?{qs}" if qs else "")
        + (f"#{fragment}" if fragment else "")
    )


_URL = st.builds(_build, st.sampled_from(["http", "https", "HTTPS"]), _HOSTS, _PATH, _QUERY, _FRAGMENT)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(_URL)
def test_idempotent(url: str) -> None:
    once = canonicalize_url(url)
    assert canonicalize_url(once) == once


@settings(max_examples=200)
@given(_URL, st.text(alphabet=st.sampled_from(list("/abc.")), max_size=12))
def test_idempotent_with_rel_canonical(url: str, rel: str) -> None:
    once = canonicalize_url(url, rel)
    assert canonicalize_url(once) == once


@settings(max_examples=300)
@given(st.sampled_from(["http", "https"]), _HOSTS, _PATH, _QUERY, _TRACKING, st.randoms())
def test_tracking_parameters_never_matter(
    scheme: str,
    host: str,
    path: str,
    query: list[tuple[str, str]],
    tracking: list[tuple[str, str]],
    rnd: random.Random,
) -> None:
    # tracking parameters anywhere, the page's own in any order of their keys (a repeated
    # key's values keep theirs: which one a server reads)
    keys = sorted({k for k, _ in query})
    rnd.shuffle(keys)
    mixed = [(k, v) for key in keys for k, v in query if k == key]
    for pair in tracking:
        mixed.insert(rnd.randint(0, len(mixed)), pair)
    assert canonicalize_url(_build(scheme, host, path, mixed, "")) == canonicalize_url(
        _build(scheme, host, path, query, "")
    )


@settings(max_examples=200)
@given(_URL, _FRAGMENT)
def test_fragment_never_matters(url: str, fragment: str) -> None:
    base = url.split("#", 1)[0]
    assert canonicalize_url(f"{base}#{fragment}") == canonicalize_url(base)
    assert "#" not in canonicalize_url(url)


# --- examples, one per rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host lower-case
        ("HTTPS://WWW.LeMonde.FR/Pixels/Article.html", "https://lemonde.fr/Pixels/Article.html"),
        # www. / m. / mobile. dropped, but not when they are the registrable name itself
        ("https://www.liberation.fr/a", "https://liberation.fr/a"),
        ("https://m.lefigaro.fr/a", "https://lefigaro.fr/a"),
        ("https://mobile.lesechos.fr/a", "https://lesechos.fr/a"),
        ("https://www2.ouest-france.fr/a", "https://ouest-france.fr/a"),
        ("https://www.m.fr/a", "https://m.fr/a"),
        ("https://www.bbc.co.uk/news", "https://bbc.co.uk/news"),
        # default ports dropped, others kept
        ("http://lemonde.fr:80/a", "http://lemonde.fr/a"),
        ("https://lemonde.fr:443/a", "https://lemonde.fr/a"),
        ("https://lemonde.fr:8443/a", "https://lemonde.fr:8443/a"),
        # AMP variants
        ("https://www.lefigaro.fr/amp/politique/article", "https://lefigaro.fr/politique/article"),
        ("https://www.liberation.fr/politique/article/amp", "https://liberation.fr/politique/article"),
        ("https://www.liberation.fr/politique/article/amp/", "https://liberation.fr/politique/article"),
        ("https://lemonde.fr/a.html?outputType=amp", "https://lemonde.fr/a.html"),
        ("https://lemonde.fr/a?amp=1", "https://lemonde.fr/a"),
        ("https://lemonde.fr/a?amp", "https://lemonde.fr/a"),
        ("https://ouest-france.fr/a/article.amp", "https://ouest-france.fr/a/article"),
        ("https://ouest-france.fr/a/article.amp.html", "https://ouest-france.fr/a/article.html"),
        ("https://ouest-france.fr/a/camp/ample", "https://ouest-france.fr/a/camp/ample"),
        # fragments dropped
        ("https://lemonde.fr/a#comments", "https://lemonde.fr/a"),
        # tracking dropped, real parameters kept and sorted
        (
            "https://lemonde.fr/a?utm_source=tw&xtor=RSS-3&page=2&at_medium=x&fbclid=1&id=9",
            "https://lemonde.fr/a?id=9&page=2",
        ),
        ("https://lemonde.fr/search?q=ia&b=2&a=1", "https://lemonde.fr/search?a=1&b=2&q=ia"),
        # a repeated key keeps its values' order (which one a server reads): keys sorted, stably
        ("https://lemonde.fr/a?id=2&b=1&id=1", "https://lemonde.fr/a?b=1&id=2&id=1"),
        ("https://lemonde.fr/a?tag=z&tag=a", "https://lemonde.fr/a?tag=z&tag=a"),
        ("https://lemonde.fr/a?ref=twitter", "https://lemonde.fr/a"),
        ("https://lemonde.fr/a?ref_src=twsrc%5Etfw", "https://lemonde.fr/a"),
        ("https://github.com/x/y/pulls?ref=main", "https://github.com/x/y/pulls?ref=main"),
        # trailing slash stripped except for the root
        ("https://lemonde.fr/pixels/", "https://lemonde.fr/pixels"),
        ("https://lemonde.fr/", "https://lemonde.fr/"),
        ("https://lemonde.fr", "https://lemonde.fr/"),
        # percent-encoding: unreserved decoded, hex upper-case, reserved kept, raw UTF-8 encoded
        ("https://lemonde.fr/%7euser/%41b", "https://lemonde.fr/~user/Ab"),
        ("https://lemonde.fr/a%2fb", "https://lemonde.fr/a%2Fb"),
        ("https://lemonde.fr/caf%c3%a9", "https://lemonde.fr/caf%C3%A9"),
        ("https://lemonde.fr/café", "https://lemonde.fr/caf%C3%A9"),
        (
            "https://lemonde.fr/s?q=intelligence+artificielle",
            "https://lemonde.fr/s?q=intelligence%20artificielle",
        ),
        # dot segments and empty segments
        ("https://lemonde.fr/a/./b/../c//d", "https://lemonde.fr/a/c/d"),
        # international host names in IDNA form
        ("https://café.fr/a", "https://xn--caf-dma.fr/a"),
        # IPv6 literal hosts (were refused as "invalid host name '::1'"): compressed, default port dropped
        ("http://[::1]/a", "http://[::1]/a"),
        ("https://[2001:DB8:0:0::1]:443/a", "https://[2001:db8::1]/a"),
        ("http://[2001:db8::1]:8080/a?b=1#c", "http://[2001:db8::1]:8080/a?b=1"),
        # escapes that are not UTF-8 keep their bytes (were all one U+FFFD, "%EF%BF%BD")
        ("https://lemonde.fr/s?q=caf%e9", "https://lemonde.fr/s?q=caf%E9"),
        ("https://lemonde.fr/s?q%FF=1", "https://lemonde.fr/s?q%FF=1"),
    ],
)
def test_rules(url: str, expected: str) -> None:
    assert canonicalize_url(url) == expected
    assert canonicalize_url(expected) == expected


@pytest.mark.parametrize(
    ("url", "rel", "expected"),
    [
        # same site (www vs none, other subdomain of the same registrable domain): canonical wins
        (
            "https://www.lemonde.fr/a?utm_source=x",
            "https://www.lemonde.fr/canon/",
            "https://lemonde.fr/canon",
        ),
        ("https://m.lemonde.fr/a", "https://www.lemonde.fr/b", "https://lemonde.fr/b"),
        ("https://amp.lemonde.fr/a", "https://www.lemonde.fr/b", "https://lemonde.fr/b"),
        # relative and protocol-relative canonicals are resolved against the page URL
        ("https://www.lemonde.fr/x/y", "/canon/", "https://lemonde.fr/canon"),
        ("https://www.lemonde.fr/x/y", "z", "https://lemonde.fr/x/z"),
        ("https://www.lemonde.fr/x/y", "//www.lemonde.fr/z", "https://lemonde.fr/z"),
        # other site: ignored (a syndication partner must not absorb the source)
        ("https://fr.news.yahoo.com/a", "https://www.lemonde.fr/b", "https://fr.news.yahoo.com/a"),
        ("https://alice.github.io/a", "https://bob.github.io/b", "https://alice.github.io/a"),
        ("http://127.0.0.1:8000/a", "http://127.0.0.1:8001/b", "http://127.0.0.1:8000/a"),
        # the home page named from another page: a template's fixed tag, ignored
        ("https://www.lemonde.fr/x/y", "https://www.lemonde.fr/", "https://lemonde.fr/x/y"),
        ("https://www.lemonde.fr/x/y", "/", "https://lemonde.fr/x/y"),
        ("https://lemonde.fr/?p=12", "https://lemonde.fr/", "https://lemonde.fr/?p=12"),
        ("https://www.lemonde.fr/", "https://lemonde.fr/", "https://lemonde.fr/"),
        ("https://www.lemonde.fr/x/y", "/?p=12", "https://lemonde.fr/?p=12"),
        # invalid or empty canonical: ignored
        ("https://lemonde.fr/a", "javascript:void(0)", "https://lemonde.fr/a"),
        ("https://lemonde.fr/a", "", "https://lemonde.fr/a"),
        ("https://lemonde.fr/a", None, "https://lemonde.fr/a"),
    ],
)
def test_rel_canonical(url: str, rel: str | None, expected: str) -> None:
    assert canonicalize_url(url, rel) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "lemonde.fr/a",
        "ftp://lemonde.fr/a",
        "mailto:x@lemonde.fr",
        "http:///a",
        "https://le monde.fr/",
        "https://lemonde.fr:99999/",
        "https://-x-.fr/",
        "/relative/path",
        "http://[zz]/a",
        "http://[::1/a",
        "http://[::1]]/a",
        "http://[fe80::1%25eth0]/a",
        "http://[1::2::3]/a",
    ],
)
def test_invalid_urls_raise_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        canonicalize_url(bad)


def test_a_link_with_raw_spaces_is_the_page_a_browser_opens() -> None:
    """A feed, sitemap or listing link with a space in its path or query ("/mon article.html",
    a CMS's file name) was refused as unusable, the article never fetched; a browser (WHATWG
    URL) escapes it (%20) and opens the page. A space in the host, and control characters
    anywhere, are still refused."""
    page = "https://site.fr/mon%20article.html?q=sommet%20IA"
    assert canonicalize_url("https://site.fr/mon article.html?q=sommet IA") == page
    assert canonicalize_url("\u00a0 https://site.fr/mon article.html?q=sommet%20IA \n") == page
    assert canonicalize_url('https://site.fr/a"<>`{}|b') == "https://site.fr/a%22%3C%3E%60%7B%7D%7Cb"
    assert canonicalize_url("https://site.fr/a", "/mon article.html") == "https://site.fr/mon%20article.html"
    for bad in (
        "https://si te.fr/a",
        "https://site.fr\u00a0/a",
        "https://us er@site.fr/a",
        "https://site.fr/a\tb",
        "https://site.fr/a\nb",
        "https://site.fr/a?b=\x00",
        "https://site.fr/a\x85b",
    ):
        with pytest.raises(ValueError):
            canonicalize_url(bad)


@settings(max_examples=300)
@given(st.sampled_from(["http", "https"]), _HOSTS, _PATH, _QUERY)
def test_raw_spaces_are_escaped_spaces(
    scheme: str, host: str, path: str, query: list[tuple[str, str]]
) -> None:
    raw = f"{scheme}://{host}{path}" + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    assume(raw == raw.rstrip())  # a trailing space is stripped, as browsers do, not escaped
    once = canonicalize_url(raw)
    assert canonicalize_url(raw.replace(" ", "%20")) == once
    assert canonicalize_url(once) == once and " " not in once


def test_the_order_of_a_repeated_keys_values_is_kept() -> None:
    """PHP reads the last of ``?id=1&id=2``, Django's getlist() gives them in order: the two
    orders are two pages, which sorting the pairs made one URL (the second never fetched)."""
    assert canonicalize_url("https://example.fr/a?id=1&id=2") != canonicalize_url(
        "https://example.fr/a?id=2&id=1"
    )
    assert (
        canonicalize_url("https://example.fr/a?utm_source=x&id=1&k=0&id=2")
        == "https://example.fr/a?id=1&id=2&k=0"
    )


def test_query_values_in_another_charset_stay_apart() -> None:
    """Latin-1 query strings (older French sites): "é" and "è" are two pages, not one U+FFFD."""
    urls = [f"https://example.fr/recherche?mot=caf%{code}" for code in ("E9", "E8", "C3%A9")]
    assert len({canonicalize_url(u) for u in urls}) == 3


def test_a_url_longer_than_postgresql_can_index_is_refused() -> None:
    """A 3,000-byte URL in a feed failed the whole poll: the unique index on the queue's
    canonical URL holds at most 2,704 bytes (ProgramLimitExceeded)."""
    from monitors.group.urls import MAX_URL_BYTES

    longest = "https://example.fr/" + "a" * (MAX_URL_BYTES - len("https://example.fr/"))
    assert canonicalize_url(longest) == longest
    for too_long in (
        longest + "b",
        longest[:-10] + "?utm_source=" + "x" * 100,  # the given URL counts too (it is stored)
        "https://example.fr/" + "é" * 1000,  # 2,000 bytes, 6,000 once escaped
    ):
        with pytest.raises(ValueError, match="longer than 2048 bytes"):
            canonicalize_url(too_long)
    # an over-long rel=canonical is ignored, as any unusable one
    assert canonicalize_url("https://example.fr/a", "/" + "b" * 3000) == "https://example.fr/a"


def test_non_string_raises_value_error() -> None:
    with pytest.raises(ValueError, match="string"):
        canonicalize_url(None)  # type: ignore[arg-type]


def test_same_site() -> None:
    assert same_site("https://www.lemonde.fr/a", "http://lemonde.fr/b")
    assert same_site("https://m.lefigaro.fr/a", "https://lefigaro.fr/b")
    assert same_site("https://news.bbc.co.uk/a", "https://www.bbc.co.uk/b")
    assert not same_site("https://lemonde.fr/a", "https://lefigaro.fr/a")
    assert not same_site("https://alice.github.io/", "https://bob.github.io/")
    assert not same_site("http://localhost:8000/", "http://localhost:8001/")
    assert same_site("http://localhost:8000/a", "http://localhost:8000/b")


def test_host_of() -> None:
    assert host_of("https://WWW.LeMonde.fr:443/a?b=1") == "lemonde.fr"
    assert host_of("https://m.lefigaro.fr/a") == "lefigaro.fr"
    assert host_of("http://127.0.0.1:8000/a") == "127.0.0.1:8000"
    with pytest.raises(ValueError):
        host_of("not a url")


def test_the_character_checks_of_split_and_normalize_percent_hold_for_every_code_point() -> None:
    """The regexes that replaced per-character loops accept exactly what the loops did."""
    from monitors.group.urls import _CONTROL, _PATH_SAFE, _PLAIN_PATH, _SPACE_OR_CONTROL

    for code in range(0x110000):
        c = chr(code)
        assert bool(_SPACE_OR_CONTROL.search(c)) == (c.isspace() or code < 0x20), hex(code)
        assert bool(_CONTROL.search(c)) == (code < 0x20 or code == 0x85), hex(code)
        assert bool(_PLAIN_PATH.fullmatch(c)) == (c in _PATH_SAFE), hex(code)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("/az09-._~!$&'()*+,;=:@%2Fé [] ?#"))) | st.text())
def test_normalize_percent_takes_its_shortcut_only_where_it_changes_nothing(path: str) -> None:
    from monitors.group.urls import _PATH_SAFE, _normalize_percent

    loop_only = frozenset(set(_PATH_SAFE))  # equal, not the same object: no shortcut
    assert loop_only is not _PATH_SAFE  # frozenset(_PATH_SAFE) would be _PATH_SAFE itself
    assert _normalize_percent(path, _PATH_SAFE) == _normalize_percent(path, loop_only)
