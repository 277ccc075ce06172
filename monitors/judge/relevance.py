"""Topic relevance scoring: transparent, weighted term matching with co-occurrence rules.

The topic is data (monitors/topics/*.toml). Text and patterns are folded the same way
(accents stripped, case lowered, every apostrophe / hyphen / punctuation mark turned into a
space) so matching is accent-, case- and elision-insensitive: "l'IA", "l’IA" and "L'IA" all
hold the token "ia". Terms flagged case_sensitive ("IA", "AI") are matched on the folded text
with its case kept, so Italian/Spanish "ia" and French "j'ai" do not count.

Score in [0, 1]: per-group weighted totals (title and lead weigh more than the tail, repeats
have diminishing returns) saturate into strengths; the required groups must all be present
(an AI term AND a summit term); the geometric mean of their strengths is lifted by the
Paris-anchor strength, then damped when evidence of another event (Bletchley, Seoul, New Delhi,
the EU AI Act alone, a product launch, another summit) comes without a tie to Paris.
Matching is one pass over the article's tokens with every pattern of the topic indexed by its
first token (``_Matcher``), built once per Topic; only tokens that start a pattern are visited.
The article (title, description, text) is folded in one go into ASCII bytes, its sentences
separated by a break token, character by character: the few distinct non-ASCII characters of
Latin-script text are replaced with their folds, then one bytes.translate does the rest (NFKD
over the whole text only for texts with many distinct characters). It gives the same tokens as
fold(), the same matches as the per-term regexes kept on Term and Proximity (which define the
semantics and are checked against the matcher in tests), and the same scores and evidence as
one pass per sentence did. Scoring runs right after an extraction that evicts caches, so the
code does few passes and touches few objects: per token, only C-level work (split, a dict test).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import compress, count, islice
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from monitors.dates import article_day
from monitors.group.copies import INVISIBLE
from monitors.judge.learned import NEEDS_LEARN, LinearModel, dense_features, learn_installed, model_text
from monitors.judge.topic_schema import TopicError, parse_topic_file

DEFAULT_TOPIC_PATH = Path(__file__).resolve().parents[1] / "topics" / "ai_summit.toml"
ZONES = ("title", "lead", "body", "tail")
#: the weak zone of the page's address: the words of its URL path (``url_words``); weight 0 (off)
#: unless the topic's [zones] gives one
URL_ZONE = "url"

_LIGATURE_PAIRS = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"), ("ß", "ss"))
#: ligatures spelled out, and the invisible characters (``copies.INVISIBLE``) deleted: every fold
#: of the module (``fold``, the per-character folds) reads "intelli\u00adgence" as one word
_LIGATURES = str.maketrans({**dict(_LIGATURE_PAIRS), **dict.fromkeys(INVISIBLE, None)})
_NON_ALNUM_RE = re.compile(r"[^0-9A-Za-z]+")
_COMBINING_RE = re.compile(r"[\u0300-\u036f]+")
_SENTENCE_RE = re.compile(r"[^\n.!?…]+(?:[.!?…]+|$)", re.MULTILINE)
_END_RE = re.compile(r"[\n.!?]|…")  # the sentence ends _SENTENCE_RE splits on
_BEST_SENTENCE_CHARS = 400

#: Sentence ends, as _SENTENCE_RE splits; "…" becomes "..." (three ends) once NFKD-decomposed.
_ENDS = ("\n", ".", "!", "?")
#: Token put between sentences in a whole-text token run (folded, so bytes): no pattern holds it.
SENTENCE_BREAK = b"|"
_BREAK_SEPARATOR = b" " + SENTENCE_BREAK + b" "
# bytes.translate table and deleted bytes folding the UTF-8 of NFKD text: ASCII letters and digits
# kept, sentence ends turned into newlines, other ASCII bytes and the lead byte of a non-ASCII
# character into a space; continuation bytes are deleted (a non-ASCII character becomes one
# space), and so is the lead byte 0xCC of U+0300-033F (combining accents then vanish)
_KEEP = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_FOLD_TABLE = bytes(b if b in _KEEP else 10 if b in b"\n.!?" else 32 for b in range(256))
_FOLD_DELETE = b"\xcc" + bytes(range(0x80, 0xC0))
# U+0300-036F in UTF-8: the lead byte 0xCD is shared with Greek letters, so those marks go by regex
_COMBINING_UTF8_RE = re.compile(b"\xcc[\x80-\xbf]|\xcd[\x80-\xaf]")


def fold(text: str, keep_case: bool = False) -> str:
    """Fold text for matching: strip accents, map punctuation to single spaces, lower case.

    Non-Latin letters become spaces (the topic's vocabulary is Latin-script).
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    # drop the accents, then everything that is not an ASCII letter or digit becomes a space
    ascii_text = _COMBINING_RE.sub("", decomposed)
    folded = _NON_ALNUM_RE.sub(" ", ascii_text).strip()
    return folded if keep_case else folded.lower()


def _pattern_regex(pattern: str, case_sensitive: bool) -> str:
    tokens = fold(pattern, keep_case=case_sensitive).split()
    if not tokens:
        raise ValueError(f"empty pattern: {pattern!r}")
    return " ".join(re.escape(token) for token in tokens)


def _compile(patterns: Iterable[str], case_sensitive: bool, not_after: Iterable[str] = ()) -> re.Pattern[str]:
    """One alternation per term, longest first, bounded by token edges."""
    alternatives = []
    for raw in patterns:
        wildcard = raw.rstrip().endswith("*")
        body = _pattern_regex(raw.rstrip().rstrip("*"), case_sensitive)
        if wildcard:
            body += "[0-9A-Za-z]*"
        alternatives.append(body)
    alternatives.sort(key=len, reverse=True)
    guards = "".join(f"(?<!^{re.escape(t)} )(?<! {re.escape(t)} )" for t in not_after)
    return re.compile(guards + r"(?<![0-9A-Za-z])(?:" + "|".join(alternatives) + r")(?![0-9A-Za-z])")


@dataclass(frozen=True)
class Term:
    """A weighted term of the topic (or evidence for a competing event)."""

    name: str
    group: str
    weight: float
    case_sensitive: bool
    regex: re.Pattern[str] = field(compare=False, repr=False)
    exclude: re.Pattern[str] | None = field(default=None, compare=False, repr=False)
    owner: int = field(default=-1, compare=False, repr=False)  # pattern set in the Topic's matcher
    exclude_owner: int = field(default=-1, compare=False, repr=False)

    def count(self, lower: str, cased: str) -> int:
        """Occurrences in one folded sentence, minus those inside an excluded phrase."""
        target = cased if self.case_sensitive else lower
        starts = [m.start() for m in self.regex.finditer(target)]
        if not starts:
            return 0
        if self.exclude is None:
            return len(starts)
        spans = [m.span() for m in self.exclude.finditer(lower)]
        return sum(1 for s in starts if not any(a <= s < b for a, b in spans))


@dataclass(frozen=True)
class Proximity:
    """A tie that holds when a left word and a right phrase are within `window` tokens."""

    name: str
    group: str
    weight: float
    window: int
    left: re.Pattern[str] = field(compare=False, repr=False)
    right: re.Pattern[str] = field(compare=False, repr=False)
    left_owner: int = field(default=-1, compare=False, repr=False)
    right_owner: int = field(default=-1, compare=False, repr=False)

    def count(self, lower: str) -> int:
        """1 if the sentence holds the tie, else 0 (a tie is a sentence-level fact)."""
        lefts = [lower.count(" ", 0, m.start()) for m in self.left.finditer(lower)]
        if not lefts:
            return 0
        for m in self.right.finditer(lower):
            first = lower.count(" ", 0, m.start())
            last = first + m.group(0).count(" ")
            if any(first - self.window <= i <= last + self.window for i in lefts):
                return 1
        return 0


@dataclass(frozen=True, slots=True)
class _Pattern:
    owner: int
    rank: int  # order among its owner's alternatives: the regex tries longer ones first
    tokens: tuple[bytes, ...]
    prefix_last: bool  # trailing "*": the last token is a prefix
    cased: bool
    guards: frozenset[bytes]  # its owner's not_after tokens


@dataclass(slots=True)
class _Node:
    """A trie node over lower-case tokens: patterns ending here, and children."""

    children: dict[bytes, _Node] = field(default_factory=dict)
    ends: list[_Pattern] = field(default_factory=list)  # in match order: owner, then rank
    # patterns whose last token is a prefix ("model*"): (prefix, pattern), matched on the next token
    prefix_ends: list[tuple[bytes, _Pattern]] = field(default_factory=list)


class _Matcher:
    """Every pattern set of a topic (a term, an exclusion, a case, a proximity side) in one trie
    of lower-case tokens, so one pass over an article's tokens finds all their matches. Tokens
    are bytes: folded text is ASCII, and bytes objects are smaller and faster to make than str.

    Semantics are those of the regexes built by ``_compile`` run with ``finditer``: matches start
    and end on token boundaries, each pattern set's matches do not overlap (leftmost first, its
    longer alternatives first), ``not_after`` rejects a match right after one of those tokens,
    case-sensitive sets compare the case-kept tokens.
    """

    def __init__(self) -> None:
        self.root = _Node()
        # the tokens that start a pattern, and the break token (the piece count), for the C-level
        # search of the tokens to visit
        self.first: dict[bytes, _Node] = {SENTENCE_BREAK: _Node()}
        self.prefixes: tuple[bytes, ...] = ()  # heads of the one-token prefix patterns ("COP2*")
        # the root's prefix patterns by the first bytes of their head (as many as the shortest
        # head has): a token looks at the few whose head it may start with, not all of them
        self.head_of = itemgetter(slice(0, 0))
        self.by_head: dict[bytes, list[tuple[bytes, _Pattern]]] = {}
        self.owners = 0

    def add(self, patterns: Iterable[str], case_sensitive: bool, not_after: Iterable[str] = ()) -> int:
        """Register a pattern set; returns its owner id."""
        owner = self.owners
        self.owners += 1
        guards = frozenset(t.encode() for t in not_after)
        entries = []
        for raw in patterns:
            wildcard = raw.rstrip().endswith("*")
            body = raw.rstrip().rstrip("*")
            regex_len = len(_pattern_regex(body, case_sensitive)) + (12 if wildcard else 0)
            tokens = tuple(t.encode() for t in fold(body, keep_case=case_sensitive).split())
            entries.append((regex_len, tokens, wildcard))
        entries.sort(key=lambda e: e[0], reverse=True)  # stable, as _compile's sort
        for rank, (_, tokens, wildcard) in enumerate(entries):
            pattern = _Pattern(owner, rank, tokens, wildcard, case_sensitive, guards)
            path = [t.lower() for t in tokens]
            node = self.root
            for token in path[:-1] if wildcard else path:
                node = node.children.setdefault(token, _Node())
            if wildcard:
                node.prefix_ends.append((path[-1], pattern))
                if node is self.root:
                    self.prefixes += (path[-1],)
                    shortest = min(len(h) for h in self.prefixes)
                    self.head_of = itemgetter(slice(0, shortest))
                    self.by_head = {}
                    for head, p in self.root.prefix_ends:
                        self.by_head.setdefault(head[:shortest], []).append((head, p))
            else:
                node.ends.append(pattern)  # owners are added in increasing order, ranks too
        self.first.update(self.root.children)
        return owner

    def scan(self, run: bytes) -> dict[int, dict[int, list[tuple[int, int]]]]:
        """Matches in a folded, case-kept run of tokens (``_fold_article``): piece -> owner ->
        [(first token, count)].

        Pieces (sentences, or the title) are separated by ``SENTENCE_BREAK`` tokens and numbered
        from 0: no match spans a break, and it is never a ``not_after`` token. Token positions
        count over the whole run. Only the tokens that start a pattern (or a break) are visited,
        found by C-level iteration (map, compress): most tokens of an article start none. The
        case-kept tokens are split out only for the pieces where a case-sensitive pattern or
        guard needs them.
        """
        lower_run = run.lower()
        lower = lower_run.split()
        if not lower or lower[-1] != SENTENCE_BREAK:  # a final break: walks stop before the end
            lower.append(SENTENCE_BREAK)
        first, prefixes = self.first, self.prefixes
        starts: Iterable[int] = compress(count(), map(first.__contains__, lower))
        # the tokens a one-token prefix pattern may start: their first bytes are a head's (C-level)
        prefixed = (
            [
                i
                for i in compress(count(), map(self.by_head.__contains__, map(self.head_of, lower)))
                if lower[i].startswith(prefixes)
            ]
            if prefixes
            else []
        )
        if prefixed:
            starts = sorted({*starts, *prefixed})
        else:
            prefixes = ()
        pieces: dict[int, dict[int, list[tuple[int, int]]]] = {}
        hits: dict[int, list[tuple[int, int]]] = {}
        next_free: dict[int, int] = {}
        breaks: list[int] = []  # positions of the break tokens so far: token i is in piece len(breaks)
        piece = -1
        cased_pieces: list[bytes] = []  # the run's pieces, split out when case is first needed
        cased_tokens: dict[int, list[bytes]] = {}  # piece -> its case-kept tokens, split once
        brk = first[SENTENCE_BREAK]
        for i in starts:
            node = first.get(lower[i])
            if node is brk:
                breaks.append(i)
                continue
            if (
                node is not None
                and lower[i + 1] not in node.children
                and not node.prefix_ends
                and not (prefixes and lower[i].startswith(prefixes))
            ):
                # the common case: a one-token match, or none ("la" not followed by "france")
                candidates = node.ends
            else:  # the trie walk from token i: every pattern that ends along it, in match order
                candidates = []
                token = lower[i]
                if prefixes and token.startswith(prefixes):
                    heads = self.by_head.get(self.head_of(token), ())
                    candidates.extend(p for head, p in heads if token.startswith(head))
                j = i + 1
                while node is not None:
                    candidates += node.ends
                    if node.prefix_ends:
                        candidates.extend(p for prefix, p in node.prefix_ends if lower[j].startswith(prefix))
                    node = node.children.get(lower[j])
                    j += 1
                if len(candidates) > 1:
                    candidates.sort(key=_pattern_order)
            for p in candidates:
                owner = p.owner
                if next_free.get(owner, 0) > i:  # overlaps its set's last match (or one just taken)
                    continue
                if p.cased:
                    if not cased_pieces:
                        cased_pieces = run.split(_BREAK_SEPARATOR)
                    k = i - breaks[-1] - 1 if breaks else i  # token i in its piece
                    # the piece's case-kept tokens, split once per piece: splitting again up to
                    # each match was quadratic in a long piece (text without sentence ends)
                    cased = cased_tokens.get(len(breaks))
                    if cased is None:
                        cased = cased_tokens[len(breaks)] = cased_pieces[len(breaks)].split()
                    if not _cased_match(p, cased, k):
                        continue
                    if p.guards and i > 0 and (cased[k - 1] if k else SENTENCE_BREAK) in p.guards:
                        continue
                elif p.guards and i > 0 and lower[i - 1] in p.guards:
                    continue
                next_free[owner] = i + len(p.tokens)
                if piece != len(breaks):
                    piece = len(breaks)
                    hits = pieces[piece] = {}
                if owner in hits:
                    hits[owner].append((i, len(p.tokens)))
                else:
                    hits[owner] = [(i, len(p.tokens))]
        return pieces


def _pattern_order(p: _Pattern) -> tuple[int, int]:
    return p.owner, p.rank


def _cased_match(p: _Pattern, cased: list[bytes], i: int) -> bool:
    size = len(p.tokens)
    if not p.prefix_last:
        return tuple(cased[i : i + size]) == p.tokens
    return tuple(cased[i : i + size - 1]) == p.tokens[:-1] and cased[i + size - 1].startswith(p.tokens[-1])


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
    matcher: _Matcher = field(compare=False, repr=False)
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

    matcher = _Matcher()
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
                regex=_compile(spec["patterns"], cs, spec.get("not_after", ())),
                exclude=_compile(excl, False) if excl else None,
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
            left=_compile(spec["left"], False),
            right=_compile(spec["right"], False),
            left_owner=matcher.add(spec["left"], False),
            right_owner=matcher.add(spec["right"], False),
        )
        for spec in data.get("proximity", [])
    )
    cases = []
    for spec in data.get("disambiguation", []):
        weight = float(spec.get("weight", 1.0))
        if spec.get("patterns"):
            cases.append(
                Term(
                    spec["case"],
                    "case",
                    weight,
                    False,
                    _compile(spec["patterns"], False),
                    owner=matcher.add(spec["patterns"], False),
                )
            )
        if spec.get("case_sensitive_patterns"):
            cases.append(
                Term(
                    spec["case"],
                    "case",
                    weight,
                    True,
                    _compile(spec["case_sensitive_patterns"], True),
                    owner=matcher.add(spec["case_sensitive_patterns"], True),
                )
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
        period=(_as_date(period.get("start")), _as_date(period.get("end"))),
        outside_factor=float(scoring.get("outside_factor", 1.0)),
        background_owner=matcher.add(background["patterns"], False) if background.get("patterns") else -1,
        background_window=int(background.get("window", 6)),
        background_factor=float(background.get("factor", 1.0)),
        dominance=float(scoring.get("dominance", 0.0)),
        period_anchor_groups=period_anchor_groups,
        labels=tuple(data.get("labels", ())),
        model=model,
        model_threshold=float(data.get("model", {}).get("threshold", 0.5)),
        peak=(_as_date(period.get("peak_start")), _as_date(period.get("peak_end"))),
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


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def parse_published(value: Any) -> date | None:
    """A publication date from "2025-02-10", "2025-02" (the 1st), "2025" (1 January) or a full ISO
    timestamp (its day on the local clock: "2025-02-10T23:30:00Z" is 11 February in Paris);
    None when absent. Raises ValueError when it does not parse."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"published_at must be a string, not {type(value).__name__}")
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return date(int(text), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return date(int(text[:4]), int(text[5:]), 1)
        if len(text) > 10 and text[10] in "T ":
            # the whole timestamp must read (before, "2025-02-10T99:99" or "2025-02-10 whatever"
            # gave its first ten characters); its day is its instant on the local clock, as at
            # ingest and rescore (monitors.dates): "2025-02-09T23:30:00Z" is 10 February in Paris
            return article_day(datetime.fromisoformat(text))
        return date.fromisoformat(text)
    except ValueError as exc:
        why = "" if str(exc).startswith("Invalid isoformat") else f": {exc}"  # a range ("month must ...")
        raise ValueError(
            f"published_at {value!r} is not an ISO date (YYYY, YYYY-MM, YYYY-MM-DD, or a timestamp){why}"
        ) from None


@dataclass(frozen=True)
class RelevanceResult:
    """Score in [0, 1], the verdict against the topic threshold, and why."""

    score: float
    relevant: bool
    terms: list[str]
    evidence: dict[str, Any]
    topic_version: str


def _fold_article(title: str, description: str, text: str) -> tuple[bytes, int, int]:
    """The article as one folded, case-kept run of tokens for ``_Matcher.scan``: the title (one
    piece), the pieces of the description, then those of the text, a SENTENCE_BREAK after each.

    Returns the run, the number of the text's first piece and the text's sentence ends. Piece j of
    a part starts right after its j-th sentence end (``_count_ends``), so a piece maps back to its
    sentence and its offset without keeping either. The three parts are folded in one go, joined
    by newlines: folds work character by character.
    """
    title_ends, desc_ends = _count_ends(title), _count_ends(description)
    whole = f"{title}\n{description}\n{text}\n"
    folded = _fold_chars(whole)
    if folded is not None:
        text_ends = folded.count(b"\n") - title_ends - desc_ends - 3
    else:
        text_ends = _count_ends(text)
        folded = _fold_bytes(whole)
        if folded.count(b"\n") != title_ends + desc_ends + text_ends + 3:  # NFKD made a new end ("？")
            folded = _fold_bytes(_no_new_ends(whole))
    if title_ends:
        folded = folded.replace(b"\n", b" ", title_ends)
    return folded.replace(b"\n", _BREAK_SEPARATOR), 2 + desc_ends, text_ends


def _fold_chars(text: str) -> bytes | None:
    """``_fold_bytes(_no_new_ends(text))``, done character by character, or None if the text holds
    too many distinct characters for that.

    Latin-script text is mostly Latin-1 once a few common characters ("’", "–") are replaced with
    their folds (str.replace, after a memchr-fast ``in``), and Latin-1 folds by one byte table.
    Any other character is replaced with its fold too (cached), while there are not too many:
    that costs less than NFKD over the whole text. The same folds: NFKD decomposes character by
    character and only reorders runs of combining marks, each of which folds to nothing or a
    space either way.
    """
    for ch, wide_fold in _WIDE_FOLDS:
        if ch in text:
            text = text.replace(ch, wide_fold)
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        # "surrogatepass": a lone surrogate (JSON can carry one) folds as any other character
        non_ascii = text.encode("utf-8", "surrogatepass").translate(None, _ASCII)
        chars = set(non_ascii.decode("utf-8", "surrogatepass"))
        if len(chars) > _MAX_CHAR_FOLDS:
            return None
        for ch in chars:
            folded = _CHAR_FOLDS.get(ch)
            if folded is None:
                folded = _fold_char(ch)
                if len(_CHAR_FOLDS) < _CHAR_FOLDS_KEPT:
                    _CHAR_FOLDS[ch] = folded
            text = text.replace(ch, folded)
        raw = text.encode()
    return raw.translate(_LATIN1_TABLE)


def _fold_char(ch: str) -> str:
    """A non-ASCII character as ``_fold_bytes(_no_new_ends(ch))`` folds it, ASCII left for the byte
    table: NFKD (ligatures spelled out), U+0300-036F accents dropped, other non-ASCII characters
    made spaces, and sentence ends too unless the character is "…"."""
    decomposed = unicodedata.normalize("NFKD", ch.translate(_LIGATURES))
    if ch != "…":
        for e in _ENDS:
            decomposed = decomposed.replace(e, " ")
    return "".join(c if c.isascii() else "" if "\u0300" <= c <= "\u036f" else " " for c in decomposed)


#: common characters beyond Latin-1 (typographic quotes, dashes, spaces, "…", "œ"), and those of
#: Latin-1 whose fold is not one character ("ß", "æ", "½"), with their folds
_WIDE_FOLDS = tuple(
    (ch, _fold_char(ch))
    for ch in "’‘‚‛“”„‹›–—‐‑‒―−…•‣€™\u2009\u200a\u200b\u202f\u2060\ufeffœŒ"
    + "".join(chr(b) for b in range(128, 256) if len(_fold_char(chr(b))) != 1)
)
#: _FOLD_TABLE over Latin-1 bytes: a non-ASCII byte becomes its character's one-character fold
_LATIN1_TABLE = _FOLD_TABLE[:128] + bytes(
    _FOLD_TABLE[ord(f)] if len(f) == 1 else 32 for f in map(_fold_char, map(chr, range(128, 256)))
)
_ASCII = bytes(range(128))
#: a text with more distinct characters beyond those than this is folded by NFKD as a whole
_MAX_CHAR_FOLDS = 32
#: non-ASCII character -> its fold (``_fold_char``), kept as texts bring them (at most this many)
_CHAR_FOLDS: dict[str, str] = {}
_CHAR_FOLDS_KEPT = 4096


def _fold_bytes(text: str) -> bytes:
    """fold(text, keep_case=True), as ASCII bytes, with sentence ends kept as newlines.

    Same tokens as fold(), without collapsing spaces: NFKD, accents dropped, everything but ASCII
    letters and digits made a space. Done on the UTF-8 bytes with one bytes.translate, several
    times faster than regex substitutions over the text.
    """
    for ligature, letters in _LIGATURE_PAIRS:  # str.replace beats a dict translate on long text
        if ligature in text:
            text = text.replace(ligature, letters)
    raw = unicodedata.normalize("NFKD", text).encode("utf-8", "surrogatepass")
    if b"\xcd" in raw:
        raw = _COMBINING_UTF8_RE.sub(b"", raw)
    return raw.translate(_FOLD_TABLE, _FOLD_DELETE)


def _no_new_ends(text: str) -> str:
    """Replace the characters whose NFKD holds a sentence end ("？", "‼", "⒈") but that are no
    sentence end for _SENTENCE_RE, by that NFKD with its ends made spaces."""
    for ch in {c for c in text if not c.isascii() and c != "…"}:
        decomposed = unicodedata.normalize("NFKD", ch)
        if any(e in decomposed for e in _ENDS):
            for e in _ENDS:
                decomposed = decomposed.replace(e, " ")
            text = text.replace(ch, decomposed)
    return text


def _count_ends(text: str, end: int | None = None) -> int:
    """Sentence ends in text[:end], "…" counting for the three ends it decomposes into.

    Only the ends present are counted: str.count parses its arguments slowly, ``in`` does not.
    """
    if end is not None:
        text = text[:end]
    return sum([text.count(e) for e in _ENDS if e in text]) + (3 * text.count("…") if "…" in text else 0)


def _ends_within(text: str, chars: int, text_ends: int) -> int:
    """The last piece of ``text`` in a zone of its first ``chars`` characters (-1: none):
    _count_ends(text, chars - 1), known when the text is shorter."""
    if chars <= 0:
        return -1
    return text_ends if len(text) < chars else _count_ends(text, chars - 1)


def _sentence_at(text: str, piece: int) -> str:
    """The sentence (as _SENTENCE_RE finds it, stripped) of piece ``piece`` of ``text``."""
    start = 0
    if piece:
        ends = _END_RE.finditer(text)
        if "…" not in text:  # the piece starts after the piece-th end
            m = next(islice(ends, piece - 1, None), None)
            if m:
                start = m.end()
        else:
            seen = 0
            for m in ends:
                seen += 3 if m.group(0) == "…" else 1
                if seen >= piece:
                    start = m.end()
                    break
    m2 = _SENTENCE_RE.match(text, start)
    return m2.group(0).strip() if m2 else ""


def _near(lefts: list[tuple[int, int]] | None, rights: list[tuple[int, int]] | None, window: int) -> bool:
    """Proximity.count on matcher hits: a left match within ``window`` tokens of a right one."""
    if not lefts or not rights:
        return False
    for first, size in rights:
        last = first + size - 1
        if any(first - window <= i <= last + window for i, _ in lefts):
            return True
    return False


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


# Days named in a text ("lundi 10 février", "Monday, Feb. 10", "samedi 8 février 2025"), read on
# folded text: a weekday (in full), a day and a month (either order), and maybe a year
_WEEKDAYS = {
    name: n
    for n, names in enumerate(
        (
            ("lundi", "monday"),
            ("mardi", "tuesday"),
            ("mercredi", "wednesday"),
            ("jeudi", "thursday"),
            ("vendredi", "friday"),
            ("samedi", "saturday"),
            ("dimanche", "sunday"),
        )
    )
    for name in names
}
_MONTHS = {
    name: n + 1
    for n, names in enumerate(
        (
            ("janvier", "january", "jan"),
            ("fevrier", "february", "feb"),
            ("mars", "march", "mar"),
            ("avril", "april", "apr"),
            ("mai", "may"),
            ("juin", "june", "jun"),
            ("juillet", "july", "jul"),
            ("aout", "august", "aug"),
            ("septembre", "september", "sep", "sept"),
            ("octobre", "october", "oct"),
            ("novembre", "november", "nov"),
            ("decembre", "december", "dec"),
        )
    )
    for name in names
}
_WEEKDAY_ALT = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
# weekdays have no accents: a text without one, lower-cased, names no day (and is not folded)
_WEEKDAY_NAMES = tuple(_WEEKDAYS)
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NAMED_DAY = re.compile(
    rf"(?<![0-9a-z])(?P<weekday>{_WEEKDAY_ALT}) "
    rf"(?:(?:le )?(?P<day>[0-9]{{1,2}})(?: ?er)? (?P<month>{_MONTH_ALT})"  # lundi 10 fevrier
    rf"|(?P<month2>{_MONTH_ALT}) (?P<day2>[0-9]{{1,2}})(?: ?(?:st|nd|rd|th))?)"  # monday february 10th
    r"(?![0-9a-z])(?: (?P<year>[0-9]{4}))?"
)


def day_named_in(text: str, period: tuple[date | None, date | None], peak: tuple[date, date]) -> date | None:
    """The first day the text names (a weekday, a day and a month) that falls in ``peak``, or None.

    Without a year, the year is one of the active period's whose calendar gives that weekday
    ("lundi 10 février" is 10 February 2025, not 2026, a Tuesday): a paragraph lifted from the
    event's coverage often says the day it reports, where its page's date is lost."""
    lowered = text.lower()
    if not any(map(lowered.__contains__, _WEEKDAY_NAMES)):
        return None
    first = (period[0] or peak[0]).year
    last = (period[1] or peak[1]).year
    for m in _NAMED_DAY.finditer(fold(text)):
        day = int(m.group("day") or m.group("day2"))
        month = _MONTHS[m.group("month") or m.group("month2")]
        years = [int(m.group("year"))] if m.group("year") else range(first, last + 1)
        for year in years:
            try:
                named = date(year, month, day)
            except ValueError:
                continue
            if named.weekday() == _WEEKDAYS[m.group("weekday")] and peak[0] <= named <= peak[1]:
                return named
    return None


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
    """``value`` without :data:`_INVISIBLE_RE`'s characters (ASCII text is left as it is)."""
    if value.isascii() or not _INVISIBLE_RE.search(value):
        return value
    return _INVISIBLE_RE.sub("", value)


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
    paragraph read without its title.
    """
    text = _visible(text or "")
    title = _visible(title or "").strip()
    description = _visible(description or "").strip()

    run, first_text, text_ends = _fold_article(title, description, text)
    zoned = list(topic.matcher.scan(run).items())
    # the URL stands in for a missing title: a slug is made from the title, so with one it says
    # nothing more
    address = url_words(url, topic) if url and not title and topic.zone_weights[URL_ZONE] > 0 else ""
    url_named: set[str] = set()  # the topic's groups the URL's words name
    if address:
        # one piece of its own, numbered -1: a zone apart, never the best sentence
        zoned += [(-1, hits) for hits in topic.matcher.scan(address.encode() + _BREAK_SEPARATOR).values()]
    lead = _ends_within(text, topic.lead_chars, text_ends)
    body = _ends_within(text, topic.tail_after_chars, text_ends)

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
        for prox in topic.proximities:
            if (
                prox.left_owner in hits
                and prox.right_owner in hits
                and (piece >= 0 or prox.group in topic.url_groups)
                and _near(hits[prox.left_owner], hits[prox.right_owner], prox.window)
            ):
                if piece < 0:
                    url_named.add(prox.group)
                zc = prox_zones.setdefault(prox.name, {})
                zc[zone] = zc.get(zone, 0) + 1
                if (
                    piece >= 0
                    and bg_owner in hits
                    and prox.group in anchors
                    and _in_background(hits[prox.left_owner], hits[bg_owner], bg_window)
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
        best_sentence = _sentence_at(description, best[1] - 1)
    else:
        best_sentence = _sentence_at(text, best[1] - first_text)

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
