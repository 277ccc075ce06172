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
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from monitors.group.copies import INVISIBLE
from monitors.judge.days import day_named_in, parse_published
from monitors.judge.learned import dense_features, model_text
from monitors.judge.matcher import Hits, Matcher, Proximity, Term, near, run_tokens
from monitors.judge.textfold import BREAK_SEPARATOR, ends_within, fold, fold_article, sentence_at
from monitors.judge.topic import URL_ZONE, Topic

_BEST_SENTENCE_CHARS = 400


#: path words of no meaning: file extensions and the like
_URL_NOISE = frozenset({"html", "htm", "shtml", "php", "asp", "aspx", "jsp", "amp", "index"})
#: elided articles and prepositions that URL slugs glue to the next word ("sommet-pour-lia",
#: "lintelligence-artificielle", "daction")
_URL_ELISIONS = ("l", "d")
_VOWELS = frozenset("aeiouyh")


def url_words(url: str | None, topic: Topic) -> str:
    """The words of a URL's path as the topic reads them: ``https://x.fr/2025/02/10/sommet-pour-lia-a-paris``
    -> "2025 sommet pour l IA a paris".

    The host and query say nothing of the subject ("nation.ai", "?p=7562") and are left out; so
    are numbers other than years, identifiers mixing letters and digits (longer than 6
    characters: "g7" and "cop28" stay) and file extensions. An elided article glued to its word
    ("lia", "lintelligence") is split off when the rest is a word the topic's patterns start
    with, and words of case-sensitive patterns take their case ("ia" -> "IA"): slugs are lower
    case.
    """
    if not url:
        return ""
    try:
        path = unquote(urlsplit(url.strip()).path)
    except ValueError:
        return ""
    first = topic.matcher.first
    words: list[str] = []
    for token in fold(path).split():
        if token.isdigit():
            if len(token) == 4 and token[:2] in ("19", "20"):
                words.append(token)
            continue
        if token in _URL_NOISE or (len(token) > 6 and not token.isalpha()):
            continue
        if (
            len(token) > 2
            and token[0] in _URL_ELISIONS
            and token[1] in _VOWELS
            and token[1:].encode() in first
        ):
            words.append(token[0])
            token = token[1:]
        words.append(topic.url_cased.get(token, token))
    return " ".join(words)


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


def _short_text(
    topic: Topic,
    score: float,
    title: str,
    description: str,
    text: str,
    published_at: date | None,
    inside: bool,
    group_totals: Mapping[str, float],
    strongest_case: float,
) -> dict[str, Any] | None:
    """The decision for a short untitled text read on its own, or None when it does not apply.

    A paragraph lifted from an article carries none of its title's words: a summit paragraph
    on the 109 billion says "data centres", "MGX" and "IA", not "sommet". What makes it
    recognisable is the event's own vocabulary (``[short_text] event_groups``: its names,
    people, organisations, places, figures and outcomes) next to the subject
    (``[short_text] groups``: AI, its infrastructure, investments by funds). Such a text (no
    title nor lead, at most ``max_words`` words, not published outside the active period) is
    relevant when it holds a subject word and event evidence of at least ``peak_min`` when
    published in the peak (the days the event dominates its field's coverage), ``period_min``
    otherwise (elsewhere in the period, or undated); or evidence of ``alone_min`` from the
    ``alone_groups`` (facts only this event has) without a subject word; and no other event's
    evidence (the strongest ``[[disambiguation]]`` case)
    outweighs the event's own. ``peak_groups`` (a summit word, people who are in other news too)
    count as event evidence in the peak only: there the date says which event they belong to;
    so does ``peak_subjects`` (AI infrastructure, investments by funds: in the peak, that news
    was the event's announcements), which suffices there without event evidence.

    Most such paragraphs name nothing of the event: ``theme_groups`` ties them by a combination
    (an AI word with one of the event's themes and its scene, its cast, AI next to a theme, or
    its stage of leaders). In the peak or undated, when every entry is met, that evidence counts
    as the event's and ``theme_subjects`` (technology words) count as subjects, unless another
    event, or another subject (``other_groups``: AI in one sector), weighs ``1/dominance`` of it.

    Undated, or dated elsewhere in the period, a text whose own words name a day of the peak
    (``day_named_in``: "lundi 10 février") is read as published in the peak.
    """
    start, end = topic.peak
    if (
        not topic.short_max_words
        or score >= topic.threshold
        or title
        or description
        or not inside  # dated, or its URL dated, outside the period
    ):
        return None
    words = len(text.split())
    if words > topic.short_max_words:
        return None
    in_peak = bool(published_at and start and end and start <= published_at <= end)
    # undated, or dated elsewhere in the period (a preview, an aftermath): a text that names a day
    # of the peak ("lundi 10 février") reports on the peak
    named_day = day_named_in(text, topic.period, (start, end)) if start and end and not in_peak else None
    in_peak = in_peak or named_day is not None
    if not in_peak and math.isinf(topic.short_period_min) and math.isinf(topic.short_alone_min):
        return None  # a topic with the peak rule only
    # the event's themes: each entry of theme_groups is met by one of its groups (peak_groups,
    # people in other news too, and peak_theme_groups, in the peak only); all met, in the peak
    # or undated (elsewhere in the period the date says the event was not the news), the
    # evidence of the groups that met them counts as the event's
    met = [
        [
            g
            for g in entry
            if group_totals.get(g, 0.0) > 0
            and (in_peak or (g not in topic.short_peak_groups and g not in topic.short_peak_theme_groups))
        ]
        for entry in topic.short_theme_groups
    ]
    themed = bool(met) and all(met) and (in_peak or published_at is None)
    theme_hits = sorted({g for entry in met for g in entry}) if themed else []
    # other_groups: evidence of another subject (AI in one sector, a visit to Washington), weighed
    # like another event in short texts only
    strongest_case = max([strongest_case, *(group_totals.get(g, 0.0) for g in topic.short_other_groups)])
    # the themes are the weakest evidence: they count only when they outweigh any other event
    # named by scoring.dominance (the factor by which another event dominates the anchors)
    if strongest_case * max(topic.dominance, 1.0) >= sum(group_totals.get(g, 0.0) for g in theme_hits):
        theme_hits = []
    subject_groups = (*topic.short_groups, *(topic.short_theme_subjects if theme_hits else ()))
    subject = sum(group_totals.get(g, 0.0) for g in subject_groups)
    # names that need a date ("the AI summit") count only when the text is dated in the period (or
    # names a day of the peak)
    event_groups = [
        g
        for g in (*topic.short_event_groups, *(topic.short_peak_groups if in_peak else ()))
        if published_at is not None or named_day is not None or g not in topic.period_anchor_groups
    ]
    own = sum(group_totals.get(g, 0.0) for g in event_groups)
    themes = sum(group_totals.get(g, 0.0) for g in theme_hits if g not in event_groups)
    event = own + themes
    alone = sum(group_totals.get(g, 0.0) for g in topic.short_alone_groups)
    needed = topic.short_peak_min if in_peak else topic.short_period_min
    present = [g for g in (*subject_groups, *event_groups, *theme_hits) if group_totals.get(g, 0.0) > 0]
    present = list(dict.fromkeys(present))
    outweighed = strongest_case > max(own, themes, subject if needed <= 0 else 0.0)
    peak_subject = in_peak and any(group_totals.get(g, 0.0) > 0 for g in topic.short_peak_subjects)
    enough = (subject > 0 and (event >= needed or peak_subject)) or alone >= topic.short_alone_min
    # the gathering itself, without a subject word (a paragraph on the heads of state arriving for
    # the summit names no AI): in the peak only, each entry of bare_groups met, and nothing else
    # named, no other event nor another subject of short texts (the weakest evidence, so the
    # strictest gate)
    bare_met = [[g for g in entry if group_totals.get(g, 0.0) > 0] for entry in topic.short_bare_groups]
    bare = in_peak and bool(bare_met) and all(bare_met) and strongest_case == 0 and not enough
    bare_hits = sorted({g for entry in bare_met for g in entry}) if bare else []
    if bare:
        present = list(dict.fromkeys([*present, *bare_hits]))
    return {
        "words": words,
        "peak": [start.isoformat(), end.isoformat()] if start and end else None,
        "in_peak": in_peak,
        "day": named_day.isoformat() if named_day else None,
        "groups": present,
        "subject": round(subject, 4),
        "event": round(event, 4),
        "theme": theme_hits,
        "bare": bare_hits,
        "needed": needed,
        "other_event": round(strongest_case, 4),
        "decided": (enough and not outweighed) or bare,
    }


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


def _score(
    topic: Topic,
    prepared: PreparedText,
    published_at: date | None,
    url: str | None,
    scanned: Hits | None = None,
) -> RelevanceResult:
    """``score_relevance`` of a prepared article; ``scanned``: its matches by the topic's matcher
    when already scanned (``score_topics``)."""
    text, title, description = prepared.text, prepared.title, prepared.description
    first_text, text_ends = prepared.first_text, prepared.text_ends
    if scanned is None:
        scanned = topic.matcher.scan_tokens(prepared.tokens, prepared.run)[0]
    zoned = list(scanned.items())
    # the URL stands in for a missing title: a slug is made from the title, so with one it says
    # nothing more
    address = url_words(url, topic) if url and not title and topic.zone_weights[URL_ZONE] > 0 else ""
    url_named: set[str] = set()  # the topic's groups the URL's words name
    if address:
        # one piece of its own, numbered -1: a zone apart, never the best sentence
        zoned += [(-1, hits) for hits in topic.matcher.scan(address.encode() + BREAK_SEPARATOR).values()]
    lead = ends_within(text, topic.lead_chars, text_ends)
    body = ends_within(text, topic.tail_after_chars, text_ends)

    term_zones: dict[str, dict[str, int]] = {}
    case_zones: dict[str, dict[str, int]] = {}
    prox_zones: dict[str, dict[str, int]] = {}
    background: dict[str, int] = {}  # anchor mentions inside a background clause, per name
    case_background: dict[str, int] = {}  # the same for other events' mentions, per case
    bg_owner, bg_window = topic.background_owner, topic.background_window
    anchors = topic.anchor_groups + topic.period_anchor_groups
    start, end = topic.period
    inside = published_at is None or (
        (start is None or published_at >= start) and (end is None or published_at <= end)
    )
    # an undated text whose URL names years, none of them inside the period ("/2026/02/21/",
    # "ai-impact-summit-2026"), is from another year: outside the period, as if dated so
    url_years = sorted({int(w) for w in address.split() if w.isdigit()})
    url_outside = (
        published_at is None
        and bool(url_years)
        and not any((start is None or y >= start.year) and (end is None or y <= end.year) for y in url_years)
    )
    if url_outside:
        inside = False
    best: tuple[float, int] = (0.0, -1)
    plan = topic.plan
    prox_lefts = topic.prox_lefts
    for piece, hits in zoned:
        if piece < 0:
            zone = URL_ZONE
        elif piece == 0:
            zone = "title"
        elif piece < first_text:
            zone = "lead"
        else:
            j = piece - first_text
            zone = "lead" if j <= lead else "body" if j <= body else "tail"
        sentence_score = 0.0
        groups_here: set[str] = set()
        for owner in sorted(hits):  # terms in topic order
            if owner not in plan:  # an exclusion, a proximity side
                continue
            found = hits[owner]
            owner_terms, owner_cases = plan[owner]
            for name, group, weight, exclude_owner in owner_terms:
                if piece < 0:
                    if group not in topic.url_groups:
                        continue
                    url_named.add(group)
                n = len(found)
                if exclude_owner in hits:
                    spans = [(a, a + size) for a, size in hits[exclude_owner]]
                    n = sum(1 for i, _ in found if not any(a <= i < b for a, b in spans))
                if n:
                    zc = term_zones.setdefault(name, {})
                    zc[zone] = zc.get(zone, 0) + n
                    if bg_owner in hits and group in anchors and piece >= 0:
                        b = _in_background(found, hits[bg_owner], bg_window)
                        if b:
                            background[name] = background.get(name, 0) + min(b, n)
                    sentence_score += weight * n
                    groups_here.add(group)
            for name in owner_cases:
                zc = case_zones.setdefault(name, {})
                zc[zone] = zc.get(zone, 0) + len(found)
                if bg_owner in hits and piece >= 0:
                    b = _in_background(found, hits[bg_owner], bg_window)
                    if b:
                        case_background[name] = case_background.get(name, 0) + b
        for left, right, prox in topic.prox_sides if not prox_lefts.isdisjoint(hits) else ():
            if (
                left in hits
                and right in hits
                and (piece >= 0 or prox.group in topic.url_groups)
                and near(hits[left], hits[right], prox.window)
            ):
                if piece < 0:
                    url_named.add(prox.group)
                zc = prox_zones.setdefault(prox.name, {})
                zc[zone] = zc.get(zone, 0) + 1
                if (
                    piece >= 0
                    and bg_owner in hits
                    and prox.group in anchors
                    and _in_background(hits[left], hits[bg_owner], bg_window)
                ):
                    background[prox.name] = background.get(prox.name, 0) + 1
                sentence_score += prox.weight
                groups_here.add(prox.group)
        # prefer sentences that join several groups (the AI term AND the summit)
        sentence_score *= len(groups_here)
        if sentence_score > best[0] and piece >= 0:
            best = (sentence_score, piece)
    # the URL's words count for the topic only when they name this event: one of its anchors (a
    # name that says which event: "sommet-ia-paris", "paris-ai-summit", the coalition) and every
    # required group; "modi-at-ai-summit" (an AI summit, not which one) or "macron-paris" alone
    # say nothing of which event
    url_names_topic = (
        bool(address)
        and any(g in url_named for g in topic.anchor_groups)
        and all(
            g in url_named or any(g in topic.satisfies.get(h, ()) for h in url_named)
            for g in topic.required_groups
        )
    )
    if url_named and not url_names_topic:
        for zones_of in (term_zones, prox_zones):
            for name in [n for n, z in zones_of.items() if URL_ZONE in z]:
                del zones_of[name][URL_ZONE]
                if not zones_of[name]:
                    del zones_of[name]
    if best[1] < 0:
        best_sentence = ""
    elif best[1] == 0:
        best_sentence = title
    elif best[1] < first_text:
        best_sentence = sentence_at(description, best[1] - 1)
    else:
        best_sentence = sentence_at(text, best[1] - first_text)

    weights = topic.zone_weights
    matched: dict[str, dict[str, Any]] = {}
    group_totals: dict[str, float] = {}
    rules: list[tuple[Term | Proximity, dict[str, int] | None, bool]]
    rules = [(term, term_zones.get(term.name), False) for term in topic.terms]
    rules += [(prox, prox_zones.get(prox.name), True) for prox in topic.proximities]
    for rule, zones, is_proximity in rules:
        if not zones:
            continue
        contribution = rule.weight * _zone_counts_total(zones, weights)
        if rule.name in background:
            contribution *= _background_discount(background[rule.name], zones, topic.background_factor)
        group_totals[rule.group] = group_totals.get(rule.group, 0.0) + contribution
        matched[rule.name] = {
            "group": rule.group,
            "count": sum(zones.values()),
            "zones": dict(zones),
            "contribution": round(contribution, 4),
        }
        if is_proximity:
            matched[rule.name]["proximity"] = True

    # groups that stand in for others (the Paris anchors are summit terms too)
    effective = dict(group_totals)
    for group, stands_for in topic.satisfies.items():
        for other in stands_for:
            effective[other] = effective.get(other, 0.0) + group_totals.get(group, 0.0)
    strengths = {
        g: _strength(effective.get(g, 0.0), topic.saturation.get(g, 3.0))
        for g in set(topic.required_groups) | set(effective)
    }
    satisfied = [g for g in topic.required_groups if effective.get(g, 0.0) > 0]
    cooccurrence = len(satisfied) == len(topic.required_groups)

    anchor_total = sum(group_totals.get(g, 0.0) for g in topic.anchor_groups)
    if published_at is not None and inside:
        anchor_total += sum(group_totals.get(g, 0.0) for g in topic.period_anchor_groups)
    anchor_strength = _strength(anchor_total, topic.saturation.get("anchor", 3.0))
    if cooccurrence:
        base = math.prod(strengths[g] for g in topic.required_groups) ** (1.0 / len(topic.required_groups))
        score = base * (topic.anchor_floor + (1.0 - topic.anchor_floor) * anchor_strength)
    else:
        present = [strengths[g] for g in topic.required_groups]
        score = topic.missing_group_cap * sum(present) / len(present)

    cases: dict[str, dict[str, Any]] = {}
    competitor_total = 0.0
    for case in topic.cases:
        c_zones = case_zones.get(case.name)
        if not c_zones:
            continue
        contribution = case.weight * _zone_counts_total(c_zones, weights)
        competitor_total += contribution
        entry = cases.setdefault(case.name, {"count": 0, "contribution": 0.0})
        entry["count"] += sum(c_zones.values())
        entry["contribution"] = round(entry["contribution"] + contribution, 4)
        if case.name in case_background:
            # "after Bletchley and Seoul", "previous summits in South Korea": that event is
            # recalled, not reported; read so by short texts only (below)
            entry["background"] = min(case_background[case.name], entry["count"])
            contribution *= _background_discount(case_background[case.name], c_zones, topic.background_factor)
        entry["recalled"] = round(entry.get("recalled", 0.0) + contribution, 4)
    factor = 1.0
    tied = anchor_total >= topic.tie_min
    # another event is the subject when it alone (one case) outweighs the topic's own anchors
    # (not the in-period names: "the AI summit" fits the other event as well), or when the title
    # names it and no anchor
    strongest = max((c["contribution"] for c in cases.values()), default=0.0)
    own_anchor = sum(group_totals.get(g, 0.0) for g in topic.anchor_groups)
    title_other = any("title" in z for z in case_zones.values())
    title_anchor = any("title" in m["zones"] for m in matched.values() if m["group"] in anchors)
    dominated = topic.dominance > 0 and (
        strongest >= topic.tie_min
        and strongest > topic.dominance * own_anchor
        or (title_other and not title_anchor)
    )
    if competitor_total > 0 and not tied:
        factor = topic.penalty_floor + (1.0 - topic.penalty_floor) * anchor_total / topic.tie_min
    elif dominated:  # tied to the topic, but another event weighs more: that event is the subject
        factor = topic.penalty_floor
    score *= factor
    if not inside:
        score *= topic.outside_factor

    score = min(1.0, max(0.0, score))
    # a paragraph read on its own weighs another event as the text does: recalled in a background
    # clause, it weighs background_factor of a mention
    strongest_recalled = max((c["recalled"] for c in cases.values()), default=0.0)
    short = _short_text(
        topic, score, title, description, text, published_at, inside, group_totals, strongest_recalled
    )
    if short is not None and short["decided"]:
        score = max(score, topic.short_score)
    learned: dict[str, Any] | None = None
    if topic.model is not None and score < topic.threshold and matched:
        # the rules found the topic's words but not enough: the learned part may lift the score,
        # under the same damping (another event, outside the period)
        damping = factor * (1.0 if inside else topic.outside_factor)
        features = dense_features(
            published_at is not None, inside, strengths[topic.required_groups[0]], score
        )
        reads = model_text(text, title)
        probability = topic.model.probability(reads, features)
        lifted = min(1.0, topic.threshold * probability * damping / topic.model_threshold)
        learned = {
            "probability": round(probability, 4),
            "threshold": topic.model_threshold,
            "damping": round(damping, 4),
            "decided": lifted >= topic.threshold,
        }
        if lifted >= topic.threshold:
            learned["features"] = topic.model.explain(reads, features)
        score = max(score, lifted)
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
            "applied": factor < 1.0,
            "tied_to_paris": tied,
            "cases": cases,
            "competitor": round(competitor_total, 4),
            "factor": round(factor, 4),
            "dominated": dominated,
        },
        "background": dict(sorted(background.items())),
        "period": {
            "published_at": published_at.isoformat() if published_at else None,
            "inside": inside,
            "start": start.isoformat() if start else None,
            "end": end.isoformat() if end else None,
            "url_years": url_years,
            "url_outside": url_outside,
        },
        "model": learned,
        "short_text": short,
        "url": address or None,
        "url_names_topic": url_names_topic,
        "best_sentence": best_sentence[:_BEST_SENTENCE_CHARS],
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
