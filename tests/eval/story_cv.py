"""Leave-one-story-out estimate of a topic on text it was not written for.

The event's vocabulary in a topic file (its cast, facts, outcomes) is declared from public
knowledge, but a term that matches in one story of the dev split only may have been added
because of it. For each story of a labelled set, this drops the topic's rules of the event
groups that match in that story's items and in no other story's, scores the story's items
with what is left (as dated, and with every date removed, as ``veille score`` may get them),
and prints precision and recall per kind; ``--drop-groups`` removes whole groups instead (the
rules' estimate with none of that vocabulary at all); ``--url-weight`` scores with the items'
URLs as a zone of that weight (default: the topic's ``[zones] url``). Numbers for docs/topics.md:

    python tests/eval/story_cv.py [--topic TOML] [--data FILE] [--drop-groups entity,cast] [--url-weight 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitors.judge.evaluation import dev_split, read_labelled  # noqa: E402
from monitors.judge.relevance import URL_ZONE, Topic, load_topic, score_item  # noqa: E402

EVENT_GROUPS = ("anchor", "named", "tie", "outcome", "entity", "cast")


def _without(topic: Topic, names: set[str], groups: frozenset[str]) -> Topic:
    keep = [t for t in topic.terms if t.name not in names and t.group not in groups]
    near = [p for p in topic.proximities if p.name not in names and p.group not in groups]
    return dataclasses.replace(topic, terms=tuple(keep), proximities=tuple(near))


def story_cv(
    topic: Topic,
    items: list[dict],
    event_groups: tuple[str, ...] = EVENT_GROUPS,
    drop_groups: frozenset[str] = frozenset(),
    url: bool = True,
) -> dict[str, dict[str, float]]:
    """Per "<kind> dated|undated": precision, recall, tp, fp, fn over held-out stories (with the
    items' URLs as context, or without them: ``url=False``)."""
    relevant = [bool(i["relevant"]) if "relevant" in i else i.get("label") in topic.labels for i in items]
    stories = [str(i.get("story") or i.get("id") or n) for n, i in enumerate(items)]
    matched = []
    for item in items:
        found = score_item(topic, item, url=url).evidence["matched"]
        matched.append({n for n, m in found.items() if m["group"] in event_groups})
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for story in sorted(set(stories)):
        held = [k for k, s in enumerate(stories) if s == story]
        elsewhere = set().union(*(matched[k] for k, s in enumerate(stories) if s != story))
        here = set().union(*(matched[k] for k in held))
        reduced = _without(topic, here - elsewhere, drop_groups)
        for k in held:
            for undated in (False, True):
                item = dict(items[k], published_at=None) if undated else items[k]
                predicted = score_item(reduced, item, url=url).relevant
                row = counts[f"{items[k].get('kind', 'article')} {'undated' if undated else 'dated'}"]
                if predicted and relevant[k]:
                    row[0] += 1
                elif predicted:
                    row[1] += 1
                elif relevant[k]:
                    row[2] += 1
    report = {}
    for key, (tp, fp, fn) in sorted(counts.items()):
        report[key] = {
            "precision": round(tp / (tp + fp), 3) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 3) if tp + fn else 0.0,
            "tp": tp,
            "fp": fp,
            "fn": fn,
        }
    return report


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
    args = parser.parse_args(argv)
    data = dev_split(args.data)
    if data is None:
        print("no shared dev split (../shared/eval/relevance-dev.jsonl): pass --data", file=sys.stderr)
        return 2
    topic = load_topic(args.topic)
    if args.url_weight is not None:
        topic = dataclasses.replace(topic, zone_weights={**topic.zone_weights, URL_ZONE: args.url_weight})
    drop = frozenset(g for g in args.drop_groups.split(",") if g)
    report = story_cv(topic, read_labelled(data), drop_groups=drop)
    print(
        f"leave-one-story-out, {data.name}, topic {topic.version}"
        + (f", without {sorted(drop)}" if drop else "")
        + f", URL zone weight {topic.zone_weights[URL_ZONE]:g}"
    )
    for key, row in report.items():
        print(
            f"{key:22s} P {row['precision']:.3f} R {row['recall']:.3f}  tp {row['tp']} fp {row['fp']} fn {row['fn']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
