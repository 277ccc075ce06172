"""A topic as data: the TOML file (``topic_schema`` checks it) made a :class:`Topic`.

The version is the declared one plus a short hash of the file's bytes (and of its [model]
file's), so any edit of the file changes the version recorded with each score.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from monitors.judge.days import as_date
from monitors.judge.learned import NEEDS_LEARN, LinearModel, learn_installed
from monitors.judge.matcher import Matcher, Proximity, Term, compile_patterns
from monitors.judge.textfold import fold
from monitors.judge.topic_schema import TopicError, parse_topic_file

DEFAULT_TOPIC_PATH = Path(__file__).resolve().parents[1] / "topics" / "ai_summit.toml"
ZONES = ("title", "lead", "body", "tail")
#: the weak zone of the page's address: the words of its URL path (``url_words``); weight 0 (off)
#: unless the topic's [zones] gives one
URL_ZONE = "url"


@dataclass(frozen=True)
class Topic:
    """A topic loaded from TOML: terms, groups, co-occurrence, disambiguation, scoring knobs."""

    name: str
    version: str
    threshold: float
    description: str
    required_groups: tuple[str, ...]
    satisfies: Mapping[str, tuple[str, ...]]
    zone_weights: Mapping[str, float]
    lead_chars: int
    tail_after_chars: int
    saturation: Mapping[str, float]
    anchor_groups: tuple[str, ...]
    anchor_floor: float
    penalty_floor: float
    tie_min: float
    missing_group_cap: float
    terms: tuple[Term, ...]
    proximities: tuple[Proximity, ...]
    cases: tuple[Term, ...]
    matcher: Matcher = field(compare=False, repr=False)
    # [period]: the topic's active period (inclusive dates; None: open); an article published
    # outside it needs the topic to dominate its text (scoring.outside_factor damps the score)
    period: tuple[date | None, date | None] = (None, None)
    outside_factor: float = 1.0
    # [background]: markers ("depuis le", "after the") that put a following anchor mention in a
    # background clause: such a mention weighs background_factor of a foreground one
    background_owner: int = -1
    background_window: int = 6
    background_factor: float = 1.0
    # another event dominates when its zone-weighted evidence exceeds dominance x the anchor's
    dominance: float = 0.0
    # groups that tie a text to the topic only when it was published inside the period ("le
    # sommet de l'IA" in February 2025 is the Paris one; in May 2024, Seoul's)
    period_anchor_groups: tuple[str, ...] = ()
    # labels of the labelled sets (../shared/eval) that mean "relevant to this topic"
    labels: tuple[str, ...] = ()
    # [model]: the learned part (monitors/judge/learned.py), consulted when the rules matched something
    # but not enough; p x the rules' damping >= model_threshold makes the article relevant
    model: LinearModel | None = field(default=None, compare=False, repr=False)
    model_threshold: float = 0.5
    # [period] peak_start/peak_end: the event itself and the days around it, when it dominates
    # the coverage of its field; [short_text]: a text with no title nor lead of at most
    # short_max_words words (a paragraph read on its own) published in the peak is relevant when
    # one of short_groups is present and no other event outweighs it (score: short_score)
    peak: tuple[date | None, date | None] = (None, None)
    short_max_words: int = 0
    short_groups: tuple[str, ...] = ()
    short_score: float = 0.0
    # the event's own vocabulary a short text must carry (its names, people, organisations,
    # places, figures, outcomes) and how much of it: with a subject word in the peak (peak_min),
    # elsewhere in the active period or undated (period_min), or without one (alone_min)
    short_event_groups: tuple[str, ...] = ()
    short_peak_groups: tuple[str, ...] = ()  # event groups that count in the peak only
    short_alone_groups: tuple[str, ...] = ()  # event groups that may stand without a subject word
    short_peak_subjects: tuple[str, ...] = ()  # subject groups that suffice alone in the peak
    # the event's themes: when every entry (one group, or alternative groups) is met, their
    # evidence counts as the event's (a combination, not one word, ties a generic text to the
    # event), and short_theme_subjects then count as subject words too
    short_theme_groups: tuple[tuple[str, ...], ...] = ()
    short_theme_subjects: tuple[str, ...] = ()
    # groups that meet an entry of theme_groups in the peak only (as peak_groups do), without
    # counting as event evidence by themselves: a word of any event ("cet événement")
    short_peak_theme_groups: tuple[str, ...] = ()
    short_other_groups: tuple[str, ...] = ()  # another subject's evidence, weighed like another event
    # the event as a gathering, without a subject word: in the peak, when every entry (one
    # group, or alternative groups) is met and no other event nor other subject is named at all
    short_bare_groups: tuple[tuple[str, ...], ...] = ()
    short_peak_min: float = 0.0
    short_period_min: float = math.inf
    short_alone_min: float = math.inf
    path: str = ""
    # lower-case form -> case of the case-sensitive patterns' tokens ("ia" -> "IA"): a URL's
    # words are lower case, so they are given the case the topic's patterns ask for
    url_cased: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # the groups a URL's words may count for: those that name the topic (its required groups, the
    # groups standing for them, its anchors, the short text's event groups); other events' words
    # in a URL (the [[disambiguation]] cases) always count
    url_groups: frozenset[str] = frozenset()
    # matcher owner -> what its matches count for, so scoring visits only what a piece holds:
    # ((name, group, weight, exclusion owner) of its terms, names of its cases)
    plan: Mapping[int, tuple[tuple[tuple[str, str, float, int], ...], tuple[str, ...]]] = field(
        init=False, compare=False, repr=False
    )
    # the proximities with their sides' owners, in topic order, and the left sides' owners: a
    # piece holding none of those is not looked at for ties
    prox_sides: tuple[tuple[int, int, Proximity], ...] = field(init=False, compare=False, repr=False)
    prox_lefts: frozenset[int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        owners = [t.owner for t in self.terms]
        if owners != sorted(owners):  # scoring visits owners in order, and adds up terms in order
            raise ValueError("terms must own matcher pattern sets in their order")
        plan: dict[int, tuple[tuple[tuple[str, str, float, int], ...], tuple[str, ...]]] = {}
        for t in self.terms:
            terms, cases = plan.get(t.owner, ((), ()))
            plan[t.owner] = ((*terms, (t.name, t.group, t.weight, t.exclude_owner)), cases)
        for c in self.cases:
            terms, cases = plan.get(c.owner, ((), ()))
            plan[c.owner] = (terms, (*cases, c.name))
        object.__setattr__(self, "plan", plan)
        sides = tuple((p.left_owner, p.right_owner, p) for p in self.proximities)
        object.__setattr__(self, "prox_sides", sides)
        object.__setattr__(self, "prox_lefts", frozenset(p.left_owner for p in self.proximities))


def load_topic(path: str | Path | None = None) -> Topic:
    """Load a topic TOML (default: the Paris AI Action Summit).

    The version is the declared one plus a short hash of the file bytes, so any edit of the
    file changes the version recorded with each score.
    """
    topic_path = Path(path) if path is not None else DEFAULT_TOPIC_PATH
    data, raw_bytes = parse_topic_file(topic_path)
    return topic_from_data(data, raw_bytes, topic_path)


def _group_entries(entries: Iterable[str | Sequence[str]]) -> tuple[tuple[str, ...], ...]:
    """[short_text] entries of one group name or of alternative names, each as a tuple."""
    return tuple((e,) if isinstance(e, str) else tuple(e) for e in entries)


def topic_from_data(data: Mapping[str, Any], raw_bytes: bytes, topic_path: Path) -> Topic:
    """The Topic of a parsed, checked topic file (``parse_topic_file``); ``raw_bytes`` make its
    version. Also what tests/eval/story_cv.py builds a topic with some patterns left out from."""
    model, model_bytes = _load_model(topic_path, data)
    digest = hashlib.sha256(raw_bytes + model_bytes).hexdigest()[:8]

    groups: dict[str, Any] = data.get("groups", {})
    satisfies = {g: tuple(spec.get("satisfies", ())) for g, spec in groups.items()}
    zones = data.get("zones", {})
    scoring = data.get("scoring", {})

    matcher = Matcher()
    terms = []
    for spec in data.get("terms", []):
        if spec["group"] not in groups:
            raise ValueError(f"term {spec['name']!r}: unknown group {spec['group']!r}")
        cs = bool(spec.get("case_sensitive", False))
        excl = spec.get("exclude")
        terms.append(
            Term(
                name=spec["name"],
                group=spec["group"],
                weight=float(spec.get("weight", 1.0)),
                case_sensitive=cs,
                regex=compile_patterns(spec["patterns"], cs, spec.get("not_after", ())),
                exclude=compile_patterns(excl, False) if excl else None,
                owner=matcher.add(spec["patterns"], cs, spec.get("not_after", ())),
                exclude_owner=matcher.add(excl, False) if excl else -1,
            )
        )
    proximities = tuple(
        Proximity(
            name=spec["name"],
            group=spec["group"],
            weight=float(spec.get("weight", 1.0)),
            window=int(spec.get("window", 8)),
            left=compile_patterns(spec["left"], False),
            right=compile_patterns(spec["right"], False),
            left_owner=matcher.add(spec["left"], False),
            right_owner=matcher.add(spec["right"], False),
        )
        for spec in data.get("proximity", [])
    )
    cases = []
    for spec in data.get("disambiguation", []):
        weight = float(spec.get("weight", 1.0))
        for key, cased in (("patterns", False), ("case_sensitive_patterns", True)):
            if spec.get(key):
                regex = compile_patterns(spec[key], cased)
                cases.append(
                    Term(spec["case"], "case", weight, cased, regex, owner=matcher.add(spec[key], cased))
                )
    anchor_groups = tuple(g for g, spec in groups.items() if spec.get("anchor") is True)
    period_anchor_groups = tuple(g for g, spec in groups.items() if spec.get("anchor") == "in_period")
    period = data.get("period", {})
    background = data.get("background", {})
    return Topic(
        name=data["name"],
        version=f"{data['version']}+{digest}",
        threshold=float(data["threshold"]),
        description=data.get("description", ""),
        required_groups=tuple(data["required_groups"]),
        satisfies=satisfies,
        zone_weights={
            **{z: float(zones.get(z, 1.0)) for z in ZONES},
            URL_ZONE: float(zones.get(URL_ZONE, 0.0)),
        },
        lead_chars=int(zones.get("lead_chars", 600)),
        tail_after_chars=int(zones.get("tail_after_chars", 4000)),
        saturation={g: float(v) for g, v in scoring.get("saturation", {}).items()},
        anchor_groups=anchor_groups,
        anchor_floor=float(scoring.get("anchor_floor", 1.0)),
        penalty_floor=float(scoring.get("penalty_floor", 1.0)),
        tie_min=float(scoring.get("tie_min", 1.5)),
        missing_group_cap=float(scoring.get("missing_group_cap", 0.25)),
        terms=tuple(terms),
        proximities=proximities,
        cases=tuple(cases),
        matcher=matcher,
        period=(as_date(period.get("start")), as_date(period.get("end"))),
        outside_factor=float(scoring.get("outside_factor", 1.0)),
        background_owner=matcher.add(background["patterns"], False) if background.get("patterns") else -1,
        background_window=int(background.get("window", 6)),
        background_factor=float(background.get("factor", 1.0)),
        dominance=float(scoring.get("dominance", 0.0)),
        period_anchor_groups=period_anchor_groups,
        labels=tuple(data.get("labels", ())),
        model=model,
        model_threshold=float(data.get("model", {}).get("threshold", 0.5)),
        peak=(as_date(period.get("peak_start")), as_date(period.get("peak_end"))),
        short_max_words=int(data.get("short_text", {}).get("max_words", 0)),
        short_groups=tuple(data.get("short_text", {}).get("groups", ())),
        short_score=float(data.get("short_text", {}).get("score", float(data["threshold"]))),
        short_event_groups=tuple(data.get("short_text", {}).get("event_groups", ())),
        short_peak_groups=tuple(data.get("short_text", {}).get("peak_groups", ())),
        short_alone_groups=tuple(data.get("short_text", {}).get("alone_groups", ())),
        short_peak_subjects=tuple(data.get("short_text", {}).get("peak_subjects", ())),
        short_theme_groups=_group_entries(data.get("short_text", {}).get("theme_groups", ())),
        short_theme_subjects=tuple(data.get("short_text", {}).get("theme_subjects", ())),
        short_peak_theme_groups=tuple(data.get("short_text", {}).get("peak_theme_groups", ())),
        short_other_groups=tuple(data.get("short_text", {}).get("other_groups", ())),
        short_bare_groups=_group_entries(data.get("short_text", {}).get("bare_groups", ())),
        short_peak_min=float(data.get("short_text", {}).get("peak_min", 0.0)),
        short_period_min=float(data.get("short_text", {}).get("period_min", math.inf)),
        short_alone_min=float(data.get("short_text", {}).get("alone_min", math.inf)),
        path=str(topic_path),
        url_groups=frozenset((*data["required_groups"], *anchor_groups, *period_anchor_groups))
        | frozenset(
            g for g, stands_for in satisfies.items() if set(stands_for) & set(data["required_groups"])
        )
        | frozenset(data.get("short_text", {}).get("event_groups", ())),
        url_cased=_cased_tokens(
            [p for spec in data.get("terms", []) if spec.get("case_sensitive") for p in spec["patterns"]]
            + [p for spec in data.get("disambiguation", []) for p in spec.get("case_sensitive_patterns", ())]
        ),
    )


def model_path(topic_path: Path, data: Mapping[str, Any]) -> Path | None:
    """Where the topic's [model] file is (relative to the topic file), or None."""
    spec = data.get("model")
    return (topic_path.parent / spec["file"]) if spec and spec.get("file") else None


def _load_model(topic_path: Path, data: Mapping[str, Any]) -> tuple[LinearModel | None, bytes]:
    path = model_path(topic_path, data)
    if path is None:
        return None, b""
    if not path.is_file():
        raise TopicError(
            f"{topic_path}: [model] file {path.name} not found;"
            f" build it with: veille train-topic --topic {topic_path}"
        )
    if not learn_installed():  # else every text the model is consulted on ends in an ImportError
        raise TopicError(f"{topic_path}: its [model] needs scikit-learn: {NEEDS_LEARN}")
    return LinearModel.load(path), path.read_bytes()


def _cased_tokens(patterns: Iterable[str]) -> dict[str, str]:
    """Lower-case form -> case-kept form of the tokens of case-sensitive patterns that have
    capitals ("IA", "AI", "Current")."""
    cased: dict[str, str] = {}
    for pattern in patterns:
        for token in fold(pattern.rstrip("*"), keep_case=True).split():
            if token != token.lower() and len(token) > 1:
                cased.setdefault(token.lower(), token)
    return cased
