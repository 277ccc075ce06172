# ruff: noqa: E501
"""Pages and feeds in UTF-8, ISO-8859-1 and windows-1252, with right, missing and wrong
declared charsets, come out with correct French accents; end to end through `veille run`,
which also polls a listing and a Google News sitemap."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.collect import encoding
from monitors.collect.encoding import decode_html, decode_html_doubt, detect_encoding
from monitors.collect.feeds import parse_feed
from monitors.collect.http import fetch, make_client
from monitors.judge.extract import extract_article
from monitors.settings import Settings
from tests.site import LocalSite, seed_pages, write_sources

FULL = "Le président a reçu à l’Élysée « les acteurs » de l’IA ; l’œuvre commune est née, très élevée, près de là."
LATIN = "Le président a reçu à l'Élysée « les acteurs » de l'IA ; l'oeuvre commune est née, très élevée, près de là."


def _sample(encoding: str) -> str:
    return LATIN if encoding == "iso-8859-1" else FULL


# (body encoding, Content-Type charset, in-document declaration): right, missing and wrong labels.
CASES = [
    ("utf-8", "utf-8", "utf-8"),
    ("iso-8859-1", "iso-8859-1", "iso-8859-1"),
    ("cp1252", "windows-1252", "windows-1252"),
    ("iso-8859-1", "utf-8", None),  # header lies: says utf-8, body is latin-1
    ("cp1252", None, "utf-8"),  # declaration lies
    ("utf-8", "iso-8859-1", "iso-8859-1"),  # both say latin-1, body is utf-8
    ("cp1252", "iso-8859-1", None),  # labelled latin-1, uses ’ and œ from windows-1252
    ("cp1252", None, None),  # no label at all
]


@pytest.mark.parametrize(("body", "header", "meta"), CASES)
def test_decode_html(body: str, header: str | None, meta: str | None) -> None:
    text = _sample(body)
    head = f"<meta charset='{meta}'>" if meta else ""
    page = f"<html><head>{head}<title>Élysée</title></head><body><p>{text}</p></body></html>".encode(body)
    ctype = f"text/html; charset={header}" if header else "text/html"
    assert text in decode_html(page, ctype)


def test_short_latin1_body_labelled_utf8() -> None:
    assert decode_html("<p>Ça été</p>".encode("latin-1"), "text/html; charset=utf-8") == "<p>Ça été</p>"
    assert detect_encoding("’".encode("cp1252"), "text/html; charset=iso-8859-1") == "cp1252"


SHORT = "Réunion à l’Élysée ce lundi pour le sommet. Les participants étaient nombreux et la séance fut longue. Voilà."
SHORT_PAGE = "<html><head><meta charset='utf-8'><title>Sommet à Paris</title></head><body><article><h1>Sommet à Paris</h1><p>{t}</p><p>{t}</p></article></body></html>"


@pytest.mark.parametrize("body", ["cp1252", "iso-8859-1"])
def test_short_page_labelled_utf8_keeps_its_accents(body: str) -> None:
    """trafilatura alone guesses windows-1250 here and turns "à" into "ŕ"."""
    from monitors.judge.extract import extract_article

    text = SHORT if body == "cp1252" else SHORT.replace("’", "'")
    page = SHORT_PAGE.format(t=text).encode(body)
    extracted = extract_article(page, "https://ex.fr/a.html", "text/html; charset=utf-8")
    assert extracted.title == "Sommet à Paris"
    assert text in extracted.text


@pytest.mark.parametrize(("body", "header", "decl"), CASES)
def test_feed_titles_keep_their_accents(body: str, header: str | None, decl: str | None) -> None:
    text = _sample(body)
    prolog = f"<?xml version='1.0' encoding='{decl}'?>" if decl else "<?xml version='1.0'?>"
    feed = (
        f"{prolog}<rss version='2.0'><channel><title>Fil</title><link>https://ex.fr/</link>"
        f"<item><title>{text}</title><link>https://ex.fr/a.html</link><description>{text}</description></item>"
        "</channel></rss>"
    ).encode(body)
    ctype = f"application/rss+xml; charset={header}" if header else "application/rss+xml"
    parsed = parse_feed(feed, "https://ex.fr/rss.xml", ctype)
    assert [e.title for e in parsed.entries] == [text]
    assert parsed.entries[0].summary == text


# XML 1.0 Appendix F: UTF-16 and UTF-32 without a byte-order mark are known by their "<?".
WIDE = ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "utf-32"]  # utf-32: with its BOM


@pytest.mark.parametrize("body", WIDE)
@pytest.mark.parametrize("header", [None, "application/rss+xml"])
def test_utf16_and_utf32_feeds_and_sitemaps_without_a_bom_keep_their_accents(
    body: str, header: str | None
) -> None:
    from monitors.collect.sitemaps import parse_sitemap

    feed = (
        f"<?xml version='1.0' encoding='{body[:6]}'?><rss version='2.0'><channel><title>Fil</title>"
        f"<item><title>{FULL}</title><link>https://ex.fr/a.html</link></item></channel></rss>"
    ).encode(body)
    assert [e.title for e in parse_feed(feed, "https://ex.fr/rss.xml", header).entries] == [FULL]
    sitemap = (
        f"<?xml version='1.0' encoding='{body[:6]}'?><urlset><url><loc>https://ex.fr/élysée.html</loc>"
        "</url></urlset>"
    ).encode(body)
    assert [u.url for u in parse_sitemap(sitemap, header).urls] == ["https://ex.fr/élysée.html"]


PAGE = """<!DOCTYPE html><html lang="fr"><head>{meta}<title>{title}</title></head><body>
<nav><a href="/">Accueil</a> <a href="/politique">Politique</a></nav>
<main><article><h1>{title}</h1>
<p>{text} Cas numéro {n}, pour vérifier le décodage de bout en bout.</p>
<p>Les négociations se sont poursuivies à Paris jusqu'à tard dans la soirée, et les délégations
étrangères ont salué une déclaration jugée équilibrée par la présidence française. {text}</p>
<p>Dans les couloirs du Grand Palais, chercheurs, entrepreneurs et élus ont débattu des
conséquences économiques de l'intelligence artificielle pour l'emploi et la création. {text}</p>
</article></main><footer>Mentions légales</footer></body></html>"""


@pytest.mark.usefixtures("prefect_harness")
def test_run_stores_correct_accents_from_feeds_listings_and_sitemaps(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    expected: dict[str, tuple[str, str]] = {}
    items = []
    for n, (body, header, meta) in enumerate(CASES):
        text = _sample(body)
        title = (
            f"Élysée : « déclaration » n°{n} à Noël, ça {'l’œuvre' if body != 'iso-8859-1' else 'l’oeuvre'}"
        )
        if body == "iso-8859-1":
            title = title.replace("’", "'")
        page = PAGE.format(
            meta=f"<meta charset='{meta}'>" if meta else "", title=title, text=text, n=n
        ).encode(body)
        path = f"/enc/page-{n}-{body}.html"
        site.add(path, page, content_type=f"text/html; charset={header}" if header else "text/html")
        expected[f"{site.base}{path}"] = (title, text)
        items.append(f"<item><title>{title}</title><link>{site.base}{path}</link></item>")
    short = f"{site.base}/enc/court.html"
    site.add(
        "/enc/court.html",
        SHORT_PAGE.format(t=SHORT).encode("cp1252"),
        content_type="text/html; charset=utf-8",
    )
    expected[short] = ("Sommet à Paris", SHORT)
    items.append(f"<item><title>Sommet à Paris</title><link>{short}</link></item>")
    # The feed is windows-1252 but its header and declaration both claim UTF-8.
    feed = (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Fil encodé</title>"
        f"<link>{site.base}/</link>{''.join(items)}</channel></rss>"
    )
    site.add("/enc/feed.xml", feed.encode("cp1252"), content_type="application/rss+xml; charset=utf-8")

    pages = seed_pages()
    for seed in pages:
        site.add(seed.spec.slug, seed.html)
    listing = (
        "<html><body><nav><a href='/'>Accueil</a></nav><main>"
        + "".join(f"<article><a href='/{p.spec.slug}'>{p.title}</a></article>" for p in pages[:3])
        + "</main></body></html>"
    )
    site.add("/actualites", listing)
    fresh = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    news = "".join(
        f"<url><loc>{site.base}/{p.spec.slug}</loc><news:news><news:publication_date>{fresh}"
        f"</news:publication_date><news:title>{p.title}</news:title></news:news></url>"
        for p in pages[3:]
    )
    site.add(
        "/news-sitemap.xml",
        "<?xml version='1.0' encoding='UTF-8'?><urlset xmlns='http://www.sitemaps.org/schemas/sitemap/0.9' "
        f"xmlns:news='http://www.google.com/schemas/sitemap-news/0.9'>{news}</urlset>",
        content_type="application/xml",
    )
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Encodages", "kind": "feed", "url": f"{site.base}/enc/feed.xml", "owner": "media"},
            {
                "name": "Parti",
                "kind": "listing",
                "url": f"{site.base}/actualites",
                "owner": "party",
                "family": "centre",
            },
            {"name": "Agence", "kind": "sitemap", "url": f"{site.base}/news-sitemap.xml", "owner": "media"},
        ],
    )
    from flows.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0
    with clean_db.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT a.url, a.title, a.text, q.feed_title, s.name FROM articles a"
                " JOIN url_queue q ON q.article_id = a.id JOIN sources s ON s.id = a.source_id"
            )
        ).all()
        health: dict[str, int] = dict(
            conn.execute(sa.text("SELECT name, new_items_count FROM sources")).all()
        )
    assert health == {"Encodages": len(CASES) + 1, "Parti": 3, "Agence": 2}
    by_url = {r.url: r for r in rows}
    assert {r.name for r in rows} == {"Encodages", "Parti", "Agence"}
    for url, (title, text) in expected.items():
        row = by_url[url]
        assert row.feed_title == title, url
        assert row.title == title, url
        assert text in row.text, (url, row.text[:120])
    for seed in pages:
        assert f"{site.base}/{seed.spec.slug}" in by_url


# A German and a French page in windows-1252 whose text holds pairs of bytes that form a UTF-8
# character: "ß" and a soft hyphen (DF AD: U+07ED, an N'Ko letter), "ß" and a closing quote
# (DF 93), "É" and a no-break space (C9 A0: "ɠ"), "Ü" and a dash (DC 96).
GLUED_DE = "Neue Ma\u00df\xadnahmen f\u00fcr den \u201eFu\u00df\u201c-Verkehr: Stra\u00dfen \u00f6ffnen, \u00c4rzte warnen. \u00dc\u2013Bahn zu."
GLUED_FR = "\u00ab\xa0CAF\u00c9\xa0\u00bb : l\u2019\u00e9t\u00e9 \u00e0 No\u00ebl, le c\u0153ur de la f\u00eate est n\u00e9 pr\u00e8s de l\u00e0."
# Three bytes too: "é", a no-break space and "»" (E9 A0 BB: U+903B, a CJK character), "é", a
# closing quote and a no-break space (E9 94 A0), as French typography sets them.
GLUED_FR_LONG = (
    "Il a dit\xa0: \u00ab\xa0Je suis arriv\u00e9\xa0\u00bb, puis \u201cd\u00e9termin\u00e9\u201d\xa0\u00bb"
    " et \u00ab\xa0r\u00e9gl\u00e9\xa0\u00bb\u00a0: l\u2019\u00e9t\u00e9 est pass\u00e9 \u00e0 Paris."
)
GLUED_PAGE = (
    "<html><head>{meta}<title>{title}</title></head><body><article><h1>{title}</h1>"
    "<p>{text}</p><p>{text}</p><p>{text}</p></article></body></html>"
)


@pytest.mark.parametrize("text", [GLUED_DE, GLUED_FR, GLUED_FR_LONG], ids=["de", "fr", "fr-long"])
@pytest.mark.parametrize(
    ("header", "meta"),
    [
        ("utf-8", "windows-1252"),
        (None, "windows-1252"),
        ("utf-8", "utf-8"),
        (None, None),
        ("windows-1252", None),
    ],
)
def test_a_windows_1252_page_keeps_letters_that_a_punctuation_mark_follows(
    site: LocalSite, settings: Settings, text: str, header: str | None, meta: str | None
) -> None:
    """Before: not valid UTF-8, the page was read as UTF-8 where its bytes form UTF-8
    characters, and "Maß\\xadnahmen" became "Ma߭nahmen", „Fuß“ „Fuߓ, "CAFÉ\\xa0»" "CAFɠ»",
    "arrivé\\xa0»" "arriv遻"."""
    title = text.split(":")[0].strip()
    page = GLUED_PAGE.format(meta=f"<meta charset='{meta}'>" if meta else "", title=title, text=text)
    site.add(
        "/glued.html",
        page.encode("cp1252"),
        content_type=f"text/html; charset={header}" if header else "text/html",
    )
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/glued.html", settings)
    assert result.ok, result.reason
    got = extract_article(result.content or b"", result.final_url, result.headers.get("content-type"))

    def plain(value: str | None) -> str:  # a title loses its soft hyphens, a text may
        return (value or "").replace("\xad", "").replace("\xa0", " ")

    assert plain(got.title) == plain(title)
    assert plain(text) in plain(got.text)
    assert not re.search("[\u0250-\u07ff]", got.text)


def test_a_utf8_page_with_a_windows_1252_piece_keeps_its_cyrillic_and_greek() -> None:
    """A page mostly in UTF-8 keeps each of its UTF-8 characters, whatever the script."""
    utf8 = "<p>Москва и Αθήνα: ΩΣ, всё в порядке.</p><p>Mоскау (Москва) ist groß.</p>" * 3
    page = f"<html><body>{utf8}".encode() + "<p>Noël à l’été, Maß\xadnahmen.</p>".encode("cp1252")
    decoded = decode_html(page + b"</body></html>", "text/html; charset=utf-8")
    assert utf8 in decoded and "<p>Noël à l’été, Maß\xadnahmen.</p>" in decoded


RUSSIAN = "Москва — столица России. Это большой город, в котором живут миллионы людей, и здесь много музеев."
GREEK = "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας. Είναι μια μεγάλη πόλη με πολλά μουσεία και ιστορία."


@pytest.mark.parametrize(
    ("text", "codec", "header", "meta"),
    [
        (RUSSIAN, "cp1251", "iso-8859-1", "windows-1251"),  # a server's default label
        (RUSSIAN, "cp1251", "windows-1252", "windows-1251"),
        (GREEK, "iso-8859-7", "iso-8859-1", "iso-8859-7"),
        (FULL, "cp1252", "windows-1251", "windows-1252"),  # the header lies the other way
        (RUSSIAN, "cp1251", "windows-1251", "iso-8859-1"),  # the page's declaration lies
    ],
    ids=["ru-header-latin1", "ru-header-1252", "el-header-latin1", "fr-header-1251", "ru-meta-latin1"],
)
def test_a_page_whose_header_and_meta_charsets_disagree_reads_in_the_right_one(
    site: LocalSite, settings: Settings, text: str, codec: str, header: str, meta: str
) -> None:
    """Before: the header's charset won whenever it decoded the bytes, and a single-byte one
    decodes any: Russian came out "Ìîñêâà — ñòîëèöà", Greek "Ç ÁèÞíá", French "prйsident"."""
    title = text.split(".")[0]
    page = GLUED_PAGE.format(meta=f"<meta charset='{meta}'>", title=title, text=text)
    site.add("/disagree.html", page.encode(codec), content_type=f"text/html; charset={header}")
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/disagree.html", settings)
    assert result.ok, result.reason
    got = extract_article(result.content or b"", result.final_url, result.headers.get("content-type"))
    assert got.title == title
    assert text in got.text


def test_a_feed_whose_header_and_declaration_disagree_reads_in_the_right_one() -> None:
    """Before: "Ìîñêâà — ñòîëèöà" (the header's iso-8859-1 won over the XML declaration)."""
    feed = (
        "<?xml version='1.0' encoding='windows-1251'?><rss version='2.0'><channel><title>Лента</title>"
        f"<link>https://ex.ru/</link><item><title>{RUSSIAN}</title><link>https://ex.ru/a.html</link>"
        "</item></channel></rss>"
    ).encode("cp1251")
    parsed = parse_feed(feed, "https://ex.ru/", "application/rss+xml; charset=iso-8859-1")
    assert [e.title for e in parsed.entries] == [RUSSIAN]


UNLABELLED = {
    "windows-1251": "Саммит по искусственному интеллекту открылся в понедельник в Париже. Министры представили свои приоритеты на ближайшие годы, а исследователи напомнили об ограничениях нынешних систем.",
    "windows-1250": "Szczyt poświęcony sztucznej inteligencji rozpoczął się w poniedziałek w Paryżu. Ministrowie przedstawili swoje priorytety na najbliższe lata, a badacze przypomnieli o ograniczeniach obecnych systemów.",
    "iso-8859-7": "Η σύνοδος κορυφής για την τεχνητή νοημοσύνη άρχισε τη Δευτέρα στο Παρίσι. Οι υπουργοί παρουσίασαν τις προτεραιότητές τους για τα επόμενα χρόνια.",
    # charset_normalizer calls this one windows-1250
    "windows-1252": "Le député a été élu au deuxième tour. Il a déclaré être très ému et a remercié les électeurs de sa circonscription.",
}


@pytest.mark.parametrize("charset", list(UNLABELLED))
def test_an_unlabelled_page_in_another_alphabet_is_not_read_as_windows_1252(charset: str) -> None:
    """No charset in the header nor in the page: a Russian, Polish or Greek page came out
    "Ñàììèò", "Pary¿u", "Ç óýíïäïò" (windows-1252, whatever charset_normalizer said, so as not
    to take its windows-1250 for a French page, as it calls most of them). Its guess is taken
    when windows-1252 reads the page as no Western text; the French page stays windows-1252."""
    text = UNLABELLED[charset]
    html = f"<html><head><title>Titre</title></head><body><article><p>{text}</p></article></body></html>"
    assert decode_html(html.encode(charset), "text/html") == html


CENTRAL = {
    "cs": "Vláda v pondělí schválila nový zákon o umělé inteligenci. Ministři řekli, že pravidla budou přísnější.",
    "hu": "Jövő héten Győrben találkoznak a városok képviselői, hogy megvitassák a közlekedést és az árakat.",
    "sk": "Vláda v pondelok schválila nový zákon. Ministri povedali, že pravidlá budú prísnejšie a firmy musia zverejňovať viac.",
    # charset_normalizer calls these in KOI8-R shift_jis and ISO-8859-6
    "ru": "Это наш ответ на ваши вопросы.",
    "ru2": "Юбилей театра отметили в субботу.",
    # and this one in windows-1251 mac-cyrillic
    "ru3": "Министр вчера утром посетил Москву.",
    # letters windows-1252 reads a Czech or Hungarian page as (ì ò ø å õ ã): their own pages
    "it": "Il governo ha approvato la legge lunedì. Il ministro ha detto che è più facile così, però non è finita.",
    "da": "Regeringen vedtog i går en ny lov. Ministeren sagde, at reglerne bliver strengere for små virksomheder på øerne.",
    "pt": "O governo aprovou ontem a nova lei. As negociações com os sindicatos não terminaram e a situação é difícil.",
}


@pytest.mark.parametrize(
    ("language", "codec"),
    [
        ("cs", "cp1250"),
        ("cs", "iso-8859-2"),
        ("hu", "cp1250"),
        ("hu", "iso-8859-2"),
        ("sk", "iso-8859-2"),
        ("ru", "koi8-r"),
        ("ru2", "koi8-r"),
        ("ru3", "cp1251"),
        ("it", "cp1252"),
        ("da", "cp1252"),
        ("pt", "cp1252"),
    ],
)
def test_an_unlabelled_central_european_or_short_russian_page_reads_in_its_charset(
    site: LocalSite, settings: Settings, language: str, codec: str
) -> None:
    """No charset in the header nor in the page. A Czech, Slovak or Hungarian page came out in
    windows-1252 ("Ministøi øekli", "Jövõ héten"): charset_normalizer calls it windows-1252, or
    windows-1250 as it calls French pages, and windows-1252 reads its letters as letters. Its
    letters in windows-1250 or ISO-8859-2 are one language's, in windows-1252 no one's. A
    short Russian page in KOI8-R ("üÔÏ ÎÁÛ") was guessed shift_jis, one in windows-1251
    ("Ìèíèñòð") mac-cyrillic, both left windows-1252: read in their charset their words are
    cased as words are. Italian, Danish and Portuguese pages, whose
    letters a Czech or Hungarian page makes in windows-1252, stay windows-1252."""
    text = CENTRAL[language]
    title = text.split(" ")[0]
    page = f"<html><head><title>{title}</title></head><body><article><p>{text}</p></article></body></html>"
    site.add(f"/{language}.html", page.encode(codec), content_type="text/html")
    with make_client(settings) as client:
        result = fetch(client, f"{site.base}/{language}.html", settings)
    assert result.ok, result.reason
    assert decode_html(result.content or b"", result.headers.get("content-type")) == page
    got = extract_article(result.content or b"", result.final_url, result.headers.get("content-type"))
    assert text in got.text


#: A Polish paragraph of our own: most of its letters beyond ASCII are Cyrillic letters in
#: mac-cyrillic or ISO-8859-5 (ą ę ż ó are є к њ у in mac-cyrillic)
POLISH = "Rząd przyjął projekt ustawy o zmianie przepisów dotyczących podatków. Źródło: ministerstwo. "


@pytest.mark.parametrize(("codec", "times"), [("windows-1250", 10), ("iso-8859-2", 3), ("iso-8859-2", 10)])
def test_an_unlabelled_polish_page_is_not_read_as_cyrillic(codec: str, times: int) -> None:
    """No charset said: charset_normalizer calls this Polish page windows-1257 or ISO-8859-10,
    no guess of another script's, and windows-1252 reads its "Pary¿u" symbols as no Western
    text: the Cyrillic readings were weighed before its letters, and it read in mac-cyrillic
    or ISO-8859-5 ("RzБd przyjБГ"). Its letters are a central European language's, which
    tells it first."""
    page = f"<html><head><title>t</title></head><body><p>{POLISH * times}</p></body></html>"
    assert detect_encoding(page.encode(codec)) in {"cp1250", "iso8859_2"}
    assert decode_html(page.encode(codec)) == page


@pytest.mark.parametrize("text", ["Привет, мир", "Москва", "<title>Новости дня</title>", "В Москве снег"])
@pytest.mark.parametrize("codec", ["koi8-r", "windows-1251", "iso-8859-5"])
def test_a_short_unlabelled_russian_text_reads_in_its_charset(text: str, codec: str) -> None:
    """A Russian text of under 20 letters, no charset said: too short for the page rule, it was
    read as windows-1252 ("ðÒÉ×ÅÔ, ÍÉÒ" for KOI8-R). Read in its charset its words are cased as
    words are; 5 letters or more, 80% of them accented in windows-1252, which no Western
    text makes."""
    assert decode_html(text.encode(codec)) == text


@pytest.mark.parametrize(
    "text",
    [
        "ПРИВЕТ, МИР",
        "НОВОСТИ РОССИИ",
        "УЧЁНЫЕ ОТКРЫЛИ НОВУЮ ПЛАНЕТУ",
        "<title>ГЛАВНЫЕ НОВОСТИ ДНЯ</title>",
        "<p>ПРАВИТЕЛЬСТВО УТВЕРДИЛО БЮДЖЕТ НА СЛЕДУЮЩИЙ ГОД. ЦЕНЫ НА БЕНЗИН СНОВА ВЫРОСЛИ.</p>",
        "в москве выпал первый снег",
    ],
)
@pytest.mark.parametrize("codec", ["koi8-r", "windows-1251"])
def test_an_unlabelled_russian_text_in_one_case_reads_in_its_charset(text: str, codec: str) -> None:
    """KOI8-R's capitals are windows-1251's lower case and the other way round: a Russian text
    all in capitals, read in the other charset, is all in lower case, words "cased as words
    are", and was read so ("ПРИВЕТ, МИР" in KOI8-R as windows-1251 "ртйчеф, нйт"; a longer one
    charset_normalizer calls windows-1251 too). Case cannot tell them: the Cyrillic profiles'
    n-grams do (an "Ё" is a letter in windows-1251 only)."""
    assert decode_html(text.encode(codec)) == text


def test_charset_detection_weighs_readings_without_importing_a_judging_module() -> None:
    """Collecting depends on no judging module: the n-gram likelihood that tells a Russian text
    in one case, or a Hebrew one, from another charset's reading is in monitors.ngram_profiles
    (encoding.py imported monitors.judge.language for it). A fresh interpreter: the test
    session has imported every module already."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from monitors.collect.encoding import decode_html\n"
        "for text, codec in (('ПРИВЕТ, МИР', 'koi8-r'), ('שלום עולם', 'windows-1255')):\n"
        "    assert decode_html(text.encode(codec)) == text, text\n"
        "print(sorted(m for m in sys.modules if m.startswith('monitors.judge')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("text", "codecs_"),
    [
        ("שלום עולם", ("windows-1255", "iso-8859-8")),
        ("מזג האוויר מחר", ("windows-1255", "iso-8859-8")),
        ("<p>" + "הממשלה אישרה את התקציב. מחירי הדלק עלו שוב. " * 3 + "</p>", ("windows-1255", "iso-8859-8")),
        ("Καλημέρα", ("windows-1253", "iso-8859-7")),
        ("Ο ΚΑΙΡΟΣ ΑΥΡΙΟ", ("windows-1253", "iso-8859-7")),
        ("Ειδήσεις της ημέρας", ("windows-1253", "iso-8859-7")),
        ("الطقس اليوم", ("windows-1256", "iso-8859-6")),
        ("مرحبا بالعالم", ("windows-1256", "iso-8859-6")),
        (
            "<p>" + "الحكومة تقر الميزانية. أسعار الوقود ترتفع مجددا. " * 3 + "</p>",
            ("windows-1256", "iso-8859-6"),
        ),
    ],
)
def test_an_unlabelled_hebrew_greek_or_arabic_text_reads_in_its_script(
    text: str, codecs_: tuple[str, ...]
) -> None:
    """No charset said: a Hebrew or Arabic text's letters are lower-case Cyrillic letters in
    windows-1251 or KOI8-R, words "cased as words are", and were read so ("שלום עולם" in
    windows-1255 as "щмен темн", a long Hebrew or Arabic page too); Greek ones too short for
    charset_normalizer, or in capitals, as ISO-8859-5 ("Ъсычьнёс") or KOI8-R. The readings in
    each single-byte script compare by the profiles of the languages written in it."""
    for codec in codecs_:
        assert decode_html(text.encode(codec)) == text, codec


#: A page's inline style, as a theme writes one: markup and ASCII only, no text of the page's
_INLINE_STYLE = "".join(
    f".c{i} {{ margin: 0 auto; padding: {i % 9}px; color: #333; }}\n" for i in range(3000)
)


@pytest.mark.parametrize("style_kib", [10, 120])
@pytest.mark.parametrize(
    ("text", "codec"),
    [
        (RUSSIAN, "windows-1251"),
        (RUSSIAN.replace("—", "-"), "koi8-r"),  # KOI8-R has no dash
        (GREEK, "windows-1253"),
        ("הממשלה אישרה את התקציב. מחירי הדלק עלו שוב. ", "windows-1255"),
        ("الحكومة تقر الميزانية. أسعار الوقود ترتفع مجددا. ", "windows-1256"),
        ("Zażółć gęślą jaźń, pójdźże kiń tę chmurność w głąb flaszy. ", "windows-1250"),
        ("Příliš žluťoučký kůň úpěl ďábelské ódy na řece. ", "windows-1250"),
    ],
)
def test_an_unlabelled_page_whose_text_follows_much_inline_style_reads_in_its_charset(
    text: str, codec: str, style_kib: int
) -> None:
    """No charset said, the text after 10 KiB of inline style (a theme's) or more: its few
    letters among so much ASCII, charset_normalizer calls a Russian, Greek, Hebrew or Arabic
    page windows-1250, which was taken as it is (a Polish or Czech page's guess); past 64 KiB
    of it, the other scripts' readings were weighed on no text and the Cyrillic one taken. A
    central European page keeps windows-1250."""
    style = _INLINE_STYLE[: style_kib * 1024]
    page = f"<html><head><title>t</title><style>{style}</style></head><body><p>{text * 10}</p></body></html>"
    assert decode_html(page.encode(codec)) == page


@pytest.mark.parametrize(
    "text",
    [
        "Ça où là ?",
        "À l’été",
        "¿Qué año?",
        "São João",
        "Größe",
        "Þórður",
        "Ýmir Þór",
        "ÉTÉ",
        "Øre",
        "ÉTATS-UNIS",
        "CÔTE D’IVOIRE",
        "ÆØÅ",
        "GÖTEBORG",
    ],
)
def test_a_short_unlabelled_western_text_stays_windows_1252(text: str) -> None:
    """Short Western texts, capitals too, stay windows-1252: "ÆØÅ" (three letters, all
    accented) is why a Russian text of under 5 letters ("Мир" in KOI8-R, "íÉÒ") stays so."""
    assert decode_html(text.encode("cp1252")) == text


@pytest.mark.parametrize("kept", ["\ufeff", "\ufb01"], ids=["bom", "ligature"])
def test_a_windows_1252_page_keeps_the_utf8_characters_no_windows_1252_letters_make(kept: str) -> None:
    """A windows-1252 page holding a UTF-8 byte order mark (an include saved with one, pasted
    mid-page) or a UTF-8 "ﬁ" (EF AC 81): read back as windows-1252 as
    "arrivé\\xa0»" is, the mark became "ï»¿" in the text and "ﬁ" "ï¬�" (0x81 is no
    windows-1252 byte: U+FFFD, the letter lost). The mark stays U+FEFF, as before "arrivé\xa0»"
    was read back, and a character whose bytes windows-1252 does not all define stays UTF-8."""
    body = f"<html><body><p>{GLUED_FR_LONG}</p>".encode("cp1252") + f"<p>{kept}n</p></body></html>".encode()
    decoded = decode_html(body)
    assert f"<p>{GLUED_FR_LONG}</p>" in decoded  # the page's own "arrivé\xa0»" still read back
    assert f"<p>{kept}n</p>" in decoded and "\ufffd" not in decoded and "ï»¿" not in decoded, decoded[-80:]


class _Counting:
    """A compiled pattern that counts the matches its finditer and findall give."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern, self.matches = pattern, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.pattern, name)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        for m in self.pattern.finditer(text):
            self.matches += 1
            yield m

    def findall(self, text: str) -> list[str]:
        found = self.pattern.findall(text)
        self.matches += len(found)
        return found


@pytest.mark.parametrize("codec", ["koi8-r", "windows-1251"])
def test_a_long_unlabelled_russian_text_in_one_case_is_told_on_a_bounded_sample(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readings of a text in one case are compared on the byte values it holds and on its
    first words, not letter by letter over the whole body: the Cyrillic letters and words
    listed stay the same few hundred for 2 kB or 100 kB (each reading's letters were listed
    whole, 0.3 s for 200 kB, up to charset detection's 200 kB head)."""
    line = "ПРАВИТЕЛЬСТВО УТВЕРДИЛО БЮДЖЕТ НА СЛЕДУЮЩИЙ ГОД. ЦЕНЫ НА БЕНЗИН СНОВА ВЫРОСЛИ. "
    listed = []
    for size in (2_000, 100_000):
        text = "<p>" + line * (size // len(line)) + "</p>"
        letters, words = _Counting(encoding._CYRILLIC_LETTER), _Counting(encoding._CYRILLIC_WORD)
        monkeypatch.setattr(encoding, "_CYRILLIC_LETTER", letters)
        monkeypatch.setattr(encoding, "_CYRILLIC_WORD", words)
        assert encoding.cased_cyrillic(text.encode(codec), "cp1251" if codec == "koi8-r" else "koi8_r") == (
            "koi8_r" if codec == "koi8-r" else "cp1251"
        )
        listed.append(letters.matches + words.matches)
    assert listed[1] == listed[0] < 1_000


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        # letters both charsets hold in other bytes: "Šťastný žák" reads "©»astný ľák" in
        # windows-1250, Slovak letters but for the symbols inside its first word
        ("Šťastný žák ží v Ústí.", "iso-8859-2"),
        ("Ťažké časy pre šťastie: žiadne peniaze.", "iso-8859-2"),
        ("Ósmy dzień śniegu. Świat się zmienia, a źródła są ciekawe.", "iso-8859-2"),
        ("Šťastný žák ží v Ústí.", "windows-1250"),
        ("Ósmy dzień śniegu. Świat się zmienia, a źródła są ciekawe.", "windows-1250"),
    ],
)
def test_an_unlabelled_central_european_text_tells_iso_8859_2_from_windows_1250(
    text: str, codec: str
) -> None:
    """No charset said: a short Czech text in ISO-8859-2 was read as windows-1250 ("©»astný ľák"),
    its letters a Slovak alphabet's as much as the right reading's a Czech one. Bytes 0x80-0x9F
    are letters or quotes in windows-1250 and C1 controls in ISO-8859-2; "Š Ť Ž ą ś" inside a
    word are symbols in windows-1250: they tell one from the other."""
    assert decode_html(text.encode(codec)) == text


@pytest.mark.parametrize(
    "text",
    [
        "שלום עולם",
        "מזג האוויר מחר",
        "<p>הרכבת איחרה הבוקר בשעה.</p>",
        "<p>" + "העירייה פתחה גן ציבורי חדש. התושבים שמחו מאוד. " * 4 + "</p>",
    ],
)
def test_an_unlabelled_hebrew_dos_text_reads_in_cp862(text: str) -> None:
    """No charset said: Hebrew in cp862 (DOS) has its letters at 0x80-0x9A, which windows-1252
    reads as symbols ("™‹…Ž"), no accented letters, so it stayed windows-1252 (or went to an
    Arabic charset). Words of such symbols are no Western text's: cp862 is weighed with the
    other Hebrew charsets."""
    assert decode_html(text.encode("cp862")) == text


@pytest.mark.parametrize(
    "text",
    ["Il a dit « oui » – enfin… 10 € !", "« … » – — ‘ ’", "Prix : 5 € – 10 € … « bof »", "Ça « où » là ™ ©"],
)
def test_a_western_text_with_typographic_symbols_stays_windows_1252(text: str) -> None:
    """Symbols standing alone between spaces ("«", "…", "€") are no word of symbols as a
    cp862 Hebrew word reads in windows-1252."""
    assert decode_html(text.encode("cp1252")) == text


#: Slovak of our own whose only bytes that windows-1250 and ISO-8859-2 read apart are "ž"'s
#: in ISO-8859-2 (0xBE), "ľ" in windows-1250: both readings are Slovak letters
SLOVAK_UNTOLD = (
    "Každý vie, že v meste je mnoho áut a že doprava je pomalá. Každé ráno stoja autá v kolóne "
    "pred mostom a vodiči čakajú dlho. Mesto chce nový most, ale peniaze nemá."
)


@pytest.mark.parametrize(
    ("codec", "content_type", "doubt"),
    [
        ("iso-8859-2", "text/html", "no byte tells windows-1250 from ISO-8859-2"),
        ("windows-1250", "text/html", None),  # its "ž" is 0x9E, a C1 control in ISO-8859-2
        ("iso-8859-2", "text/html; charset=iso-8859-2", None),  # declared: no guess
    ],
)
def test_a_charset_the_bytes_cannot_tell_is_said_in_the_extraction_evidence(
    codec: str, content_type: str, doubt: str | None
) -> None:
    """No charset said and no byte that tells windows-1250 from ISO-8859-2, both readings
    Slovak ("každý" or "kaľdý"): the page is read in one, silently. The doubt is said in the
    article's ``extraction_evidence`` (``charset_doubt``), which a user can query."""
    page = (
        "<html><head><title>Doprava</title></head><body><article>"
        f"<p>{SLOVAK_UNTOLD}</p><p>{SLOVAK_UNTOLD}</p></article></body></html>"
    )
    got = extract_article(page.encode(codec), "http://example.test/a", content_type)
    said = (got.evidence or {}).get("charset_doubt")
    if doubt is None:
        assert said is None and SLOVAK_UNTOLD in got.text
    else:
        assert said is not None and said.startswith(doubt), said


@pytest.mark.parametrize(
    ("text", "codec", "doubted"),
    [
        ("Мир", "windows-1251", True),
        ("Да", "koi8-r", True),
        ("Сыр", "iso-8859-5", True),
        ("ÆØÅ", "cp1252", True),
        ("Été", "cp1252", False),
        ("Le député a été élu.", "cp1252", False),
        ("Привет, мир", "koi8-r", False),  # told: read right
    ],
)
def test_a_text_of_under_five_letters_beyond_ascii_says_its_charset_is_not_told(
    text: str, codec: str, doubted: bool
) -> None:
    """A Russian word of under 5 letters is read as windows-1252 ("Мир" is "Ìèð"), as "ÆØÅ"
    must be: too few letters to tell. That is said (:func:`decode_html_doubt`); a word with an
    ASCII letter ("Été") or a longer text is no doubt."""
    decoded, doubt = decode_html_doubt(text.encode(codec))
    assert (doubt is not None) == doubted, doubt
    if doubted:
        assert doubt is not None and "too few to tell windows-1252 from a Cyrillic charset" in doubt
    else:
        assert decoded == text
