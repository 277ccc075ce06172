"""Language identification you can trust: deterministic, thread-safe, honest about doubt.

Uses langdetect's language profiles, its character normalisation, its n-gram extraction and
its smoothing, on a cleaned sample of the text (URLs, e-mail addresses, code-like tokens and
numbers removed; capped length), and answers "und" rather than guess when the text is too short
or the best probability is too low.

What differs from ``langdetect.detect``: langdetect estimates the naive-Bayes posterior
P(language | character 1-3-grams) by random sampling (7 trials drawing n-grams until one language
passes 0.99999), in pure Python, one n-gram and 55 languages at a time: about 7 ms per article,
more than extraction itself, and its answer on short titles depends on the random seed (on the
title set, accuracy moved between 0.92 and 0.95 with the seed alone). Here the same posterior is
computed exactly, with no sampling at all: the sum over every n-gram of the sample of
log(P(n-gram | language) + alpha / 10000), one numpy product (each distinct n-gram's row times
its count). The n-grams are extracted as integer codes with numpy and looked up in a sorted
code array (no per-word cache, so the cost does not depend on which texts came before).
Deterministic by construction, same answer in any thread, and a fraction of the cost.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass

import numpy as np
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.utils.ngram import NGram

UNDETERMINED = "und"
#: Characters of cleaned text handed to the detector; the head of an article is enough. The
#: cost is linear in the sample; eval accuracy (tests/eval/language.jsonl) is the same from
#: 150 to 2000 characters (titles 0.953, texts of 20+ words 1.0); 250 leaves a margin.
SAMPLE_CHARS = 250
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

_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MAIL_RE = re.compile(r"\S+@\S+\.\w+")
_HANDLE_RE = re.compile(r"(?<!\w)[@#]\w+")
# Words that look like code, identifiers or numbers are dropped whole: any digit or underscore
# (2025, 10h30, GPT-4o, H100, snake_case), a lower-upper bump inside a word (camelCase, iPhone),
# a dotted path (a.b.c).
_CODE_TEST_RE = re.compile(r"[\d_]|[a-z][A-Z]|\w\.\w+\.\w")
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’\-][^\W\d_]+)*")
_LANG_TAG_RE = re.compile(r"^([A-Za-z]{2,3})(?:[-_].*)?$")

#: langdetect's smoothing: each n-gram contributes log(P(n-gram | language) + ALPHA / BASE_FREQ).
ALPHA, BASE_FREQ = 0.5, 10000

_model_lock = threading.Lock()
_model: _Model | None = None
_normalized: dict[int, str] = {}  # code point -> langdetect's normalised char, filled lazily
# langdetect's cleaning_text: "Latin" is 'A' <= ch <= 'z'; non-Latin is from U+0300 up, except
# the Latin Extended Additional block (Vietnamese)
_LATIN_RE = re.compile(r"[A-z]")
_LATIN_BYTES = bytes(range(ord("A"), ord("z") + 1))
_NON_LATIN_RE = re.compile("[\u0300-\u1dff\u1f00-\U0010ffff]")


@dataclass(frozen=True)
class LanguageResult:
    """Detected language (ISO 639-1, or "und") and the best probability in [0, 1]."""

    language: str
    confidence: float


@dataclass(frozen=True)
class _Model:
    """langdetect's profiles as one matrix: n-gram -> row of log(P(n-gram | language) + smoothing).

    Rows are in the order of the n-grams' integer codes, so a row number is the code's
    position in ``codes`` and sorted codes read rows in memory order.
    """

    index: dict[str, int]
    log_probs: np.ndarray  # (n-grams, languages), float32: 87,598 x 55, about 19 MB
    languages: tuple[str, ...]
    codes: np.ndarray  # the n-grams as integers (_gram_code), sorted; row i is codes[i]'s


def _get_model() -> _Model:
    """Load langdetect's profiles once, under a lock (detection is called from threads)."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                factory = DetectorFactory()
                factory.load_profile(PROFILES_DIRECTORY)
                grams = sorted(factory.word_lang_prob_map, key=_gram_code)
                probs = np.array([factory.word_lang_prob_map[g] for g in grams], dtype=np.float64)
                log_probs = np.log(probs + ALPHA / BASE_FREQ).astype(np.float32)
                log_probs.setflags(write=False)
                codes = np.array([_gram_code(g) for g in grams], dtype=np.int64)
                codes.setflags(write=False)
                index = {g: i for i, g in enumerate(grams)}
                _model = _Model(index, log_probs, tuple(factory.langlist), codes)
    return _model


def _normalize(text: str) -> str:
    """langdetect's per-character normalisation (NGram.normalize), through a cached table."""
    missing = set(map(ord, text)).difference(_normalized)
    if missing:
        # dict updates are atomic under the GIL; a race only computes an entry twice
        _normalized.update({cp: NGram.normalize(chr(cp)) for cp in missing})
    return text.translate(_normalized)


def _gram_code(gram: str) -> int:
    """An n-gram of 1 to 3 characters as one integer: 21 bits per code point.

    No character is NUL after langdetect's normalisation, so lengths cannot collide.
    """
    code = 0
    for ch in gram:
        code = (code << 21) | ord(ch)
    return code


def _gram_codes(text: str) -> np.ndarray:
    """Codes of the n-grams langdetect's Detector extracts from a cleaned text, in its order,
    plus codes of n-grams no profile holds (a lone space, a space between two letters), which
    are dropped when looked up.

    langdetect's NGram.add_char keeps a buffer of the last 3 characters, reset at each space,
    and emits the 1-, 2- and 3-gram ending at each character, none inside an all-capitals run.
    Over the words joined by single spaces, that is every 1-, 2- and 3-gram ending at each
    position: computed here with numpy on the code points, not one Python step per n-gram.
    """
    words = _normalize(text).split(" ")
    kept = [w for w in words if w]
    if not kept:
        return np.empty(0, dtype=np.int64)
    # every word but the last is followed by a space, which closes its n-grams ("le ")
    s = " " + " ".join(kept) + (" " if not words[-1] else "")
    points = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    n = len(points)
    codes = np.full((n - 1, 3), -1, dtype=np.int64)  # row e-1: 1-, 2-, 3-gram ending at e
    codes[:, 0] = points[1:]
    codes[:, 1] = (points[:-1] << 21) | points[1:]
    codes[1:, 2] = (points[:-2] << 42) | (points[1:-1] << 21) | points[2:]
    upper = np.fromiter(map(str.isupper, s), dtype=bool, count=n)
    if upper.sum() > 1:
        # inside an all-capitals run (this and the previous character upper case): no n-gram
        codes[upper[1:] & upper[:-1]] = -1
    return codes.ravel()


def _sample_codes(sample: str) -> np.ndarray:
    """Codes of the sample's n-grams (langdetect's cleaning_text + _extract_ngrams), in order."""
    text = sample
    if any(mark in text for mark in NGram.DMARK_CLASS):  # Vietnamese letters written with marks
        text = NGram.normalize_vi(text)
    # the non-Latin count is at most the non-ASCII one: count exactly only when that could win
    ascii_bytes = text.encode("ascii", "ignore")
    latin = len(ascii_bytes) - len(ascii_bytes.translate(None, _LATIN_BYTES))
    if len(text) - len(ascii_bytes) > 2 * latin and len(_NON_LATIN_RE.findall(text)) > 2 * latin:
        # mostly non-Latin script: drop the Latin letters, as langdetect does
        text = _LATIN_RE.sub("", text)
    return _gram_codes(text)


def _lookup(codes: np.ndarray, model: _Model) -> tuple[np.ndarray, np.ndarray]:
    """Profile row of each code (meaningless where it has none) and which codes have one."""
    at = np.searchsorted(model.codes, codes)
    at[at == len(model.codes)] = 0
    return at, model.codes[at] == codes


def _rows(codes: np.ndarray, model: _Model) -> np.ndarray:
    """Profile rows of the codes that have one (the others are dropped), in the codes' order."""
    at, found = _lookup(codes, model)
    rows: np.ndarray = at[found]
    return rows


def _ngram_rows(sample: str, model: _Model) -> list[int]:
    """Profile row numbers of the n-grams langdetect would score, in its order."""
    rows: list[int] = _rows(_sample_codes(sample), model).tolist()
    return rows


def _row_counts(sample: str, model: _Model) -> tuple[np.ndarray, np.ndarray]:
    """The distinct profile rows of the sample's n-grams, ascending, and how often each occurs.

    A sample repeats many n-grams ("e", "es", "de "): looking each distinct one up once, in
    ascending order, reads the profile arrays in memory order, which is what a detection
    right after an extraction (caches cold) pays for.
    """
    codes, counts = np.unique(_sample_codes(sample), return_counts=True)
    at, found = _lookup(codes, model)
    return at[found], counts[found]


def _posterior(rows: np.ndarray, counts: np.ndarray, model: _Model, prior: np.ndarray | None) -> np.ndarray:
    """P(language | n-grams) under naive Bayes with langdetect's profiles and smoothing: the
    log-likelihood of each distinct n-gram (``rows``) times its count (``counts``)."""
    log_post = counts.astype(np.float64) @ model.log_probs[rows]
    if prior is not None:
        log_post += np.log(prior)
    post: np.ndarray = np.exp(log_post - log_post.max())
    return post / post.sum()


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
def _prior(languages: tuple[str, ...]) -> np.ndarray:
    rest = [lang for lang in languages if lang not in SHORT_TEXT_PRIOR]
    prior = np.array(
        [SHORT_TEXT_PRIOR.get(lang, _PRIOR_REST / len(rest)) for lang in languages], dtype=np.float64
    )
    prior /= prior.sum()
    prior.setflags(write=False)  # shared by every call (cached)
    return prior


def _iso(code: str) -> str:
    """langdetect codes are ISO 639-1 except a few regional ones (zh-cn, zh-tw)."""
    return code.split("-")[0].lower()


def detect_language(text: str, title: str | None = None) -> LanguageResult:
    """Detect the language of an article (title, if given, is read together with the text).

    Deterministic: no sampling, so repeated calls and concurrent threads give the same answer.
    """
    parts = [p for p in (title, text) if p and p.strip()]
    sample = clean_sample("\n".join(parts))
    letters = sum(map(str.isalpha, sample))
    if sum(map(str.isupper, sample)) > 0.6 * max(1, letters):
        # ALL-CAPS headlines: langdetect's profiles are built on mixed-case text
        sample = sample.lower()
        letters = sum(map(str.isalpha, sample))
    words = _WORD_RE.findall(sample)
    if len(words) < MIN_WORDS or letters < MIN_LETTERS:
        return LanguageResult(UNDETERMINED, 0.0)

    model = _get_model()
    rows, counts = _row_counts(sample, model)
    if not len(rows):
        return LanguageResult(UNDETERMINED, 0.0)
    prior = _prior(model.languages) if len(words) < SHORT_TEXT_WORDS else None
    probabilities = _posterior(rows, counts, model, prior)
    best = int(probabilities.argmax())
    confidence = round(float(probabilities[best]), 4)
    if confidence < MIN_CONFIDENCE:
        return LanguageResult(UNDETERMINED, confidence)
    return LanguageResult(_iso(model.languages[best]), confidence)


def normalize_declared_language(value: str | None) -> str | None:
    """Reduce a declared language tag to ISO 639-1: "fr-FR" -> "fr", "EN_us" -> "en", "" -> None.

    Feeds and pages declare languages loosely (html lang, dc:language, RSS <language>); we keep
    only the primary subtag so it compares with what detect_language returns.
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
    aliases = {
        "fre": "fr",
        "fra": "fr",
        "eng": "en",
        "spa": "es",
        "ita": "it",
        "ger": "de",
        "deu": "de",
        "por": "pt",
        "dut": "nl",
        "nld": "nl",
        "cat": "ca",
    }
    primary = aliases.get(primary, primary)
    if len(primary) != 2:
        return None
    return primary
