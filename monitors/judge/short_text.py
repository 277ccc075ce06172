"""The short-text rules of relevance: a paragraph read on its own, without its article's title.

``monitors.judge.relevance`` scores a text by its terms; a short untitled paragraph lifted from
a summit article often names nothing of the summit, and these rules (a topic's ``[short_text]``)
decide it from the event's own vocabulary, its themes and the day it was published or names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from monitors.judge.days import day_named_in
from monitors.judge.topic import Topic


def short_text(
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
