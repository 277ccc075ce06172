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
Matching is one pass over the article's tokens (its sentences folded together, on UTF-8 bytes,
and separated by a break token) with every pattern of the topic indexed by its first token
(``_Matcher``), built once per Topic; only tokens that start a pattern are visited. It gives the
same matches as the per-term regexes kept on Term and Proximity (which define the semantics and
are checked against the matcher in tests), and the same scores and evidence as one pass per
sentence did.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import compress, count
from pathlib import Path
from typing import Any

DEFAULT_TOPIC_PATH = Path(__file__).resolve().parent / "topics" / "ai_summit.toml"
ZONES = ("title", "lead", "body", "tail")

_LIGATURE_PAIRS = (("œ", "oe"), ("Œ", "OE"), ("æ", "ae"), ("Æ", "AE"), ("ß", "ss"))
_LIGATURES = str.maketrans(dict(_LIGATURE_PAIRS))
_NON_ALNUM_RE = re.compile(r"[^0-9A-Za-z]+")
_PUNCT_RE = re.compile(r"[^0-9A-Za-z\n ]+")  # everything but letters, digits, newlines, spaces
_COMBINING_RE = re.compile(r"[\u0300-\u036f]+")
_SENTENCE_RE = re.compile(r"[^\n.!?…]+(?:[.!?…]+|$)", re.MULTILINE)
_BEST_SENTENCE_CHARS = 400

#: Sentence ends, as _SENTENCE_RE splits; "…" becomes "..." (three ends) once NFKD-decomposed.
_ENDS = ("\n", ".", "!", "?")
#: Token put between sentences in a whole-text token run: no pattern holds it.
SENTENCE_BREAK = "|"
# byte tables for folding UTF-8 text: ASCII letters and digits kept, sentence ends turned into
# newlines (or spaces, for a title: one unit), every other byte (punctuation, bytes of non-ASCII
# characters) turned into a space
_KEEP = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_FOLD_SENTENCES = bytes(b if b in _KEEP else 10 if b in b"\n.!?" else 32 for b in range(256))
_FOLD_FLAT = bytes(b if b in _KEEP else 32 for b in range(256))
# the combining accents of French and its neighbours in UTF-8 (U+0300-0303, U+0308, U+0327),
# removed with bytes.replace; any other U+0300-036F mark is left to the regex
_COMMON_MARKS = (b"\xcc\x80", b"\xcc\x81", b"\xcc\x82", b"\xcc\x83", b"\xcc\x88", b"\xcc\xa7")
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


@dataclass(frozen=True)
class _Pattern:
    owner: int
    rank: int  # order among its owner's alternatives: the regex tries longer ones first
    tokens: tuple[str, ...]
    prefix_last: bool  # trailing "*": the last token is a prefix
    cased: bool


@dataclass
class _Node:
    """A trie node over lower-case tokens: patterns ending here, and children."""

    children: dict[str, _Node] = field(default_factory=dict)
    ends: list[_Pattern] = field(default_factory=list)
    # patterns whose last token is a prefix ("model*"): (prefix, pattern), matched on the next token
    prefix_ends: list[tuple[str, _Pattern]] = field(default_factory=list)


class _Matcher:
    """Every pattern set of a topic (a term, an exclusion, a case, a proximity side) in one trie
    of lower-case tokens, so one pass over a sentence's tokens finds all their matches.

    Semantics are those of the regexes built by ``_compile`` run with ``finditer``: matches start
    and end on token boundaries, each pattern set's matches do not overlap (leftmost first, its
    longer alternatives first), ``not_after`` rejects a match right after one of those tokens,
    case-sensitive sets compare the case-kept tokens.
    """

    def __init__(self) -> None:
        self.root = _Node()
        self.prefixes: tuple[str, ...] = ()  # heads of the one-token prefix patterns ("COP2*")
        self.guards: list[frozenset[str]] = []

    def add(self, patterns: Iterable[str], case_sensitive: bool, not_after: Iterable[str] = ()) -> int:
        """Register a pattern set; returns its owner id."""
        owner = len(self.guards)
        self.guards.append(frozenset(not_after))
        entries = []
        for raw in patterns:
            wildcard = raw.rstrip().endswith("*")
            body = raw.rstrip().rstrip("*")
            regex_len = len(_pattern_regex(body, case_sensitive)) + (12 if wildcard else 0)
            entries.append((regex_len, tuple(fold(body, keep_case=case_sensitive).split()), wildcard))
        entries.sort(key=lambda e: e[0], reverse=True)  # stable, as _compile's sort
        for rank, (_, tokens, wildcard) in enumerate(entries):
            pattern = _Pattern(owner, rank, tokens, wildcard, case_sensitive)
            path = [t.lower() for t in tokens]
            node = self.root
            for token in path[:-1] if wildcard else path:
                node = node.children.setdefault(token, _Node())
            if wildcard:
                node.prefix_ends.append((path[-1], pattern))
                if node is self.root:
                    self.prefixes += (path[-1],)
            else:
                node.ends.append(pattern)
        return owner

    def _starts(self, lower: list[str]) -> list[int]:
        """Positions of the tokens that can start a match, in order.

        Found by C-level iteration (map, compress) rather than a Python test per token: most
        tokens of an article start no pattern.
        """
        positions = list(compress(range(len(lower)), map(self.root.children.__contains__, lower)))
        if self.prefixes:
            joined = " " + " ".join(lower)
            if any(" " + prefix in joined for prefix in self.prefixes):
                positions.extend(i for i, t in enumerate(lower) if t.startswith(self.prefixes))
                positions = list(set(positions))
        positions.sort()
        return positions

    def scan(self, cased: list[str], lower: list[str]) -> dict[int, list[tuple[int, int]]]:
        """Matches in a run of tokens: owner -> [(first token, token count)].

        The run is one sentence, or several separated by a token that no pattern holds
        (``SENTENCE_BREAK``): no match spans it, and it is never a ``not_after`` token.
        """
        hits: dict[int, list[tuple[int, int]]] = {}
        next_free: dict[int, int] = {}
        root, n = self.root, len(lower)
        for i in self._starts(lower):
            # patterns whose lower-case tokens match at token i (_candidates, inlined: hot loop)
            candidates: list[_Pattern] = []
            node: _Node | None = root
            j = i
            while node is not None and j < n:
                if node.prefix_ends:
                    candidates.extend(p for prefix, p in node.prefix_ends if lower[j].startswith(prefix))
                node = node.children.get(lower[j])
                j += 1
                if node is not None and node.ends:
                    candidates.extend(node.ends)
            if not candidates:
                continue
            if len(candidates) > 1:
                candidates.sort(key=_pattern_order)
            taken: set[int] = set()
            for p in candidates:
                owner = p.owner
                if owner in taken or next_free.get(owner, 0) > i:
                    continue
                if p.cased and not _cased_match(p, cased, i):
                    continue
                guards = self.guards[owner]
                if guards and i > 0 and (cased if p.cased else lower)[i - 1] in guards:
                    continue
                taken.add(owner)
                next_free[owner] = i + len(p.tokens)
                hits.setdefault(owner, []).append((i, len(p.tokens)))
        return hits


def _pattern_order(p: _Pattern) -> tuple[int, int]:
    return p.owner, p.rank


def _cased_match(p: _Pattern, cased: list[str], i: int) -> bool:
    last = len(p.tokens) - 1
    for k, want in enumerate(p.tokens):
        got = cased[i + k]
        if not (got.startswith(want) if k == last and p.prefix_last else got == want):
            return False
    return True


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
    # matcher owner -> indices in terms / cases, so scoring visits only what a sentence holds
    terms_by_owner: Mapping[int, tuple[int, ...]] = field(init=False, compare=False, repr=False)
    cases_by_owner: Mapping[int, tuple[int, ...]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, items in (("terms_by_owner", self.terms), ("cases_by_owner", self.cases)):
            index: dict[int, tuple[int, ...]] = {}
            for i, item in enumerate(items):
                index[item.owner] = (*index.get(item.owner, ()), i)
            object.__setattr__(self, name, index)


def load_topic(path: str | Path | None = None) -> Topic:
    """Load a topic TOML (default: the Paris AI Action Summit).

    The version is the declared one plus a short hash of the file bytes, so any edit of the
    file changes the version recorded with each score.
    """
    topic_path = Path(path) if path is not None else DEFAULT_TOPIC_PATH
    raw_bytes = topic_path.read_bytes()
    data: dict[str, Any] = tomllib.loads(raw_bytes.decode("utf-8"))
    digest = hashlib.sha256(raw_bytes).hexdigest()[:8]

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
    anchor_groups = tuple(g for g, spec in groups.items() if spec.get("anchor"))
    return Topic(
        name=data["name"],
        version=f"{data['version']}+{digest}",
        threshold=float(data["threshold"]),
        description=data.get("description", ""),
        required_groups=tuple(data["required_groups"]),
        satisfies=satisfies,
        zone_weights={z: float(zones.get(z, 1.0)) for z in ZONES},
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
    )


@dataclass(frozen=True)
class RelevanceResult:
    """Score in [0, 1], the verdict against the topic threshold, and why."""

    score: float
    relevant: bool
    terms: list[str]
    evidence: dict[str, Any]
    topic_version: str


def _sentences(text: str, zone_of: Any) -> Iterable[tuple[str, str]]:
    for m in _SENTENCE_RE.finditer(text):
        sentence = m.group(0).strip()
        if sentence:
            yield zone_of(m.start()), sentence


def _fold_units(units: list[str]) -> list[str]:
    """fold(unit, keep_case=True).split() of every unit, in one pass over their concatenation.

    Returned lines may hold runs of spaces: split() them into tokens.
    """
    if not units:
        return []
    joined = "\n".join(u.replace("\n", " ") for u in units)
    for ligature, letters in _LIGATURE_PAIRS:  # str.replace beats a dict translate on long text
        if ligature in joined:
            joined = joined.replace(ligature, letters)
    decomposed = unicodedata.normalize("NFKD", joined)
    # single spaces are left alone (most of the text): fewer substitutions than fold() makes
    folded = _PUNCT_RE.sub(" ", _COMBINING_RE.sub("", decomposed))
    return folded.split("\n")


def _fold_bytes(text: str, table: bytes) -> str:
    """fold(text, keep_case=True) with sentence ends kept as newlines (per ``table``).

    Same tokens as fold(), without collapsing spaces: NFKD, accents dropped, everything but ASCII
    letters and digits made a space. Done on the UTF-8 bytes (bytes.replace, bytes.translate),
    several times faster than regex substitutions over the text.
    """
    for ligature, letters in _LIGATURE_PAIRS:
        if ligature in text:
            text = text.replace(ligature, letters)
    raw = unicodedata.normalize("NFKD", text).encode()
    for mark in _COMMON_MARKS:
        raw = raw.replace(mark, b"")
    if b"\xcc" in raw or b"\xcd" in raw:
        raw = _COMBINING_UTF8_RE.sub(b"", raw)
    return raw.translate(table).decode("ascii")


def _count_ends(text: str, end: int | None = None) -> int:
    """Sentence ends in text[:end], "…" counting for the three ends it decomposes into."""
    return sum(text.count(e, 0, end) for e in _ENDS) + 3 * text.count("…", 0, end)


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


def _fold_sentences(text: str) -> list[str]:
    """Folded sentences of ``text``, one per piece between two sentence ends (empty ones too).

    Piece j starts right after the j-th sentence end of the text (``_count_ends``), so a piece
    maps back to its sentence and its offset without keeping either.
    """
    lines = _fold_bytes(text, _FOLD_SENTENCES).split("\n")
    if len(lines) != _count_ends(text) + 1:  # NFKD made a new sentence end ("？" -> "?")
        lines = _fold_bytes(_no_new_ends(text), _FOLD_SENTENCES).split("\n")
    return lines


def _sentence_at(text: str, piece: int) -> str:
    """The sentence (as _SENTENCE_RE finds it, stripped) of piece ``piece`` of ``text``."""
    start, seen = 0, 0
    if piece:
        for m in re.finditer(r"[\n.!?]|…", text):
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


def _zone_counts_total(zone_counts: Mapping[str, int], weights: Mapping[str, float]) -> float:
    """Zone-weighted total with diminishing returns on repeats: 1 + ln(count) per zone."""
    return sum(weights[z] * (1.0 + math.log(c)) for z, c in zone_counts.items() if c > 0)


def _strength(total: float, saturation: float) -> float:
    return 1.0 - math.exp(-total / saturation) if total > 0 else 0.0


def score_relevance(
    topic: Topic, text: str, title: str | None = None, description: str | None = None
) -> RelevanceResult:
    """Score a text (with optional title and description/lead) against a topic."""
    text = text or ""
    title = (title or "").strip()
    description = (description or "").strip()

    # one token run for the whole article: the title (one unit), then the sentences of the
    # description (all lead), then those of the text, with a SENTENCE_BREAK token between pieces
    desc_lines = _fold_sentences(description)
    text_lines = _fold_sentences(text)
    lines = [_fold_bytes(title, _FOLD_FLAT), *desc_lines, *text_lines]
    joined = f" {SENTENCE_BREAK} ".join(lines)
    cased_tokens, lower_tokens = joined.split(), joined.lower().split()
    hits_all = topic.matcher.scan(cased_tokens, lower_tokens)

    # which piece each hit is in: the number of break tokens before it
    breaks = list(compress(count(), map(SENTENCE_BREAK.__eq__, lower_tokens)))
    first_text = 1 + len(desc_lines)
    lead = _count_ends(text, topic.lead_chars - 1) if topic.lead_chars > 0 else -1
    body = _count_ends(text, topic.tail_after_chars - 1) if topic.tail_after_chars > 0 else -1

    def zone_of(piece: int) -> str:
        if piece == 0:
            return "title"
        if piece < first_text:
            return "lead"
        j = piece - first_text
        return "lead" if j <= lead else "body" if j <= body else "tail"

    by_piece: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for owner, found in hits_all.items():
        for hit in found:
            by_piece.setdefault(bisect_right(breaks, hit[0]), {}).setdefault(owner, []).append(hit)

    term_zones: dict[str, dict[str, int]] = {}
    case_zones: dict[str, dict[str, int]] = {}
    prox_zones: dict[str, dict[str, int]] = {}
    best: tuple[float, int] = (0.0, -1)
    terms, topic_cases = topic.terms, topic.cases
    terms_by_owner, cases_by_owner = topic.terms_by_owner, topic.cases_by_owner
    for piece in sorted(by_piece):
        hits = by_piece[piece]
        zone = zone_of(piece)
        sentence_score = 0.0
        groups_here: set[str] = set()
        for k in sorted(k for owner in hits for k in terms_by_owner.get(owner, ())):
            term = terms[k]
            found = hits[term.owner]
            n = len(found)
            if term.exclude_owner >= 0 and term.exclude_owner in hits:
                spans = [(a, a + size) for a, size in hits[term.exclude_owner]]
                n = sum(1 for i, _ in found if not any(a <= i < b for a, b in spans))
            if n:
                zc = term_zones.setdefault(term.name, {})
                zc[zone] = zc.get(zone, 0) + n
                sentence_score += term.weight * n
                groups_here.add(term.group)
        for prox in topic.proximities:
            if _near(hits.get(prox.left_owner), hits.get(prox.right_owner), prox.window):
                zc = prox_zones.setdefault(prox.name, {})
                zc[zone] = zc.get(zone, 0) + 1
                sentence_score += prox.weight
                groups_here.add(prox.group)
        for owner in hits.keys() & cases_by_owner.keys():
            for k in cases_by_owner[owner]:
                zc = case_zones.setdefault(topic_cases[k].name, {})
                zc[zone] = zc.get(zone, 0) + len(hits[owner])
        # prefer sentences that join several groups (the AI term AND the summit)
        sentence_score *= len(groups_here)
        if sentence_score > best[0]:
            best = (sentence_score, piece)
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
    for term in topic.terms:
        t_zones = term_zones.get(term.name)
        if not t_zones:
            continue
        contribution = term.weight * _zone_counts_total(t_zones, weights)
        group_totals[term.group] = group_totals.get(term.group, 0.0) + contribution
        matched[term.name] = {
            "group": term.group,
            "count": sum(t_zones.values()),
            "zones": dict(t_zones),
            "contribution": round(contribution, 4),
        }
    for prox in topic.proximities:
        p_zones = prox_zones.get(prox.name)
        if not p_zones:
            continue
        contribution = prox.weight * _zone_counts_total(p_zones, weights)
        group_totals[prox.group] = group_totals.get(prox.group, 0.0) + contribution
        matched[prox.name] = {
            "group": prox.group,
            "count": sum(p_zones.values()),
            "zones": dict(p_zones),
            "contribution": round(contribution, 4),
            "proximity": True,
        }

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
    factor = 1.0
    tied = anchor_total >= topic.tie_min
    if competitor_total > 0 and not tied:
        factor = topic.penalty_floor + (1.0 - topic.penalty_floor) * anchor_total / topic.tie_min
        score *= factor

    score = min(1.0, max(0.0, score))
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
        },
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
