"""Matching a topic's patterns: per-term regexes (the semantics) and one trie over them all.

A pattern is a folded phrase (``textfold.fold``), bounded by token edges, its last token a prefix
when it ends in "*". Terms flagged ``case_sensitive`` ("IA", "AI") are matched on the folded
text with its case kept, so Italian/Spanish "ia" and French "j'ai" do not count. ``Term`` and
``Proximity`` keep the regexes that define what matches; ``Matcher`` indexes every pattern set of
a topic by its first token, so one pass over an article's tokens finds all their matches,
visiting only the tokens that start a pattern. Both give the same matches (checked against each
other in tests/test_relevance_matcher.py). The pass runs in monitors/_scan.c, a small C
extension compiled at install time; where no C compiler was found, in the Python loop of
``Matcher.scan_python``, with the same matches (tests/test_relevance_matcher.py compares them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress, count
from operator import itemgetter, methodcaller
from typing import Any

from monitors.judge.textfold import BREAK_SEPARATOR, SENTENCE_BREAK, fold

try:  # compiled where a C compiler was found at install time (pyproject.toml: ext-modules)
    from monitors import _scan
except ImportError:  # pragma: no cover - depends on the install
    _scan = None  # type: ignore[assignment]
#: How matchers scan an article: "compiled" (monitors/_scan.c) or "python".
TOKEN_SCAN = "python" if _scan is None else "compiled"

#: a scan's matches: piece -> owner -> [(first token, count)]
Hits = dict[int, dict[int, list[tuple[int, int]]]]


def _pattern_regex(pattern: str, case_sensitive: bool) -> str:
    tokens = fold(pattern, keep_case=case_sensitive).split()
    if not tokens:
        raise ValueError(f"empty pattern: {pattern!r}")
    return " ".join(re.escape(token) for token in tokens)


def compile_patterns(
    patterns: Iterable[str], case_sensitive: bool, not_after: Iterable[str] = ()
) -> re.Pattern[str]:
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
    part: int  # the matcher it came from, in a union (``Matcher.union``); 0 otherwise
    local: int  # its owner id in that matcher
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


class Matcher:
    """Every pattern set of a topic (a term, an exclusion, a case, a proximity side) in one trie
    of lower-case tokens, so one pass over an article's tokens finds all their matches. Tokens
    are bytes: folded text is ASCII, and bytes objects are smaller and faster to make than str.

    Semantics are those of the regexes built by ``compile_patterns`` run with ``finditer``: matches start
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
        # a space then a token starting with one of the prefixes (``_starts_regex``), or None
        self.prefixed_re: re.Pattern[bytes] | None = None
        self.owners = 0
        # the pattern sets as added, for ``union``; parts: the matchers a union was made of
        self.sets: list[tuple[tuple[str, ...], bool, tuple[str, ...]]] = []
        self.parts = 1
        self._local = 0  # the next owner id within the current part
        self.patterns: list[_Pattern] = []  # as created: in (owner, rank) order, the match order
        self._tables: tuple[Any, ...] | None = None  # the trie as monitors._scan reads it

    @classmethod
    def union(cls, matchers: Iterable[Matcher]) -> Matcher:
        """One matcher holding every pattern set of ``matchers`` (part k: the k-th), so one
        ``scan_tokens`` finds every topic's matches in an article: its tokens are split, and
        the tokens that start a pattern of several topics visited, once."""
        merged = cls()
        merged.parts = 0
        for matcher in matchers:
            merged.parts += 1
            merged._local = 0
            for patterns, case_sensitive, not_after in matcher.sets:
                merged.add(patterns, case_sensitive, not_after)
        merged.parts = max(merged.parts, 1)
        return merged

    def add(self, patterns: Iterable[str], case_sensitive: bool, not_after: Iterable[str] = ()) -> int:
        """Register a pattern set; returns its owner id (within its part, in a union)."""
        patterns, not_after = tuple(patterns), tuple(not_after)
        self.sets.append((patterns, case_sensitive, not_after))
        owner, local, part = self.owners, self._local, max(self.parts - 1, 0)
        self.owners += 1
        self._local += 1
        guards = frozenset(t.encode() for t in not_after)
        entries = []
        for raw in patterns:
            wildcard = raw.rstrip().endswith("*")
            body = raw.rstrip().rstrip("*")
            regex_len = len(_pattern_regex(body, case_sensitive)) + (12 if wildcard else 0)
            tokens = tuple(t.encode() for t in fold(body, keep_case=case_sensitive).split())
            entries.append((regex_len, tokens, wildcard))
        entries.sort(key=lambda e: e[0], reverse=True)  # stable, as compile_patterns's sort
        for rank, (_, tokens, wildcard) in enumerate(entries):
            pattern = _Pattern(owner, rank, part, local, tokens, wildcard, case_sensitive, guards)
            self.patterns.append(pattern)
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
                    self.prefixed_re = re.compile(b" " + _starts_regex(self.prefixes))
            else:
                node.ends.append(pattern)  # owners are added in increasing order, ranks too
        self.first.update(self.root.children)
        self._tables = None
        return local

    def tables(self) -> tuple[Any, ...]:
        """The trie as ``monitors._scan.scan`` reads it (made once, again after an ``add``):
        per node (0: the root, then breadth first) its children's numbers by token, the ids of
        the patterns ending there and its prefix patterns; the root's prefix patterns; per
        pattern id (its place in ``patterns``) what the scan needs of it; owners, parts."""
        if self._tables is None:
            ids = {id(p): k for k, p in enumerate(self.patterns)}
            nodes = [self.root]
            number = {id(self.root): 0}
            for node in nodes:  # breadth first: the list grows while it is read
                for child in node.children.values():
                    number[id(child)] = len(nodes)
                    nodes.append(child)
            children = [{t: number[id(c)] for t, c in node.children.items()} for node in nodes]
            ends = [tuple(ids[id(p)] for p in node.ends) for node in nodes]
            prefix_ends = [tuple((h, ids[id(p)]) for h, p in node.prefix_ends) for node in nodes]
            patterns = tuple(
                (p.owner, p.part, p.local, len(p.tokens), p.cased, p.prefix_last, p.guards or None, p.tokens)
                for p in self.patterns
            )
            self._tables = (children, ends, prefix_ends, prefix_ends[0], patterns, self.owners, self.parts)
        return self._tables

    def scan(self, run: bytes) -> Hits:
        """Matches in a folded, case-kept run of tokens (``fold_article``): piece -> owner ->
        [(first token, count)] (of the first part, in a union: ``scan_tokens``)."""
        return self.scan_tokens(run_tokens(run), run)[0]

    def scan_tokens(self, lower: list[bytes], run: bytes) -> list[Hits]:
        """Matches in a folded, case-kept run of tokens (``fold_article``), given its lower-case
        tokens (``run_tokens``), per part (one, unless a ``union``): piece -> owner ->
        [(first token, count)]. By monitors/_scan.c where it is compiled (``TOKEN_SCAN``),
        else by ``scan_python``: the same dicts, built in the same order."""
        if _scan is None:
            return self.scan_python(lower, run)
        return _scan.scan(lower, run, *self.tables())

    def scan_python(self, lower: list[bytes], run: bytes) -> list[Hits]:
        """``scan_tokens`` in Python: the reference the compiled scan is checked against.

        Pieces (sentences, or the title) are separated by ``SENTENCE_BREAK`` tokens and numbered
        from 0: no match spans a break, and it is never a ``not_after`` token. Token positions
        count over the whole run. Only the tokens that start a pattern (or a break) are visited,
        found by C-level iteration (map, compress): most tokens of an article start none. The
        case-kept tokens are split out only for the pieces where a case-sensitive pattern or
        guard needs them.
        """
        first = self.first
        starts: Iterable[int] = compress(count(), map(first.get, lower))
        # the tokens a one-token prefix pattern may start
        prefixed = self._prefixed(lower) if self.prefixed_re is not None else set()
        if prefixed:
            starts = sorted({*starts, *prefixed})
        out: list[Hits] = [{} for _ in range(self.parts)]
        found: list[dict[int, list[tuple[int, int]]] | None] = [None] * self.parts  # this piece's
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
                and i not in prefixed
            ):
                # the common case: a one-token match, or none ("la" not followed by "france")
                candidates = node.ends
            else:  # the trie walk from token i: every pattern that ends along it, in match order
                candidates = []
                if i in prefixed:
                    token = lower[i]
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
                        cased_pieces = run.split(BREAK_SEPARATOR)
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
                    found = [None] * self.parts
                hits = found[p.part]
                if hits is None:
                    hits = found[p.part] = out[p.part][piece] = {}
                if p.local in hits:
                    hits[p.local].append((i, len(p.tokens)))
                else:
                    hits[p.local] = [(i, len(p.tokens))]
        return out

    def _prefixed(self, lower: list[bytes]) -> set[int]:
        """Positions of the tokens that start with a one-token prefix pattern's head ("europ*"):
        one regex search over the tokens joined by single spaces (the heads as a trie, so each
        token start costs a few byte tests), each match's position counted in spaces."""
        assert self.prefixed_re is not None
        joined = b" " + b" ".join(lower)
        found: set[int] = set()
        index, counted = -1, 0  # the token the space at counted - 1 starts
        spaces = joined.count
        for start in map(_match_start, self.prefixed_re.finditer(joined)):
            index += spaces(b" ", counted, start + 1)
            counted = start + 1
            found.add(index)
        return found


_match_start = methodcaller("start")
_Trie = dict[int, "_Trie"]  # byte -> the rest; -1: a head ends here


def _starts_regex(heads: Iterable[bytes]) -> bytes:
    """A regex matching the bytes that start with one of ``heads``, written as their trie
    ("c(?:op2|hin)"): the regex engine then tests a few bytes per position, not every head."""
    trie: _Trie = {}
    for head in heads:
        node = trie
        for byte in head:
            node = node.setdefault(byte, {})
        node[-1] = {}  # a head ends here: longer ones add nothing to "starts with"

    def alternation(node: _Trie) -> bytes:
        if -1 in node:
            return b""
        branches = [re.escape(bytes([byte])) + alternation(child) for byte, child in sorted(node.items())]
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    return alternation(trie)


def run_tokens(run: bytes) -> list[bytes]:
    """The lower-case tokens of a folded run (``fold_article``), ending with a break: what
    ``Matcher.scan_tokens`` reads, split once per article for every topic's matcher."""
    lower = run.lower().split()
    if not lower or lower[-1] != SENTENCE_BREAK:  # a final break: walks stop before the end
        lower.append(SENTENCE_BREAK)
    return lower


def _pattern_order(p: _Pattern) -> tuple[int, int]:
    return p.owner, p.rank


def _cased_match(p: _Pattern, cased: list[bytes], i: int) -> bool:
    size = len(p.tokens)
    if not p.prefix_last:
        return tuple(cased[i : i + size]) == p.tokens
    return tuple(cased[i : i + size - 1]) == p.tokens[:-1] and cased[i + size - 1].startswith(p.tokens[-1])


def near(lefts: list[tuple[int, int]] | None, rights: list[tuple[int, int]] | None, window: int) -> bool:
    """Proximity.count on matcher hits: a left match within ``window`` tokens of a right one."""
    if not lefts or not rights:
        return False
    for first, size in rights:
        last = first + size - 1
        if any(first - window <= i <= last + window for i, _ in lefts):
            return True
    return False
