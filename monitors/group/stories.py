"""Stories: one news event across outlets and languages, found online as articles arrive (pure).

Online clustering in the manner of EMM NewsBrief and of Miranda et al. (EMNLP 2018): each
article becomes a sparse vector of three kinds of features, which are language-neutral or
mapped to one language so French and English coverage meet:

- ``e:`` named entities (capitalised words that are neither stop words nor common news words),
- ``n:`` numbers with their scale (``1,7 milliard`` and ``1.7 billion`` give ``n:1.7e9``) and
  dates (``10 février`` and ``February 10`` give ``d:10-2``),
- ``w:`` content words, French ones mapped to English through :data:`monitors.group.copies.BILINGUAL`.

An article joins the story whose centroid (the normalised sum of its members' vectors) is the
most similar by cosine, multiplied by a time decay: full weight within :data:`GRACE_DAYS` of the
story's first..last seen span, then ``exp(-(distance - GRACE_DAYS) / TAU_DAYS)``. Below
:data:`JOIN_THRESHOLD` it starts a new story, unless it has fewer than :data:`MIN_SEED_WORDS`
words (a headline or a teaser never seeds a story alone). Stories last seen more than
:data:`WINDOW_DAYS` away are not candidates at all (the sliding window).

Merges: an article that joins one story but is nearly as close to a second one (both scores
at least :data:`JOIN_THRESHOLD`, the second at least :data:`MERGE_RATIO` of the first) shows
the two are one event seen twice (two early reports that did not meet): they are merged, the
older story id survives (:func:`merge_pair`). An article clearly closer to one story does not
merge: a summit and a speech at it, or a minister's two events, stay two stories.

No splits: a story is never cut in two. Members are added one at a time, each similar to the
story when it joined, and the time decay and window keep a story from drifting across weeks;
cutting would re-label articles users may have exported or counted, and a wrong split cannot
be told from a right one without the labels we lack (``story_events`` keeps ``split``
reserved).

Lookup keys (:func:`article_keys`): in the database a story is a candidate only when it shares
one of the article's heaviest features, and each such key is locked while the article is
stored; features that say nothing about which event it is (small numbers, years, common words
capitalised by their place, the language's most frequent words) are no keys, though they stay
in the vector.

:class:`StoryIndex` runs the algorithm in memory (evaluation, benchmarks' baseline);
:mod:`monitors.group.story_store` runs the same functions against PostgreSQL.
"""

from __future__ import annotations

import functools
import hashlib
import math
import pkgutil
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from monitors.group.copies import (
    _MONTHS,
    _STOP,
    _TOKEN,
    BILINGUAL,
    _number_key,
    fold,
    is_unspaced,
    split_words,
    wordset,
)

__all__ = [
    "GRACE_DAYS",
    "JOIN_THRESHOLD",
    "MERGE_RATIO",
    "MIN_SEED_WORDS",
    "TAU_DAYS",
    "WINDOW_DAYS",
    "Assignment",
    "StoryIndex",
    "add_vectors",
    "article_keys",
    "cosine",
    "decay",
    "features",
    "is_lookup_key",
    "key_hash",
    "lookup_keys",
    "merge_pair",
    "stop_words",
    "word_count",
]

JOIN_THRESHOLD = 0.28
#: An article whose second-best story scores at least this share of its best (both above
#: JOIN_THRESHOLD) bridges them: the two stories are merged (chosen on dev: a same-event pair
#: at 0.96, an opinion piece near its own story and at 0.39 of it near the summit's).
MERGE_RATIO = 0.8
MIN_SEED_WORDS = 40
GRACE_DAYS = 1.0
TAU_DAYS = 1.5
WINDOW_DAYS = 7.0
#: Words are cut to this many letters (a crude stem that works for French and English alike).
STEM = 6
#: Features kept in a story's centroid (the heaviest).
CENTROID_SIZE = 200
#: Features of an article used to look up candidate stories (the heaviest, names and numbers first).
LOOKUP_KEYS = 24
#: Significant digits from which a number without a scale is a lookup key (``109``, ``4.80``).
KEY_DIGITS = 3

_WEIGHT = {"e": 1.0, "n": 2.0, "d": 1.5, "y": 0.5, "w": 1.0}

# Words that are capitalised in news text but say nothing about which event it is.
_COMMON_CAPS = wordset(
    """selon alors apres avant depuis lors pendant mais cette face monsieur madame mr mrs ms
    ainsi enfin pourtant toutefois cependant lire voir aussi photo video afp reuters ap"""
)
_EXTRA_STOP = wordset(
    """etait sera seront serait peut peuvent doit doivent avait avaient cela celui celle ceux
    entre encore contre sous chez vers dont leurs elle elles quand ainsi apres avant depuis
    tres plus moins autre autres faire fait faits dire dit selon alors lors pendant deux trois
    also would could should said says after before since during while when where there here
    being other others such than then them they what which"""
)
_WORD_WORDS = _STOP | _EXTRA_STOP


def word_count(text: str) -> int:
    """Words of a text, as the seeding rule counts them."""
    return len(split_words(_TOKEN, text))


def features(text: str, title: str | None = None) -> dict[str, float]:
    """The article's sparse vector (unit length): entities, numbers, dates and mapped words."""
    return _vector(_counts(text, title)[0])


def article_keys(
    text: str, title: str | None = None, language: str | None = None, limit: int = LOOKUP_KEYS
) -> tuple[dict[str, float], list[str]]:
    """The article's vector (:func:`features`) and its lookup keys (:func:`lookup_keys`), from one
    reading of the text. Common words are no keys: those the text also writes in lower case
    (``Die`` at a sentence's start, ``die`` inside one), and, for the language detected
    (ISO 639-1), the words of its stop list (:func:`stop_words`), which a short text may not
    show in lower case itself."""
    counts, lowered = _counts(text, title)
    vector = _vector(counts)
    return vector, lookup_keys(vector, limit, common=lowered | stop_words(language))


#: jusText's stop lists (installed with trafilatura; the most frequent words of each language's
#: Wikipedia, in their written case) of the languages the detector reports
#: (:mod:`monitors.judge.language`, langdetect's profiles); those it has no list for are left out.
_STOP_LISTS = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "bn": "Bengali", "ca": "Catalan",
    "cs": "Czech", "cy": "Welsh", "da": "Danish", "de": "German", "el": "Greek", "en": "English",
    "es": "Spanish", "et": "Estonian", "fa": "Persian", "fi": "Finnish", "fr": "French",
    "gu": "Gujarati", "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "kn": "Kannada", "ko": "Korean", "lt": "Lithuanian",
    "lv": "Latvian", "mk": "Macedonian", "ml": "Malayalam", "mr": "Marathi", "ne": "Nepali",
    "nl": "Dutch", "no": "Norwegian_Bokmal", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian",
    "ru": "Russian", "sk": "Slovak", "sl": "Slovenian", "sq": "Albanian", "sv": "Swedish",
    "sw": "Swahili", "ta": "Tamil", "te": "Telugu", "tl": "Tagalog", "tr": "Turkish",
    "uk": "Ukrainian", "ur": "Urdu", "vi": "Vietnamese",
}  # fmt: skip


@functools.cache
def stop_words(language: str | None) -> frozenset[str]:
    """The words of the language's stop list, folded and in lower case as features have them.
    The list is the language's most frequent words (in Wikipedia), so most articles share them
    whatever their event: function words (``die``), common nouns, capitalised in German
    (``Jahr``, ``Prozent``), and the most named places and first names (``Paris``,
    ``Deutschland``, ``John``), which appear in a large share of a language's news whatever
    its event. Empty for a language without a list, ``und`` or None."""
    name = _STOP_LISTS.get(language or "")
    if name is None:
        return frozenset()
    data = pkgutil.get_data("justext", f"stoplists/{name}.txt") or b""
    words = (_TOKEN.findall(fold(line)) for line in data.decode("utf-8").splitlines())
    return frozenset(w[0].lower() for w in words if len(w) == 1)  # "Geschichte." too, not "C'est"


def _counts(text: str, title: str | None) -> tuple[Counter[str], set[str]]:
    """Feature counts of the title and text, and the words written in lower case somewhere in
    them (an ``e:`` feature of such a word is a common word capitalised by its place)."""
    counts: Counter[str] = Counter()
    lowered: set[str] = set()
    for part in (title or "", text):
        raw = split_words(_TOKEN, fold(part))
        lower = [t.lower() for t in raw]
        for i, token in enumerate(raw):
            low = lower[i]
            nxt = lower[i + 1] if i + 1 < len(lower) else ""
            prev = lower[i - 1] if i else ""
            if token[0].isdecimal():  # not isdigit(): "❶" or "፩" is a digit int() cannot read
                if nxt in _MONTHS and len(token) <= 2:
                    counts[f"d:{int(token)}-{_MONTHS[nxt][1:]}"] += 1
                elif prev in _MONTHS and len(token) <= 2:
                    counts[f"d:{int(token)}-{_MONTHS[prev][1:]}"] += 1
                elif len(token) == 4 and token[:2] in ("19", "20"):
                    counts[f"y:{token}"] += 1
                else:
                    counts["n:" + _number_key(token, nxt)[1:]] += 1
                continue
            if is_unspaced(token):  # a bigram of Chinese, Japanese, Thai...: no case, no stem
                counts["w:" + token] += 1
                continue
            if token[0].islower():
                lowered.add(low)
            if low in _MONTHS:
                continue
            elif token[0].isupper() and len(token) > 1 and low not in _WORD_WORDS and low not in _COMMON_CAPS:
                if low in BILINGUAL:
                    counts["w:" + BILINGUAL[low][:STEM]] += 1
                else:
                    counts["e:" + low] += 1
            elif len(low) >= 4 and low not in _WORD_WORDS and not low.isdigit():
                counts["w:" + BILINGUAL.get(low, low)[:STEM]] += 1
    return counts, lowered


def _vector(counts: Counter[str]) -> dict[str, float]:
    vector = {k: _WEIGHT[k[0]] * (1.0 + math.log(c)) for k, c in counts.items()}
    return _unit(vector)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {k: v / norm for k, v in vector.items()} if norm else {}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    """Cosine of two sparse vectors (unit length or not)."""
    if len(a) > len(b):
        a, b = b, a
    dot = sum(v * b.get(k, 0.0) for k, v in a.items())
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    return dot / (na * nb) if na and nb else 0.0


def add_vectors(
    total: dict[str, float], vector: dict[str, float], size: int = CENTROID_SIZE
) -> dict[str, float]:
    """A story's new centroid sum: ``total + vector``, the ``size`` heaviest features kept."""
    merged = dict(total)
    for k, v in vector.items():
        merged[k] = merged.get(k, 0.0) + v
    if len(merged) > size:
        merged = dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:size])
    return merged


def merge_pair(best: tuple[float, int], second: tuple[float, int] | None) -> tuple[int, int] | None:
    """(surviving id, merged id) when an article scoring ``best`` and ``second`` ((score,
    story id), after decay) bridges two stories, else None. The older (lower) id survives."""
    if second is None or second[0] < JOIN_THRESHOLD or second[0] < MERGE_RATIO * best[0]:
        return None
    return min(best[1], second[1]), max(best[1], second[1])


def is_lookup_key(key: str, common: Collection[str] = ()) -> bool:
    """Whether a feature says which event an article is about, so that it may find (and lock)
    candidate stories: not a year (in a window of days nearly every article names the current
    one), not a number with fewer than :data:`KEY_DIGITS` significant digits and no scale
    (``1``, ``2``, ``10``, ``4.5``: counts and ranks any article has; ``1.7e9``, ``2025`` as a
    number of several digits, ``109`` are kept), not an entity whose word is in ``common`` (the
    article also writes it in lower case: a function word or common noun capitalised at a
    sentence's start, ``Die``/``die``, ``The``/``the``, in any language written with case; or
    its language's stop list has it, :func:`stop_words`)."""
    kind, value = key[0], key[2:]
    if kind == "y":
        return False
    if kind == "n":
        mantissa, _, scale = value.partition("e")
        return bool(scale) or len(mantissa.replace(".", "").strip("0")) >= KEY_DIGITS
    if kind == "e":
        return value not in common
    return True


def lookup_keys(
    vector: dict[str, float], limit: int = LOOKUP_KEYS, common: Collection[str] = ()
) -> list[str]:
    """What finds the article's candidate stories: its ``limit`` heaviest features, entities,
    numbers and dates first, less those that are no lookup keys (:func:`is_lookup_key`). A
    dropped feature is not replaced by a lighter one: that would be a content word, shared by
    more articles than the names and numbers it would stand in for."""
    ranked = sorted(vector.items(), key=lambda kv: (kv[0][0] == "w", -kv[1], kv[0]))
    return [k for k, _ in ranked[:limit] if is_lookup_key(k, common)]


def key_hash(key: str) -> int:
    """A feature's stable signed 64-bit id (blake2b), for the database index and locks."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def _days(a: datetime, b: datetime) -> float:
    return abs((a - b).total_seconds()) / 86400.0


def distance_days(at: datetime, first: datetime, last: datetime, at_end: datetime | None = None) -> float:
    """Days from ``at`` (or the span at..at_end, a date known to the month) to the span
    first..last: 0 when they overlap."""
    end = at_end or at
    if end < first:
        return _days(first, end)
    if at > last:
        return _days(at, last)
    return 0.0


def decay(distance: float) -> float:
    """Weight of a story ``distance`` days away from an article."""
    if distance > WINDOW_DAYS:
        return 0.0
    return 1.0 if distance <= GRACE_DAYS else math.exp(-(distance - GRACE_DAYS) / TAU_DAYS)


@dataclass
class Story:
    """One story held in memory by :class:`StoryIndex`."""

    id: int
    first_seen: datetime
    last_seen: datetime
    total: dict[str, float]
    members: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Assignment:
    """Where an article went: its story (None: too short to seed one) and the evidence; the
    story it merged into its own, if it bridged two."""

    story_id: int | None
    created: bool
    score: float
    merged: int | None = None


class StoryIndex:
    """The clustering in memory: the same rule as the database path, every story a candidate
    unless the caller names the candidates."""

    def __init__(self) -> None:
        self.stories: dict[int, Story] = {}
        self.merged: dict[int, int] = {}  # merged story id -> the story it went into
        self._next = 1

    def ranked(
        self,
        vector: dict[str, float],
        at: datetime,
        at_end: datetime | None = None,
        candidates: Collection[int] | None = None,
    ) -> list[tuple[float, int]]:
        """(score after time decay, story id) of the stories in the window, best first; only
        ``candidates`` (story ids) when given, as the store scores only the stories its lookup
        keys find (:mod:`monitors.group.story_eval` replays that lookup)."""
        scored = []
        pool = self.stories.values() if candidates is None else (self.stories[i] for i in candidates)
        for story in pool:
            weight = decay(distance_days(at, story.first_seen, story.last_seen, at_end))
            if weight:
                scored.append((cosine(vector, story.total) * weight, story.id))
        scored.sort(key=lambda r: (-r[0], r[1]))
        return scored

    def best(
        self, vector: dict[str, float], at: datetime, at_end: datetime | None = None
    ) -> tuple[Story | None, float]:
        """The most similar story after time decay, and its score."""
        ranked = self.ranked(vector, at, at_end)
        if not ranked or ranked[0][0] <= 0:
            return None, 0.0
        return self.stories[ranked[0][1]], ranked[0][0]

    def merge(self, survivor: int, gone: int) -> None:
        """Fold story ``gone`` into ``survivor``: members, centroid and span."""
        keep, old = self.stories[survivor], self.stories.pop(gone)
        keep.total = add_vectors(keep.total, old.total)
        keep.first_seen, keep.last_seen = (
            min(keep.first_seen, old.first_seen),
            max(keep.last_seen, old.last_seen),
        )
        keep.members += old.members
        for k, v in self.merged.items():
            if v == gone:
                self.merged[k] = survivor
        self.merged[gone] = survivor

    def join(
        self, story: Story, article_id: int, vector: dict[str, float], at: datetime, at_end: datetime | None
    ) -> None:
        story.total = add_vectors(story.total, vector)
        if at_end is None:  # a date known to the month does not stretch the story's span
            story.first_seen, story.last_seen = min(story.first_seen, at), max(story.last_seen, at)
        story.members.append(article_id)

    def assign(
        self,
        article_id: int,
        vector: dict[str, float],
        at: datetime,
        words: int,
        story_id: int | None = None,
        at_end: datetime | None = None,
        candidates: Collection[int] | None = None,
    ) -> Assignment:
        """Put the article in ``story_id`` (a copy's original's story) or the best story (of
        ``candidates`` when given, else of all), or a new one."""
        story_id = self.merged.get(story_id, story_id) if story_id is not None else None
        if story_id is not None and story_id in self.stories:
            self.join(self.stories[story_id], article_id, vector, at, at_end)
            return Assignment(story_id, False, 1.0)
        ranked = self.ranked(vector, at, at_end, candidates)
        score = ranked[0][0] if ranked else 0.0
        if ranked and score >= JOIN_THRESHOLD:
            pair = merge_pair(ranked[0], ranked[1] if len(ranked) > 1 else None)
            target, gone = pair if pair else (ranked[0][1], None)
            if gone is not None:
                self.merge(target, gone)
            self.join(self.stories[target], article_id, vector, at, at_end)
            return Assignment(target, False, score, gone)
        if words < MIN_SEED_WORDS or not vector:
            return Assignment(None, False, score)
        new = Story(self._next, at, at_end or at, {})
        self._next += 1
        self.stories[new.id] = new
        self.join(new, article_id, vector, at, None)
        return Assignment(new.id, True, score)

    def story_of(self, story_id: int) -> int:
        """The live story a (possibly merged) story id now is."""
        return self.merged.get(story_id, story_id)

    def clusters(self) -> Iterable[list[int]]:
        return (s.members for s in self.stories.values())
