"""Declared languages: a language tag as a feed or a page writes it (RSS ``<language>``,
``dc:language``, ``<html lang>``) reduced to its primary language, the code language
identification (:mod:`monitors.judge.language`) answers in.

Shared: a poll stores its feed's declared language (``monitors.archive.polls``), extraction reads
the page's and language identification leans on it; nothing here judges a text, so storing what a
feed declares loads no judging module (``tests/test_layers.py``).
"""

from __future__ import annotations

import functools
import re

#: Every ISO 639-1 code: a page declaring one the profiles do not know (br, oc, co, eu...) is in
#: a language veille cannot identify, and gets "und", and so does a three-letter code that names
#: a language with no two-letter one (gsw, haw: :func:`names_a_language`); anything else
#: declared ("xx") is ignored.
_ISO_639_1_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy"
    " da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu"
    " hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb"
    " lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om"
    " or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw"
    " ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu"
)
_ISO_639_1 = frozenset(_ISO_639_1_CODES.split())
#: Codes of ISO 639 that name no language: undetermined, no linguistic content, several, uncoded.
_NO_LANGUAGE = frozenset({"und", "zxx", "mul", "mis"})

_LANG_TAG_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")


@functools.cache
def macrolanguage(code: str) -> str | None:
    """The ISO 639-1 (else 639-3) code of the macrolanguage of the language ``code`` (ISO
    639-1 or 639-3) belongs to, None when it belongs to none or is no ISO 639 code."""
    from iso639 import Language, LanguageNotFoundError

    try:
        language = Language.from_part1(code) if len(code) == 2 else Language.from_part3(code)
        if not language.macrolanguage:
            return None
        macro = Language.from_part3(language.macrolanguage)
    except LanguageNotFoundError:
        return None
    return macro.part1 or macro.part3


@functools.cache
def _cldr_languages() -> tuple[dict[str, str], frozenset[str]]:
    """Unicode CLDR's language aliases (ISO 639-2/3 "fra", "ger", "bre" -> "fr", "de", "br";
    deprecated "iw" -> "he") and every language code it names (gsw, haw, fil...), from Babel
    (already required by trafilatura, through courlan): loaded at the first declared code that
    needs them."""
    from babel import Locale
    from babel.core import get_global

    aliases: dict[str, str] = dict(get_global("language_aliases"))
    return aliases, frozenset(Locale("en").languages)


def names_a_language(code: str) -> bool:
    """Whether a normalised declared code is a language: ISO 639-1, or a three-letter code
    CLDR names (Swiss German "gsw", Hawaiian "haw"); not "xx", "qaa" or "und"."""
    if code in _ISO_639_1:
        return True
    return len(code) == 3 and code not in _NO_LANGUAGE and _named(code)


def _named(code: str) -> bool:
    """Whether a three-letter code names a language: CLDR names it, or ISO 639-3 has it inside
    a macrolanguage (Levantine Arabic "apc", Dari "prs", Min Dong "cdo", which CLDR's English
    names lack)."""
    return code in _cldr_languages()[1] or macrolanguage(code) is not None


def normalize_declared_language(value: str | None) -> str | None:
    """Reduce a declared language tag to its primary language: "fr-FR" -> "fr", "EN_us" -> "en",
    "fra" or "fre" -> "fr", "gsw-CH" -> "gsw", "" or "xyz" -> None.

    Feeds and pages declare languages loosely (html lang, dc:language, RSS <language>); we keep
    only the primary subtag so it compares with what detect_language returns: ISO 639-1 where
    the language has a code there (three-letter ISO 639-2/3 codes and deprecated ones such as
    "iw" mapped by CLDR's aliases), else the three-letter code of a language CLDR names (Swiss
    German "gsw", Hawaiian "haw", Filipino "fil") or ISO 639-3 places in a macrolanguage
    (Levantine Arabic "apc"; :func:`detect_language` reads it as its macrolanguage, "ar"). A
    three-letter code that names no language ("xyz", "und", "mul") is none declared; a
    two-letter one is kept as written.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    match = _LANG_TAG_RE.match(value)
    if not match:
        return None
    primary = match.group(1).lower()
    if primary in _ISO_639_1:
        return primary  # the common case, no CLDR lookup (and "tl" stays the profiles' Tagalog)
    aliases = _cldr_languages()[0]
    alias = aliases.get(primary)
    if alias:
        # fra -> fr, ger -> de, bre -> br, iw -> he, tgl -> fil; an alias carrying a region or a
        # script keeps its language, as "fa-AF" does: Dari prs -> fa_AF, Congo Swahili swc ->
        # sw_CD, Serbo-Croatian sh -> sr_Latn
        primary = alias.split("_")[0]
    if len(primary) == 2:
        return primary
    return primary if primary not in _NO_LANGUAGE and _named(primary) else None
