"""Paywall and truncation: flag a text that is only the free part of an article, and take the
subscription notice out of it.

Signals, each with its reason: a notice in the text ("Il vous reste 41.37 % de cet article à
lire", "Article réservé aux abonnés", their English and German kin), schema.org
``isAccessibleForFree: false``, and a text that stops mid-sentence. A notice says the text is
cut (``truncated``) and paywalled; ``isAccessibleForFree`` false alone says paywalled (the
page may still carry the whole text, some sites serve it to crawlers); a text whose last
paragraph stops mid-sentence is ``truncated`` whatever the cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml.html import HtmlElement

_NOTICE_LINES = [
    r"il vous reste \d+(?:[.,]\d+)?\s*%\s*de (?:cet |l['’])article à lire",
    r"la suite (?:de cet article )?est réservée aux (?:abonnés|adhérents)",
    r"(?:cet )?article (?:est )?réservé aux abonnés",
    r"(?:contenu|article|réservé) (?:réservé )?(?:aux )?abonnés",
    r"(?:pour )?lire la suite,? (?:abonnez-vous|de cet article)",
    r"abonnez-vous pour (?:lire|continuer|accéder)",
    r"vous avez lu \d+ ?% de cet article",
    r"(?:déjà abonné|vous êtes abonné) ?\??\s*(?:connectez-vous|identifiez-vous)",
    r"this (?:article|story|content) is (?:for|available to|reserved for|only available to) "
    r"(?:paid |paying )?subscribers",
    r"subscribe (?:now )?to (?:continue|keep) reading",
    r"(?:to )?continue reading,? (?:please )?(?:subscribe|log in|sign in)",
    r"you have \d+ free articles? (?:left|remaining)",
    r"dieser (?:artikel|beitrag|inhalt) ist (?:nur )?(?:für|exklusiv für) "
    r"(?:abonnenten|abonnentinnen|abonnierende)",
    r"(?:jetzt )?weiterlesen mit (?:\w+ ?)?(?:plus|\+)",
    r"este (?:artículo|contenido) es (?:exclusivo )?para (?:suscriptores|abonados)",
]
_NOTICE = re.compile(r"(?:" + "|".join(_NOTICE_LINES) + r")", re.I)
#: Notices that speak of *this* article ("the rest of this article"), trusted anywhere in the
#: page; a bare "réservé aux abonnés" outside the text may be the badge of another article.
_STRONG = re.compile(
    r"il vous reste \d+(?:[.,]\d+)?\s*%\s*de (?:cet |l['’])article|la suite (?:de cet article )?est réservée"
    r"|(?:subscribe|log in|sign in) to (?:continue|keep) reading"
    r"|continue reading,? (?:please )?(?:subscribe|log in)"
    r"|dieser (?:artikel|beitrag) ist (?:nur )?(?:für|exklusiv für) abonnenten",
    re.I,
)
_STRONG_WORDS = ("il vous reste", "la suite", "reading", "abonnenten")
#: Each notice :data:`_NOTICE` matches holds one of these words (lowercase ASCII): a text whose
#: lowercase copy holds none has no notice line, and is not searched line by line with the
#: whole pattern (a third of veille's own extraction cost on the corpus).
_NOTICE_WORDS = (
    "il vous reste",
    "la suite",
    "abonn",
    "vous avez lu",
    "subscribers",
    "reading",
    "free article",
    "weiterlesen mit",
    "para",
)
#: The characters ``re.I`` matches to an ASCII letter that ``str.lower`` does not turn into it
#: (İ and ı to i, ſ to s): a text holding one is searched line by line as before.
_FOLDED_APART = ("\u0130", "\u0131", "\u017f")
_LEFT = re.compile(r"il vous reste (\d+(?:[.,]\d+)?)\s*%", re.I)
#: A notice line is short; a long paragraph that quotes the words is article text.
_MAX_NOTICE_LINE = 300
_END_OK = re.compile(r"""[.!?…:;"'»«”“)\]\u2019*]\s*$|\d\s*$|^\W*$""")
_SENTENCE_END = re.compile(r"[.!?…][\"'»”“)\]]*\s")
_URL_OR_CREDIT = re.compile(
    r"https?://|www\.|\.[a-z]{2,4}/?\s*$|\b(?:foto|photo|bild|image|crédits?|source|quelle)\s*:", re.I
)


@dataclass
class Access:
    paywalled: bool = False
    truncated: bool = False
    reasons: list[str] = field(default_factory=list)
    share_left: float | None = None  # "Il vous reste 41.37 %" -> 41.37


def stops_mid_sentence(text: str) -> bool:
    """The last paragraph is prose (long, with sentences) that ends without closing punctuation."""
    paragraphs = [p.strip() for p in text.split("\n") if p.strip()]
    if not paragraphs:
        return False
    last = paragraphs[-1]
    if len(last) < 120 or last.count(" ") < 15:
        return False  # a byline, a credit, a date, a list item: not prose
    if not re.search(r"[.!?]\s", last):
        return False  # one unpunctuated block is a list or a caption, not a cut sentence
    if _END_OK.search(last):
        return False
    tail = _SENTENCE_END.split(last)[-1]
    # the unfinished sentence must look like one: a few words, not a link or a credit
    return len(tail.split()) >= 4 and not _URL_OR_CREDIT.search(tail)


def page_notice(tree: HtmlElement, html: str, lowered: str | None = None) -> str | None:
    """A notice about this article's rest found anywhere in the page (a paywall box the
    extraction left out), or None. Pages without the notices' words cost one lowercase copy
    (``lowered``, ``html.lower()`` when the caller has it)."""
    lowered = html.lower() if lowered is None else lowered
    if not any(word in lowered for word in _STRONG_WORDS):
        return None
    body = tree.find("body")
    if body is None:
        return None
    # An element's text is a stretch of the body's, and _STRONG depends on no context (no
    # anchor, no word boundary): when the body's text has no notice, no element's has one.
    if not _STRONG.search(" ".join(body.text_content().split())):
        return None
    for el in body.iter("p", "div", "span", "section", "aside", "a"):
        content = " ".join(el.text_content().split())
        if len(content) <= _MAX_NOTICE_LINE and _STRONG.search(content):
            return content
    return None


def may_hold_notice(text: str) -> bool:
    """False when no line of the text can hold a notice of :data:`_NOTICE` (none of
    :data:`_NOTICE_WORDS` in its lowercase copy); True when one may."""
    if any(c in text for c in _FOLDED_APART):
        return True
    lowered = text.lower()
    return any(word in lowered for word in _NOTICE_WORDS)


def check_access(
    text: str, accessible_for_free: bool | None, notice: str | None = None
) -> tuple[str, Access]:
    """The text without its paywall notice, and the flags with their reasons; ``notice`` is
    one found elsewhere in the page (:func:`page_notice`)."""
    access = Access()
    kept: list[str] = []
    lines = text.split("\n") if may_hold_notice(text) else []
    for line in lines:
        if len(line) <= _MAX_NOTICE_LINE and _NOTICE.search(line):
            access.paywalled = access.truncated = True
            access.reasons.append(f"notice: {line.strip()[:120]}")
            left = _LEFT.search(line)
            if left:
                access.share_left = float(left.group(1).replace(",", "."))
            continue
        kept.append(line)
    cleaned = "\n".join(kept).strip() if access.paywalled else text
    if notice and not access.paywalled:
        access.paywalled = access.truncated = True
        access.reasons.append(f"notice: {notice[:120]}")
        left = _LEFT.search(notice)
        if left:
            access.share_left = float(left.group(1).replace(",", "."))
    if accessible_for_free is False:
        access.paywalled = True
        access.reasons.append("schema.org isAccessibleForFree: false")
    if stops_mid_sentence(cleaned):
        access.truncated = True
        access.reasons.append("text stops mid-sentence")
    if not cleaned:
        return text, access  # never empty an article: a page that is only a notice keeps it
    return cleaned, access
