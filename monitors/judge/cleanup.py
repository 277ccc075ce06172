"""General clean-up of an extracted text: the lines every kind of site adds around an article.

trafilatura keeps a few kinds of lines that are never the article, whatever the site:

- the headline repeated as the first line (the title is stored apart), and the labels
  above it (a section's name, a kicker: up to two lines of five words at most);
- photo credits and captions' credit lines ("Crédits photos : ...", "Foto: ...", "Beitragsbild: ...");
- links to other articles ("À lire aussi ...", "Lesen Sie auch ...", "Read more ..."), and
  their teasers (first words cut by an ellipsis, then "Weiterlesen", "Lire la suite");
- date stamps ("Mis à jour le ...", "Last modified: ...", "Video verfügbar bis ...");
- calls to subscribe, sign up or download an app in the last lines;
- a list of sources or a contact block closing the text (a heading alone on its line,
  "Quellenangaben:", "Sources", "Pressekontakt", "Ansprechpartnerin zum Thema:", then only
  citations, or only short lines of names, numbers and addresses, to the end);
- a comment form's prompts ("Sie sind aktuell nicht eingeloggt.", "You must be logged in
  to post a comment.", "Leave a Reply"), wherever they stand;
- a post of the site's own social account embedded in the page (:func:`drop_own_posts`).

Each rule is a short line (a long paragraph that happens to start with the words is kept),
multilingual (French, English, German, Spanish), and written as a class of boilerplate, not
as strings of pages seen. And a lead: many sites put the article's lead paragraph (the
"chapô") in the page header where trafilatura does not look; when an element marked as a
lead, or whose text is the page's description, is missing from the text, it is put back first.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import chain

from lxml import etree
from lxml.html import HtmlElement

from monitors.judge.titles import names_site

_CREDIT = re.compile(
    r"^\W*(?:crédits?(?:\s+photos?)?|copyright|©|photos?|fotos?|bild(?:er)?|bildquelle|beitragsbild|"
    r"titelbild|image illustrative|illustration|image credit|photo credit|source\s+photo)\s*[:©(]",
    re.I,
)
_RELATED = re.compile(
    r"^\W*(?:à lire aussi|a lire aussi|lire aussi|à lire également|voir aussi|à voir aussi|"
    r"lesen sie auch|lesen sie hier|mehr zum thema|weitere beiträge|weitere artikel|"
    r"das könnte sie auch interessieren|"
    r"read also|read more|also read|see also|related(?: articles| stories| posts)?\s*:|"
    r"le puede interesar|te puede interesar|lea también|lee también)\b",
    re.I,
)
_STAMP = re.compile(
    r"(?:^|\W)(?:last modified|last updated|updated on|zuletzt aktualisiert|letzte aktualisierung|"
    r"aktualisiert am|"
    r"mis à jour le|publié le|video verfügbar bis|verfügbar bis)\b",
    re.I,
)
_CALL = re.compile(
    r"\b(?:subscribe|sign up|newsletter|download (?:\w+ ){0,6}apps?|abonnez-vous|inscrivez-vous|suscr[ií]b|"
    r"hazte miembro|nicht eingeloggt|jetzt anmelden|jetzt registrieren|follow us|suivez-nous|folgen sie uns|"
    r"escr[ií]benos|puede escribirnos)",
    re.I,
)
#: A comment form's prompts, which trafilatura keeps when the comment section is not marked as
#: one ("Sie sind aktuell nicht eingeloggt.", "You must be logged in to post a comment.",
#: "Vous devez être connecté pour publier un commentaire.", WordPress's "Leave a Reply" and
#: "Cancel reply" in their translations): never the article's, wherever they stand.
_COMMENT_FORM = re.compile(
    r"\b(?:nicht (?:eingeloggt|angemeldet)|(?:logged|signed) in to (?:post|comment|leave|reply|write)|"
    r"connectée? pour (?:commenter|publier|poster|laisser|répondre|réagir)|"
    r"(?:loggen|melden) sie sich (?:bitte )?(?:ein|an)\b.{0,30}kommentar|"
    r"angemeldet sein,? um (?:einen )?kommentar|"
    r"kommentar (?:zu )?(?:hinterlassen|abzugeben|abgeben|verfassen|schreiben)|"
    r"leave a (?:comment|reply)|laisser un commentaire|laissez un commentaire|"
    r"antwort abbrechen|cancel reply|annuler la réponse|"
    r"(?:ihr|dein) kommentar ist zu lang|your comment is too long)",
    re.I,
)
_SHORT = 160
#: Another article's teaser: its first words cut by an ellipsis, then a link to read on
#: ("... Die Aufmerksamkeit für… Weiterlesen »Titel", "The summit opened [...] Read more").
_TEASER = re.compile(
    r"(?:…|\.\.\.|\[…\]|\[\.\.\.\])\s*[»›→>\]]?\s*"
    r"(?:weiterlesen|mehr lesen|read more|continue reading|keep reading|lire la suite|"
    r"leer más|seguir leyendo|continua a leggere|leggi tutto)\b",
    re.I,
)
_TEASER_MAX = 600
_LEAD_CLASS = re.compile(
    r"(?:^|[\s_-])(?:lead|teaser|intro|chapo|chapeau|standfirst|summary|subheadline|sub-headline|deck|"
    r"abstract|article-header|article__header|kicker-text|excerpt)(?:$|[\s_-])",
    re.I,
)
_AWAY = {"nav", "footer", "aside", "form", "script", "style", "noscript", "button"}


def _key(value: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", value).casefold() if ch.isalnum())


def _is_title_line(line: str, titles: list[str]) -> bool:
    k = _key(line)
    if not k or len(line) > 300:
        return False
    return any(
        t and (k == t or (len(t) >= 15 and (k.endswith(t) or t.endswith(k) and len(k) >= 15))) for t in titles
    )


#: At most this many lines of a few words each, above the headline, are labels.
_LABELS_ABOVE = 2
_LABEL_WORDS = 5


def _labels_above_title(lines: list[str], filled: list[int], keys: list[str]) -> set[int]:
    """The lines above the headline when it is repeated within the first lines: a section's
    name, a breadcrumb's last step, a kicker ("Pressemitteilungen", "Interview", "Sport |
    Football"), which sites put over their headline and trafilatura keeps with it. Only
    lines of a few words that end no sentence; else none."""
    for n, i in enumerate(filled[: _LABELS_ABOVE + 1]):
        if _is_title_line(lines[i].strip(), keys):
            before = filled[:n]
            short = all(
                len(lines[j].split()) <= _LABEL_WORDS and not lines[j].rstrip().endswith((".", "!", "?", ":"))
                for j in before
            )
            return set(before) if short else set()
    return set()


#: The heading of a closing list of sources, alone on its line ("Quellenangaben:", "Sources",
#: "Références :", "Einzelnachweise").
_SOURCES_HEADING = re.compile(
    r"^\W*(?:quellen(?:angaben|verzeichnis)?|einzelnachweise|literatur(?:verzeichnis|angaben)?|"
    r"sources?|références|references|bibliograph(?:ie|y)|fuentes|referencias)\s*:?\s*$",
    re.I,
)
#: A line of such a list: a link, a year in parentheses, or a footnote's mark first.
_CITATION = re.compile(r"https?://|www\.|\((?:19|20)\d\d\)|^\W*(?:\[\d+\]|\d{1,3}[.)]\s|[¹²³⁴-⁹₀-₉]+)")
#: The heading of a closing contact block ("Ansprechpartnerin zum Thema:", "Pressekontakt",
#: "Contact presse :", "Media contact:").
_CONTACT_HEADING = re.compile(
    r"^\W*(?:ansprechpartner(?:in|innen)?|pressekontakt|kontakt|contacts? presse|contact|"
    r"press contacts?|media contacts?)\b[^.!?]{0,40}:?\s*$",
    re.I,
)
#: A contact block's lines: a name, a phone number, an address, a label (no sentence).
_CONTACT_LINE_WORDS = 8
#: A closing section is at most this many lines.
_CLOSING_LINES = 15


def _closing_section(lines: list[str], filled: list[int]) -> tuple[set[int], str]:
    """The lines of a list of sources or a contact block that closes the text: a heading
    alone on its line, then up to the end only the list's lines (each citing a link, a year in
    parentheses or a footnote's mark) or the block's (a few words each, no sentence: names,
    phone numbers, e-mail addresses). What the article says ends before them."""
    tail = filled[-_CLOSING_LINES - 1 :]
    for n, i in enumerate(tail[:-1]):
        head, rest = lines[i].strip(), [lines[j].strip() for j in tail[n + 1 :]]
        if len(head) > 60:
            continue
        if _SOURCES_HEADING.match(head) and all(_CITATION.search(r) for r in rest):
            return {i, *tail[n + 1 :]}, "sources"
        if _CONTACT_HEADING.match(head) and all(
            len(r.split()) <= _CONTACT_LINE_WORDS and not r.endswith((".", "!", "?")) for r in rest
        ):
            return {i, *tail[n + 1 :]}, "contact"
    return set(), ""


def clean_lines(text: str, titles: list[str]) -> tuple[str, list[str]]:
    """The text without the lines above, and what was removed (for the evidence)."""
    lines = text.split("\n")
    keys = [_key(t) for t in titles if t]
    removed: list[str] = []
    kept: list[str] = []
    filled = [i for i, line in enumerate(lines) if line.strip()]
    last = filled[-3:]
    above = _labels_above_title(lines, filled, keys)
    closing, closing_why = _closing_section(lines, filled)
    for i, line in enumerate(lines):
        s = line.strip()
        why = None
        if not s:
            kept.append(line)
            continue
        if i in above:
            why = "above the title"
        elif i in closing:
            why = closing_why
        elif not any(k.strip() for k in kept) and _is_title_line(s, keys):
            why = "title"
        if why is None and len(s) <= _TEASER_MAX and _TEASER.search(s):
            why = "teaser"
        if why is None and len(s) <= _SHORT:
            if _CREDIT.search(s):
                why = "credit"
            elif _RELATED.search(s):
                why = "related"
            elif _STAMP.search(s) and len(s) <= _SHORT:
                why = "stamp"
            elif _COMMENT_FORM.search(s):
                why = "comment form"
            elif i in last and _CALL.search(s):
                why = "call"
        if why:
            removed.append(f"{why}: {s[:80]}")
        else:
            kept.append(line)
    out = "\n".join(kept).strip()
    if len(out) < 0.5 * len(text.strip()):
        return text, []  # the rules never take most of a text away
    return out, removed


def _plain(value: str) -> str:
    return " ".join(value.split()).casefold()


def find_lead(tree: HtmlElement, description: str, text: str) -> str | None:
    """The article's lead paragraph when the extraction missed it, else None."""
    desc = _plain(description)[:50]
    body = tree.find("body")
    if body is None:
        return None
    for el in body.iter("p", "div", "h2"):
        marked = bool(_LEAD_CLASS.search(el.get("class") or ""))
        if not marked:
            if el.tag != "p" or len(desc) < 40 or not _plain(el.text or "")[:50].startswith(desc[:30]):
                continue
        elif el.tag == "div" and len(el) > 3:
            continue
        content = " ".join(el.text_content().split())
        if not (60 <= len(content) <= 1200):
            continue
        described = len(desc) >= 40 and content.casefold().startswith(desc)
        ancestors = {a.tag for a in el.iterancestors()}
        if ancestors & _AWAY or "a" in ancestors:
            continue
        if not described and not (marked and ancestors & {"article", "header", "main"}):
            continue
        linked = sum(len(" ".join(a.text_content().split())) for a in el.iter("a"))
        if linked > len(content) / 2 or _TEASER.search(content):
            continue  # a teaser card of another article (mostly a link, or cut and "read more")
        if content[:60] in " ".join(text.split()):
            return None  # the extraction has it already
        return content
    return None


#: The elements that social networks' embed codes write (before their script turns them into
#: a frame): X/Twitter, Instagram, TikTok, Mastodon.
_EMBEDDED_POST = re.compile(
    r"(?:^|\s)(?:twitter-tweet|twitter-video|instagram-media|tiktok-embed|mastodon-embed)(?:\s|$)"
)
#: A post's signature in its embed code: "— CDU/CSU (@cducsubt) November 2, 2021", "A post
#: shared by Exemple Journal (@exemplejournal)": its account, and its author's name before it
#: after a dash or "by".
_POST_ACCOUNT = re.compile(r"\(@([\w.]{1,30})\)")
_POST_BY = re.compile(r"[—–―]|\b(?:by|von|par)\b", re.I)
_POST_NAME_WORDS = 6
#: TikTok's and Mastodon's embed codes sign a post by no "(@account)": the account is in the
#: post's address, TikTok's ``cite`` ("https://www.tiktok.com/@account/video/...") and
#: Mastodon's ``data-embed-url`` ("https://mastodon.social/@account/113.../embed").
_POST_URL_ACCOUNT = re.compile(r"https?://[^/\s]+/@([\w.]{1,30})(?:[/?#]|$)")


def _post_author(post: HtmlElement) -> tuple[str, str] | None:
    """The name and the account that sign an embedded post (the name "" when its embed code
    gives the account alone), or None (no signature)."""
    text = " ".join(post.text_content().split())
    accounts = list(_POST_ACCOUNT.finditer(text))
    if not accounts:
        for address in (post.get("cite"), post.get("data-embed-url")):
            if address and (found := _POST_URL_ACCOUNT.match(address.strip())):
                return "", found.group(1)
        return None
    last = accounts[-1]
    name = _POST_BY.split(text[: last.start()])[-1].strip()
    return (name if len(name.split()) <= _POST_NAME_WORDS else ""), last.group(1)


def drop_own_posts(tree: HtmlElement, keys: set[str]) -> list[str]:
    """Take out of ``tree`` the embedded social posts whose author is the site itself (its
    name or its account names it: "CDU/CSU (@cducsubt)" on cducsu.de); their signatures.

    A site that embeds its own post under an article repeats its promotion there, as its
    share bar does ("Mehr dazu: https://t.co/..."), and trafilatura keeps the post as text. A
    post by anyone else (a minister, an agency, a witness) is what the article quotes and
    stays."""
    dropped = []
    for post in list(tree.iter("blockquote")):
        if not _EMBEDDED_POST.search(post.get("class") or ""):
            continue
        author = _post_author(post)
        if author is None:
            continue
        name, account = author
        if names_site(account, keys) or (name and names_site(name, keys)):
            parent = post.getparent()
            if parent is None:
                continue
            dropped.append(f"{name} (@{account})" if name else f"@{account}")
            tail = post.tail
            previous = post.getprevious()
            parent.remove(post)
            if tail:  # the text after the post stays where it was
                if previous is not None:
                    previous.tail = (previous.tail or "") + tail
                else:
                    parent.text = (parent.text or "") + tail
    return dropped


#: The elements a run of text may hold (a ``<div>`` of only these, and text, is a paragraph
#: written without ``<p>``).
_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "br", "cite", "code", "data", "dfn", "em", "font", "i", "ins", "kbd"}
    | {"mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr"}
)
#: The elements that make a block of their own: a ``<div>`` holding one (inside an inline
#: element, as in ``<div><span><div>...</div></span></div>``) is no paragraph itself.
_BLOCK = frozenset(
    {"address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt", "fieldset"}
    | {"figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr"}
    | {"li", "main", "nav", "ol", "p", "pre", "section", "table", "ul"}
)
#: A paragraph has this many words at least, and a sentence's end (at its end, or before a word).
_DIV_PARAGRAPH_WORDS = 10
_SENTENCE_END = re.compile(r"[.!?…][\s\"'»”’)]*$|[.!?…][\s\"'»”’)]+\w")
#: The paragraphs of the container are within this many levels above the ``<div>``.
_DIV_PARAGRAPH_LEVELS = 3
#: trafilatura reads the ``<div>``'s text itself while the page's ``<p>`` hold fewer characters
#: than three times its ``MIN_EXTRACTED_SIZE`` (250): a page's paragraphs outside its navigation,
#: footer and forms.
_TRAFILATURA_READS_DIVS = 3 * 250
_PARAGRAPH_TEXT = etree.XPath("//p[not(ancestor::" + " or ancestor::".join(sorted(_AWAY)) + ")]//text()")


def _sentence_paragraphs(tree: HtmlElement) -> dict[HtmlElement, int]:
    """How many ``<p>`` that end a sentence each element of ``tree``'s document holds (itself
    included), counted up to two, the most :func:`_beside_paragraphs` asks: each ``<p>`` is read
    once and counted in its ancestors up to the first that holds two already (so do all above
    it). Reading each container's ``<p>`` in turn took time in the square of the page's depth:
    a page whose ``<section>`` or ``<div>`` blocks are left unclosed nests each in the one
    before, and all their ``<p>`` were read again for each block."""
    counts: dict[HtmlElement, int] = {}
    for p in tree.getroottree().getroot().iter("p"):
        if not _SENTENCE_END.search(" ".join(p.text_content().split())):
            continue
        for element in chain((p,), p.iterancestors()):
            held = counts.get(element, 0)
            if held >= 2:
                break
            counts[element] = held + 1
    return counts


def _beside_paragraphs(div: HtmlElement, ends: dict[HtmlElement, int]) -> bool:
    """Whether ``div`` stands in a container whose text is in ``<p>`` elements (two or more
    that end a sentence: ``ends``, :func:`_sentence_paragraphs`), within a few levels above it,
    and not in a page's navigation, footer, form or link."""
    above = list(div.iterancestors())
    if any(a.tag in _AWAY or a.tag == "a" for a in above):
        return False
    return any(ends.get(a, 0) >= 2 for a in above[:_DIV_PARAGRAPH_LEVELS])


def paragraphs_in_divs(tree: HtmlElement) -> int:
    """Wrap in a ``<p>`` the text written directly in a ``<div>`` beside the article's
    paragraphs; how many were wrapped.

    trafilatura reads a ``<div>``'s own text only when the page has too little text in
    ``<p>`` elements: a lead written in a ``<div class="article_faits">``, a photo's caption
    in a ``<div class="unterschrift">``, a paragraph whose lines are split by ``<br>`` in a
    ``<div>``, beside the article's ``<p>`` paragraphs, were lost. A ``<div>`` of only text
    and inline elements (links, emphasis, ``<br>``) that hold no block, of ten words or more
    with a sentence's end, mostly not links, within three levels of paragraphs, gets its
    content in a ``<p>``: the ``<div>`` stays, so trafilatura's rules on its class (a
    byline's, a share bar's, a teaser's) still apply. Only on a page whose ``<p>`` hold
    enough text for trafilatura to pass its ``<div>`` by: on the others it reads them, and
    the text a wrap would add to its ``<p>`` could make it pass by the ``<div>`` left
    unwrapped (a paragraph with no sentence's end)."""
    runs = []
    ends: dict[HtmlElement, int] | None = None  # read at the first candidate: most pages have none
    for div in tree.iter("div"):
        if not all(not isinstance(child.tag, str) or child.tag in _INLINE for child in div):
            continue
        if any(inner.tag in _BLOCK for inner in div.iterdescendants()):
            continue  # its inline children hold blocks (a <span> of <div>): those are its paragraphs
        content = " ".join(div.text_content().split())
        if len(content.split()) < _DIV_PARAGRAPH_WORDS or not _SENTENCE_END.search(content):
            continue
        linked = sum(len(" ".join(a.text_content().split())) for a in div.iter("a"))
        if linked > len(content) / 2:
            continue
        if ends is None:
            ends = _sentence_paragraphs(tree)
        if _beside_paragraphs(div, ends):
            runs.append(div)
    if not runs or sum(len(t) for t in _PARAGRAPH_TEXT(tree)) < _TRAFILATURA_READS_DIVS:
        return 0  # none, or trafilatura reads them: a wrapped one could stop it reading the others
    for div in runs:  # chosen first: a wrapped one is no paragraph beside the next
        paragraph = div.makeelement("p", {})
        paragraph.text, div.text = div.text, None
        for child in list(div):
            paragraph.append(child)  # moves the child, its tail with it
        div.append(paragraph)
    return len(runs)
