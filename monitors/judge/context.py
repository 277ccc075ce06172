"""Relevance in context: a short text judged with the batch it came in (pure).

A paragraph rarely stands alone: ``veille score`` gets a file of lines, ``veille eval`` a
split, and a paragraph lifted from summit coverage that names nothing of the summit often sits
beside the article it came from, or beside other coverage of the same story. This is classic
pseudo-relevance feedback (the items the rules found confidently are taken as relevant, and
their closest neighbours follow), with the story vectors of :mod:`monitors.group.stories`
(named entities, numbers with scale, dates, mapped content words) as the similarity:

- **seeds**: items the rules found relevant *with an anchor* (evidence of the groups that name
  the event whatever the date, ``anchor = true``, of at least ``scoring.tie_min``; not
  dominated by another event): confidently about the event, not by its themes only, nor by a
  name that needs the date ("the AI summit");
- **candidates**: short texts (``[short_text]``: no title nor lead, at most ``max_words``
  words) the rules did not find relevant, not published outside the active period and not
  naming another event (no ``[[disambiguation]]`` case, even recalled);
- a candidate is relevant when one seed is close: cosine of their vectors, times the stories'
  time decay when both are dated (:func:`monitors.group.stories.decay`), at least
  :data:`MIN_SIMILARITY`, and at least :data:`MIN_SHARED` *distinctive* shared names or
  numbers (``e:``/``n:`` features held by at most :data:`MAX_SHARE` of the batch's items:
  "Macron", "IA" or "Mistral", which every item of a batch on French AI holds, say nothing
  of which story; a name is a word capitalised inside a sentence, and a run of such words,
  "United Arab Emirates", counts once).

One hop from the rules' confident set only: a text made relevant by its context never seeds
another (the result does not depend on the order of the batch, and errors do not chain).
The evidence names the neighbour, the similarity and the shared features (``context``).
"""

from __future__ import annotations

import calendar
import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from monitors.group.copies import _TOKEN, fold, word_spans
from monitors.group.stories import cosine, decay, features
from monitors.judge.days import WEEKDAYS, read_published
from monitors.judge.relevance import RelevanceResult
from monitors.judge.topic import Topic

__all__ = [
    "MAX_SHARE",
    "Batch",
    "read_batch",
    "MIN_SHARED",
    "MIN_SIMILARITY",
    "is_candidate",
    "is_seed",
    "names",
    "propagate",
    "shared_names",
]

#: chosen by leave-one-story-out cross-validation on the shared dev split (docs/topics.md,
#: "Paragraphs in context")
MIN_SIMILARITY = 0.3
MIN_SHARED = 2
MAX_SHARE = 0.1
NEIGHBOUR_CHARS = 100
#: kinds of features that name a story (entities, numbers with scale)
_NAMING = ("e:", "n:")


#: what may end a sentence or open a quote before its first word (Chinese and Japanese full
#: stop and corner brackets included: NFKC leaves them, where it makes "！" "!")
_OPENERS = frozenset('.!?:;\n"«»“”(。「『')


def names(text: str, title: str | None = None) -> dict[str, str]:
    """Words capitalised inside a sentence (not its first word, not a weekday), lower-cased as
    :func:`monitors.group.stories.features` keys them ("Si", "Monday" or "Décryptage" opening a
    sentence are not names), each with the run of capitalised words it sits in ("Global South",
    "United Arab Emirates": one name however many words)."""
    found: dict[str, str] = {}
    for part in (title or "", text):
        folded = fold(part)
        run: list[str] = []
        words: list[str] = []
        end = -1
        for token, start, stop in word_spans(_TOKEN, folded):
            capital = token[0].isupper() and len(token) > 1 and token.lower() not in WEEKDAYS
            if not capital or folded[end:start].strip():
                for word in words:
                    found.setdefault(word, " ".join(run))
                run, words = [], []
            end = stop
            if not capital:
                continue
            run.append(token.lower())
            i = start - 1
            while i >= 0 and folded[i] in " \t":
                i -= 1
            if i >= 0 and folded[i] not in _OPENERS:
                words.append(token.lower())
        for word in words:
            found.setdefault(word, " ".join(run))
    return found


def _span(item: Mapping[str, Any]) -> tuple[date, date] | None:
    """The days a line's ``published_at`` covers: one day, or a month ("2025-02") or a year
    ("2025") as a span, as the stories read a date known to the month."""
    try:
        read = read_published(item.get("published_at"))
    except ValueError:
        return None
    if read is None:
        return None
    start, precision = read
    if precision == "year":
        return start, date(start.year, 12, 31)
    if precision == "month":
        return start, date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
    return start, start


def _gap(a: tuple[date, date], b: tuple[date, date]) -> float:
    """Days between two spans (0 when they overlap)."""
    if a[1] < b[0]:
        return float((b[0] - a[1]).days)
    if b[1] < a[0]:
        return float((a[0] - b[1]).days)
    return 0.0


def own_anchor(topic: Topic, result: RelevanceResult) -> float:
    """The evidence of the groups that name this event whatever the date (``anchor = true``:
    its name, venue, outcomes), background mentions discounted; not the names that need a date
    ("the AI summit" names June's G7 as well when it is dated in the period)."""
    matched = result.evidence.get("matched") or {}
    return sum(m.get("contribution", 0.0) for m in matched.values() if m.get("group") in topic.anchor_groups)


def is_seed(topic: Topic, result: RelevanceResult) -> bool:
    """Relevant by the rules, naming the event (``own_anchor`` of at least ``scoring.tie_min``),
    not dominated by another event."""
    dis = result.evidence.get("disambiguation") or {}
    return result.relevant and not dis.get("dominated") and own_anchor(topic, result) >= topic.tie_min


def is_candidate(result: RelevanceResult) -> bool:
    """A short text (the rules read it by ``[short_text]``: no title nor lead, at most
    ``max_words`` words, not published outside the period) they did not find relevant, naming no
    other event (no ``[[disambiguation]]`` case, even recalled)."""
    evidence = result.evidence
    return (
        not result.relevant
        and evidence.get("short_text") is not None
        and not (evidence.get("disambiguation") or {}).get("cases")
    )


def _text(item: Mapping[str, Any]) -> tuple[str, str | None]:
    return str(item.get("text") or ""), item.get("title") or None


@dataclass(frozen=True)
class Batch:
    """What the propagation reads of a batch's items: their story vectors, names and dates,
    and how many items hold each name or number (computed once, whatever the topic)."""

    vectors: list[dict[str, float]]
    names: list[dict[str, str]]
    spans: list[tuple[date, date] | None]
    share: Counter[str]


def read_batch(items: Sequence[Mapping[str, Any]]) -> Batch:
    """The batch's vectors, names, date spans and the share of each name or number."""
    vectors = [features(*_text(item)) for item in items]
    return Batch(
        vectors=vectors,
        names=[names(*_text(item)) for item in items],
        spans=[_span(item) for item in items],
        share=Counter(f for vec in vectors for f in vec if f.startswith(_NAMING)),
    )


def propagate(
    topic: Topic,
    items: Sequence[Mapping[str, Any]],
    results: Sequence[RelevanceResult],
    refs: Sequence[Any] | None = None,
    min_similarity: float = MIN_SIMILARITY,
    min_shared: int = MIN_SHARED,
    max_share: float = MAX_SHARE,
    same_source: bool = True,
    batch: Batch | None = None,
) -> list[RelevanceResult]:
    """The batch's results, short texts close to a confident item made relevant (module doc).

    ``items`` are the batch's lines (``text``, ``title``, ``published_at``, ``id``, ``url``),
    ``results`` the rules' results for them, in the same order; ``refs`` what the evidence calls
    each item (default: its position from 1; ``veille score`` passes line numbers).
    ``same_source=False`` ignores neighbours from the same page (same ``url``, or ``id`` before a
    ``#``: a paragraph cut from that article), to measure what other coverage alone gives;
    ``batch``: :func:`read_batch` of the items, when already computed."""
    out = list(results)
    seeds = [k for k, r in enumerate(results) if is_seed(topic, r)]
    candidates = [k for k, r in enumerate(results) if is_candidate(r)]
    if not seeds or not candidates:
        return out
    batch = batch or read_batch(items)
    vectors, named, spans, share = batch.vectors, batch.names, batch.spans, batch.share
    # a name or number that many of the batch's items hold ("Macron", "IA", "Mistral" in a
    # batch on French AI) says nothing of which story
    limit = max(2.0, max_share * len(items))
    # a seed can lift a candidate only when they share min_shared distinctive names or numbers:
    # with min_shared >= 1, only the seeds holding one of the candidate's are compared (the same
    # result, in the same order; every pair was, a time quadratic in the batch)
    by_feature: dict[str, list[int]] = {}
    if min_shared >= 1:
        for s in seeds:
            for f in vectors[s]:
                if f.startswith(_NAMING) and share[f] <= limit:
                    by_feature.setdefault(f, []).append(s)
    for k in candidates:
        best: tuple[float, int, list[str]] | None = None
        near = sorted({s for f in vectors[k] for s in by_feature.get(f, ())}) if min_shared >= 1 else seeds
        for s in near:
            if s == k or not same_source and _same_source(items[k], items[s]):
                continue
            a, b = spans[k], spans[s]
            weight = decay(_gap(a, b)) if a is not None and b is not None else 1.0
            sim = cosine(vectors[k], vectors[s]) * weight
            if sim < min_similarity:
                continue
            shared, distinct = shared_names(
                vectors[k], vectors[s], named[k], named[s], lambda f: share[f] <= limit
            )
            if distinct >= min_shared and (best is None or sim > best[0]):
                best = (sim, s, shared)
        if best is not None:
            sim, s, shared = best
            ref = refs[s] if refs is not None else s + 1
            out[k] = _lifted(topic, results[k], items[s], ref, sim, shared)
    return out


def shared_names(
    a: Mapping[str, float],
    b: Mapping[str, float],
    names_a: Mapping[str, str],
    names_b: Mapping[str, str],
    distinctive: Callable[[str], bool],
) -> tuple[list[str], int]:
    """The names (``e:`` features of words capitalised inside a sentence) and numbers two vectors
    share and ``distinctive`` keeps, and how many distinct ones they are ("Global South" is one
    name: distinct runs of capitalised words, and numbers)."""
    both = {**names_b, **names_a}  # the candidate's runs of words first
    shared = sorted(
        f
        for f in a
        if f in b and distinctive(f) and (f.startswith("n:") or f.startswith("e:") and f[2:] in both)
    )
    return shared, len({both[f[2:]] if f.startswith("e:") else f for f in shared})


def _same_source(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.get("url") and a.get("url") == b.get("url"):
        return True
    ida, idb = str(a.get("id") or ""), str(b.get("id") or "")
    return bool(ida and idb) and ida.split("#")[0] == idb.split("#")[0]


def _lifted(
    topic: Topic,
    result: RelevanceResult,
    neighbour: Mapping[str, Any],
    ref: Any,
    similarity: float,
    shared: list[str],
) -> RelevanceResult:
    text, title = _text(neighbour)
    evidence = dict(result.evidence)
    evidence["context"] = {
        "neighbour": ref,
        "neighbour_id": neighbour.get("id"),
        "neighbour_title": (title or text)[:NEIGHBOUR_CHARS],
        "similarity": round(similarity, 4),
        "shared": shared,
        "decided": True,
    }
    score = round(max(result.score, topic.short_score), 4)
    return dataclasses.replace(result, score=score, relevant=score >= topic.threshold, evidence=evidence)
