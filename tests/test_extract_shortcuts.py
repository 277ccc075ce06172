"""The shortcuts that make veille's additions to trafilatura cheaper (bench/extract.py's time
ratio) give what the code before them gave: each is checked against that code, kept here as
the reference, on pages written here and on the shared corpus's pages when present (never
copied into the repository). Not timed (bench/extract.py measures the time)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Iterator

import pytest
from lxml.html import HtmlElement
from trafilatura.utils import load_html

from monitors.collect.encoding import decode_html
from monitors.judge import metadata, page_dates, paywall
from monitors.judge.boilerplate import MAX_BLOCK_CHARS, _norm, block_fingerprint, block_fingerprints
from monitors.judge.extract_eval import read_corpus, shared_corpus_dir

EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000))


def _norm_before(line: str) -> str:
    folded = unicodedata.normalize("NFKC", line).casefold()
    return " ".join("".join(ch if ch.isalnum() else " " for ch in folded).split())


def test_norm_keeps_exactly_the_alphanumeric_characters() -> None:
    """``[\\W_]`` is ``not str.isalnum()`` on every code point, so blocks keep their
    fingerprints (site_blocks rows learned before stay valid)."""
    for start in range(0, len(EVERY_CHARACTER), 4096):
        chunk = EVERY_CHARACTER[start : start + 4096]
        assert _norm(chunk) == _norm_before(chunk)
    for line in ["Lire aussi : « Le sommet »", "ǅemo ﬁ x_y ² ①", "İstanbul ſ K", "a\u0301b", " _-_ ", "٣٤ ٥"]:
        assert _norm(line) == _norm_before(line)


def test_a_line_fingerprint_is_the_text_fingerprint_of_that_line() -> None:
    longest = "x" * MAX_BLOCK_CHARS
    lines = ["", " ", "a", "ab", " Partager ", "--", "Ça va", longest, longest + "x"]
    for line in lines:
        fps = block_fingerprints(line)
        assert block_fingerprint(line) == (fps[0] if fps else None)


#: one notice for each alternative of paywall._NOTICE_LINES, in its order
NOTICES = [
    "Il vous reste 41.37 % de l’article à lire.",
    "La suite de cet article est réservée aux abonnés",
    "Cet article est réservé aux abonnés",
    "Contenu réservé aux abonnés",
    "Pour lire la suite, abonnez-vous",
    "Abonnez-vous pour lire l'article",
    "Vous avez lu 30% de cet article",
    "Déjà abonné ? Connectez-vous",
    "This article is only available to paying subscribers",
    "Subscribe now to keep reading",
    "To continue reading, please log in",
    "You have 2 free articles left",
    "Dieser Artikel ist exklusiv für Abonnenten",
    "Jetzt weiterlesen mit SZ Plus",
    "Este artículo es exclusivo para suscriptores",
]


def test_every_notice_holds_one_of_the_words_looked_for_first() -> None:
    assert len(NOTICES) == len(paywall._NOTICE_LINES)
    for alternative, notice in zip(paywall._NOTICE_LINES, NOTICES, strict=True):
        assert re.search(alternative, notice, re.I), notice
        assert paywall.may_hold_notice(f"Un paragraphe.\n{notice}\nUn autre.")
        upper = notice.upper()  # re.I matches it too
        assert paywall._NOTICE.search(upper) and paywall.may_hold_notice(upper)
        # each alternative's source names one of the words outside any optional part
        assert any(word in alternative.lower() for word in paywall._NOTICE_WORDS), alternative
    assert not paywall.may_hold_notice("Le sommet sur l'IA s'ouvre lundi à Paris.\nDeux jours de débats.")


def test_the_words_lowercased_find_all_that_re_ignorecase_matches() -> None:
    """A character ``re.I`` matches to a letter of the words either lowercases to that letter
    or is one of those that make the text be searched line by line anyway."""
    letters = {c for word in paywall._NOTICE_WORDS for c in word if c in string.ascii_lowercase}
    for letter in sorted(letters):
        matched = re.findall(f"[{letter}]", EVERY_CHARACTER, re.I)
        odd = [c for c in matched if c.lower() != letter and c not in paywall._FOLDED_APART]
        assert odd == [], letter
    for c in paywall._FOLDED_APART:
        assert paywall.may_hold_notice(f"Texte {c} sans rien d'autre.")


def _check_access_before(text: str) -> tuple[str, paywall.Access]:
    access = paywall.Access()
    kept = []
    for line in text.split("\n"):
        if len(line) <= paywall._MAX_NOTICE_LINE and paywall._NOTICE.search(line):
            access.paywalled = access.truncated = True
            access.reasons.append(f"notice: {line.strip()[:120]}")
            left = paywall._LEFT.search(line)
            if left:
                access.share_left = float(left.group(1).replace(",", "."))
            continue
        kept.append(line)
    cleaned = "\n".join(kept).strip() if access.paywalled else text
    if paywall.stops_mid_sentence(cleaned):
        access.truncated = True
        access.reasons.append("text stops mid-sentence")
    return (cleaned or text), access


def _page_notice_before(tree: HtmlElement, html: str) -> str | None:
    if not any(word in html.lower() for word in paywall._STRONG_WORDS):
        return None
    body = tree.find("body")
    for el in body.iter("p", "div", "span", "section", "aside", "a") if body is not None else ():
        content = " ".join(el.text_content().split())
        if len(content) <= paywall._MAX_NOTICE_LINE and paywall._STRONG.search(content):
            return content
    return None


def _date_texts_before(tree: HtmlElement) -> Iterator[str]:
    body = tree.find("body")
    if body is None:
        return
    for el in body.iter():
        if not isinstance(el.tag, str) or el.tag in {"script", "style", "a", "option"}:
            continue
        label = metadata.class_and_id(el)
        if (
            not page_dates._DATE_CLASS.search(label)
            or page_dates._COMMENT.search(label)
            or metadata.MODIFIED_CLASS.search(label)
        ):
            continue
        if any(page_dates._COMMENT.search(metadata.class_and_id(a)) for a in el.iterancestors()):
            continue
        yield " ".join(el.text_content().split())[:120]


PAGES = [
    """<html><body class="post-date"><div><p>Texte de l'article, assez long pour compter.</p>
    <aside><span>Il vous reste 60 % de l'article à lire</span></aside><!-- date -->
    <div id="byline"><a class="date">1 mars 2025</a><span class="date">12.02.2025</span></div>
    <div class="comment"><span class="time">3 mars 2025</span></div>
    <div class="date-mod">4 mars</div><option class="date">x</option></div></body></html>""",
    """<html><body><p>la suite</p><div>Sub<b>scribe</b> to continue reading</div>
    <p class="meta" id="date">Published June 4, 2020</p></body></html>""",
    """<html><body><p>Continue reading the full story below, it is free.</p></body></html>""",
    "<html><head><title>rien</title></head></html>",
]


def _pages() -> Iterator[tuple[str, HtmlElement]]:
    for html in PAGES:
        yield html, load_html(html)
    corpus = shared_corpus_dir()
    if corpus is not None:
        for page in read_corpus(corpus):
            html = decode_html(page.raw, None)
            yield html, load_html(html)


@pytest.fixture(scope="module")
def pages() -> list[tuple[str, HtmlElement]]:
    return list(_pages())


def test_page_notice_and_date_texts_as_before(pages: list[tuple[str, HtmlElement]]) -> None:
    notices = 0
    for html, tree in pages:
        before = _page_notice_before(tree, html)
        assert paywall.page_notice(tree, html) == before
        assert paywall.page_notice(tree, html, html.lower()) == before
        notices += before is not None
        assert list(page_dates._date_texts(tree)) == list(_date_texts_before(tree))
        text = " ".join(tree.text_content().split("\n"))
        for sample in (text, "\n".join(NOTICES), "\n".join(text.split(". "))):
            assert paywall.check_access(sample, None) == _check_access_before(sample)
    assert notices >= 2  # the pages written here hold two


def test_choose_dates_with_the_lowercase_copy_given(pages: list[tuple[str, HtmlElement]]) -> None:
    """The page's lowercase copy passed in gives the dates the function finds alone, on pages
    shorter and longer than the 300,000 characters it reads (a final sigma at the cut)."""
    phrase = "<p>Publié le 10 février 2025 à 14h30, mis à jour le 11 février 2025 à 9h</p>"
    long_page = "<html><body>" + phrase + "<p>ΟΔΟΣ</p>" * 40_000 + "</body></html>"
    cut = "<html><body>" + phrase + "x" * (300_000 - 12 - len(phrase) - 1) + "ΣΑ</body></html>"
    written = [(h, load_html(h)) for h in (long_page, cut, f"<html><body>{phrase}</body></html>")]
    for html, tree in [*pages, *written]:
        meta = metadata.read_page(tree)
        url = "https://example.fr/a"
        alone = page_dates.choose_dates(meta, html, url, None, tree=tree)
        given = page_dates.choose_dates(meta, html, url, None, tree=tree, lowered=html.lower())
        assert (given.published, given.modified) == (alone.published, alone.modified)
        assert given.evidence == alone.evidence
