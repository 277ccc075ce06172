"""Copies and stories measured on the labelled groups of ``stories-{dev,test}.jsonl``.

The split's articles are replayed in publication order through the same rules the store runs
(:func:`link`): exact text hash, MinHash near-duplicate, then containment / respin /
translation against the members of the candidate stories, then story assignment. An article
without a date gets its fetch time, which in a replay is the latest date already seen; a date
known only to the month is the span of that month.

Copies are scored as pairs: every pair of one ``is_copy`` group is a copy, every other pair is
not; predicted pairs are articles linked into one copy cluster. Stories are scored with
B-cubed precision/recall/F1 against the members' ``event`` slugs, and ``mixed_stories`` counts
predicted stories holding two different events.
"""

from __future__ import annotations

import calendar
import itertools
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.group import dedup
from monitors.group.copies import Profile, compare, profile
from monitors.group.stories import WINDOW_DAYS, StoryIndex, cosine, distance_days, features, word_count
from monitors.group.story_store import PREFILTER_SHARED
from monitors.judge.lines import LabelledDataError, json_objects

__all__ = ["COPY_CANDIDATE", "Replay", "evaluate_stories", "shared_eval_dir"]

#: A story is searched for an article's copies when the article's raw similarity to it reaches
#: this (no time decay: a republication can come days later).
COPY_CANDIDATE = 0.15


def shared_eval_dir() -> Path | None:
    """``../shared/eval`` next to the repository, else ``/work/shared/eval`` (None: neither)."""
    for candidate in (Path(__file__).resolve().parents[3] / "shared" / "eval", Path("/work/shared/eval")):
        if (candidate / "stories-dev.jsonl").is_file():
            return candidate
    return None


def _span(value: str | None) -> tuple[datetime | None, datetime | None]:
    """A published_at string as (start, end of its month or None); (None, None) when absent."""
    if not value:
        return None, None
    if len(value) == 7:  # YYYY-MM
        start = datetime.fromisoformat(value + "-01").replace(tzinfo=UTC)
        days = calendar.monthrange(start.year, start.month)[1]
        return start, start + timedelta(days=days) - timedelta(seconds=1)
    at = datetime.fromisoformat(value)
    return (at if at.tzinfo else at.replace(tzinfo=UTC)), None


def _shared(a: list[int], b: list[int]) -> int:
    """Equal values of two MinHash signatures (what the store's members query counts)."""
    return sum(1 for x, y in zip(a, b, strict=True) if x == y)


@dataclass
class _Seen:
    id: int
    profile: Profile
    signature: list[int]
    text_hash: str
    root: int  # copy cluster root (itself when an original)
    story: int | None


class Replay:
    """Articles through exact, near-duplicate, edit-tolerant copies and story assignment, in memory."""

    def __init__(self) -> None:
        self.index = StoryIndex()
        self.seen: dict[int, _Seen] = {}
        self.rules: dict[int, str] = {}

    def _copy_of(
        self,
        prof: Profile,
        sig: list[int],
        thash: str,
        vector: dict[str, float],
        at: datetime,
        at_end: datetime | None,
    ) -> tuple[int | None, str | None]:
        for s in self.seen.values():
            if s.text_hash == thash:
                return s.root, "exact"
        keys = set(dedup.band_keys(sig))
        roots = [
            s.root
            for s in self.seen.values()
            if keys & set(dedup.band_keys(s.signature)) and dedup.is_near_duplicate(sig, s.signature)
        ]
        if roots:
            return min(roots), "minhash"
        candidates = [
            story
            for story in self.index.stories.values()
            if distance_days(at, story.first_seen, story.last_seen, at_end) <= WINDOW_DAYS
            and cosine(vector, story.total) >= COPY_CANDIDATE
        ]
        for story in candidates:
            for member in story.members:
                other = self.seen[member]
                translation = bool(prof.language and other.profile.language) and (
                    prof.language != other.profile.language
                )
                if not translation and _shared(sig, other.signature) < PREFILTER_SHARED:
                    continue  # as the store's members query: no 5-gram in common, no copy
                evidence = compare(prof, other.profile)
                if evidence.rule:
                    return self.seen[member].root, evidence.rule
        return None, None

    def add(
        self,
        article_id: int,
        text: str,
        title: str | None,
        language: str | None,
        at: datetime,
        at_end: datetime | None = None,
    ) -> tuple[int, int | None]:
        """Store one article; returns (copy cluster root, story id)."""
        prof = profile(text, language)
        thash, sig = dedup.fingerprint(text)
        vector = features(text, title)
        root, rule = self._copy_of(prof, sig, thash, vector, at, at_end)
        story_id = self.seen[root].story if root is not None else None
        if rule:
            self.rules[article_id] = rule
        assignment = self.index.assign(
            article_id, vector, at, word_count(text), story_id=story_id, at_end=at_end
        )
        self.seen[article_id] = _Seen(
            article_id, prof, sig, thash, root if root is not None else article_id, assignment.story_id
        )
        return self.seen[article_id].root, assignment.story_id


def _bcubed(predicted: dict[str, Any], gold: dict[str, str]) -> dict[str, float]:
    items = list(gold)
    precision = recall = 0.0
    for i in items:
        same_pred = [j for j in items if predicted[j] == predicted[i]]
        same_gold = [j for j in items if gold[j] == gold[i]]
        correct = sum(1 for j in same_pred if gold[j] == gold[i])
        precision += correct / len(same_pred)
        recall += correct / len(same_gold)
    p, r = precision / len(items), recall / len(items)
    return {
        "precision": round(p, 4),
        "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r) if p + r else 0.0, 4),
    }


def _group(path: str | Path, at: int, group: dict[str, Any]) -> dict[str, Any]:
    """A group line as ``evaluate_stories`` reads it, or :class:`LabelledDataError` at FILE:LINE."""
    members = group.get("members")
    if not isinstance(group.get("is_copy"), bool):
        raise LabelledDataError(f'{path}:{at}: missing or non-boolean "is_copy"')
    if not isinstance(members, list) or not members:
        raise LabelledDataError(f'{path}:{at}: "members" must be a non-empty list')
    for n, member in enumerate(members, 1):
        if not isinstance(member, dict) or not isinstance(member.get("key"), str):
            raise LabelledDataError(f'{path}:{at}: member {n} has no string "key"')
        if not isinstance(member.get("text"), str):
            raise LabelledDataError(f'{path}:{at}: member {n} ({member["key"]}) has no string "text"')
        if not isinstance(member.get("event"), str):
            raise LabelledDataError(f'{path}:{at}: member {n} ({member["key"]}) has no string "event"')
        value = member.get("published_at")
        try:
            _span(value)
        except (TypeError, ValueError) as exc:
            raise LabelledDataError(
                f'{path}:{at}: member {n} ({member["key"]}): "published_at" {value!r} is not a date: {exc}'
            ) from None
    return group


def evaluate_stories(path: str | Path) -> dict[str, Any]:
    """Copies precision/recall (pairs), stories B-cubed and mixed stories on one split."""
    groups: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, group in json_objects(path):
        groups.append(_group(path, line, group))
        for member in group["members"]:
            key = member["key"]
            if key in seen:  # the key names an article's copy cluster and story
                raise LabelledDataError(
                    f"{path}:{line}: member key {key!r} is already used on line {seen[key]}"
                )
            seen[key] = line
    if not groups:
        raise LabelledDataError(f"{path}: no labelled group (an empty file measures nothing)")
    members: list[dict[str, Any]] = []
    copy_pairs: set[frozenset[str]] = set()
    for group in groups:
        keys = [m["key"] for m in group["members"]]
        if group["is_copy"]:
            copy_pairs |= {frozenset(p) for p in itertools.combinations(keys, 2)}
        members += group["members"]
    spans = {m["key"]: _span(m.get("published_at")) for m in members}
    dated: list[tuple[datetime, int]] = []
    for n, m in enumerate(members):
        start = spans[m["key"]][0]
        if start is not None:
            dated.append((start, n))
    dated.sort()
    # an undated article is fetched after everything else (a split with no date: any one time)
    now = max((at for at, _ in dated), default=datetime(2000, 1, 1, tzinfo=UTC))
    order = [n for _, n in dated] + [n for n, m in enumerate(members) if spans[m["key"]][0] is None]
    replay = Replay()
    roots: dict[str, int] = {}
    stories: dict[str, Any] = {}
    for n in order:
        m = members[n]
        at, at_end = spans[m["key"]]
        root, story = replay.add(n, m["text"], m.get("title"), m.get("lang"), at or now, at_end)
        roots[m["key"]] = root
        stories[m["key"]] = story if story is not None else f"alone:{m['key']}"
    # a story merged into another after some of its articles were assigned: score the survivor
    stories = {k: replay.index.story_of(v) if isinstance(v, int) else v for k, v in stories.items()}
    predicted_pairs = {frozenset((a, b)) for a, b in itertools.combinations(roots, 2) if roots[a] == roots[b]}
    tp = len(predicted_pairs & copy_pairs)
    copies = {
        "precision": round(tp / len(predicted_pairs), 4) if predicted_pairs else 1.0,
        "recall": round(tp / len(copy_pairs), 4) if copy_pairs else 1.0,
        "pairs": len(copy_pairs),
        "predicted": len(predicted_pairs),
        "missed": sorted("/".join(sorted(p)) for p in copy_pairs - predicted_pairs),
        "wrong": sorted("/".join(sorted(p)) for p in predicted_pairs - copy_pairs),
    }
    gold = {m["key"]: m["event"] for m in members}
    by_story: dict[Any, set[str]] = defaultdict(set)
    for key, story in stories.items():
        by_story[story].add(gold[key])
    mixed = sorted(sorted(events) for events in by_story.values() if len(events) > 1)
    return {
        "articles": len(members),
        "groups": len(groups),
        "copies": copies,
        "stories": {
            **_bcubed(stories, gold),
            "predicted": len(by_story),
            "events": len(set(gold.values())),
            "mixed_stories": len(mixed),
            "mixed": mixed,
        },
        "assignments": {m["key"]: stories[m["key"]] for m in members},
    }
