"""Bytes to text for pages and XML whose declared charset may be missing or wrong.

Order of trust: a byte-order mark (without one: an XML declaration in UTF-16 or UTF-32, XML
1.0 Appendix F, or UTF-16's zero bytes around a page's first two characters), then strict
UTF-8 (latin-1 text with accents is almost
never valid UTF-8, so a body that decodes is UTF-8 whatever its label says), then the
declared charsets (HTTP header, ``<meta>``, XML declaration; when they name different ones
that each decode the body, the one charset_normalizer finds the text reads best in: a
server's default ``charset=iso-8859-1`` on a page that declares windows-1251 made Russian
"Ìîñêâà"), then charset_normalizer's guess, then windows-1252, the usual encoding of French
pages that are not UTF-8.
"""

from __future__ import annotations

import codecs
import html
import itertools
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import charset_normalizer

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16's: FF FE 00 00 opens with FF FE
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# XML 1.0 Appendix F: "<?" in UTF-32 or UTF-16 without a byte-order mark. Without this check
# such a body is "valid UTF-8" (its NULs are) or falls to a Western guess, and is lost.
_XML_SIGNATURES = (
    (b"\x00\x00\x00<", "utf_32_be"),
    (b"<\x00\x00\x00", "utf_32_le"),
    (b"\x00<\x00?", "utf_16_be"),
    (b"<\x00?\x00", "utf_16_le"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.I)
# WHATWG: a page labelled latin-1 or ASCII is decoded as windows-1252 (it has ’ œ € …).
_WESTERN = {"latin_1", "iso8859_1", "ascii", "cp1252"}


def header_charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header, if any."""
    m = _HEADER_CHARSET.search(content_type or "")
    return m.group(1) if m else None


def declared_charsets(content: bytes, content_type: str | None = None) -> list[str]:
    """Charsets the response claims, header first, then the document's own declaration."""
    found = [header_charset(content_type)]
    head = content[:4096]
    for pattern in (_XML_ENCODING, _META_CHARSET):
        m = pattern.search(head)
        if m:
            found.append(m.group(1).decode("ascii", "ignore"))
    return [c for c in found if c]


def _codec(name: str) -> str | None:
    try:
        codec = codecs.lookup(name).name.replace("-", "_")
    except LookupError:
        return None
    return "cp1252" if codec in _WESTERN else codec


def _utf16_without_bom(content: bytes) -> str | None:
    """UTF-16 without a byte-order mark, told by its first two characters being ASCII (``<!``,
    ``<h``, ``<?``, whitespace): one zero byte after (LE) or before (BE) each. Such a body is
    valid UTF-8 when it is all ASCII (NUL is a character there), and read as UTF-8 or
    windows-1252 it was text with a NUL between letters, its non-Latin-1 characters garbled."""
    head = content[:4]
    if len(head) < 4:
        return None
    if head[1] == head[3] == 0 and head[0] and head[2] and head[0] < 0x80 and head[2] < 0x80:
        return "utf_16_le"
    if head[0] == head[2] == 0 and head[1] and head[3] and head[1] < 0x80 and head[3] < 0x80:
        return "utf_16_be"
    return None


def unicode_signature(content: bytes) -> str | None:
    """The codec a body's first bytes show, with or without a byte-order mark: a BOM, an XML
    declaration in UTF-16 or UTF-32, UTF-16's zero bytes around two ASCII characters."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    for signature, name in _XML_SIGNATURES:
        if content.startswith(signature):
            return name
    return _utf16_without_bom(content)


def decode_utf8_text(content: bytes) -> str:
    """Decode a text that should be UTF-8 (robots.txt, RFC 9309) but may come in UTF-16 or
    UTF-32, or open with a byte-order mark: read as UTF-8, such a file was noise and a NUL
    between letters, or its first line began with U+FEFF."""
    return content.decode(unicode_signature(content) or "utf-8-sig", errors="replace").lstrip("\ufeff")


def _declared_codecs(content: bytes, content_type: str | None) -> list[str]:
    """The codecs of the declared charsets (header first) that decode ``content``, UTF-8 not
    among them (the body is not UTF-8 when this is asked)."""
    codecs_: list[str] = []
    for name in declared_charsets(content, content_type):
        codec = _codec(name)
        if codec is None or codec in {"utf_8", "utf_8_sig"} or codec in codecs_:
            continue
        try:
            content.decode(codec)
        except UnicodeDecodeError:
            continue
        codecs_.append(codec)
    return codecs_


def detect_encoding(content: bytes, content_type: str | None = None) -> str:
    """The codec name that decodes ``content`` correctly, by the order of trust above."""
    signature = unicode_signature(content)
    if signature:
        return signature
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_codecs(content, content_type)
    if len(declared) == 1:
        return declared[0]
    if declared:  # the header and the page disagree: the one whose text reads best
        best = charset_normalizer.from_bytes(content[:200_000], cp_isolation=declared).best()
        chosen = _codec(best.encoding) if best is not None else None
        return chosen if chosen in declared else declared[0]
    head = content[:200_000]
    best = charset_normalizer.from_bytes(head).best()
    codec = _codec(best.encoding) if best is not None and best.encoding not in {"utf_8", "ascii"} else None
    if codec in {"utf_16", "utf_32"}:
        return codec
    # charset_normalizer calls most French windows-1252 pages windows-1250 (their accents
    # are the same bytes): another guess is taken only when windows-1252 reads it as no
    # Western text is read
    if codec in _OTHER_SCRIPTS and not_western(head):
        if codec in _CENTRAL:
            # it calls windows-1250 a page whose few letters stand among much markup (a Russian,
            # Greek or Hebrew page with 10 KiB of inline style): kept when its letters are a
            # central European language's, else read in the script they are likeliest in
            if central := central_european(head):
                return central
            cyrillic = cyrillic_reading(head)
        else:
            cyrillic = cased_cyrillic(head, codec) if codec in _CYRILLIC_CODECS else None
        return likeliest_script(head, cyrillic, 20) or codec
    western = codec if codec in {"iso8859_15", "mac_roman"} else "cp1252"
    if _mostly_utf8(head):  # UTF-8 with pieces in windows-1252: :func:`_mixed` reads it
        return western
    # a short Russian page it may call mac-cyrillic, or shift_jis: the Cyrillic reading whose
    # words are cased as words are, when windows-1252 reads none, or a Greek, Hebrew or Arabic
    # one when likelier; one too short for both (a title, a line: "Привет, мир" is
    # "ðÒÉ×ÅÔ, ÍÉÒ" in KOI8-R) so too, with 5 letters or more
    # For French, a Western guess is far likelier right than e.g. a Cyrillic one; but a Czech
    # or Hungarian page is read so too (or as windows-1250 and no Western text), and a Polish
    # one it may call windows-1257 or ISO-8859-10: its letters tell it, before the Cyrillic
    # readings (its ą ę ł ż are lower-case Cyrillic in mac-cyrillic or ISO-8859-5)
    if central := central_european(head):
        return central
    for least, other in ((20, not_western), (5, few_letters_not_western)):
        if other(head):
            cyrillic = cyrillic_reading(head, least) if codec not in _GREEK else None
            if reading := likeliest_script(head, cyrillic, least):
                return reading
    return western


_UTF8_CHAR = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def _mostly_utf8(content: bytes) -> bool:
    """Whether most of the bytes beyond ASCII of ``content`` (not valid UTF-8) form UTF-8
    characters: a UTF-8 page with a piece in windows-1252, not a page in a single-byte
    charset, whose letters seldom make such sequences."""
    high = len(content) - len(content.translate(None, _HIGH_BYTES))
    return sum(len(m) for m in _UTF8_CHAR.findall(content)) * 2 > high


#: Single-byte charsets of other alphabets (Cyrillic, Greek) and of central Europe whose
#: guess :func:`detect_encoding` takes for an unlabelled page windows-1252 garbles.
_OTHER_SCRIPTS = frozenset(
    {"cp1251", "koi8_r", "koi8_u", "iso8859_5", "cp1253", "iso8859_7", "cp1250", "iso8859_2"}
)
_GREEK = frozenset({"cp1253", "iso8859_7", "mac_greek"})
_CENTRAL = frozenset({"cp1250", "iso8859_2"})
_TAGS = re.compile(r"<(?:script|style)\b.*?</(?:script|style)\s*>|<[^>]*>|&\w+;|&#\w+;", re.I | re.S)
#: a symbol windows-1252 reads between two letters where windows-1250 has a letter (ą ł ż Ą Ł
#: Ż ľ Ľ): no Western word holds one
_GLUED_SYMBOL = re.compile("[^\\W\\d_][¹³¿¥£¯¼¾][^\\W\\d_]")


def not_western(content: bytes) -> bool:
    """Whether ``content``, read as windows-1252, is no Western text: its letters outside tags
    are mostly accented (a Cyrillic or Greek alphabet's bytes), or symbols stand inside its
    words three times or more (a Polish page's ą ł ż). French text has under 5% accented
    letters (4% at most in the seeds and the 120 corpus pages re-encoded)."""
    text = _TAGS.sub(" ", content.decode("cp1252", errors="replace"))
    letters = sum(1 for c in text if c.isalpha())
    accented = sum(1 for c in text if c.isalpha() and ord(c) > 127)
    return (
        (letters >= 20 and accented > 0.3 * letters)
        or len(_GLUED_SYMBOL.findall(text)) >= 3
        or _symbol_words(text)
    )


#: a word of two characters or more beyond ASCII: what windows-1252 reads a Hebrew DOS (cp862)
#: word as, bytes 0x80-0x9A, mostly symbols ("שלום" is "™‹…Ž")
_SYMBOL_WORD = re.compile("(?<!\\S)[^\\x00-\\x7f\\s]{2,}(?!\\S)")


def _symbol_words(text: str) -> bool:
    """Whether ``text`` (windows-1252's reading) has 2 words or more made of symbols beyond
    ASCII (:data:`_SYMBOL_WORD`), fewer letters than symbols, which hold 5 of its characters beyond
    ASCII or more and most of them: a Western text's symbols stand alone ("«", "€", "–")."""
    words = [w for w in _SYMBOL_WORD.findall(text) if sum(c.isalpha() for c in w) * 2 < len(w)]
    held = sum(map(len, words))
    return len(words) >= 2 and held >= 5 and held * 2 > sum(1 for c in text if ord(c) > 127)


def few_letters_not_western(content: bytes) -> bool:
    """Whether ``content``, too short for :func:`not_western` (under 20 letters outside tags),
    reads in windows-1252 as no Western text: 5 letters or more, 80% or more of them accented
    (a Cyrillic alphabet's bytes), which no Western word makes ("Ça où là" has half)."""
    text = _TAGS.sub(" ", content.decode("cp1252", errors="replace"))
    letters = sum(1 for c in text if c.isalpha())
    accented = sum(1 for c in text if c.isalpha() and ord(c) > 127)
    return (5 <= letters < 20 and accented >= 0.8 * letters) or _symbol_words(text)


#: The letters beyond ASCII of languages written in windows-1252 and of those written in
#: windows-1250 / ISO-8859-2 (lower case), for :func:`central_european`.
_WESTERN_ALPHABETS = (
    "àâæçéèêëîïôœùûüÿ",  # French
    "äöüß",  # German
    "áéíñóúü",  # Spanish
    "áâãàçéêíóôõú",  # Portuguese
    "àèéìíîòóù",  # Italian
    "àçèéíïòóúü",  # Catalan
    "áäèéëíïóöúü",  # Dutch
    "æøåéó",  # Danish, Norwegian
    "åäöé",  # Swedish, Finnish
    "áæðéíóöúýþ",  # Icelandic
)
_CENTRAL_ALPHABETS = (
    "áčďéěíňóřšťúůýž",  # Czech
    "áäčďéíĺľňóôŕšťúýž",  # Slovak
    "áéíóöőúüű",  # Hungarian
    "ąćęłńóśźżé",  # Polish
    "čćđšžé",  # Slovene, Croatian
    "ăâîşţ",  # Romanian
)
#: a character beyond ASCII that is a letter, or stands between two letters (``Pary¿u``),
#: typographic punctuation aside (``l’IA``, a soft hyphen)
_WORD_CHAR = re.compile(
    "(?<=[^\\W\\d_])[^\\x00-\\x7f\u2000-\u206f\xad\xb7\xb4](?=[^\\W\\d_])|[^\\W\\d_\\x00-\\x7f]"
)


#: :data:`_TAGS` for bytes: tags are ASCII, the same bytes in each single-byte charset
_TAG_BYTES = re.compile(_TAGS.pattern.encode(), _TAGS.flags & ~re.UNICODE)


def _alphabet_share(text: str, alphabets: tuple[str, ...]) -> tuple[int, float]:
    """How many letters beyond ASCII ``text`` (outside tags) has (:data:`_WORD_CHAR`), and
    the largest share of them one of ``alphabets`` holds: 1.0 when one language's alphabet
    writes them all."""
    chars = Counter(_WORD_CHAR.findall(text.lower()))
    total = sum(chars.values())
    if not total:
        return 0, 0.0
    return total, max(sum(chars[c] for c in alphabet) for alphabet in alphabets) / total


def central_european(content: bytes) -> str | None:
    """windows-1250 or ISO-8859-2 when ``content`` (no charset declared, not UTF-8) reads in
    one as a central European language's letters (Czech, Slovak, Hungarian, Polish, Slovene,
    Croatian, Romanian: 95% or more of its letters beyond ASCII in one alphabet, and 5 or
    more) and in windows-1252 as no Western language's by a margin (its share 5 points lower
    or more): a Czech "ř" is "ø" there, "ě" "ì", a Hungarian "ő" "õ", which no one Western alphabet has
    together with the others. A French page stays windows-1252: its letters are French, and
    its "è" read as "č" is Czech at best, no more."""
    content = _TAG_BYTES.sub(b" ", content)
    _, western = _alphabet_share(content.decode("cp1252", errors="replace"), _WESTERN_ALPHABETS)
    shares = {
        codec: _alphabet_share(content.decode(codec, errors="replace"), _CENTRAL_ALPHABETS)
        for codec in ("cp1250", "iso8859_2")
    }
    codec = _central_bytes(content) or max(shares, key=lambda c: shares[c][1])  # windows-1250 on a tie
    letters, share = shares[codec]
    return codec if letters >= 5 and share >= 0.95 and share - western >= 0.05 else None


#: Bytes 0x80-0x9F: windows-1250's "Š Ś Ť Ž Ź š ś ť ž ź" and quotes ("„ “ ” – …"), C1 controls
#: in ISO-8859-2, which no text holds
_C1 = re.compile(rb"[\x80-\x9f]")
#: A byte ISO-8859-2 reads as a letter and windows-1250 as a symbol ("Ą Ś Š Ť Ź Ž ą ś ť": "ˇ ¦
#: © « ¬ ® ± ¶ »"), next to a letter's byte (an ASCII letter or one beyond ASCII): in a word
_ISO_8859_2_LETTER = rb"[\xa1\xa6\xa9\xab\xac\xae\xb1\xb6\xbb]"
_LETTER_BYTE = rb"[A-Za-z\xa1-\xff]"
_ISO_8859_2_IN_WORD = re.compile(
    rb"(?<=%s)%s|%s(?=%s)" % (_LETTER_BYTE, _ISO_8859_2_LETTER, _ISO_8859_2_LETTER, _LETTER_BYTE)
)


def _central_bytes(content: bytes) -> str | None:
    """windows-1250 or ISO-8859-2 as bytes that only one reads as text tell it, else None: a
    byte 0x80-0x9F is a letter or a quote in windows-1250, a C1 control in ISO-8859-2 (so it
    decides windows-1250 first); one of :data:`_ISO_8859_2_LETTER` inside a word is a letter in
    ISO-8859-2 ("Šťastný"), a symbol in windows-1250 ("©»astný"). The letters' shares
    (:func:`central_european`) could not tell them when both readings are letters of some
    central European alphabet ("ľák" is Slovak, "žák" Czech)."""
    if _C1.search(content):
        return "cp1250"
    if _ISO_8859_2_IN_WORD.search(content):
        return "iso8859_2"
    return None


_CYRILLIC_CODECS = ("cp1251", "koi8_r", "koi8_u", "iso8859_5", "mac_cyrillic", "cp866")
_CYRILLIC_WORD = re.compile("[\u0400-\u04ff]+")
_CYRILLIC_LETTER = re.compile("[\u0400-\u04ff]")
_UPPER, _LOWER = "\u0400-\u042f\u0490", "\u0430-\u045f\u0491"
_CASED_WORD = re.compile(f"[{_UPPER}]?[{_LOWER}]+|[{_UPPER}]")
_CAPITALS = re.compile(f"[{_UPPER}]+")


def cyrillic_reading(content: bytes, least: int = 20) -> str | None:
    """The Cyrillic charset ``content`` reads best in, by its words' case: read in the right
    one, a word is lower case or capitalised; in another its letters are other letters, of
    the other case (KOI8-R read as windows-1251: "пРАВИТЕЛЬСТВО") or symbols (windows-1251
    capitals in mac-cyrillic). None unless 90% or more of the Cyrillic letters of the best
    reading stand in such words, ``least`` or more (words in capitals, "США", count for
    neither)."""
    content = _TAG_BYTES.sub(b" ", content)
    best, best_cased = None, 0
    for codec in _CYRILLIC_CODECS:
        words = _CYRILLIC_WORD.findall(content.decode(codec, errors="replace"))
        letters = sum(len(w) for w in words if len(w) == 1 or not _CAPITALS.fullmatch(w))
        cased = sum(len(w) for w in words if _CASED_WORD.fullmatch(w))
        if cased > best_cased and cased >= 0.9 * letters:
            best, best_cased = codec, cased
    return cased_cyrillic(content, best) if best is not None and best_cased >= least else None


def cased_cyrillic(content: bytes, codec: str) -> str:
    """``codec``, unless it is a Cyrillic charset that reads ``content`` all in lower case:
    then the reading :func:`_likeliest_in_one_case` finds. Case tells no reading of a text in
    one case: KOI8-R's capitals are windows-1251's lower case and the other way round, so
    "ПРИВЕТ, МИР" in KOI8-R was read as windows-1251 "ртйчеф, нйт" (and charset_normalizer
    calls a KOI8-R page in capitals windows-1251 too)."""
    if codec not in _CYRILLIC_CODECS:
        return codec
    content = _TAG_BYTES.sub(b" ", content)
    reading = content.decode(codec, errors="replace")
    if _CAPITALS.search(reading) or not _CYRILLIC_LETTER.search(reading):
        return codec
    return _likeliest_in_one_case(content, reading, codec)


#: The languages of langdetect's profiles written in Cyrillic (``language._language_scripts``).
_CYRILLIC_LANGUAGES = ("bg", "mk", "ru", "uk")


def _likeliest_in_one_case(content: bytes, reading: str, best: str) -> str:
    """Of the Cyrillic readings with letters where ``reading`` (``content`` in ``best``, all
    lower case) has them (an "Ё" too, windows-1251's 0xA8, a box-drawing symbol in KOI8-R),
    the one the Cyrillic profiles' n-grams find likeliest in lower case
    (``ngram_profiles.reading_likelihood``, on its first Cyrillic words): a text all in lower case
    may be another charset's capitals.

    Bounded whatever the body's length: a single-byte charset reads a byte alike wherever it
    stands, so the readings are compared on the byte values beyond ASCII the body holds (ASCII
    reads alike in all six), and decoded whole only up to where ``reading``'s first
    SAMPLE_CHARS characters of words end (a 200 kB body took 0.3 s when each reading was
    decoded, and its letters listed, whole)."""
    from monitors.ngram_profiles import SAMPLE_CHARS, reading_likelihood

    held = bytes(v for v in range(0x80, 0x100) if bytes((v,)) in content)
    chars = {codec: held.decode(codec, errors="replace") for codec in _CYRILLIC_CODECS}

    def letters(codec: str) -> set[int]:
        return {i for i, c in enumerate(chars[codec]) if _CYRILLIC_LETTER.match(c)}

    where = letters(best)
    same = [codec for codec in _CYRILLIC_CODECS if letters(codec) >= where]
    if len({tuple(c.lower() for c in chars[codec]) for codec in same}) < 2:
        return best
    end, length = len(content), -1
    for word in _CYRILLIC_WORD.finditer(reading):  # a reading in ``same`` has as many there
        length += len(word.group()) + 1
        if length >= SAMPLE_CHARS:
            end = word.end()
            break
    start = content[:end]

    def likelihood(codec: str) -> float:
        sample = " ".join(_CYRILLIC_WORD.findall(start.decode(codec, errors="replace")))[:SAMPLE_CHARS]
        return reading_likelihood(sample, _CYRILLIC_LANGUAGES)

    return max(same, key=likelihood)  # the first of the codecs on a tie


#: The single-byte charsets of the other alphabets :func:`likeliest_script` weighs against a
#: Cyrillic reading, each with its letters and the languages of langdetect's profiles written
#: in them.
_SCRIPTS = (
    (("cp1253", "iso8859_7"), re.compile("[\u0370-\u03ff]+"), ("el",)),
    (("cp1255", "iso8859_8", "cp862"), re.compile("[\u0590-\u05ff]+"), ("he",)),
    (("cp1256", "iso8859_6"), re.compile("[\u0620-\u06ff]+"), ("ar", "fa", "ur")),
)


#: The bytes of text (outside tags, spaces collapsed) :func:`likeliest_script` reads: the
#: first words tell a script as well as the whole page, at a bounded cost.
_SCRIPT_SAMPLE = 4096


def _text_start(content: bytes, size: int) -> bytes:
    """The first ``size`` bytes of ``content``'s text outside tags, spaces collapsed, read
    only as far as that text goes: however much markup comes first (a head's 100 KiB of
    inline style; the first 64 KiB held no text then, and the Cyrillic reading was taken)."""
    words: list[bytes] = []
    length, start = 0, 0
    for tag in itertools.chain(_TAG_BYTES.finditer(content), (None,)):
        for word in content[start : tag.start() if tag else len(content)].split():
            words.append(word)
            length += len(word) + 1
        if tag is None or length > size:
            break
        start = tag.end()
    return b" ".join(words)[:size]


def likeliest_script(content: bytes, cyrillic: str | None, least: int) -> str | None:
    """Of ``cyrillic`` (a Cyrillic reading of ``content``, if any) and the Greek, Hebrew and
    Arabic charsets whose reading has ``least`` letters of their alphabet or more, half its
    letters at least (outside tags, in the first :data:`_SCRIPT_SAMPLE` bytes of text), the one
    whose letters the profiles of the languages written in its alphabet find likeliest
    (``ngram_profiles.reading_likelihood``, on its first words); None when there is none. A Hebrew
    or Arabic text's letters are lower-case Cyrillic in windows-1251 or KOI8-R, which
    :func:`cyrillic_reading` took ("שלום עולם" in windows-1255 read "щмен темн")."""
    from monitors.ngram_profiles import SAMPLE_CHARS, reading_likelihood

    content = _text_start(content, _SCRIPT_SAMPLE)
    candidates: dict[str, float] = {}

    def weigh(codec: str, words: re.Pattern[str], languages: tuple[str, ...], reading: str) -> None:
        found = words.findall(reading)
        letters = sum(1 for c in reading if c.isalpha())
        if codec == cyrillic or (sum(map(len, found)) >= max(least, letters / 2)):
            candidates[codec] = reading_likelihood(" ".join(found)[:SAMPLE_CHARS], languages)

    if cyrillic is not None:
        weigh(cyrillic, _CYRILLIC_WORD, _CYRILLIC_LANGUAGES, content.decode(cyrillic, errors="replace"))
    for codecs_, words, languages in _SCRIPTS:
        for codec in codecs_:
            if codec != cyrillic:
                weigh(codec, words, languages, content.decode(codec, errors="replace"))
    return max(candidates, key=lambda c: candidates[c]) if candidates else None  # the first on a tie


_decoding = threading.local()  # the bytes :func:`_windows_1252` read, per thread


def _windows_1252(error: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: the bytes that are not UTF-8, read as windows-1252."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    _decoding.invalid = getattr(_decoding, "invalid", 0) + error.end - error.start
    return error.object[error.start : error.end].decode("cp1252", errors="replace"), error.end


codecs.register_error("veille.windows-1252", _windows_1252)

#: A character of two UTF-8 bytes outside latin-1 and Latin Extended-A (the first byte "Æ" to
#: "ß" in windows-1252, the second a punctuation mark or symbol), but ƒ ˆ ˜, which windows-1252
#: has: in a windows-1252 page such a pair is a capital or "ß" and the mark after it.
_PAIR = "[\u0180-\u0191\u0193-\u02c5\u02c7-\u02db\u02dd-\u07ff]"
#: A character of three or four UTF-8 bytes that is no Western punctuation, currency sign,
#: letterlike symbol, arrow, dingbat or emoji (nor U+FFFD, windows-1252's reading of a byte
#: it leaves undefined), nor a byte order mark (an include saved with one: "ï»¿" read back): in
#: a windows-1252 page such bytes are a letter "à" to "ï" (or "ð" to "ô") and the marks after
#: it, as French writes them ("arrivé\xa0»" is a valid UTF-8 "遻")
_LONG = (
    "[^\x00-\u07ff\u2000-\u206f\u20a0-\u20cf\u2100-\u214f\u2190-\u21ff\u2600-\u27bf\ufeff\ufffd"
    "\U0001f000-\U0001faff]"
)
_PAIRS = re.compile(f"{_PAIR}|{_LONG}")
_GLUED = re.compile(f"[A-Za-z]({_PAIR})")
_HIGH_BYTES = bytes(range(0x80, 0x100))


def _as_windows_1252(char: str) -> str:
    """A UTF-8 character's bytes read as windows-1252 ("ß" and a soft hyphen; "é", a no-break
    space and "»"); the character itself when windows-1252 leaves one of its bytes undefined
    (0x81, 0x8D, 0x8F, 0x90, 0x9D: "ﬁ" is EF AC 81), which no windows-1252 text writes: its
    reading would hold U+FFFD, the letter lost."""
    read = char.encode("utf-8").decode("cp1252", errors="replace")
    return char if "\ufffd" in read else read


def _mixed(content: bytes) -> str:
    """A body that is not valid UTF-8 read as UTF-8 where its bytes form UTF-8 characters, as
    windows-1252 elsewhere. But in a windows-1252 "ß" and a soft hyphen, "ß" and a closing
    quote, "É" and a no-break space form UTF-8 characters too (an N'Ko letter, "ɠ"), and so do
    "é", a no-break space and "»" ("遻", a CJK character): a character of :data:`_PAIR` or
    :data:`_LONG` is read as windows-1252 in a body mostly in windows-1252 (a UTF-8 "’", "€"
    or emoji stays), and one of :data:`_PAIR` in one
    mostly in UTF-8 when an ASCII letter is glued before it and no character of its block
    (its first byte) stands unglued elsewhere, as a Cyrillic or Greek page's do."""
    _decoding.invalid = 0
    text = content.decode("utf-8", errors="veille.windows-1252")
    invalid = _decoding.invalid  # bytes read as windows-1252, a character each
    ascii_bytes = len(content.translate(None, _HIGH_BYTES))  # a character each too
    utf8 = len(text) - ascii_bytes - invalid
    glued = _GLUED.findall(text) if utf8 > invalid else []
    if utf8 - len(glued) <= invalid:  # a windows-1252 page: its UTF-8 latin and symbols stay
        return _PAIRS.sub(lambda m: _as_windows_1252(m.group()), text)
    blocks = {ord(c) >> 6 for c in glued}
    kept = {b for b in blocks if re.search(f"(?<![A-Za-z])[{chr(b << 6)}-{chr((b << 6) + 63)}]", text)}
    if kept == blocks:
        return text

    def pair(m: re.Match[str]) -> str:
        letter, char = m.group(), m.group(1)
        return letter if ord(char) >> 6 in kept else letter[0] + _as_windows_1252(char)

    return _GLUED.sub(pair, text)


def decode_html(content: bytes, content_type: str | None = None) -> str:
    """Decode a page or a listing to text with correct accents.

    A page read as windows-1252 keeps the UTF-8 in it (:func:`_mixed`). A UTF-8 page with
    pieces in windows-1252 (a template, a pasted quote) is not valid UTF-8, and read whole as
    windows-1252 its UTF-8 accents became "Ã©"; in a windows-1252 page such pairs of bytes
    ("Ã" then "©") are almost only UTF-8 mislabelled. Not every pair: read as UTF-8, a German
    "Ma&szlig;&shy;nahmen" (a soft hyphen after "ß") became an N'Ko letter there."""
    return decode_html_doubt(content, content_type)[0]


def decode_html_doubt(content: bytes, content_type: str | None = None) -> tuple[str, str | None]:
    """:func:`decode_html`'s text, and why its charset is a guess the bytes could not tell
    (:func:`charset_doubt`), else None."""
    encoding = detect_encoding(content, content_type)
    text = _mixed(content) if encoding == "cp1252" else content.decode(encoding, errors="replace")
    return text, charset_doubt(content, content_type, encoding)


#: what windows-1252 reads fewer than 5 letters of a Cyrillic charset as: accented letters
#: ("Мир" in windows-1251 is "Ìèð"), as it reads a Western word ("ÆØÅ")
_FEW_LETTERS = 5


def charset_doubt(content: bytes, content_type: str | None, encoding: str) -> str | None:
    """Why ``encoding`` (:func:`detect_encoding`'s for ``content``, no charset declared) is a
    guess its bytes cannot confirm, else None: windows-1250 and ISO-8859-2 when no byte tells
    them apart (:func:`_central_bytes`) and each reads the letters as a central European
    language's ("ľák" Slovak, "žák" Czech); windows-1252 for a text of under 5 letters, all
    beyond ASCII ("Ìèð" or "Мир", "ÆØÅ"), too few to tell it from a Cyrillic charset."""
    if encoding not in _CENTRAL and encoding != "cp1252" or _declared_codecs(content, content_type):
        return None
    if encoding in _CENTRAL:
        body = _TAG_BYTES.sub(b" ", content)
        readings = [body.decode(codec, errors="replace") for codec in ("cp1250", "iso8859_2")]
        if _central_bytes(body) or readings[0] == readings[1]:
            return None
        if min(_alphabet_share(reading, _CENTRAL_ALPHABETS)[1] for reading in readings) < 0.95:
            return None
        return (
            "no byte tells windows-1250 from ISO-8859-2 and both read as central European "
            f"letters: read as {_NAMES[encoding]}"
        )
    sample = _text_start(content, 64)
    if len(sample) >= 64 or not (letters := [c for c in sample.decode("cp1252", "replace") if c.isalpha()]):
        return None
    if len(letters) >= _FEW_LETTERS or any(c.isascii() for c in letters):
        return None
    return (
        f"{len(letters)} letters, all beyond ASCII: too few to tell windows-1252 from a Cyrillic "
        "charset; read as windows-1252"
    )


_NAMES = {"cp1250": "windows-1250", "iso8859_2": "ISO-8859-2"}


_XML_SPACE = b" \t\r\n"


def xml_declaration_first(content: bytes) -> bytes:
    """An XML body with the blank lines or spaces some servers print before ``<?xml`` (after
    a UTF-8 BOM, if any) taken out: the declaration must come first, and libxml2's recovering
    parser, finding it later, also dropped the entities (``&amp;``, ``&apos;``) of the text."""
    bom = codecs.BOM_UTF8 if content.startswith(codecs.BOM_UTF8) else b""
    body = content[len(bom) :]
    if body[:1] in (b" ", b"\t", b"\r", b"\n") and body.lstrip(_XML_SPACE).startswith(b"<?xml"):
        return bom + body.lstrip(_XML_SPACE)
    return content


def to_utf8_xml(content: bytes, content_type: str | None = None) -> bytes:
    """Re-encode an XML document (feed, sitemap) as UTF-8 with a matching declaration.

    Parsers trust the declaration; when it lies, they mangle accents or give up.
    """
    encoding = detect_encoding(content, content_type)
    text = content.decode(encoding, errors="replace").lstrip("\ufeff")
    text = re.sub(
        r"^(\s*<\?xml[^>]*?encoding\s*=\s*)([\"'])[\w.:-]+\2",
        r"\1\2utf-8\2",
        text,
        count=1,
    )
    return text.encode("utf-8")


# A JSON escape of a surrogate: after json.loads, one without its other half stays alone.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


_TAG = re.compile(r"</?[A-Za-z][^<>]*>")
#: A run of spaces, tabs or line breaks; not a no-break space ("Été\xa0:" keeps its own)
_SPACES = re.compile("[^\\S\xa0\u202f]+")


def plain_text(value: str | None) -> str | None:
    """A title or author as text: feedparser leaves a title that looks like HTML as HTML, and
    a sitemap's ``news:title`` is the XML's text, so a double-escaped one
    (``L&amp;eacute;gislatives`` in the XML) kept ``&eacute;`` and a bolded one its ``<b>``;
    the tags go, the entities are read, the runs of spaces collapsed (a no-break space kept,
    with "<" or "&" in the title or not: "Été\xa0:"). A title the site wrote encoded
    twice ("Le sommet rÃ©unit") is read back (:func:`undo_double_encoding`, before the spaces
    are collapsed: the "\xa0" of "Ã\xa0" is an "à"; before its entities are read when after
    fails: "&eacute;" read is a correct "é" beside the "Ã©"), as a page's title is. It is the one
    place feed titles become text: feedparser's, :mod:`~monitors.collect.rss_fast`'s and
    :mod:`~monitors.collect.json_feed`'s entries and a sitemap's ``news:title``."""
    if not value:
        return value
    if "<" not in value and "&" not in value:
        text = undo_double_encoding(value)
    else:
        text = unescape_double_encoded(_TAG.sub(" ", value))[0]
    return _SPACES.sub(" ", text).strip() or None


def unescape_double_encoded(value: str, unescape: Callable[[str], str] = html.unescape) -> tuple[str, bool]:
    """``value`` with its entities read (``unescape``) and read back if the site wrote it
    encoded twice (:func:`undo_double_encoding`), and whether it was read back.

    The repair is tried after the entities are read ("&#195;&#169;" is an "Ã©" too), then, when
    that fails, before: an entity the site wrote ("&eacute;") read first is a correct "é"
    beside the "Ã©", on which the round trip fails. A feed's title (:func:`plain_text`) and a
    page's metadata title (:mod:`monitors.judge.metadata`) are read so."""
    text = unescape(value)
    fixed = undo_double_encoding(text)
    if fixed is not text:
        return fixed, True
    if _DOUBLE_ENCODED.search(text) and (before := undo_double_encoding(value)) is not value:
        return unescape(before), True
    return text, False


def storable(value: str | None) -> str | None:
    """``value`` stripped, with NUL dropped and lone surrogates made U+FFFD (None if empty).

    A feed's character reference or a page's JSON-LD escape can carry them, and one such
    string would make the whole batch it is written with fail to store."""
    if not value:
        return None
    value = value.strip()
    if not value.isascii() or "\x00" in value:
        value = _SURROGATE.sub("\ufffd", value.replace("\x00", "")).strip()
    return value or None


def loads_storable(raw: str) -> Any:
    """``json.loads(raw)`` with each string's lone surrogates made U+FFFD: JSON may escape half
    a surrogate pair (``"\\ud83d"`` alone), which decodes to a string nothing can encode."""
    data = json.loads(raw)
    return _without_lone_surrogates(data) if _SURROGATE_ESCAPE.search(raw) else data


def _without_lone_surrogates(node: Any) -> Any:
    if isinstance(node, str):
        return _SURROGATE.sub("\ufffd", node)
    if isinstance(node, dict):
        return {_without_lone_surrogates(k): _without_lone_surrogates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_lone_surrogates(v) for v in node]
    return node


#: A UTF-8 character's bytes read as windows-1252 (or Latin-1) by the site itself: a lead
#: byte's reading (such as "Â", "Ã", "Å", "â") followed by a continuation byte's (0x80-0xBF:
#: "©", "»", "€", "“", or a C1 control where windows-1252 has none, as "ß" gives "Ã\x9f").
_DOUBLE_ENCODED = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201a\u201c-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)

#: What a Western text encoded twice reads back as: ASCII, Latin-1's letters and Latin
#: Extended-A's ("é", "ß", "œ", "ł"), Romanian's "ș" "ț", punctuation ("’", "»", "–"), currency
#: signs ("€"), letterlike symbols ("™"), dingbats ("✓") and emoji. Correct text can pass the
#: round trip and read back as something else: "CAFÉ\xa0: les prix" (a capital and the
#: non-breaking space French sets before a colon) is a valid UTF-8 "ɠ"; "arrivé\xa0»" a CJK
#: character: those are not taken.
_READ_BACK = re.compile(
    "[\x00-\x7f\u00a0-\u017f\u0218-\u021b\u2000-\u206f\u20a0-\u20cf\u2100-\u214f"
    "\u2190-\u21ff\u2600-\u27bf\U0001f000-\U0001faff]*"
)


def _c1_byte(error: UnicodeError) -> tuple[bytes, int]:
    """Encoding error handler: a C1 control (U+0080-U+009F) as its byte, the reading of a byte
    windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) or Latin-1's of any of them."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    chunk = error.object[error.start : error.end]
    if not all("\x80" <= char <= "\x9f" for char in chunk):
        raise error
    return chunk.encode("latin-1"), error.end


codecs.register_error("veille.c1-byte", _c1_byte)


#: "à" encoded twice ("Ã\xa0") once a clean-up of spaces made its "\xa0" a space (then the
#: space after it, one of two, is taken with it) or dropped it: an "Ã" before a space or the end
_A_GRAVE = re.compile(r"Ã(?: (?= ))?(?= |\Z)")


def _a_grave(value: str, after_capital: bool) -> tuple[str, int]:
    """``value`` with each :data:`_A_GRAVE` made "Ã\xa0" again, and how many; one after a
    capital only when ``after_capital`` (Portuguese writes "AMANHÃ CEDO" in capitals)."""
    count = 0

    def restore(match: re.Match[str]) -> str:
        nonlocal count
        if not after_capital and value[match.start() - 1 : match.start()].isupper():
            return match.group(0)
        count += 1
        return "Ã\xa0"

    return _A_GRAVE.sub(restore, value), count


def undo_double_encoding(value: str) -> str:
    """``value`` with its UTF-8 read back, when the site wrote it encoded twice (its UTF-8 read
    as windows-1252 and encoded again: "rÃ©unit", "Â»", "groÃ\\x9fe"), else ``value`` itself.

    The check is the whole string's round trip: encoded in windows-1252 (a C1 control as its
    byte) it must decode as UTF-8 and hold fewer such pairs than before. Correct text with a
    letter beyond ASCII fails it ("São", "Ângela", "À Paris", "Größe“": an accent alone is no
    UTF-8 sequence), so it is left alone; so is a string mixing such pairs with correct text
    beyond windows-1252 ("✓", a correct "’" next to "Ã©"), which is not repaired. An "Ã"
    before a space or the end is read as "à" when that makes the round trip succeed: an "à"
    encoded twice is "Ã\\xa0", and a clean-up of spaces (trafilatura's, of the article's
    text) makes its "\\xa0" a space ("Ã  Paris", two spaces, reads "à Paris") or drops it.
    With no other pair in the text ("Le sommet a lieu Ã Paris"), only an "Ã" that stands as a
    word or follows a small letter ("voilÃ ") is so read: one after a capital ends a
    Portuguese word written in capitals ("AMANHÃ CEDO"), one inside a word ("SÃO") is none."""
    pairs = len(_DOUBLE_ENCODED.findall(value))
    alone, lone = _a_grave(value, after_capital=False)
    if not pairs and not lone:
        return value
    tries = [value] if pairs else []
    if pairs and "Ã" in value:
        tries.append(_a_grave(value, after_capital=True)[0])
    if lone:
        tries.append(alone)
    for attempt in tries:
        try:
            fixed = attempt.encode("cp1252", errors="veille.c1-byte").decode("utf-8")
        except UnicodeError:
            continue
        if _READ_BACK.fullmatch(fixed) and len(_DOUBLE_ENCODED.findall(fixed)) < pairs + lone:
            return fixed
    return value


def undo_double_encoding_lines(text: str) -> str:
    """:func:`undo_double_encoding` of each line of ``text`` (a paragraph of an article's body
    may be pasted encoded twice while the rest is not)."""
    if not _DOUBLE_ENCODED.search(text) and "Ã" not in text:
        return text
    return "\n".join(undo_double_encoding(line) for line in text.split("\n"))
