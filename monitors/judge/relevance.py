"""Topic relevance scoring: transparent, weighted term matching with co-occurrence rules.

The topic is data (monitors/topics/*.toml, loaded by ``monitors.judge.topic``); text and
patterns are folded alike (``textfold``) and matched in one pass (``matcher``).

Score in [0, 1]: per-group weighted totals (title and lead weigh more than the tail, repeats
have diminishing returns) saturate into strengths; the required groups must all be present
(an AI term AND a summit term); the geometric mean of their strengths is lifted by the
Paris-anchor strength, then damped when evidence of another event (Bletchley, Seoul, New Delhi,
the EU AI Act alone, a product launch, another summit) comes without a tie to Paris. Scoring
gives the same scores and evidence as one pass per sentence did, with per token only C-level
work (split, a dict test): it runs right after an extraction that evicts caches.

``_score`` runs named steps (``_tally`` the mentions per zone, ``_weigh_rules``, ``_strengths``,
``_rules_score``, ``_other_events``, ``_damping``, ``_learned``); a paragraph read on its own is
decided by ``short_text``, the page's address read by ``url_words``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from monitors.group.copies import INVISIBLE
from monitors.judge.days import parse_published
from monitors.judge.learned import dense_features, model_text
from monitors.judge.matcher import Hits, Matcher, Proximity, Term, near, run_tokens
from monitors.judge.short_text import short_text
from monitors.judge.textfold import BREAK_SEPARATOR, ends_within, fold_article, sentence_at
from monitors.judge.topic import URL_ZONE, Topic
from monitors.judge.url_words import url_words

_BEST_SENTENCE_CHARS = 400


def score_item(topic: Topic, item: Mapping[str, Any], url: bool = True) -> RelevanceResult:
    """Score a labelled item ({"text", "title", "published_at", "url"}); a date that does not
    parse is ignored (``veille score`` warns about it, labelled sets are not the place to).
    ``url=False`` leaves the page's address out (what the text alone gives)."""
    try:
        published = parse_published(item.get("published_at"))
    except ValueError:
        published = None
    return score_relevance(
        topic,
        item.get("text", ""),
        title=item.get("title"),
        published_at=published,
        url=item.get("url") if url else None,
    )


@dataclass(frozen=True)
class RelevanceResult:
    """Score in [0, 1], the verdict against the topic threshold, and why."""

    score: float
    relevant: bool
    terms: list[str]
    evidence: dict[str, Any]
    topic_version: str


def _in_background(found: list[tuple[int, int]], markers: list[tuple[int, int]], window: int) -> int:
    """How many of ``found`` start within ``window`` tokens after the end of a background marker."""
    return sum(1 for i, _ in found if any(0 <= i - (m + size) <= window for m, size in markers))


def _background_discount(n_background: int, zones: Mapping[str, int], factor: float) -> float:
    """The share of a term's weight kept when n_background of its mentions are background."""
    total = sum(zones.values())
    return 1.0 - (1.0 - factor) * min(n_background, total) / total


def _zone_counts_total(zone_counts: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """Zone-weighted total with diminishing returns on repeats: 1 + ln(count) per zone."""
    return sum(weights[z] * (1.0 + math.log(c)) for z, c in zone_counts.items() if c > 0)


def _strength(total: float, saturation: float) -> float:
    return 1.0 - math.exp(-total / saturation) if total > 0 else 0.0


#: ``copies.INVISIBLE``: folded as other non-letters, they cut a word in two
#: ("intelli\u00adgence" was the words "intelli gence", matching no term), so they are deleted
#: before scoring (the byte fold of long texts would make them spaces), as every fold does
_INVISIBLE_RE = re.compile("[" + INVISIBLE + "]")


def _visible(value: str) -> str:
    """``value`` without :data:`_INVISIBLE_RE`'s characters (ASCII text is left as it is).

    Each is looked for with ``in`` (memchr-fast): searching the class with the regex took
    about 30 times as long on an article."""
    if value.isascii() or not any(ch in value for ch in INVISIBLE):
        return value
    return _INVISIBLE_RE.sub("", value)


@dataclass(frozen=True, slots=True)
class PreparedText:
    """What scoring reads of an article whatever the topic, made once per article
    (``prepare_text``): its visible parts, their folded run and its lower-case tokens."""

    text: str
    title: str
    description: str
    run: bytes  # ``fold_article``'s run, its first text piece and the text's sentence ends
    first_text: int
    text_ends: int
    tokens: list[bytes]  # ``run_tokens(run)``


def prepare_text(text: str | None, title: str | None = None, description: str | None = None) -> PreparedText:
    """The topic-independent part of scoring an article: invisible characters removed, parts
    folded into one run (``fold_article``), its tokens split (``run_tokens``)."""
    text = _visible(text or "")
    title = _visible(title or "").strip()
    description = _visible(description or "").strip()
    run, first_text, text_ends = fold_article(title, description, text)
    return PreparedText(text, title, description, run, first_text, text_ends, run_tokens(run))


@lru_cache(maxsize=8)
def _union(matchers: tuple[Matcher, ...]) -> Matcher:
    """The topics' matchers as one (``Matcher.union``), built once per set of topics."""
    return Matcher.union(matchers)


def score_topics(
    topics: Sequence[Topic],
    text: str,
    title: str | None = None,
    description: str | None = None,
    published_at: date | None = None,
    url: str | None = None,
) -> list[RelevanceResult]:
    """``score_relevance`` of one article for each of ``topics``, in their order, with the same
    results: the article is folded, split and scanned once for all of them (one scan of the
    union of their matchers), the part that depends on the text alone done once."""
    prepared = prepare_text(text, title, description)
    if len(topics) == 1:
        return [_score(topics[0], prepared, published_at, url)]
    matcher = _union(tuple(t.matcher for t in topics))
    parts = matcher.scan_tokens(prepared.tokens, prepared.run)
    return [_score(t, prepared, published_at, url, hits) for t, hits in zip(topics, parts, strict=True)]


def score_relevance(
    topic: Topic,
    text: str,
    title: str | None = None,
    description: str | None = None,
    published_at: date | None = None,
    url: str | None = None,
) -> RelevanceResult:
    """Score a text (with optional title, description/lead, publication date and page URL)
    against a topic.

    Aboutness, not mentions: an anchor mention inside a background clause ("depuis le sommet de
    Paris", "after the Paris summit") weighs less; another event whose evidence outweighs the
    anchor's damps the score; so does a publication date outside the topic's active period.
    The URL's path words (``url_words``) are a weak zone of their own (``[zones] url``; 0, the
    default, leaves them out): the page's address says what the page is about, also for a
    paragraph read without its title. Several topics: ``score_topics``.
    """
    return _score(topic, prepare_text(text, title, description), published_at, url)


#: one piece's matches: owner -> (token, size) of each
_PieceHits = dict[int, list[tuple[int, int]]]


def _zone(piece: int, first_text: int, lead: int, body: int) -> str:
    """The zone of a piece of the folded run: -1 is the URL's words, 0 the title, then the
    description (lead), then the text's sentences by how far they end (lead, body, tail)."""
    if piece < 0:
        return URL_ZONE
    if piece == 0:
        return "title"
    if piece < first_text:
        return "lead"
    j = piece - first_text
    return "lead" if j <= lead else "body" if j <= body else "tail"


def _add(zones_of: dict[str, dict[str, int]], name: str, zone: str, n: int) -> None:
    """Count ``n`` mentions of ``name`` in ``zone``."""
    zc = zones_of.setdefault(name, {})
    zc[zone] = zc.get(zone, 0) + n


@dataclass
class _Mentions:
    """What the scan found for a topic, rule by rule and zone by zone: its terms' and
    proximities' mentions, other events' (``[[disambiguation]]`` cases), those inside a
    background clause, the topic's groups the URL's words name, and the piece that weighed most
    (its score, its number; -1: none). Gathered in one pass over the pieces (``_tally``)."""

    term_zones: dict[str, dict[str, int]] = field(default_factory=dict)
    case_zones: dict[str, dict[str, int]] = field(default_factory=dict)
    prox_zones: dict[str, dict[str, int]] = field(default_factory=dict)
    background: dict[str, int] = field(default_factory=dict)  # anchor mentions in a background clause
    case_background: dict[str, int] = field(default_factory=dict)  # other events' mentions there
    url_named: set[str] = field(default_factory=set)
    best: tuple[float, int] = (0.0, -1)


def _tally(
    topic: Topic, zoned: list[tuple[int, _PieceHits]], first_text: int, lead: int, body: int
) -> _Mentions:
    """Count each piece's matches in its zone (``_tally_terms``, ``_tally_proximities``) and
    keep the sentence that weighs most, preferring those that join several groups (the AI term
    AND the summit): the evidence shows it."""
    mentions = _Mentions()
    for piece, hits in zoned:
        zone = _zone(piece, first_text, lead, body)
        groups_here: set[str] = set()
        sentence_score = _tally_terms(topic, mentions, piece, zone, hits, groups_here)
        sentence_score = _tally_proximities(topic, mentions, piece, zone, hits, groups_here, sentence_score)
        sentence_score *= len(groups_here)
        if sentence_score > mentions.best[0] and piece >= 0:
            mentions.best = (sentence_score, piece)
    return mentions


def _tally_terms(
    topic: Topic, mentions: _Mentions, piece: int, zone: str, hits: _PieceHits, groups_here: set[str]
) -> float:
    """Count a piece's term and other-event mentions (less a term's exclusions, those inside a
    background clause apart); the piece's weighted sum of its terms, its groups in ``groups_here``.
    The URL's words count only for the topic's ``url_groups``."""
    sentence_score = 0.0
    bg_owner, bg_window = topic.background_owner, topic.background_window
    anchors = topic.anchor_groups + topic.period_anchor_groups
    plan = topic.plan
    for owner in sorted(hits):  # terms in topic order
        if owner not in plan:  # an exclusion, a proximity side
            continue
        found = hits[owner]
        owner_terms, owner_cases = plan[owner]
        for name, group, weight, exclude_owner in owner_terms:
            if piece < 0:
                if group not in topic.url_groups:
                    continue
                mentions.url_named.add(group)
            n = len(found)
            if exclude_owner in hits:
                spans = [(a, a + size) for a, size in hits[exclude_owner]]
                n = sum(1 for i, _ in found if not any(a <= i < b for a, b in spans))
            if n:
                _add(mentions.term_zones, name, zone, n)
                if bg_owner in hits and group in anchors and piece >= 0:
                    b = _in_background(found, hits[bg_owner], bg_window)
                    if b:
                        mentions.background[name] = mentions.background.get(name, 0) + min(b, n)
                sentence_score += weight * n
                groups_here.add(group)
        for name in owner_cases:
            _add(mentions.case_zones, name, zone, len(found))
            if bg_owner in hits and piece >= 0:
                b = _in_background(found, hits[bg_owner], bg_window)
                if b:
                    mentions.case_background[name] = mentions.case_background.get(name, 0) + b
    return sentence_score


def _tally_proximities(
    topic: Topic,
    mentions: _Mentions,
    piece: int,
    zone: str,
    hits: _PieceHits,
    groups_here: set[str],
    sentence_score: float,
) -> float:
    """Count a piece's proximities (both sides within their window) as ``_tally_terms`` counts
    terms; ``sentence_score`` (the terms' sum) plus their weights, added one by one after the
    terms' (a float sum depends on its order)."""
    bg_owner, bg_window = topic.background_owner, topic.background_window
    anchors = topic.anchor_groups + topic.period_anchor_groups
    for left, right, prox in topic.prox_sides if not topic.prox_lefts.isdisjoint(hits) else ():
        if (
            left in hits
            and right in hits
            and (piece >= 0 or prox.group in topic.url_groups)
            and near(hits[left], hits[right], prox.window)
        ):
            if piece < 0:
                mentions.url_named.add(prox.group)
            _add(mentions.prox_zones, prox.name, zone, 1)
            if (
                piece >= 0
                and bg_owner in hits
                and prox.group in anchors
                and _in_background(hits[left], hits[bg_owner], bg_window)
            ):
                mentions.background[prox.name] = mentions.background.get(prox.name, 0) + 1
            sentence_score += prox.weight
            groups_here.add(prox.group)
    return sentence_score


def _url_names_topic(topic: Topic, address: str, url_named: set[str]) -> bool:
    """Whether the URL's words name this event: one of its anchors (a name that says which
    event: "sommet-ia-paris", "paris-ai-summit", the coalition) and every required group;
    "modi-at-ai-summit" (an AI summit, not which one) or "macron-paris" alone do not, and then
    its words count for nothing (``_drop_url_zone``)."""
    return (
        bool(address)
        and any(g in url_named for g in topic.anchor_groups)
        and all(
            g in url_named or any(g in topic.satisfies.get(h, ()) for h in url_named)
            for g in topic.required_groups
        )
    )


def _drop_url_zone(mentions: _Mentions) -> None:
    """Forget the URL zone's mentions of terms and proximities (a rule left without a zone goes)."""
    for zones_of in (mentions.term_zones, mentions.prox_zones):
        for name in [n for n, z in zones_of.items() if URL_ZONE in z]:
            del zones_of[name][URL_ZONE]
            if not zones_of[name]:
                del zones_of[name]


@dataclass(frozen=True)
class _Period:
    """Whether the text is inside the topic's active period: undated texts are, unless their
    URL names years none of which is in it ("/2026/02/21/", "ai-impact-summit-2026"): such a
    text is from another year, as if dated so."""

    inside: bool
    start: date | None
    end: date | None
    url_years: list[int]
    url_outside: bool


def _period(topic: Topic, published_at: date | None, address: str) -> _Period:
    """The text's place in the topic's active period (``_Period``), from its date or its URL's years."""
    start, end = topic.period
    inside = published_at is None or (
        (start is None or published_at >= start) and (end is None or published_at <= end)
    )
    url_years = sorted({int(w) for w in address.split() if w.isdigit()})
    url_outside = (
        published_at is None
        and bool(url_years)
        and not any((start is None or y >= start.year) and (end is None or y <= end.year) for y in url_years)
    )
    return _Period(inside and not url_outside, start, end, url_years, url_outside)


def _best_sentence(prepared: PreparedText, piece: int) -> str:
    """The text of piece ``piece`` (the title, a sentence of the description or of the text)."""
    if piece < 0:
        return ""
    if piece == 0:
        return prepared.title
    if piece < prepared.first_text:
        return sentence_at(prepared.description, piece - 1)
    return sentence_at(prepared.text, piece - prepared.first_text)


def _weigh_rules(topic: Topic, mentions: _Mentions) -> tuple[dict[str, dict[str, Any]], dict[str, float]]:
    """Each matched term's and proximity's contribution (zone-weighted, diminishing repeats,
    discounted for background mentions) and its evidence entry; the totals per group."""
    matched: dict[str, dict[str, Any]] = {}
    group_totals: dict[str, float] = {}
    rules: list[tuple[Term | Proximity, dict[str, int] | None, bool]]
    rules = [(term, mentions.term_zones.get(term.name), False) for term in topic.terms]
    rules += [(prox, mentions.prox_zones.get(prox.name), True) for prox in topic.proximities]
    for rule, zones, is_proximity in rules:
        if not zones:
            continue
        contribution = rule.weight * _zone_counts_total(zones, topic.zone_weights)
        if rule.name in mentions.background:
            contribution *= _background_discount(
                mentions.background[rule.name], zones, topic.background_factor
            )
        group_totals[rule.group] = group_totals.get(rule.group, 0.0) + contribution
        matched[rule.name] = {
            "group": rule.group,
            "count": sum(zones.values()),
            "zones": dict(zones),
            "contribution": round(contribution, 4),
        }
        if is_proximity:
            matched[rule.name]["proximity"] = True
    return matched, group_totals


def _strengths(topic: Topic, group_totals: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    """Each group's strength (its total saturated), groups that stand in for others (the Paris
    anchors are summit terms too) adding to theirs; and the required groups present."""
    effective = dict(group_totals)
    for group, stands_for in topic.satisfies.items():
        for other in stands_for:
            effective[other] = effective.get(other, 0.0) + group_totals.get(group, 0.0)
    strengths = {
        g: _strength(effective.get(g, 0.0), topic.saturation.get(g, 3.0))
        for g in set(topic.required_groups) | set(effective)
    }
    satisfied = [g for g in topic.required_groups if effective.get(g, 0.0) > 0]
    return strengths, satisfied


def _anchor_total(topic: Topic, group_totals: Mapping[str, float], dated_inside: bool) -> float:
    """The anchors' total: the names that say which event, plus the names that need a date ("the
    AI summit") when the text is dated inside the period."""
    anchor_total = sum(group_totals.get(g, 0.0) for g in topic.anchor_groups)
    if dated_inside:
        anchor_total += sum(group_totals.get(g, 0.0) for g in topic.period_anchor_groups)
    return anchor_total


def _rules_score(
    topic: Topic, strengths: Mapping[str, float], cooccurrence: bool, anchor_total: float
) -> float:
    """With every required group present, the geometric mean of their strengths lifted by the
    anchors' strength; else the mean strength, capped at ``missing_group_cap``."""
    anchor_strength = _strength(anchor_total, topic.saturation.get("anchor", 3.0))
    if cooccurrence:
        base = math.prod(strengths[g] for g in topic.required_groups) ** (1.0 / len(topic.required_groups))
        return base * (topic.anchor_floor + (1.0 - topic.anchor_floor) * anchor_strength)
    present = [strengths[g] for g in topic.required_groups]
    return topic.missing_group_cap * sum(present) / len(present)


def _other_events(topic: Topic, mentions: _Mentions) -> tuple[dict[str, dict[str, Any]], float]:
    """Other events' evidence per ``[[disambiguation]]`` case (count, contribution, and what is
    left of it once its mentions in a background clause are discounted: ``recalled``), and
    their total contribution."""
    cases: dict[str, dict[str, Any]] = {}
    competitor_total = 0.0
    for case in topic.cases:
        c_zones = mentions.case_zones.get(case.name)
        if not c_zones:
            continue
        contribution = case.weight * _zone_counts_total(c_zones, topic.zone_weights)
        competitor_total += contribution
        entry = cases.setdefault(case.name, {"count": 0, "contribution": 0.0})
        entry["count"] += sum(c_zones.values())
        entry["contribution"] = round(entry["contribution"] + contribution, 4)
        if case.name in mentions.case_background:
            # "after Bletchley and Seoul", "previous summits in South Korea": that event is
            # recalled, not reported; read so by short texts only
            background = mentions.case_background[case.name]
            entry["background"] = min(background, entry["count"])
            contribution *= _background_discount(background, c_zones, topic.background_factor)
        entry["recalled"] = round(entry.get("recalled", 0.0) + contribution, 4)
    return cases, competitor_total


@dataclass(frozen=True)
class _Damping:
    """The factor another event applies to the score, whether the text is tied to the topic's
    anchors (``tie_min``), and whether another event dominates it."""

    factor: float
    tied: bool
    dominated: bool


def _damping(
    topic: Topic,
    mentions: _Mentions,
    matched: Mapping[str, Mapping[str, Any]],
    group_totals: Mapping[str, float],
    cases: Mapping[str, Mapping[str, Any]],
    competitor_total: float,
    anchor_total: float,
) -> _Damping:
    """Another event without a tie to the topic damps the score in proportion to the anchors
    found; tied, it still damps it to ``penalty_floor`` when it dominates: when it alone (one
    case) outweighs the topic's own anchors (not the in-period names: "the AI summit" fits the
    other event as well), or when the title names it and no anchor."""
    anchors = topic.anchor_groups + topic.period_anchor_groups
    tied = anchor_total >= topic.tie_min
    strongest = max((c["contribution"] for c in cases.values()), default=0.0)
    own_anchor = sum(group_totals.get(g, 0.0) for g in topic.anchor_groups)
    title_other = any("title" in z for z in mentions.case_zones.values())
    title_anchor = any("title" in m["zones"] for m in matched.values() if m["group"] in anchors)
    dominated = topic.dominance > 0 and (
        strongest >= topic.tie_min
        and strongest > topic.dominance * own_anchor
        or (title_other and not title_anchor)
    )
    factor = 1.0
    if competitor_total > 0 and not tied:
        factor = topic.penalty_floor + (1.0 - topic.penalty_floor) * anchor_total / topic.tie_min
    elif dominated:  # tied to the topic, but another event weighs more: that event is the subject
        factor = topic.penalty_floor
    return _Damping(factor, tied, dominated)


def _learned(
    topic: Topic,
    prepared: PreparedText,
    score: float,
    damping: float,
    dated: bool,
    inside: bool,
    ai_strength: float,
) -> tuple[float, dict[str, Any] | None]:
    """The rules found the topic's words but not enough: the learned part (``[model]``) may lift
    the score, under the same ``damping`` (another event, outside the period). The score and the
    model's evidence."""
    assert topic.model is not None
    features = dense_features(dated, inside, ai_strength, score)
    reads = model_text(prepared.text, prepared.title)
    probability = topic.model.probability(reads, features)
    lifted = min(1.0, topic.threshold * probability * damping / topic.model_threshold)
    learned: dict[str, Any] = {
        "probability": round(probability, 4),
        "threshold": topic.model_threshold,
        "damping": round(damping, 4),
        "decided": lifted >= topic.threshold,
    }
    if lifted >= topic.threshold:
        learned["features"] = topic.model.explain(reads, features)
    return max(score, lifted), learned


def _score(
    topic: Topic,
    prepared: PreparedText,
    published_at: date | None,
    url: str | None,
    scanned: Hits | None = None,
) -> RelevanceResult:
    """``score_relevance`` of a prepared article; ``scanned``: its matches by the topic's matcher
    when already scanned (``score_topics``). The steps: count the mentions per zone, weigh them
    into group strengths, require the groups together, lift by the anchors, damp for another
    event and outside the period, then the short-text rules and the learned model may lift."""
    if scanned is None:
        scanned = topic.matcher.scan_tokens(prepared.tokens, prepared.run)[0]
    zoned = list(scanned.items())
    # the URL stands in for a missing title: a slug is made from the title, so with one it says
    # nothing more
    address = url_words(url, topic) if url and not prepared.title and topic.zone_weights[URL_ZONE] > 0 else ""
    if address:
        # one piece of its own, numbered -1: a zone apart, never the best sentence
        zoned += [(-1, hits) for hits in topic.matcher.scan(address.encode() + BREAK_SEPARATOR).values()]
    lead = ends_within(prepared.text, topic.lead_chars, prepared.text_ends)
    body = ends_within(prepared.text, topic.tail_after_chars, prepared.text_ends)
    mentions = _tally(topic, zoned, prepared.first_text, lead, body)
    period = _period(topic, published_at, address)
    url_names_topic = _url_names_topic(topic, address, mentions.url_named)
    if mentions.url_named and not url_names_topic:
        _drop_url_zone(mentions)

    matched, group_totals = _weigh_rules(topic, mentions)
    strengths, satisfied = _strengths(topic, group_totals)
    cooccurrence = len(satisfied) == len(topic.required_groups)
    anchor_total = _anchor_total(topic, group_totals, published_at is not None and period.inside)
    score = _rules_score(topic, strengths, cooccurrence, anchor_total)

    cases, competitor_total = _other_events(topic, mentions)
    damping = _damping(topic, mentions, matched, group_totals, cases, competitor_total, anchor_total)
    score *= damping.factor
    if not period.inside:
        score *= topic.outside_factor
    score = min(1.0, max(0.0, score))

    # a paragraph read on its own weighs another event as the text does: recalled in a background
    # clause, it weighs background_factor of a mention
    strongest_recalled = max((c["recalled"] for c in cases.values()), default=0.0)
    short = short_text(
        topic,
        score,
        prepared.title,
        prepared.description,
        prepared.text,
        published_at,
        period.inside,
        group_totals,
        strongest_recalled,
    )
    if short is not None and short["decided"]:
        score = max(score, topic.short_score)
    learned: dict[str, Any] | None = None
    if topic.model is not None and score < topic.threshold and matched:
        overall = damping.factor * (1.0 if period.inside else topic.outside_factor)
        ai_strength = strengths[topic.required_groups[0]]
        score, learned = _learned(
            topic, prepared, score, overall, published_at is not None, period.inside, ai_strength
        )
    ordered = sorted(
        (name for name, m in matched.items() if not m.get("proximity")),
        key=lambda n: (-matched[n]["contribution"], n),
    )
    evidence: dict[str, Any] = {
        "matched": matched,
        "groups": {g: round(strengths[g], 4) for g in sorted(strengths)},
        "required_groups": list(topic.required_groups),
        "groups_satisfied": satisfied,
        "cooccurrence": cooccurrence,
        "anchor": round(anchor_total, 4),
        "disambiguation": {
            "applied": damping.factor < 1.0,
            "tied_to_paris": damping.tied,
            "cases": cases,
            "competitor": round(competitor_total, 4),
            "factor": round(damping.factor, 4),
            "dominated": damping.dominated,
        },
        "background": dict(sorted(mentions.background.items())),
        "period": {
            "published_at": published_at.isoformat() if published_at else None,
            "inside": period.inside,
            "start": period.start.isoformat() if period.start else None,
            "end": period.end.isoformat() if period.end else None,
            "url_years": period.url_years,
            "url_outside": period.url_outside,
        },
        "model": learned,
        "short_text": short,
        "url": address or None,
        "url_names_topic": url_names_topic,
        "best_sentence": _best_sentence(prepared, mentions.best[1])[:_BEST_SENTENCE_CHARS],
        "threshold": topic.threshold,
    }
    score = round(score, 4)
    return RelevanceResult(
        score=score,
        relevant=score >= topic.threshold,
        terms=ordered,
        evidence=evidence,
        topic_version=topic.version,
    )


def topic_row(topic: Topic, result: RelevanceResult) -> dict[str, Any]:
    """One ``article_topics`` row (without the article id) for a topic's result."""
    return {
        "topic": topic.name,
        "version": result.topic_version,
        "score": result.score,
        "relevant": result.relevant,
        "terms": list(result.terms),
        "evidence": json.dumps(result.evidence, ensure_ascii=False),
    }
