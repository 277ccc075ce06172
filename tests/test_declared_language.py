"""Declared language: the page's <html lang>, else the feed's, and the disagreements view."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.articles import apply_ingest
from monitors.archive.models import Source
from monitors.archive.polls import apply_poll
from monitors.archive.queue import claim_items
from monitors.collect.http import make_client
from monitors.collect.poll import SourceState, poll_source
from monitors.collect.results import FetchResult
from monitors.ingest import analyse_page, pick_declared_language, process_item
from monitors.judge.topic import load_topic
from monitors.records import ArticleData, QueueItem
from monitors.settings import get_settings
from tests.site import LocalSite, rss_feed, seed_pages


@pytest.mark.parametrize(
    ("page", "feed", "expected"),
    [
        ("fr-FR", "en", ("fr", "page")),
        (None, "en-GB", ("en", "feed")),
        ("", "fr", ("fr", "feed")),
        ("1234", None, (None, None)),
        (None, None, (None, None)),
    ],
)
def test_page_language_wins_then_feed(
    page: str | None, feed: str | None, expected: tuple[str | None, str | None]
) -> None:
    assert pick_declared_language(page, feed) == expected


def _ingest_feed(db: Session, site: LocalSite, feed_path: str) -> None:
    """Poll one feed and ingest every page it lists, in the test's session."""
    settings = get_settings()
    topic = load_topic()
    source = Source(name=f"src {feed_path}", kind="feed", url=f"{site.base}{feed_path}", owner="media")
    db.add(source)
    db.flush()
    with make_client(settings) as client:
        state = SourceState(id=source.id, name=source.name, kind="feed", url=source.url)
        apply_poll(db, poll_source(client, settings, state))
        items = claim_items(db, 20)
        assert items, "the feed listed nothing"
        for item in items:
            assert apply_ingest(db, process_item(client, settings, item, topic), settings.max_attempts) == (
                "stored"
            )
    db.flush()


def test_french_page_declared_english_is_a_disagreement(db: Session, site: LocalSite) -> None:
    pages = seed_pages()
    lying, silent, honest = pages[0], pages[1], pages[2]
    site.add(lying.spec.slug, lying.html.replace("<html lang='fr-FR'>", "<html lang='en'>"))
    site.add(silent.spec.slug, silent.html.replace("<html lang='fr-FR'>", "<html>"))
    site.add(honest.spec.slug, honest.html)
    feed = rss_feed(site.base, [(p.spec.feed_title, p.spec.slug, p.spec.published) for p in pages[:3]])
    # the feed claims British English: only the page without its own lang inherits it
    feed = feed.replace("<language>fr</language>", "<language>en-GB</language>")
    site.add("/feed-en.xml", feed, content_type="application/rss+xml; charset=utf-8")

    _ingest_feed(db, site, "/feed-en.xml")

    queue_langs = set(db.scalars(sa.text("SELECT feed_language FROM url_queue")))
    assert queue_langs == {"en"}
    articles = {
        url.rsplit("/", 1)[-1]: (lang, declared, declared_source)
        for url, lang, declared, declared_source in db.execute(
            sa.text("SELECT url, language, declared_language, declared_language_source FROM articles")
        )
    }
    assert articles == {
        lying.spec.slug.rsplit("/", 1)[-1]: ("fr", "en", "page"),
        silent.spec.slug.rsplit("/", 1)[-1]: ("fr", "en", "feed"),
        honest.spec.slug.rsplit("/", 1)[-1]: ("fr", "fr", "page"),
    }
    rows = db.execute(
        sa.text(
            "SELECT canonical_url, detected_language, declared_language, declared_language_source"
            " FROM language_disagreements ORDER BY declared_language_source DESC"
        )
    ).all()
    assert [(r[0].rsplit("/", 1)[-1], *r[1:]) for r in rows] == [
        (lying.spec.slug.rsplit("/", 1)[-1], "fr", "en", "page"),
        (silent.spec.slug.rsplit("/", 1)[-1], "fr", "en", "feed"),
    ]


def _page(html_attributes: str, title: str, body: str, head: str = "") -> bytes:
    """An article page: ``<html{html_attributes}>``, its title as <title> and <h1>, ``body``."""
    return (
        f'<!DOCTYPE html><html{html_attributes}><head><meta charset="utf-8"><title>{title}</title>{head}'
        f"</head><body><article><h1>{title}</h1>{body}</article></body></html>"
    ).encode()


def _analysed(url: str, body: bytes, feed_language: str | None) -> ArticleData:
    """The article analyse_page makes of a page served with ``body``, from a feed declaring
    ``feed_language``."""
    item = QueueItem(id=1, source_id=1, url=url, canonical_url=url, feed_language=feed_language)
    fetched = FetchResult(
        url=url, final_url=url, outcome="ok", status=200, content=body, headers={"content-type": "text/html"}
    )
    article = analyse_page(item, fetched, load_topic()).article
    assert article is not None
    return article


def _title_only_page(lang: str | None, title: str) -> bytes:
    """A page that is only a heading (a video's, a photo's), with or without <html lang>."""
    declared = f' lang="{lang}"' if lang else ""
    return (
        f'<!DOCTYPE html><html{declared}><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><article><h1>{title}</h1><p></p></article></body></html>"
    ).encode()


@pytest.mark.parametrize(("page_lang", "feed_lang"), [("en", None), (None, "en-GB"), ("en-US", "fr")])
def test_a_short_page_is_read_in_the_language_its_page_or_feed_declares(
    page_lang: str | None, feed_lang: str | None
) -> None:
    """Before, the declared language was only stored beside the detected one: an English
    headline alone was called French (0.85) on a page declaring English."""
    url = "https://example.org/video/protest.html"
    item = QueueItem(id=1, source_id=1, url=url, canonical_url=url, feed_language=feed_lang)
    body = _title_only_page(page_lang, "Activists protest outside Paris AI summit")
    fetched = FetchResult(
        url=url, final_url=url, outcome="ok", status=200, content=body, headers={"content-type": "text/html"}
    )
    article = analyse_page(item, fetched, load_topic()).article
    assert article is not None
    assert (article.language, article.declared_language) == ("en", "en")


def test_a_page_whose_text_is_too_short_to_read_is_in_its_declared_language() -> None:
    """Before, a page holding only a name (a team member's page) was "und" under lang="de"."""
    page = _title_only_page("de", "Anna Keller")
    article = _analysed("https://example.org/team/anna-keller.html", page, None)
    assert (article.language, article.language_confidence, article.declared_language) == ("de", 0.0, "de")


ARTICLE = "<p>Le sommet sur l'IA se tient à Paris cette semaine, avec des dirigeants du monde entier.</p>" * 6


@pytest.mark.parametrize(
    ("html_lang", "head", "expected"),
    [
        ("", '<meta property="og:locale" content="fr_FR">', ("fr", "page")),
        ("", '<meta http-equiv="Content-Language" content="fr">', ("fr", "page")),
        ("", '<meta name="DC.language" content="fr-FR">', ("fr", "page")),
        (
            "",
            '<script type="application/ld+json">{"@type": "NewsArticle", "inLanguage": "fr"}</script>',
            ("fr", "page"),
        ),
        # Content-Language before og:locale, whatever their order in the page
        (
            "",
            '<meta property="og:locale" content="en_US"><meta http-equiv="content-language" content="fr">',
            ("fr", "page"),
        ),
        # <html lang> first; a list of languages (a page for two audiences) declares none
        (' lang="fr"', '<meta property="og:locale" content="en_US">', ("fr", "page")),
        ("", '<meta name="language" content="fr, en">', ("de", "feed")),
    ],
    ids=["og-locale", "content-language", "dublin-core", "json-ld", "ranked", "html-lang-first", "a-list"],
)
def test_a_page_without_html_lang_declares_its_language_in_its_metadata(
    html_lang: str, head: str, expected: tuple[str, str]
) -> None:
    """Before, only <html lang> was read: a page declaring its language in og:locale (as
    WordPress SEO plugins write it), Content-Language or JSON-LD inLanguage fell back to its
    feed's language, or to none."""
    page = _page(html_lang, "Sommet", ARTICLE, head)
    article = _analysed("https://example.org/articles/sommet.html", page, "de")
    assert (article.declared_language, article.declared_language_source) == expected


OCCITAN = (  # our own words
    "<p>Lo vilatge es plan polit e la gent i son braves. Cada matin los enfants van a l'escòla e "
    "los vièlhs parlan encara occitan a l'ostal.</p>"
)


@pytest.mark.parametrize(
    "body",
    [
        _title_only_page("oc", "Lo vilatge es plan polit e la gent i son braves"),
        (
            '<!DOCTYPE html><html lang="oc"><head><meta charset="utf-8"><title>Lo vilatge</title></head>'
            f"<body><article><h1>Lo vilatge</h1>{OCCITAN * 3}</article></body></html>"
        ).encode(),
    ],
    ids=["headline", "article"],
)
def test_a_page_in_a_language_veille_cannot_identify_is_und_with_its_declared_code(body: bytes) -> None:
    """An Occitan page under <html lang="oc">, in a French feed: before, its headline alone was
    stored as French (0.999) and the article as Catalan, with "oc" beside them."""
    url = "https://example.org/oc/vilatge.html"
    item = QueueItem(id=1, source_id=1, url=url, canonical_url=url, feed_language="fr")
    fetched = FetchResult(
        url=url, final_url=url, outcome="ok", status=200, content=body, headers={"content-type": "text/html"}
    )
    article = analyse_page(item, fetched, load_topic()).article
    assert article is not None
    assert (article.language, article.language_confidence) == ("und", 0.0)
    assert (article.declared_language, article.declared_language_source) == ("oc", "page")


ALSATIAN = (  # our own words
    "<p>D'Kinder gehn jeder Morje in d'Schüel un d'Alte redde noch elsässisch deheim. Im Dorf "
    "gitt's e Bäckerei un e Wirtschaft, wo mer am Sunndi z'sämme hockt.</p>"
)


@pytest.mark.parametrize(
    ("html_lang", "paragraph", "expected"),
    [
        ("gsw", ALSATIAN, ("und", "gsw")),
        ("oci", OCCITAN, ("und", "oc")),
        ("fre", "<p>Le sommet sur l'IA se tient à Paris cette semaine.</p>", ("fr", "fr")),
    ],
    ids=["alsatian", "occitan", "french"],
)
def test_a_page_declaring_a_three_letter_code_is_read_as_its_two_letter_one(
    html_lang: str, paragraph: str, expected: tuple[str, str]
) -> None:
    """Before, a three-letter <html lang> (ISO 639-2/3) was dropped for the feed's language: an
    Alsatian page under lang="gsw" in a French feed was stored German (1.0) declared French."""
    page = _page(f' lang="{html_lang}"', "Dorf", paragraph * 3)
    article = _analysed("https://example.org/elsass/dorf.html", page, "fr")
    assert (article.language, article.declared_language) == expected
    assert article.declared_language_source == "page"
