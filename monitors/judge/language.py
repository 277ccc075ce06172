"""Language identification you can trust: deterministic, thread-safe, honest about doubt.

Uses langdetect's language profiles, its character normalisation, its n-gram extraction and
its smoothing, on a cleaned sample of the text (URLs, e-mail addresses, code-like tokens and
numbers removed; capped length), and answers "und" rather than guess when the text is too short
(unless its page declares a language) or the best probability is too low.

What differs from ``langdetect.detect``: langdetect estimates the naive-Bayes posterior
P(language | character 1-3-grams) by random sampling (7 trials drawing n-grams until one language
passes 0.99999), in pure Python, one n-gram and 55 languages at a time: about 7 ms per article,
more than extraction itself, and its answer on short titles depends on the random seed (on the
title set, accuracy moved between 0.92 and 0.95 with the seed alone). Here the same posterior is
computed exactly, with no sampling at all: the sum over every n-gram of the sample of
log(P(n-gram | language) + alpha / 10000). The n-grams are integer codes (their UTF-16 code
units), looked up and summed by one call to monitors/_ngrams.c, a small C extension compiled at
install time; where no C compiler was found, by numpy calls on a sorted code array, with the
same results to the last bit (tests/test_language.py compares the two). No per-word cache, so
the cost does not depend on which texts came before. Deterministic by construction, same answer
in any thread, and a fraction of the cost. Why C: right after a page's extraction, each numpy
call costs 10-35 us of cold code (one-off measurement), and the numpy path needs about fifteen;
bench/stages.py measures the stage with whichever path is installed and says which.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from itertools import islice

from monitors.judge.textfold import CJK_SENTENCE_ENDS
from monitors.language_tags import macrolanguage, names_a_language, normalize_declared_language
from monitors.ngram_profiles import (
    ALPHA,
    BASE_FREQ,
    SAMPLE_CHARS,
    _get_model,
    _log_likelihood,
    _Model,
)

UNDETERMINED = "und"
#: Below these, a text is too short to call.
MIN_WORDS = 3
MIN_LETTERS = 12
#: Best probability under which we answer "und" instead of a guess.
MIN_CONFIDENCE = 0.60
#: Texts with fewer words than this get a mild prior towards the languages veille monitors
#: (French and English). Measured on tests/eval/language.jsonl titles (5-10 words): no prior
#: 0.919, fr/en 0.20 each 0.949 (same with 0.15 or 0.25), long texts unchanged at 1.0.
SHORT_TEXT_WORDS = 12
SHORT_TEXT_PRIOR: dict[str, float] = {"fr": 0.20, "en": 0.20}
_PRIOR_REST = 0.60  # spread over all the other languages of the profile set
#: Prior mass of the language a page or its feed declares, when langdetect's profiles know it:
#: about the share of pages whose text is in it (101 of the 108 of ../shared/corpus declaring
#: one; the 7 others, a template's "en"). tests/eval/language.jsonl titles, declared their true
#: language: 0.5 -> 145/148, 0.7 or 0.9 -> 147/148 (none 142); declared a wrong one: 0.5 ->
#: 142, 0.7 or 0.9 -> 140. Texts of 20+ words: 179/179 whatever is declared.
DECLARED_PRIOR = 0.9

#: Declared codes the profiles know under another one that is not their macrolanguage
#: (Filipino, standard Tagalog: "tl"); a language inside a macrolanguage is read as it
#: (:func:`_profile_code`: Bokmål "nb" and Nynorsk "nn" as "no", Najdi Arabic "ars" as "ar").
_PROFILE_CODES = {"fil": "tl"}
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MAIL_RE = re.compile(r"\S+@\S+\.\w+")
_HANDLE_RE = re.compile(r"(?<!\w)[@#]\w+")
# Words that look like code, identifiers or numbers are dropped whole: any digit or underscore
# (2025, 10h30, GPT-4o, H100, snake_case), a lower-upper bump inside a word (camelCase, iPhone),
# a dotted path (a.b.c).
_CODE_TEST_RE = re.compile(r"[\d_]|[a-z][A-Z]|\w\.\w+\.\w")
#: Scripts written without spaces between words (Han, kana, Thai, Lao, Khmer, Myanmar): a
#: sentence in them is one run of letters, counted as one word for every CHARS_PER_WORD letters
#: (a Chinese word is 1.5-2 characters on average).
UNSPACED = (
    "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
    "\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f"  # kana (and half-width katakana)
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"  # Han
)
CHARS_PER_WORD = 2
_WORD_RE = re.compile(
    rf"[{UNSPACED}]{{1,{CHARS_PER_WORD}}}"
    rf"|[^\W\d_{UNSPACED}]+(?:['’\-][^\W\d_{UNSPACED}]+)*"
)


@dataclass(frozen=True)
class LanguageResult:
    """Detected language (ISO 639-1, or "und") and the best probability in [0, 1]."""

    language: str
    confidence: float


def _posterior(log_likelihood: list[float], log_prior: list[float] | None) -> list[float]:
    """P(language | n-grams) under naive Bayes, from the log-likelihoods and an optional prior."""
    if log_prior is not None:
        log_likelihood = [a + b for a, b in zip(log_likelihood, log_prior, strict=True)]
    top = max(log_likelihood)
    weights = [math.exp(x - top) for x in log_likelihood]
    total = math.fsum(weights)
    return [w / total for w in weights]


def clean_sample(text: str, limit: int = SAMPLE_CHARS) -> str:
    """Strip what says nothing about the language (URLs, e-mails, code, numbers); cap length.

    Works on whitespace-separated words of a bounded head of the text, and stops as soon as
    ``limit`` characters are kept: cleaning a whole article to keep its first lines is wasted work.
    """
    head = text[: limit * 4]
    # the costly patterns only run when their anchor character is there at all
    if "://" in head or "www." in head or "WWW." in head:
        head = _URL_RE.sub(" ", head)
    if "@" in head:
        head = _MAIL_RE.sub(" ", head)
    if "@" in head or "#" in head:
        head = _HANDLE_RE.sub(" ", head)
    kept: list[str] = []
    size = -1
    for word in head.split():
        # a word of letters with no upper case after its first is plain text: skip the regex
        if not (word.isalpha() and word[1:].islower()) and _CODE_TEST_RE.search(word):
            continue
        if size + 1 + len(word) > limit:
            if not kept:
                kept.append(word[:limit])
            break
        kept.append(word)
        size += 1 + len(word)
    return " ".join(kept)


@functools.cache
def _log_prior(languages: tuple[str, ...], short: bool, declared: str | None = None) -> list[float] | None:
    """log of the prior over ``languages`` (None for a flat one).

    A short text gets SHORT_TEXT_PRIOR, the rest spread over the other languages; a declared
    language the profiles know (the page's or the feed's, ISO 639-1) then takes DECLARED_PRIOR
    of the mass, at any length: it only decides where the text itself leaves doubt."""
    if short:
        rest = [lang for lang in languages if lang not in SHORT_TEXT_PRIOR]
        base = [SHORT_TEXT_PRIOR.get(lang, _PRIOR_REST / len(rest)) for lang in languages]
    else:
        base = [1.0] * len(languages)
    total = sum(base)
    prior = [p / total for p in base]
    named = [i for i, lang in enumerate(languages) if declared is not None and _iso(lang) == declared]
    if named:
        prior = [(1 - DECLARED_PRIOR) * p for p in prior]
        for i in named:  # zh: zh-cn and zh-tw share it
            prior[i] += DECLARED_PRIOR / len(named)
    elif not short:
        return None
    return [math.log(p) for p in prior]


@functools.cache
def _known_codes(languages: tuple[str, ...]) -> frozenset[str]:
    """The ISO 639-1 codes of the languages the profiles know."""
    return frozenset(map(_iso, languages))


def _holds_title(text: str, title: str) -> bool:
    """Whether the text's first SAMPLE_CHARS characters already hold the title (case and
    spacing aside): extraction often keeps the page's h1 as the text's first line, and the
    title read again before it would count twice in the sample."""
    wanted = " ".join(title.split()).casefold()
    return bool(wanted) and wanted in " ".join(text[:SAMPLE_CHARS].split()).casefold()


def _iso(code: str) -> str:
    """langdetect codes are ISO 639-1 except a few regional ones (zh-cn, zh-tw)."""
    return code.split("-")[0].lower()


def detect_language(text: str, title: str | None = None, declared: str | None = None) -> LanguageResult:
    """Detect the language of an article (title, if given, is read together with the text).

    ``declared`` is the language the page or its feed declares (a tag, read by
    :func:`normalize_declared_language`): a prior, not an answer. A short or ambiguous text
    leans to it; a text clearly in another language keeps its own (a template's ``lang="en"``
    on a French article); a text too short to read at all is in it (confidence 0) unless the
    text's script rules it out, and so is Japanese of kanji alone on a page declaring "ja"
    (confidence 0: the n-grams cannot tell it from Chinese). A language
    the profiles do not know (Breton, Occitan, Corsican, Basque, Alsatian "gsw"...) gives "und":
    its text would be called by a neighbour's profile. A title
    the text's head already holds is read once. Deterministic: no sampling, so repeated calls
    and concurrent threads give the same answer.
    """
    if title and text and _holds_title(text, title):
        title = None  # an h1 kept as the text's first line: read once, not twice
    parts = [p for p in (title, text) if p and p.strip()]
    sample = clean_sample("\n".join(parts))
    letters = sum(map(str.isalpha, sample))
    if sum(map(str.isupper, sample)) > 0.6 * max(1, letters):
        # ALL-CAPS headlines: langdetect's profiles are built on mixed-case text
        sample = sample.lower()
        letters = sum(map(str.isalpha, sample))
    # words are only counted up to the thresholds below
    words = count_words(sample, max(MIN_WORDS, SHORT_TEXT_WORDS))
    declared = normalize_declared_language(declared)
    declared = _profile_code(declared) if declared else None
    if words < MIN_WORDS or letters < MIN_LETTERS:
        # too short to read (a name, "Glossar - B"): the page's word for it, if any, unless its
        # script rules the word out (Cyrillic on a page declaring "en")
        return LanguageResult(_readable(declared, sample) if letters else UNDETERMINED, 0.0)

    model = _get_model()
    if declared and names_a_language(declared) and declared not in _known_codes(model.languages):
        # Breton, Occitan, Corsican, Basque...: no profile, so whatever language the n-grams
        # name is a neighbour's (a Breton text read as Hungarian, an Occitan headline as French)
        return LanguageResult(UNDETERMINED, 0.0)
    log_likelihood = _log_likelihood(sample, model)
    if log_likelihood is None:
        return LanguageResult(_readable(declared, sample), 0.0)
    impossible = _impossible(sample, model)
    log_likelihood = _ruled_out(log_likelihood, impossible)
    prior = _log_prior(model.languages, words < SHORT_TEXT_WORDS, declared)
    probabilities = _posterior(log_likelihood, prior)
    confidence = max(probabilities)
    best = probabilities.index(confidence)
    if declared == "ja" and _iso(model.languages[best]) == "zh" and _present_scripts(sample) == {"CJK"}:
        # kanji alone, no kana: a Chinese profile's n-grams are all Han, Japanese's only 38%, so
        # any such text scores Chinese (a Japanese headline 1.4-1.6 log units per character,
        # Chinese ones 1.7-2.1): the text cannot tell, and the page's word decides
        return LanguageResult("ja", 0.0)
    confidence = round(confidence, 4)
    if confidence < MIN_CONFIDENCE:
        # read, and in doubt even with the declared language's prior: the text argues against it
        return LanguageResult(UNDETERMINED, confidence)
    agreement = _sentence_agreement(sample, best, model, declared, impossible)
    if agreement is not None:
        confidence = min(confidence, agreement)
    return LanguageResult(_iso(model.languages[best]), confidence)


#: A language is possible for a text only when scripts it is written in (each holding at least
#: SCRIPT_OF_LANGUAGE of its profile's letters) hold at least SCRIPT_SHARE of the text's
#: letters: a text with no Hangul is not Korean, whatever the Han characters Korean's profile
#: holds (2% of its letters: Hanja); Japanese is written in Han (38%) and kana (62%).
SCRIPT_OF_LANGUAGE = 0.25
SCRIPT_SHARE = 0.10
_WIDTH_WORDS = frozenset({"HALFWIDTH", "FULLWIDTH"})
#: A letter beyond Basic Latin to Latin Extended-B (which hold letters of no other script).
_NON_LATIN_LETTER_RE = re.compile(r"[^\W\d_\u0000-\u024f]")


@functools.cache
def _script(char: str) -> str:
    """The script of a letter, from its Unicode name: "LATIN", "CYRILLIC", "HANGUL", "CJK"
    (Han), "KANA" (hiragana and katakana together, ISO 15924's Hrkt)..., "" when unnamed."""
    words = [w for w in unicodedata.name(char, "").split() if w not in _WIDTH_WORDS]
    if not words:
        return ""
    if words[0].startswith(("HIRAGANA", "KATAKANA")):  # and the prolonged sound mark
        return "KANA"
    return words[0]


@functools.cache
def _language_scripts(languages: tuple[str, ...]) -> tuple[frozenset[str], ...]:
    """For each language of the profiles, the scripts holding at least SCRIPT_OF_LANGUAGE of the
    probability mass of its profile's single letters."""
    import numpy as np

    model = _get_model()

    unigrams = [(i, chr(code)) for i, code in enumerate(model.codes[:-1].tolist()) if code < 0x10000]
    letters = [(i, _script(ch)) for i, ch in unigrams if ch.isalpha()]
    rows = np.array([i for i, _ in letters])
    probs = np.exp(model.log_probs[rows].astype(np.float64)) - ALPHA / BASE_FREQ
    masses: list[dict[str, float]] = [{} for _ in model.languages]
    for (_, script), row in zip(letters, probs.tolist(), strict=True):
        for lang, p in enumerate(row):
            masses[lang][script] = masses[lang].get(script, 0.0) + p
    scripts = []
    for mass in masses:
        total = sum(mass.values())
        scripts.append(frozenset(s for s, m in mass.items() if m >= SCRIPT_OF_LANGUAGE * total))
    return tuple(scripts)


def _impossible(sample: str, model: _Model) -> tuple[bool, ...] | None:
    """For each language, whether the sample's scripts rule it out (None when none is, or when
    all would be: a script no profile writes, left to the n-grams as before).

    A script that writes most of the sample's words (:func:`_dominant_script`) rules out the
    languages not written in it: a text is in the language of most of it. The n-grams cannot
    weigh two scripts fairly: a Chinese profile gives Latin letters almost nothing, an English
    one Han characters more, so a Chinese text ending with a shorter English sentence (or an
    English product name) read English."""
    if not _NON_LATIN_LETTER_RE.search(sample):
        return None  # Latin letters only (French, German...): every Latin-script language is possible
    present = _present_scripts(sample)
    scripts_of = _language_scripts(model.languages)
    dominant = _dominant_script(sample)
    out = tuple(not (scripts & present) or dominant not in scripts for scripts in scripts_of)
    if dominant is None or all(out):  # no script writes most words, or one no profile writes
        out = tuple(not (scripts & present) for scripts in scripts_of)
    return out if any(out) and not all(out) else None


def _dominant_script(sample: str) -> str | None:
    """The script of more than half the sample's words, counted as the length thresholds count
    them (:func:`count_words`: in Han or kana, a word every CHARS_PER_WORD letters), if any."""
    counts = Counter(_script(m.group()[0]) for m in _WORD_RE.finditer(sample))
    if not counts:
        return None
    script, words = counts.most_common(1)[0]
    return script if 2 * words > counts.total() else None


def _present_scripts(sample: str) -> set[str]:
    """The scripts holding at least SCRIPT_SHARE of the sample's letters."""
    counts: dict[str, int] = {}
    for ch, n in Counter(sample).items():
        if ch.isalpha():
            script = _script(ch)
            counts[script] = counts.get(script, 0) + n
    total = sum(counts.values())
    return {s for s, n in counts.items() if n >= SCRIPT_SHARE * total}


def _ruled_out(log_likelihood: list[float], impossible: tuple[bool, ...] | None) -> list[float]:
    """The log-likelihoods with the languages ruled out at minus infinity (probability 0)."""
    if not impossible:
        return log_likelihood
    return [-math.inf if out else x for x, out in zip(log_likelihood, impossible, strict=True)]


@functools.cache
def _profile_code(declared: str) -> str:
    """A normalised declared code as the profiles name its language: a code they know as is;
    an individual language of an ISO 639-3 macrolanguage the profiles know as that
    macrolanguage (Najdi "ars" and Egyptian "arz" Arabic as "ar", Cantonese "yue" and Wu "wuu"
    as "zh", Dari "prs" as "fa", Bokmål "nb" as "no": the profile is the macrolanguage's, built
    on its written standard); else the code, which gives "und" if it names a language.

    The mapping is SIL's ISO 639-3 macrolanguage table as python-iso639 ships it (CLDR, through
    Babel, aliases only the main member of each: "arb", "cmn", "zsm"). Swiss German "gsw" or
    Breton "br" belong to no macrolanguage and stay unknown; Standard Malay "zsm" is "ms", which
    the profiles do not know (Indonesian "id", a member too, is not read as it).
    """
    code = _PROFILE_CODES.get(declared, declared)
    known = _known_codes(_get_model().languages)
    if code in known:
        return code
    macro = macrolanguage(code)
    return macro if macro in known else code


def _readable(declared: str | None, sample: str) -> str:
    """The declared language when the profiles know it (veille could have called it) and the
    sample's scripts do not rule it out, else "und": what a text too short to read is in.

    A page declaring "en" whose text is "Москва сегодня" is not English, however short: the
    scripts rule it out here as they do for a text long enough to read."""
    languages = _get_model().languages
    if not declared or declared not in _known_codes(languages):
        return UNDETERMINED
    present = _present_scripts(sample)
    written = [
        scripts
        for lang, scripts in zip(languages, _language_scripts(languages), strict=True)
        if _iso(lang) == declared
    ]
    if present and not any(scripts & present for scripts in written):
        return UNDETERMINED
    return declared


#: Where a sentence ends: after . ! ? or … and a space, or after a full stop, exclamation or
#: question mark of Chinese and Japanese (``CJK_SENTENCE_ENDS``: 。！？, half-width ｡, the ends
#: the relevance evidence's sentences have too), closing quotes or brackets included, which no
#: space follows.
_SENTENCE_BREAK_RE = re.compile(
    rf"(?<=[.!?…])\s+|(?<=[{CJK_SENTENCE_ENDS}])(?![」』）”’\s])\s*|(?<=[{CJK_SENTENCE_ENDS}][」』）”’])\s*"
)


def count_words(text: str, limit: int | None = None) -> int:
    """The words of a text as the length thresholds count them (up to ``limit``): words of
    letters, and in scripts written without spaces (Han, kana, Thai...) one word for every
    CHARS_PER_WORD letters, so that an unspaced sentence is not one word."""
    return sum(1 for _ in islice(_WORD_RE.finditer(text), limit))


def _callable(text: str) -> bool:
    """Whether a sentence is long enough to call alone (MIN_WORDS words, MIN_LETTERS letters)."""
    return count_words(text, MIN_WORDS) >= MIN_WORDS and sum(map(str.isalpha, text)) >= MIN_LETTERS


def _sentences(sample: str) -> list[str]:
    """The sample's sentences, each long enough to call (one too short joins its neighbour)."""
    pieces: list[str] = []  # each with the space after it, if any: joined as they were written
    start = 0
    for match in _SENTENCE_BREAK_RE.finditer(sample):
        if match.end() > start and match.start() > start:
            pieces.append(sample[start : match.end()])
            start = match.end()
    pieces.append(sample[start:])
    joined: list[str] = []
    for piece in filter(str.strip, pieces):
        if joined and not _callable(piece):
            joined[-1] += piece
        else:
            joined.append(piece)
    if len(joined) > 1 and not _callable(joined[0]):
        first = joined.pop(0)  # a short first sentence joins the next one
        joined[0] = first + joined[0]
    return [sentence.strip() for sentence in joined]


def _sentence_agreement(
    sample: str,
    best: int,
    model: _Model,
    declared: str | None = None,
    impossible: tuple[bool, ...] | None = None,
) -> float | None:
    """How much of a sample of several sentences is in language ``best``: each sentence's
    probability of it, weighted by the sentence's letters (None for one sentence).

    The posterior of a whole sample is near 0 or 1 whatever the text: naive Bayes multiplies
    hundreds of n-gram likelihoods as if independent, so a sample half French, half English
    gave 1.0 to the language with a few more n-grams. Read sentence by sentence, that text is
    0.5 French, which is what its confidence says."""
    sentences = _sentences(sample)
    if len(sentences) < 2:
        return None
    total = agreeing = 0.0
    for sentence in sentences:
        log_likelihood = _log_likelihood(sentence, model)
        if log_likelihood is None:
            continue
        # a language the sample's scripts rule out is out for its sentences too
        log_likelihood = _ruled_out(log_likelihood, impossible)
        short = count_words(sentence, SHORT_TEXT_WORDS) < SHORT_TEXT_WORDS
        probabilities = _posterior(log_likelihood, _log_prior(model.languages, short, declared))
        letters = sum(map(str.isalpha, sentence))
        total += letters
        agreeing += letters * probabilities[best]
    return round(agreeing / total, 4) if total else None
