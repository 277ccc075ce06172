"""Pathological pages through the analysis stage (extraction, metadata, language): a page
either gives its article or fails with a reason that says why, cause first; nothing in a
page's metadata may cost its text.
"""

from __future__ import annotations

import gzip
import json
import random
import struct
import tracemalloc
import zlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitors.collect.results import FetchResult
from monitors.ingest import analyse_page
from monitors.judge.extract import ExtractionError, extract_article
from monitors.judge.topic import load_topic
from monitors.records import QueueItem

URL = "https://example.fr/politique/sommet.html"
PARA = (
    "Le sommet sur l'intelligence artificielle se tient à Paris cette semaine, avec des "
    "dirigeants venus du monde entier pour débattre de la régulation des modèles. "
)


def page(head: str = "", body: str = "", lang: str = "fr", after: str = "") -> str:
    """An article page: a title, a heading and eight paragraphs, with ``head`` added to its
    head, ``body`` before the paragraphs and ``after`` after them."""
    paragraphs = "".join(f"<p>{PARA * 3} Paragraphe {i}.</p>" for i in range(8))
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8"><title>Sommet IA à Paris</title>'
        f"{head}</head><body><article><h1>Sommet IA à Paris</h1>{body}{paragraphs}{after}</article>"
        "</body></html>"
    )


@pytest.mark.parametrize(
    ("head", "body"),
    [
        ('<meta property="article:published_time" content="2025-02-08T10:00:00+25:00">', ""),
        ("", '<time datetime="2025-02-08T10:00:00+25:00">8 février</time>'),
    ],
    ids=["meta", "time"],
)
def test_a_date_with_an_impossible_offset_costs_the_date_not_the_text(head: str, body: str) -> None:
    """Before: htmldate raised ValueError on the offset, trafilatura discarded the whole page
    for it, and the page failed with "no article text found in the page"."""
    got = extract_article(page(head, body).encode(), URL)
    assert got.text.startswith("Le sommet sur l'intelligence artificielle") and "Paragraphe 7." in got.text
    # the day (its midnight on the local clock, Europe/Paris); its time is unreadable
    assert got.published_at == datetime(2025, 2, 8, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.mark.parametrize("root", ["label", "object", "video", "math"])
def test_a_page_that_is_one_fragment_htmldate_drops_keeps_its_text(root: str) -> None:
    """A body that is one element of htmldate's cleaning list with the paragraphs inside (a
    fragment a server sends as a page): the parser makes it the document's root, htmldate
    drops it before its date search and lxml's bare ``assert parent is not None`` ended the
    extraction (reason "extraction failed: AssertionError: ")."""
    paragraphs = "".join(f"<p>{PARA * 3} Paragraphe {i}.</p>" for i in range(3))
    got = extract_article(f"<{root}>{paragraphs}</{root}>".encode(), URL, "text/html")
    assert got.text.startswith("Le sommet sur l'intelligence artificielle") and "Paragraphe 2." in got.text


ACCENTED = "L’Élysée œuvre pour que l’IA « serve » l’intérêt général, dit-on à 20 € près."


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_keeps_its_characters_and_language(codec: str) -> None:
    """Before: read as windows-1252 with a NUL between letters, the characters outside
    latin-1 (’ œ €) garbled, and ``<html lang>`` not found (its bytes hold zeros)."""
    got = extract_article(page(body=f"<p>{ACCENTED * 4}</p>").encode(codec), URL)
    assert ACCENTED in got.text and "\x00" not in got.text
    assert got.declared_language == "fr"


def test_a_utf8_page_with_pieces_in_windows_1252_keeps_every_accent() -> None:
    """Not valid UTF-8, so it was read whole as windows-1252: its UTF-8 accents became "Ã©"."""
    head, tail = page(body="<p>Début en UTF-8 : l’été à Paris, œuvre.</p>").split("</article>")
    piece = "<p>Fin en windows-1252 : l’hiver à Noël, cœur.</p>".encode("cp1252")
    html = head.encode() + piece + b"</article>" + tail.encode()
    got = extract_article(html, URL, "text/html; charset=utf-8")
    assert "Début en UTF-8 : l’été à Paris, œuvre." in got.text
    assert "Fin en windows-1252 : l’hiver à Noël, cœur." in got.text
    assert got.title == "Sommet IA à Paris"


def test_a_gzip_body_served_as_html_is_unpacked() -> None:
    """A body compressed with no Content-Encoding to say so. Before: no article text."""
    got = extract_article(gzip.compress(page().encode()), URL)
    assert got.text.startswith("Le sommet sur l'intelligence artificielle")
    assert got.title == "Sommet IA à Paris"


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(bytes(random.Random(1).randrange(256) for _ in range(64 * 65)))
    header = struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


NOT_PAGES = [
    (b"", "empty page: the response had no body"),
    (b" \n\t\r\n" * 100, "blank page: 500 bytes of whitespace only"),
    (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + zlib.compress(random.Random(2).randbytes(4000)),
        r"PDF document, not a page: the body starts with b'%PDF-1.4\n1 0 obj'",
    ),
    (_png(), r"binary data, not a text page: the body starts with b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR'"),
    (b"\x00" * 3000, "binary data, not a text page: the body starts with b'" + r"\x00" * 16 + "'"),
    (  # gzip's magic number, then no gzip stream: trafilatura cannot unpack it
        b"\x1f\x8b\x08\x00" + random.Random(3).randbytes(3000),
        r"binary data, not a text page: the body starts with b'\x1f\x8b\x08\x00",
    ),
]


# a PDF whose streams are text has no binary bytes to tell it; an SVG image or an Atom feed
# served as text/html parse as documents; a frameset's text is in its frames. Before: the
# PDF's and the SVG's text were stored as articles (title "%PDF-1.4", "Logo"), the feed's too,
# and the frameset failed as "no article text found in the page"
_WORDS = "Le sommet pour l'action sur l'intelligence artificielle s'ouvre au Grand Palais. " * 6
NOT_PAGES += [
    (
        b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n2 0 obj\n<< /Length 44 >>\nstream\n"
        + f"BT /F1 24 Tf 100 700 Td ({_WORDS}) Tj ET\nendstream\nendobj\n%%EOF\n".encode() * 20,
        r"PDF document, not a page: the body starts with b'%PDF-1.4\n1 0 obj'",
    ),
    (
        f'<?xml version="1.0" encoding="UTF-8"?><svg xmlns="http://www.w3.org/2000/svg" width="100">'
        f"<title>Logo</title><text x='0' y='15'>{_WORDS}</text></svg>".encode(),
        "SVG image, not a page: its root element is <svg>",
    ),
    (
        f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Actualités</title><entry><title>Sommet IA</title>'
        f"<summary>{_WORDS}</summary></entry></feed>".encode(),
        "Atom feed, not a page: its root element is <feed>",
    ),
    (
        b"<!DOCTYPE html><html><head><title>Sommet IA</title></head><frameset cols='30%,70%'>"
        b"<frame src='menu.html'><frame src='article.html'><noframes><p>"
        + _WORDS.encode()
        + b"</p></noframes></frameset></html>",
        "frameset page, no text of its own: the text is in its frames (menu.html, article.html)",
    ),
]


NOT_PAGE_IDS = ["empty", "blank", "pdf", "png", "nul", "broken-gzip", "pdf-text", "svg", "atom", "frameset"]


@pytest.mark.parametrize(("body", "reason"), NOT_PAGES, ids=NOT_PAGE_IDS)
def test_a_body_that_is_no_page_fails_with_its_cause_first(body: bytes, reason: str) -> None:
    """Recorded as the page's reason in the queue and the fetch log. Before, each of these was
    "no article text found in the page", as a page whose article the extractor missed."""
    topic = load_topic()
    out = analyse_page(_item(), _fetched(body), topic)
    assert out.outcome == "error" and out.error_class == "permanent" and out.article is None
    assert out.reason is not None and out.reason.startswith(reason)


DISPATCH = (
    "Sommet IA à Paris : les dirigeants s'accordent\r\n\r\n"
    f"{PARA}\r\nSuite du premier paragraphe, coupée à la ligne.\r\n\r\n{PARA * 2}\r\n\r\n"
    "Note : a < b et c > d, selon l'équipe & ses partenaires.\r\n"
)


def test_plain_text_served_as_html_is_read_as_its_paragraphs() -> None:
    """A text file served as text/html has no element to take text from: it failed as "no
    article text found in the page", as a page whose article the extractor missed."""
    out = analyse_page(_item(), _fetched(DISPATCH.encode()), load_topic())
    assert out.outcome == "ok" and out.article is not None, out.reason
    got = out.article
    assert got.title == "Sommet IA à Paris : les dirigeants s'accordent"
    assert got.text.split("\n") == [
        f"{PARA.strip()} Suite du premier paragraphe, coupée à la ligne.",
        (PARA * 2).strip(),
        "Note : a < b et c > d, selon l'équipe & ses partenaires.",
    ]
    assert (got.extraction_evidence or {})["plain_text"] is True
    one_line = PARA * 3  # no short first line: no title
    untitled = extract_article(one_line.encode("utf-8"), URL, "text/html")
    assert untitled.title is None and untitled.text == one_line.strip()


def test_a_doctype_line_above_plain_text_is_no_title() -> None:
    """A server's template that writes ``<!DOCTYPE html>`` above a plain-text body: the body
    is still plain text. Before, the doctype line was its title ("<!DOCTYPE html>"): the tag
    check plain_text_page meant to use was shadowed by cut_short's, which skips a doctype."""
    got = extract_article(f"<!DOCTYPE html>\n{DISPATCH}".encode(), URL, "text/html")
    assert got.title == "Sommet IA à Paris : les dirigeants s'accordent"
    assert "DOCTYPE" not in got.text and got.text.startswith(PARA.strip())
    with pytest.raises(
        ExtractionError, match=r"^plain text, not a page, too short .*: 2 word\(s\), 'Not Found'"
    ):
        extract_article(b"<!doctype html>\r\nNot Found", URL, "text/html")
    tagged = extract_article(f"<!DOCTYPE html><p>{PARA * 3}</p>".encode(), URL, "text/html")
    assert tagged.title is None and tagged.text == (PARA * 3).strip()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"Not Found", "plain text, not a page, too short for an article: 2 word(s), 'Not Found'"),
        (
            b'{"error": "not found", "status": 404}',
            """JSON, not a page: the body starts with '{"error": "not found", "status": 404}'""",
        ),
    ],
    ids=["message", "json"],
)
def test_a_message_or_json_served_as_html_fails_with_what_it_is(body: bytes, reason: str) -> None:
    out = analyse_page(_item(), _fetched(body), load_topic())
    assert out.outcome == "error" and out.error_class == "permanent" and out.reason == reason


def test_stray_control_characters_do_not_make_a_page_binary() -> None:
    got = extract_article(page(body="<p>Pa\x00ris\x01 et\x0b Lyon\x1f.</p>").encode(), URL)
    assert "Paragraphe 7." in got.text


def _item() -> QueueItem:
    return QueueItem(id=1, source_id=1, url=URL, canonical_url=URL)


def _fetched(body: bytes) -> FetchResult:
    return FetchResult(
        url=URL, final_url=URL, outcome="ok", status=200, content=body, headers={"content-type": "text/html"}
    )


def _nested(depth: int, inner: str) -> str:
    return "<div>" * depth + inner + "</div>" * depth


def test_a_page_nested_past_the_parsers_limit_says_so() -> None:
    """libxml2 stops reading at 256 nested elements, with no exception. Before: an article
    below that depth failed as "no article text found in the page"; one above it was stored
    cut where the parser stopped, with nothing to say so."""
    buried = f'<html lang="fr"><body>{_nested(300, f"<p>{PARA * 3}</p>")}</body></html>'
    with pytest.raises(ExtractionError, match=r"^HTML parser limit: Excessive depth in document: 256"):
        extract_article(buried.encode(), URL)
    cut = extract_article(page(after=_nested(300, "<p>Cette fin de l'article est perdue.</p>")).encode(), URL)
    assert "Paragraphe 7." in cut.text and "Cette fin" not in cut.text
    assert cut.truncated and any(
        r.startswith("HTML parser limit: Excessive depth") for r in cut.access_reasons
    )
    whole = extract_article(page().encode(), URL)  # the next page is read whole again
    assert not whole.truncated and whole.access_reasons == ()


def test_a_huge_json_ld_script_costs_no_more_memory_than_the_page() -> None:
    """Before: trafilatura's JSON clean-up took about 130 bytes of memory per character of the
    script (650 MB for a script of 5 MB). Its dates are still read (by veille)."""
    dated = {"@type": "NewsArticle", "datePublished": "2025-02-08T10:00:00+01:00"}
    script = json.dumps({**dated, "articleBody": "x" * 3_000_000})
    html = page(head=f'<script type="application/ld+json">{script}</script>').encode()
    extract_article(page().encode(), URL)  # trafilatura and its caches loaded before measuring
    tracemalloc.start()
    try:
        got = extract_article(html, URL)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * len(html), f"{peak / 2**20:.0f} MB for a page of {len(html) / 2**20:.0f} MB"
    assert got.published_at == datetime.fromisoformat("2025-02-08T10:00:00+01:00")
    assert got.evidence is not None and got.evidence["json_ld_not_given_to_trafilatura"] == [len(script)]


def test_a_bug_met_by_one_page_after_its_extraction_fails_that_page_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before: the exception left analyse_page, ended the ingest worker (the run Incomplete,
    the rest of its batch left claimed for the next run, where the same page stopped it again)."""
    import monitors.ingest

    def broken(text: str, title: str | None = None, declared: str | None = None) -> object:
        raise IndexError("list index out of range")

    monkeypatch.setattr(monitors.ingest, "detect_language", broken)
    out = analyse_page(_item(), _fetched(page().encode()), load_topic())
    assert out.outcome == "error" and out.error_class == "permanent" and out.article is None
    assert out.reason == "analysis failed: IndexError: list index out of range"


@pytest.mark.parametrize(
    ("feed_date", "why"),
    [
        (datetime(1970, 1, 1, tzinfo=UTC), "before the site existed"),  # a CMS's epoch zero
        (datetime(1, 1, 1, tzinfo=UTC), "before the site existed"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC), "in the future"),
        (datetime.now(UTC) + timedelta(days=400), "in the future"),  # a page dated next year
    ],
    ids=["epoch", "year-one", "end-of-time", "next-year"],
)
def test_a_feed_date_no_page_date_could_be_is_not_the_publication(feed_date: datetime, why: str) -> None:
    """A page's own dates in the future or before 1995 are rejected; before, the feed's date of
    an undated page was used as its published_at whatever it was (1970-01-01, 9999-12-31)."""
    item = QueueItem(id=1, source_id=1, url=URL, canonical_url=URL, feed_published_at=feed_date)
    out = analyse_page(item, _fetched(page().encode()), load_topic())
    assert out.article is not None and out.article.published_at is None
    evidence = out.article.extraction_evidence
    assert evidence is not None
    assert {"source": "feed", "value": feed_date.isoformat(), "why": why} in evidence["dates_rejected"]
    # a plausible feed date is still the date of an undated page
    fine = datetime(2025, 2, 8, 10, tzinfo=UTC)
    item = QueueItem(id=1, source_id=1, url=URL, canonical_url=URL, feed_published_at=fine)
    out = analyse_page(item, _fetched(page().encode()), load_topic())
    assert out.article is not None and out.article.published_at == fine


def test_the_evidence_names_the_feed_when_its_date_is_the_publication() -> None:
    """Before: an undated page stored with its feed's date had no published_from, and a page
    whose day the feed gave with a time kept the page's field as published_from."""
    at = datetime(2025, 2, 7, 20, 6, tzinfo=UTC)
    item = QueueItem(id=1, source_id=1, url=URL, canonical_url=URL, feed_published_at=at)
    out = analyse_page(item, _fetched(page().encode()), load_topic())
    assert out.article is not None and out.article.published_at == at
    assert out.article.extraction_evidence is not None
    assert out.article.extraction_evidence["published_from"] == "feed (the page gives no date)"
    dated = page(head='<meta property="article:published_time" content="2025-02-07">')
    out = analyse_page(item, _fetched(dated.encode()), load_topic())
    assert out.article is not None and out.article.published_at == at
    evidence = out.article.extraction_evidence
    assert evidence is not None
    assert evidence["published_from"] == "feed (the page's day, with a time)"
    assert evidence["published_page"] == {
        "source": "meta article:published_time",
        "value": "2025-02-07T00:00:00+01:00",  # a day: its midnight on the local clock
    }
    # a page that gives its own time keeps it: the feed's is no more precise (before, the
    # feed's time of the same day replaced it)
    timed = page(head='<meta property="article:published_time" content="2025-02-07T08:15:00+01:00">')
    out = analyse_page(item, _fetched(timed.encode()), load_topic())
    assert out.article is not None and out.article.extraction_evidence is not None
    assert out.article.published_at == datetime(2025, 2, 7, 7, 15, tzinfo=UTC)
    assert out.article.extraction_evidence["published_from"] == "meta article:published_time"
    assert "published_page" not in out.article.extraction_evidence
    # the page's own date stays the page's
    other = page(head='<meta property="article:published_time" content="2025-02-06">')
    out = analyse_page(item, _fetched(other.encode()), load_topic())
    assert out.article is not None and out.article.extraction_evidence is not None
    assert out.article.extraction_evidence["published_from"] == "meta article:published_time"


@pytest.mark.parametrize(
    ("cut_after", "where"),
    [("<article><h1", "a tag"), ("<title>Sommet IA", "its text"), ("var x = 1;\nvar x", "a <script>")],
    ids=["in-a-tag", "in-the-text", "in-a-script"],
)
@pytest.mark.parametrize("workers", [0, 1], ids=["in-thread", "in-a-worker"])
def test_a_page_cut_short_before_its_text_is_a_transient_failure_saying_so(
    cut_after: str, where: str, workers: int
) -> None:
    """A server that fails before the article's text and sends the Content-Length of what it
    sent: the page failed for good as "no article text found in the page", which hid the cut
    and never fetched it again, though the next answer may be whole."""
    whole = page(head="<script>" + "var x = 1;\n" * 300 + "</script>").encode()
    cut = whole[: whole.index(cut_after.encode()) + len(cut_after.encode())]
    out = analyse_page(_item(), _fetched(cut), load_topic(), workers=workers, deadline=60)
    assert out.outcome == "error" and out.error_class == "transient" and out.article is None
    assert out.reason == (
        f"HTML cut short: the page stops in the middle of {where}, with no </body> or </html>; "
        "no article text before the cut"
    )


def test_a_header_the_body_contradicts_is_in_the_extraction_evidence() -> None:
    """What the fetch read despite a header (``FetchResult.transport``: a Content-Encoding the
    body is not in) is kept with the article, where a user can query it."""
    lie = "Content-Encoding: gzip on a body that is not gzip (it starts with '<'): read as sent"
    fetched = _fetched(page().encode())
    fetched.transport = (lie,)
    out = analyse_page(_item(), fetched, load_topic())
    assert out.article is not None and out.article.extraction_evidence is not None
    assert out.article.extraction_evidence["transport"] == [lie]
