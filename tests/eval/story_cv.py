"""Leave-one-story-out estimate of a topic on text it was not written for.

The event's vocabulary in a topic file (its cast, facts, outcomes) is declared from public
knowledge, but a term that matches in one story of the dev split only may have been added
because of it. For each story of a labelled set, this drops the topic's rules of the event
groups that match in that story's items and in no other story's, scores the story's items
with what is left (as dated, and with every date removed, as ``veille score`` may get them),
and prints precision and recall per kind; ``--drop-groups`` removes whole groups instead (the
rules' estimate with none of that vocabulary at all); ``--url-weight`` scores with the items'
URLs as a zone of that weight (default: the topic's ``[zones] url``). ``--patterns`` is stricter:
it drops every *pattern* of the topic (terms, proximity sides, other events' cases, any group)
found in the held-out story's items and in no other story's, so a word that only one story
of the dev split holds counts for nothing on it; ``--pieces`` also scores the paragraphs cut
from the articles (each line of at least 20 words but the title, read untitled, kind
``piece``, labelled as their article). ``--context`` also judges each held-out story's items in
the batch of the whole split, scored by what the held-out story's topic knows, then propagated
(``monitors/judge/context.py``); ``--other-sources`` keeps a paragraph's own page out of its
neighbours; ``--choose`` chooses the context's options by nested leave-one-story-out. Numbers
for docs/topics.md:

    python tests/eval/story_cv.py [--topic TOML] [--data FILE] [--drop-groups entity,cast] [--url-weight 1]
    python tests/eval/story_cv.py --patterns --pieces
    python tests/eval/story_cv.py --patterns --pieces --context [--other-sources] [--choose]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitors.judge.context import MAX_SHARE, MIN_SHARED, MIN_SIMILARITY, propagate, read_batch  # noqa: E402
from monitors.judge.evaluation import dev_split, read_labelled  # noqa: E402
from monitors.judge.relevance import (  # noqa: E402
    URL_ZONE,
    Topic,
    _compile,
    fold,
    load_topic,
    score_item,
    topic_from_data,
)
from monitors.judge.topic_schema import parse_topic_file  # noqa: E402

#: the topic file's pattern lists, per table
PATTERN_KEYS = {
    "terms": ("patterns",),
    "proximity": ("left", "right"),
    "disambiguation": ("patterns", "case_sensitive_patterns"),
}

EVENT_GROUPS = ("anchor", "named", "tie", "outcome", "entity", "cast")


def _without(topic: Topic, names: set[str], groups: frozenset[str]) -> Topic:
    keep = [t for t in topic.terms if t.name not in names and t.group not in groups]
    near = [p for p in topic.proximities if p.name not in names and p.group not in groups]
    return dataclasses.replace(topic, terms=tuple(keep), proximities=tuple(near))


def article_pieces(items: list[dict], min_words: int = 20) -> list[dict]:
    """The paragraphs of the articles (lines of at least ``min_words`` words, the title's line
    apart) as untitled items of kind ``piece``, with their article's label, date and story."""
    pieces = []
    for item in items:
        if item.get("kind", "article") != "article":
            continue
        title = (item.get("title") or "").strip()
        for n, line in enumerate(item.get("text", "").split("\n")):
            line = line.strip()
            if len(line.split()) >= min_words and line != title:
                pieces.append(dict(item, id=f"{item.get('id')}#{n}", kind="piece", title=None, text=line))
    return pieces


def _stories(items: list[dict]) -> list[str]:
    return [str(i.get("story") or i.get("id") or n) for n, i in enumerate(items)]


def _pattern_reducer(path: Path, items: list[dict]) -> Callable[[str], Topic]:
    """story -> the topic without the patterns found in that story's items only."""
    data, raw = parse_topic_file(path)
    stories = _stories(items)
    texts = [" . ".join((i.get("title") or "", i.get("text", ""))) for i in items]
    folded = [(fold(t), fold(t, keep_case=True)) for t in texts]
    only: dict[str, set[tuple[str, int, str, str]]] = defaultdict(set)
    for table, keys in PATTERN_KEYS.items():
        for n, spec in enumerate(data.get(table, [])):
            for key in keys:
                cased = key == "case_sensitive_patterns" or (
                    key == "patterns" and bool(spec.get("case_sensitive"))
                )
                for pattern in spec.get(key) or ():
                    regex = _compile([pattern], cased)
                    found = {
                        stories[k]
                        for k, (lower, kept) in enumerate(folded)
                        if regex.search(kept if cased else lower)
                    }
                    if len(found) == 1:
                        only[found.pop()].add((table, n, key, pattern))

    def reduced(story: str) -> Topic:
        kept = copy.deepcopy(data)
        for table, n, key, pattern in only.get(story, ()):
            kept[table][n][key] = [p for p in kept[table][n][key] if p != pattern]
        for table, keys in PATTERN_KEYS.items():
            specs = []
            for spec in kept.get(table, []):
                for key in [k for k in keys if k in spec and not spec[k]]:
                    if table == "disambiguation":
                        del spec[key]  # a case needs one of its two lists
                if table == "disambiguation" and not any(spec.get(k) for k in keys):
                    continue
                if table != "disambiguation" and not all(spec.get(k) for k in keys):
                    continue
                specs.append(spec)
            kept[table] = specs
        return topic_from_data(kept, raw, path)

    return reduced


def _predictions(
    topic: Topic,
    items: list[dict],
    event_groups: tuple[str, ...],
    drop_groups: frozenset[str],
    url: bool,
    patterns: bool,
    context: dict[str, Any] | None,
    grid: list[dict[str, Any]] | None = None,
) -> dict[str, dict[tuple[int, bool], bool]]:
    """(item, undated) -> verdict on held-out stories: ``alone`` (each item scored on its own)
    and, with ``context`` (``propagate``'s options), ``context`` (the whole split scored by the
    held-out story's topic as one unlabelled batch, then propagated); with ``grid``, one entry
    per option set, named by its index."""
    stories = _stories(items)
    matched = []
    for item in items:
        found = score_item(topic, item, url=url).evidence["matched"]
        matched.append({n for n, m in found.items() if m["group"] in event_groups})
    by_pattern = _pattern_reducer(Path(topic.path), items) if patterns else None
    out: dict[str, dict[tuple[int, bool], bool]] = defaultdict(dict)
    batches = {u: [dict(i, published_at=None) if u else i for i in items] for u in (False, True)}
    read = {u: read_batch(b) for u, b in batches.items()} if context is not None or grid else {}
    for story in sorted(set(stories)):
        held = [k for k, s in enumerate(stories) if s == story]
        if by_pattern is not None:
            reduced = by_pattern(story)
            if topic.zone_weights != reduced.zone_weights:
                reduced = dataclasses.replace(reduced, zone_weights=topic.zone_weights)
            if drop_groups:
                reduced = _without(reduced, set(), drop_groups)
        else:
            elsewhere = set().union(*(matched[k] for k, s in enumerate(stories) if s != story))
            here = set().union(*(matched[k] for k in held))
            reduced = _without(topic, here - elsewhere, drop_groups)
        for undated, batch in batches.items():
            if context is None and not grid:
                for k in held:
                    out["alone"][(k, undated)] = score_item(reduced, batch[k], url=url).relevant
                continue
            # the whole split, scored by what the held-out story's topic knows, is the batch
            results = [score_item(reduced, item, url=url) for item in batch]
            for k in held:
                out["alone"][(k, undated)] = results[k].relevant
            for name, options in ([("context", context)] if context is not None else []) + [
                (str(n), g) for n, g in enumerate(grid or [])
            ]:
                lifted = propagate(reduced, batch, results, batch=read[undated], **options)
                for k in held:
                    out[name][(k, undated)] = lifted[k].relevant
    return out


def _report(
    topic: Topic, items: list[dict], predicted: dict[tuple[int, bool], bool]
) -> dict[str, dict[str, Any]]:
    relevant = [bool(i["relevant"]) if "relevant" in i else i.get("label") in topic.labels for i in items]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    negatives: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for (k, undated), flagged in sorted(predicted.items()):
        key = f"{items[k].get('kind', 'article')} {'undated' if undated else 'dated'}"
        row = counts[key]
        if flagged and relevant[k]:
            row[0] += 1
        elif flagged:
            row[1] += 1
        elif relevant[k]:
            row[2] += 1
        if not relevant[k]:
            negatives[key][str(items[k].get("label", "negative"))].append(flagged)
    report: dict[str, dict[str, Any]] = {}
    for key, (tp, fp, fn) in sorted(counts.items()):
        report[key] = {
            "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            # per kind of negative: (flagged, of how many)
            "fp_kinds": {label: (sum(f), len(f)) for label, f in sorted(negatives[key].items())},
        }
    return report


def story_cv(
    topic: Topic,
    items: list[dict],
    event_groups: tuple[str, ...] = EVENT_GROUPS,
    drop_groups: frozenset[str] = frozenset(),
    url: bool = True,
    patterns: bool = False,
    context: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per "<kind> dated|undated": precision, recall, tp, fp, fn over held-out stories, and
    ``fp_kinds``: per label of the negatives, (flagged, of how many) (with the
    items' URLs as context, or without them: ``url=False``); ``patterns``: every pattern found
    in the held-out story only is dropped (``_pattern_reducer``), not only event groups' rules;
    ``context``: the held-out story's items judged in the batch of the whole split
    (:func:`monitors.judge.context.propagate` with these options, ``{}`` for its defaults)."""
    predicted = _predictions(topic, items, event_groups, drop_groups, url, patterns, context)
    return _report(topic, items, predicted["context" if context is not None else "alone"])


#: the options the nested choice (``--choose``) picks from
GRID = [
    {"min_similarity": sim, "min_shared": shared, "max_share": share}
    for sim in (0.2, 0.25, 0.3, 0.35, 0.4)
    for shared in (1, 2, 3)
    for share in (0.1, 0.25)
]


def choose(
    topic: Topic, items: list[dict], patterns: bool, url: bool, same_source: bool, fp_cost: float = 3.0
) -> tuple[dict[str, dict[str, Any]], Counter[int], int]:
    """Nested leave-one-story-out: for each held-out story, the options of :data:`GRID` that
    gain most on the *other* stories (each item the context makes relevant: +1 if right,
    ``-fp_cost`` if wrong; ties: the strictest) judge it. Returns the held-out report, how often
    each option set was chosen, and the one the whole split chooses."""
    grid = [dict(g, same_source=same_source) for g in GRID]
    predicted = _predictions(topic, items, EVENT_GROUPS, frozenset(), url, patterns, None, grid)
    relevant = [i.get("label") in topic.labels if "relevant" not in i else bool(i["relevant"]) for i in items]
    stories = _stories(items)
    gain: dict[int, dict[str, float]] = {n: defaultdict(float) for n in range(len(grid))}
    for n in range(len(grid)):
        for key, flagged in predicted[str(n)].items():
            if flagged and not predicted["alone"][key]:
                gain[n][stories[key[0]]] += 1.0 if relevant[key[0]] else -fp_cost

    def strictness(n: int) -> tuple[float, float, float]:
        g = GRID[n]
        return (float(g["min_similarity"]), float(g["min_shared"]), -float(g["max_share"]))

    def best(excluded: str | None) -> int:
        return max(
            range(len(grid)),
            key=lambda n: (sum(v for s, v in gain[n].items() if s != excluded), strictness(n)),
        )

    chosen: Counter[int] = Counter()
    final: dict[tuple[int, bool], bool] = {}
    for story in sorted(set(stories)):
        n = best(story)
        chosen[n] += 1
        final.update({key: v for key, v in predicted[str(n)].items() if stories[key[0]] == story})
    return _report(topic, items, final), chosen, best(None)


def _print(report: dict[str, dict[str, Any]]) -> None:
    for key, row in report.items():
        print(
            f"{key:22s} P {row['precision']:.3f} R {row['recall']:.3f}  tp {row['tp']} fp {row['fp']} fn {row['fn']}"
            + "".join(f"  {label} {f}/{n}" for label, (f, n) in row["fp_kinds"].items())
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topic", type=Path, default=None, help="topic file (default: the summit)")
    parser.add_argument(
        "--data", type=Path, default=None, help="labelled set (default: the shared dev split)"
    )
    parser.add_argument("--drop-groups", default="", help="comma-separated groups to remove entirely")
    parser.add_argument(
        "--url-weight",
        type=float,
        default=None,
        help="weight of the page's URL as a zone ([zones] url; default: the topic's, 0 = without URLs)",
    )
    parser.add_argument(
        "--patterns", action="store_true", help="drop every pattern found in the held-out story only"
    )
    parser.add_argument(
        "--pieces", action="store_true", help="also score the articles' paragraphs read untitled (kind piece)"
    )
    parser.add_argument(
        "--context",
        action="store_true",
        help="also judge each held-out story's items in the batch of the whole split (monitors/judge/context.py)",
    )
    parser.add_argument(
        "--other-sources",
        action="store_true",
        help="with --context: a paragraph's own page (same URL, a piece's article) is not a neighbour",
    )
    parser.add_argument(
        "--choose",
        action="store_true",
        help="with --context: choose the context's options by nested leave-one-story-out (slow)",
    )
    args = parser.parse_args(argv)
    data = dev_split(args.data)
    if data is None:
        print("no shared dev split (../shared/eval/relevance-dev.jsonl): pass --data", file=sys.stderr)
        return 2
    topic = load_topic(args.topic)
    if args.url_weight is not None:
        topic = dataclasses.replace(topic, zone_weights={**topic.zone_weights, URL_ZONE: args.url_weight})
    drop = frozenset(g for g in args.drop_groups.split(",") if g)
    items = read_labelled(data)
    if args.pieces:
        items += article_pieces(items)
    context = {"same_source": not args.other_sources} if args.context else None
    predicted = _predictions(topic, items, EVENT_GROUPS, drop, True, args.patterns, context)
    print(
        f"leave-one-story-out, {data.name}, topic {topic.version}"
        + (", patterns found in one story only dropped" if args.patterns else "")
        + (", with the articles' paragraphs (piece)" if args.pieces else "")
        + (f", without {sorted(drop)}" if drop else "")
        + f", URL zone weight {topic.zone_weights[URL_ZONE]:g}"
    )
    if context is None:
        _print(_report(topic, items, predicted["alone"]))
        return 0
    print("each line alone:")
    _print(_report(topic, items, predicted["alone"]))
    print(
        "in the batch of the whole split (context"
        + (", neighbours from other pages only" if args.other_sources else "")
        + f"; similarity >= {MIN_SIMILARITY}, {MIN_SHARED} shared names or numbers held by <= {MAX_SHARE:.0%} of the batch):"
    )
    _print(_report(topic, items, predicted["context"]))
    if args.choose:
        report, chosen, overall = choose(topic, items, args.patterns, True, not args.other_sources)
        print(
            "options chosen by nested leave-one-story-out (held-out story judged with the options the others chose):"
        )
        for n, times in chosen.most_common():
            print(f"  {GRID[n]}: {times} of {sum(chosen.values())} stories")
        print(f"  the whole split chooses {GRID[overall]}")
        _print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
