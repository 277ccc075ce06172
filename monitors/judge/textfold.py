"""Folding text for topic matching: accents stripped, case lowered, punctuation made spaces.

Text and patterns are folded the same way, so matching is accent-, case- and
elision-insensitive: "l'IA", "l’IA" and "L'IA" all hold the token "ia". ``fold`` defines the
tokens; ``fold_article`` gives the same tokens for a whole article at once, as one case-kept run
of ASCII bytes with its sentences separated by a break token, done character by character: the
few distinct non-ASCII characters of Latin-script text are replaced with their folds, then one
bytes.translate does the rest (NFKD over the whole text only for texts with many distinct
characters). Scoring runs right after an extraction that evicts caches, so this does few passes.
"""

from __future__ import annotations

import re
import unicodedata
from itertools import islice

from monitors.group.copies import INVISIBLE

_LIGATURE_PAIRS = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"), ("ß", "ss"))
#: ligatures spelled out, and the invisible characters (``copies.INVISIBLE``) deleted: every fold
#: of the module (``fold``, the per-character folds) reads "intelli\u00adgence" as one word
_LIGATURES = str.maketrans({**dict(_LIGATURE_PAIRS), **dict.fromkeys(INVISIBLE, None)})
_NON_ALNUM_RE = re.compile(r"[^0-9A-Za-z]+")
_COMBINING_RE = re.compile(r"[\u0300-\u036f]+")
#: Periods that end no sentence, as a condition read right after the period (so the regexes below
#: start with the literal and the engine skips to each period):
#:
#: - a decimal point ("6.4 billion", "v2.0"), between two digits: it folds as the decimal comma
#:   does ("6,4 milliards"), so one pattern "6 4 billion" reads both;
#: - the period of an abbreviation, when more text follows on its line: a title or a word that
#:   always precedes what it abbreviates ("M. Macron", "MM.", "Dr.", "St.", "cf.", "vs.") ends
#:   none; a single letter (an initial, "J. D. Vance", "E. Macron", or a letter of a dotted
#:   acronym, "U.S.", "É.-U.", "a.m.", "p. ex.") ends none unless a word that opens sentences
#:   follows ("U.S. The next", "plan B. Le gouvernement"; "U.S. President" goes on: a capitalised
#:   word after an initial is the rest of a name); a word abbreviation that often closes a
#:   sentence too ("etc.", "Inc.", "Jr.", "No.") ends none unless a capitalised word follows.
#:
#: A sentence that opens otherwise after a letter ("sur X. Elon Musk a répondu") is read as one
#: with the one before: a same-sentence rule may then span the two, as it did across "M.".
#: titles and words that always precede what they abbreviate (case as written)
_TITLES = (
    "M|MM|Mme|Mmes|Mlle|Mlles|Mgr|Dr|Pr|Prof|Mr|Mrs|Ms|St|Ste|Sen|Gen|Gov|Rep|Lt|Col|Sgt|Capt|"
    "Rev|Hon|cf|Cf|vs"
)
#: word abbreviations that may close a sentence too
_CLOSERS = "etc|Inc|Ltd|Corp|Co|Jr|Sr|No|al|ex|env"
#: words that open a sentence, capitalised, and begin no name (after a letter, they end it)
_OPENERS = (
    "Le|La|Les|Un|Une|Des|Du|De|Au|Aux|Ce|Cet|Cette|Ces|Ceci|Cela|Ça|Il|Ils|Elle|Elles|On|Nous|"
    "Vous|Je|Tu|Mais|Et|Or|Donc|Car|Puis|Ainsi|Alors|Selon|Pour|Par|Dans|En|Avec|Sans|Sur|Sous|"
    "Si|Lors|Depuis|Après|Avant|Pendant|Cependant|Pourtant|Toutefois|Enfin|Aussi|Outre|Parmi|"
    "Quant|Qui|Que|Quel|Quelle|Quels|Quelles|Son|Sa|Ses|Leur|Leurs|Notre|Nos|Votre|Vos|Mon|Ma|"
    "Mes|Tous|Tout|Toute|Toutes|Plusieurs|Certains|Certaines|Chaque|Ici|Voici|Comme|Dès|Entre|"
    "The|A|An|This|That|These|Those|It|Its|He|She|They|We|I|You|His|Her|Their|Our|My|Your|In|At|"
    "For|But|And|So|As|After|Before|According|While|When|Where|If|There|Here|Some|Many|Most|All|"
    "Other|Such|With|By|From|Yet|However|Meanwhile|What|Who|Why|How|Which|Then|Now|Still|Also|"
    "Both|Each|Every"
)
_OPENER = rf"(?:(?:{_OPENERS})(?![\w.])|(?:L|D|C|J|Qu)['’])"


def _behind(words: str) -> str:
    """Lookbehinds for ``words`` ("a|b") each ending right before the period, one per length (a
    lookbehind's branches must have one width): few tests per period."""
    by_length: dict[int, list[str]] = {}
    for w in words.split("|"):
        by_length.setdefault(len(w), []).append(w)
    return "|".join(rf"(?<=\b(?:{'|'.join(ws)})\.)" for _, ws in sorted(by_length.items()))


_INNER_POINT = (
    r"(?:(?<=[0-9]\.)(?=[0-9])"  # a decimal point
    # an abbreviation's period: a letter and at most four more before it, more text on its line
    r"|(?<=[^\W\d_]\.)(?<!\w{6}\.)(?=[^\S\n]*\S)(?:"
    + _behind(_TITLES)
    + rf"|(?<=\b[^\W\d_]\.)(?![^\S\n]*{_OPENER})"
    + f"|(?:{_behind(_CLOSERS)})"
    + r"(?![^\S\n]*[A-ZÀ-ÖØ-ÞŒ])))"
)
#: a period that ends no sentence (``_INNER_POINT``): made a comma before folding, a space either way
_INNER_POINT_RE = re.compile(r"\." + _INNER_POINT)
#: The full stop, exclamation and question marks of Chinese and Japanese (half-width "｡" too):
#: sentence ends with no space after them. Language detection cuts its sentences at them too
#: (``language._SENTENCE_BREAK_RE``).
CJK_SENTENCE_ENDS = "。！？｡"
_SENTENCE_RE = re.compile(
    rf"(?:[^\n.!?…{CJK_SENTENCE_ENDS}]|\." + _INNER_POINT + rf")+(?:[.!?…{CJK_SENTENCE_ENDS}]+|$)",
    re.MULTILINE,
)
# the sentence ends _SENTENCE_RE splits on
_END_RE = re.compile(rf"[\n!?{CJK_SENTENCE_ENDS}]|…|\.(?!" + _INNER_POINT + ")")

#: Sentence ends, as _SENTENCE_RE splits (but a decimal point); "…" becomes "..." (three ends)
#: once NFKD-decomposed; "！" and "？" become "!" and "?", "。" and "｡" are made newlines.
_ENDS = ("\n", ".", "!", "?", *CJK_SENTENCE_ENDS)
#: Token put between sentences in a whole-text token run (folded, so bytes): no pattern holds it.
SENTENCE_BREAK = b"|"
BREAK_SEPARATOR = b" " + SENTENCE_BREAK + b" "
# bytes.translate table and deleted bytes folding the UTF-8 of NFKD text: ASCII letters and digits
# kept, sentence ends turned into newlines, other ASCII bytes and the lead byte of a non-ASCII
# character into a space; continuation bytes are deleted (a non-ASCII character becomes one
# space), and so is the lead byte 0xCC of U+0300-033F (combining accents then vanish)
_KEEP = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_FOLD_TABLE = bytes(b if b in _KEEP else 10 if b in b"\n.!?" else 32 for b in range(256))
_FOLD_DELETE = b"\xcc" + bytes(range(0x80, 0xC0))
# U+0300-036F in UTF-8: the lead byte 0xCD is shared with Greek letters, so those marks go by regex
_COMBINING_UTF8_RE = re.compile(b"\xcc[\x80-\xbf]|\xcd[\x80-\xaf]")


def fold(text: str, keep_case: bool = False) -> str:
    """Fold text for matching: strip accents, map punctuation to single spaces, lower case.

    Non-Latin letters become spaces (the topic's vocabulary is Latin-script).
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    # drop the accents, then everything that is not an ASCII letter or digit becomes a space
    ascii_text = _COMBINING_RE.sub("", decomposed)
    folded = _NON_ALNUM_RE.sub(" ", ascii_text).strip()
    return folded if keep_case else folded.lower()


def fold_article(title: str, description: str, text: str) -> tuple[bytes, int, int]:
    """The article as one folded, case-kept run of tokens for ``Matcher.scan``: the title (one
    piece), the pieces of the description, then those of the text, a SENTENCE_BREAK after each.

    Returns the run, the number of the text's first piece and the text's sentence ends. Piece j of
    a part starts right after its j-th sentence end (``count_ends``), so a piece maps back to its
    sentence and its offset without keeping either. The three parts are folded in one go, joined
    by newlines: folds work character by character.
    """
    title_ends, desc_ends = count_ends(title), count_ends(description)
    whole = _no_inner_points(f"{title}\n{description}\n{text}\n")
    folded = _fold_chars(whole)
    if folded is not None:
        text_ends = folded.count(b"\n") - title_ends - desc_ends - 3
    else:
        text_ends = count_ends(text)
        folded = _fold_bytes(whole)
        if folded.count(b"\n") != title_ends + desc_ends + text_ends + 3:  # NFKD made a new end ("？")
            folded = _fold_bytes(_no_new_ends(whole))
    if title_ends:
        folded = folded.replace(b"\n", b" ", title_ends)
    return folded.replace(b"\n", BREAK_SEPARATOR), 2 + desc_ends, text_ends


def _fold_chars(text: str) -> bytes | None:
    """``_fold_bytes(_no_new_ends(text))``, done character by character, or None if the text holds
    too many distinct characters for that.

    Latin-script text is mostly Latin-1 once a few common characters ("’", "–") are replaced with
    their folds (str.replace, after a memchr-fast ``in``), and Latin-1 folds by one byte table.
    Any other character is replaced with its fold too (cached), while there are not too many:
    that costs less than NFKD over the whole text. The same folds: NFKD decomposes character by
    character and only reorders runs of combining marks, each of which folds to nothing or a
    space either way.
    """
    for ch, wide_fold in _WIDE_FOLDS:
        if ch in text:
            text = text.replace(ch, wide_fold)
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        # "surrogatepass": a lone surrogate (JSON can carry one) folds as any other character
        non_ascii = text.encode("utf-8", "surrogatepass").translate(None, _ASCII)
        chars = set(non_ascii.decode("utf-8", "surrogatepass"))
        if len(chars) > _MAX_CHAR_FOLDS:
            return None
        for ch in chars:
            folded = _CHAR_FOLDS.get(ch)
            if folded is None:
                folded = _fold_char(ch)
                if len(_CHAR_FOLDS) < _CHAR_FOLDS_KEPT:
                    _CHAR_FOLDS[ch] = folded
            text = text.replace(ch, folded)
        raw = text.encode()
    return raw.translate(_LATIN1_TABLE)


def _fold_char(ch: str) -> str:
    """A non-ASCII character as ``_fold_bytes(_no_new_ends(ch))`` folds it, ASCII left for the byte
    table: NFKD (ligatures spelled out), U+0300-036F accents dropped, other non-ASCII characters
    made spaces, and sentence ends too unless the character is "…"."""
    if ch in CJK_SENTENCE_ENDS:
        return "\n"
    decomposed = unicodedata.normalize("NFKD", ch.translate(_LIGATURES))
    if ch != "…":
        for e in _ENDS:
            decomposed = decomposed.replace(e, " ")
    return "".join(c if c.isascii() else "" if "\u0300" <= c <= "\u036f" else " " for c in decomposed)


#: common characters beyond Latin-1 (typographic quotes, dashes, spaces, "…", "œ"), and those of
#: Latin-1 whose fold is not one character ("ß", "æ", "½"), with their folds
_WIDE_FOLDS = tuple(
    (ch, _fold_char(ch))
    for ch in "’‘‚‛“”„‹›–—‐‑‒―−…•‣€™\u2009\u200a\u200b\u202f\u2060\ufeffœŒ"
    + "".join(chr(b) for b in range(128, 256) if len(_fold_char(chr(b))) != 1)
)
#: _FOLD_TABLE over Latin-1 bytes: a non-ASCII byte becomes its character's one-character fold
_LATIN1_TABLE = _FOLD_TABLE[:128] + bytes(
    _FOLD_TABLE[ord(f)] if len(f) == 1 else 32 for f in map(_fold_char, map(chr, range(128, 256)))
)
_ASCII = bytes(range(128))
#: a text with more distinct characters beyond those than this is folded by NFKD as a whole
_MAX_CHAR_FOLDS = 32
#: non-ASCII character -> its fold (``_fold_char``), kept as texts bring them (at most this many)
_CHAR_FOLDS: dict[str, str] = {}
_CHAR_FOLDS_KEPT = 4096


def _fold_bytes(text: str) -> bytes:
    """fold(text, keep_case=True), as ASCII bytes, with sentence ends kept as newlines.

    Same tokens as fold(), without collapsing spaces: NFKD, accents dropped, everything but ASCII
    letters and digits made a space. Done on the UTF-8 bytes with one bytes.translate, several
    times faster than regex substitutions over the text.
    """
    for ligature, letters in _LIGATURE_PAIRS:  # str.replace beats a dict translate on long text
        if ligature in text:
            text = text.replace(ligature, letters)
    for end in "。｡":  # CJK full stops, which NFKD leaves (or makes) "。": sentence ends
        if end in text:
            text = text.replace(end, "\n")
    raw = unicodedata.normalize("NFKD", text).encode("utf-8", "surrogatepass")
    if b"\xcd" in raw:
        raw = _COMBINING_UTF8_RE.sub(b"", raw)
    return raw.translate(_FOLD_TABLE, _FOLD_DELETE)


def _no_new_ends(text: str) -> str:
    """Replace the characters whose NFKD holds a sentence end ("？", "‼", "⒈") but that are no
    sentence end for _SENTENCE_RE, by that NFKD with its ends made spaces."""
    for ch in {c for c in text if not c.isascii() and c != "…" and c not in CJK_SENTENCE_ENDS}:
        decomposed = unicodedata.normalize("NFKD", ch)
        if any(e in decomposed for e in _ENDS):
            for e in _ENDS:
                decomposed = decomposed.replace(e, " ")
            text = text.replace(ch, decomposed)
    return text


def _no_inner_points(text: str) -> str:
    """``text`` with its periods that end no sentence (``_INNER_POINT_RE``: decimal points,
    abbreviations) made commas: folded to a space as the decimal comma is ("6.4" and "6,4" are
    the tokens "6 4"; "M. Macron" is "M Macron", in one piece)."""
    return _INNER_POINT_RE.sub(",", text) if "." in text else text


def count_ends(text: str, end: int | None = None) -> int:
    """Sentence ends in text[:end], "…" counting for the three ends it decomposes into, and a
    period that ends no sentence (``_INNER_POINT_RE``: "6.4", "M. Macron") for none, told by
    the text around it, also past ``end``.

    Only the ends present are counted: str.count parses its arguments slowly, ``in`` does not.
    """
    whole = text
    if end is not None:
        text = text[:end]
    ends = sum([text.count(e) for e in _ENDS if e in text]) + (3 * text.count("…") if "…" in text else 0)
    if "." in text:
        for m in _INNER_POINT_RE.finditer(whole):
            if end is not None and m.start() >= end:
                break
            ends -= 1
    return ends


def ends_within(text: str, chars: int, text_ends: int) -> int:
    """The last piece of ``text`` in a zone of its first ``chars`` characters (-1: none):
    count_ends(text, chars - 1), known when the text is shorter."""
    if chars <= 0:
        return -1
    return text_ends if len(text) < chars else count_ends(text, chars - 1)


def sentence_at(text: str, piece: int) -> str:
    """The sentence (as _SENTENCE_RE finds it, stripped) of piece ``piece`` of ``text``."""
    start = 0
    if piece:
        ends = _END_RE.finditer(text)
        if "…" not in text:  # the piece starts after the piece-th end
            m = next(islice(ends, piece - 1, None), None)
            if m:
                start = m.end()
        else:
            seen = 0
            for m in ends:
                seen += 3 if m.group(0) == "…" else 1
                if seen >= piece:
                    start = m.end()
                    break
    m2 = _SENTENCE_RE.match(text, start)
    return m2.group(0).strip() if m2 else ""
