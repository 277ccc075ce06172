"""Copies and stories measured on the labelled groups of ``stories-{dev,test}.jsonl``.

The split's articles are replayed in publication order through the same rules the store runs
(:mod:`monitors.group.story_store`): exact text hash, MinHash near-duplicate, then containment /
respin / translation against the latest members of the nearest candidate stories, then story
assignment among the candidates. Candidates are found as the store finds them, through the
article's lookup keys (:func:`monitors.group.stories.article_keys`, the store's function): a
change to the keys that stops them finding an event's story shows as lower recall (scoring every
story, as this replay did before, hid it), and ``missed_by_keys`` counts the articles whose best
story the keys did not find. An article
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
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from monitors.group import dedup
from monitors.group.copies import Profile, compare, profile
from monitors.group.stories import JOIN_THRESHOLD, WINDOW_DAYS, StoryIndex, article_keys, cosine, word_count
from monitors.group.story_store import (
    COPY_CANDIDATE,
    COPY_MEMBERS,
    MAX_CANDIDATES,
    NEAR_STORIES,
    PER_KEY_STORIES,
    PREFILTER_SHARED,
    key_day,
)
from monitors.judge.lines import LabelledDataError, json_objects

__all__ = ["COPY_CANDIDATE", "Replay", "evaluate_stories", "shared_eval_dir"]


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
    order: int  # storage order (the store's article id)


class Replay:
    """Articles through exact, near-duplicate, edit-tolerant copies and story assignment, in
    memory, finding candidate stories as the store does: through the lookup keys of
    :func:`monitors.group.stories.article_keys` (``story_keys`` rows kept in a dict, read as
    :data:`monitors.group.story_store._CANDIDATES_SQL` reads them), so that keys that stop
    finding an event's story lower the recall. ``missed`` counts the articles whose best story
    (over every story, at least :data:`JOIN_THRESHOLD`) their keys did not find."""

    def __init__(self) -> None:
        self.index = StoryIndex()
        self.seen: dict[int, _Seen] = {}
        self.rules: dict[int, str] = {}
        # story_keys: key -> (last day, first day, story); a day range for a date known to the month
        self.story_keys: dict[str, set[tuple[date, date, int]]] = defaultdict(set)
        self.missed = 0

    def candidates(self, keys: list[str], at: datetime, at_end: datetime | None) -> list[int]:
        """The live stories the keys find, the most shared first: per key the
        :data:`PER_KEY_STORIES` latest (day, story) rows within :data:`WINDOW_DAYS`, the
        :data:`MAX_CANDIDATES` stories with the most rows, a merged story's rows finding the
        survivor. A date known to the month is any day of it, for the row's day as for the
        window."""
        d0, d1 = key_day(at, -WINDOW_DAYS), key_day(at_end or at, WINDOW_DAYS)
        hits: Counter[int] = Counter()
        for key in keys:
            rows = sorted(
                (r for r in self.story_keys.get(key, ()) if r[0] >= d0 and r[1] <= d1), reverse=True
            )
            hits.update(story for _, _, story in rows[:PER_KEY_STORIES])
        live: dict[int, int] = {}
        for story, n in sorted(hits.items(), key=lambda kv: (-kv[1], -kv[0]))[:MAX_CANDIDATES]:
            target = self.index.story_of(story)
            if target in self.index.stories:
                live[target] = max(live.get(target, 0), n)
        return [story for story, _ in sorted(live.items(), key=lambda kv: (-kv[1], -kv[0]))]

    def _copy_of(
        self, prof: Profile, sig: list[int], thash: str, vector: dict[str, float], near: list[int]
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
        # as the store: the latest members of the nearest stories that could be a copy
        stories = [(cosine(vector, self.index.stories[i].total), i) for i in near[:NEAR_STORIES]]
        nearest = sorted((r for r in stories if r[0] >= COPY_CANDIDATE), key=lambda r: (-r[0], r[1]))
        for _raw, story in nearest:
            latest = sorted(self.index.stories[story].members, key=lambda m: -self.seen[m].order)
            for member in latest[:COPY_MEMBERS]:
                other = self.seen[member]
                translation = bool(prof.language and other.profile.language) and (
                    prof.language != other.profile.language
                )
                if not translation and _shared(sig, other.signature) < PREFILTER_SHARED:
                    continue  # as the store's members query: no 5-gram in common, no copy
                evidence = compare(prof, other.profile)
                if evidence.rule:
                    return other.root, evidence.rule
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
        vector, keys = article_keys(text, title, language)
        near = self.candidates(keys, at, at_end)
        root, rule = self._copy_of(prof, sig, thash, vector, near)
        story_id = self.seen[root].story if root is not None else None
        if rule:
            self.rules[article_id] = rule
        if story_id is None:
            best = self.index.ranked(vector, at, at_end)
            if best and best[0][0] >= JOIN_THRESHOLD and best[0][1] not in near:
                self.missed += 1
        assignment = self.index.assign(
            article_id, vector, at, word_count(text), story_id=story_id, at_end=at_end, candidates=near
        )
        if assignment.story_id is not None:
            days = (key_day(at_end or at, 0), key_day(at, 0))
            for key in keys:
                self.story_keys[key].add((*days, assignment.story_id))
        self.seen[article_id] = _Seen(
            article_id,
            prof,
            sig,
            thash,
            root if root is not None else article_id,
            assignment.story_id,
            len(self.seen),
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
            "missed_by_keys": replay.missed,
        },
        "assignments": {m["key"]: stories[m["key"]] for m in members},
    }
