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
neighbours; ``--choose`` chooses the context's options by nested leave-one-story-out.
``--exemplars DIR`` also judges each held-out line *alone* as if the documents in DIR (known
coverage of the event, e.g. ``seeds``) were seeds of its batch, with the context's gates
(``--exemplar-similarity``, ``--exemplar-shared``; distinctive: held by at most
``--exemplar-documents`` of them and, with ``--background DIR``, in fewer than 2 of those HTML
pages), whole or cut into lines (``--exemplar-paragraphs``); ``--exemplars-from-split`` takes the
split's relevant articles of the other stories instead (what more exemplars could give);
``--exemplar-grid`` prints what every variant gains, kind by kind. ``--folds K`` holds out K
folds instead of one story at a time, each a set of stories and sites (neither in two folds:
``site_folds``), dealt ``--shuffles`` ways and pooled; ``--motivated`` (with ``--patterns``)
also drops every pattern that no item of the other stories or folds could have motivated.
Numbers for docs/topics.md:

    python tests/eval/story_cv.py [--topic TOML] [--data FILE] [--drop-groups entity,cast] [--url-weight 1]
    python tests/eval/story_cv.py --patterns --pieces
    python tests/eval/story_cv.py --patterns --pieces --context [--other-sources] [--choose]
    python tests/eval/story_cv.py --patterns --pieces --exemplars seeds [--exemplar-grid] [--background DIR]
    python tests/eval/story_cv.py --patterns [--motivated] --folds 5 --shuffles 5
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import random
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitors.group.stories import cosine, features  # noqa: E402
from monitors.judge.context import (  # noqa: E402
    MAX_SHARE,
    MIN_SHARED,
    MIN_SIMILARITY,
    is_candidate,
    names,
    propagate,
    read_batch,
    shared_names,
)
from monitors.judge.evaluation import dev_split, read_labelled  # noqa: E402
from monitors.judge.matcher import compile_patterns  # noqa: E402
from monitors.judge.relevance import RelevanceResult, score_item  # noqa: E402
from monitors.judge.textfold import fold  # noqa: E402
from monitors.judge.topic import URL_ZONE, Topic, load_topic, topic_from_data  # noqa: E402
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


def site(url: str) -> str:
    """A URL's site: its host's last two labels (``www.lemonde.fr`` -> ``lemonde.fr``)."""
    host = (urlsplit(url or "").hostname or "").removeprefix("www.")
    return ".".join(host.split(".")[-2:])


def site_folds(items: list[dict], folds: int, seed: int = 0) -> list[int]:
    """Each item's fold, such that neither a story nor a site sits in two folds: stories and
    sites are joined into groups (an item links its story to its site), the groups dealt in
    ``seed``'s order, each to the fold holding the fewest paragraphs so far (an article weighs a
    fifth of one)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    stories = _stories(items)
    for story, item in zip(stories, items, strict=True):
        if where := site(str(item.get("url") or "")):
            parent[root("story " + story)] = root("site " + where)
    group = [root("story " + story) for story in stories]
    weight: dict[str, float] = defaultdict(float)
    for g, item in zip(group, items, strict=True):
        weight[g] += 1.0 if item.get("kind", "article") == "paragraph" else 0.2
    order = sorted(weight)
    random.Random(seed).shuffle(order)
    load = [0.0] * folds
    fold_of: dict[str, int] = {}
    for g in order:
        fold_of[g] = min(range(folds), key=lambda f: load[f])
        load[fold_of[g]] += weight[g]
    return [fold_of[g] for g in group]


def _pattern_reducer(
    path: Path, items: list[dict], motivated: frozenset[str] | None = None
) -> Callable[[str], Topic]:
    """story -> the topic without the patterns found in that story's items only; with
    ``motivated`` (the topic's relevant labels), stricter: without every pattern that no item of
    the other stories could have motivated (a term or proximity side matching no relevant item
    elsewhere, a disambiguation pattern matching no negative elsewhere), so also the patterns
    that match nothing at all."""
    data, raw = parse_topic_file(path)
    stories = _stories(items)
    texts = [" . ".join((i.get("title") or "", i.get("text", ""))) for i in items]
    folded = [(fold(t), fold(t, keep_case=True)) for t in texts]
    relevant = [i.get("label") in (motivated or ()) for i in items]
    everyone = sorted(set(stories))
    only: dict[str, set[tuple[str, int, str, str]]] = defaultdict(set)
    for table, keys in PATTERN_KEYS.items():
        for n, spec in enumerate(data.get(table, [])):
            for key in keys:
                cased = key == "case_sensitive_patterns" or (
                    key == "patterns" and bool(spec.get("case_sensitive"))
                )
                for pattern in spec.get(key) or ():
                    regex = compile_patterns([pattern], cased)
                    if motivated is not None:
                        negative = table == "disambiguation"
                        found = {
                            stories[k]
                            for k, (lower, kept) in enumerate(folded)
                            if relevant[k] != negative and regex.search(kept if cased else lower)
                        }
                        for story in everyone:
                            if not found - {story}:
                                only[story].add((table, n, key, pattern))
                        continue
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


@dataclass(frozen=True)
class Exemplars:
    """Known coverage of the event read as standing seeds (``--exemplars``): each unit's story
    vector and names, and the names and numbers that say which story (held by few of the
    exemplar documents, not common in background text)."""

    vectors: list[dict[str, float]]
    names: list[dict[str, str]]
    distinctive: frozenset[str]


def read_exemplars(
    documents: list[tuple[str, str]],
    paragraphs: bool = False,
    min_words: int = 12,
    max_documents: int = 1,
    common: frozenset[str] = frozenset(),
) -> Exemplars:
    """``documents``: (name, text) of known coverage of the event. Each is one unit, or with
    ``paragraphs`` each of its lines of at least ``min_words`` words is; a name or number is
    distinctive when at most ``max_documents`` of the documents hold it and ``common`` (the
    features of background text) does not."""
    texts: list[str] = []
    held: Counter[str] = Counter()
    for _, text in documents:
        held.update({f for f in features(text) if f.startswith(("e:", "n:"))})
        lines = [line.strip() for line in text.split("\n") if len(line.split()) >= min_words]
        texts += lines if paragraphs else [text]
    return Exemplars(
        vectors=[features(t) for t in texts],
        names=[names(t) for t in texts],
        distinctive=frozenset(f for f, n in held.items() if n <= max_documents and f not in common),
    )


def exemplar_lifts(
    items: list[dict],
    results: list[RelevanceResult],
    known: Exemplars,
    min_similarity: float = MIN_SIMILARITY,
    min_shared: int = MIN_SHARED,
) -> list[bool]:
    """Each item's verdict when the exemplars are seeds of its batch: a candidate of the context
    (``context.is_candidate``) is lifted by an exemplar unit at cosine ``min_similarity`` or
    more sharing ``min_shared`` distinctive names or numbers (``context.shared_names``), as
    ``context.propagate`` lifts it by a seed; each item alone."""
    out = []
    for item, result in zip(items, results, strict=True):
        lifted = result.relevant
        if is_candidate(result):
            text, title = str(item.get("text") or ""), item.get("title") or None
            vector, own = features(text, title), names(text, title)
            lifted = any(
                cosine(vector, other) >= min_similarity
                and shared_names(vector, other, own, known.names[e], known.distinctive.__contains__)[1]
                >= min_shared
                for e, other in enumerate(known.vectors)
            )
        out.append(lifted)
    return out


def _predictions(
    topic: Topic,
    items: list[dict],
    event_groups: tuple[str, ...],
    drop_groups: frozenset[str],
    url: bool,
    patterns: bool,
    context: dict[str, Any] | None,
    grid: list[dict[str, Any]] | None = None,
    exemplars: dict[str, tuple[Callable[[str], Exemplars], dict[str, Any]]] | None = None,
    motivated: bool = False,
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
    labels = frozenset(topic.labels) if motivated else None
    by_pattern = _pattern_reducer(Path(topic.path), items, labels) if patterns else None
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
                alone = [score_item(reduced, batch[k], url=url) for k in held]
                for k, r in zip(held, alone, strict=True):
                    out["alone"][(k, undated)] = r.relevant
                # known coverage of the event as standing seeds: each held-out line alone
                for name, (known, options) in (exemplars or {}).items():
                    verdicts = exemplar_lifts([batch[k] for k in held], alone, known(story), **options)
                    for k, verdict in zip(held, verdicts, strict=True):
                        out[name][(k, undated)] = verdict
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


def background_features(pages: Path, min_pages: int = 2) -> frozenset[str]:
    """The names and numbers (``e:``/``n:`` story features) that at least ``min_pages`` of the
    HTML pages in ``pages`` (text unrelated to any topic: the shared corpus) hold: common words,
    whatever the story."""
    from monitors.judge.extract import ExtractionError, extract_article

    held: Counter[str] = Counter()
    for path in sorted(pages.glob("*.html")):
        try:
            page = extract_article(path.read_bytes(), f"https://example.org/{path.stem}")
        except ExtractionError:
            continue
        held.update({f for f in features(page.text, page.title) if f.startswith(("e:", "n:"))})
    return frozenset(f for f, n in held.items() if n >= min_pages)


def exemplar_variants(
    documents: Callable[[str], list[tuple[str, str]]],
    common: frozenset[str],
    grid: bool,
    paragraphs: bool = False,
    max_documents: int = 1,
    min_similarity: float = MIN_SIMILARITY,
    min_shared: int = MIN_SHARED,
) -> dict[str, tuple[Callable[[str], Exemplars], dict[str, Any]]]:
    """story -> exemplars, and the gates, of each variant measured: the one given, or with
    ``grid`` every one of whole documents or paragraphs, a name or number held by at most 1, 2
    or 5 documents, with or without ``common`` (the background's common names and numbers),
    similarity 0.15-0.35 and 1-3 shared (the context's gates, looser and stricter)."""
    variants: dict[str, tuple[Callable[[str], Exemplars], dict[str, Any]]] = {}
    units = (True, False) if grid else (paragraphs,)
    for para in units:
        for docs in (1, 2, 5) if grid else (max_documents,):
            for bg in (False, True) if grid else (bool(common),):

                @functools.cache
                def known(story: str, para: bool = para, docs: int = docs, bg: bool = bg) -> Exemplars:
                    return read_exemplars(
                        documents(story),
                        paragraphs=para,
                        max_documents=docs,
                        common=common if bg else frozenset(),
                    )

                for sim in (0.15, 0.2, 0.25, 0.3, 0.35) if grid else (min_similarity,):
                    for shared in (1, 2, 3) if grid else (min_shared,):
                        name = (
                            f"{'paragraphs' if para else 'documents'}, distinctive in <= {docs}"
                            + (", not common in the background" if bg else "")
                            + f", similarity >= {sim}, {shared} shared"
                        )
                        variants[name] = (known, {"min_similarity": sim, "min_shared": shared})
    return variants


def _print(report: dict[str, dict[str, Any]]) -> None:
    for key, row in report.items():
        print(
            f"{key:22s} P {row['precision']:.3f} R {row['recall']:.3f}  tp {row['tp']} fp {row['fp']} fn {row['fn']}"
            + "".join(f"  {label} {f}/{n}" for label, (f, n) in row["fp_kinds"].items())
        )


def _print_change(name: str, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> None:
    """One line: true and false positives gained per kind ("+tp/+fp"), and the negatives' kinds
    whose false positives rose."""
    cells = []
    for key, row in after.items():
        old = before[key]
        cells.append(f"{key} +{row['tp'] - old['tp']}/+{row['fp'] - old['fp']}")
        cells += [
            f"!{label} {f}/{n}" for label, (f, n) in row["fp_kinds"].items() if f > old["fp_kinds"][label][0]
        ]
    print(f"{name:45s} " + "  ".join(cells))


def _by_folds(topic: Topic, labelled: list[dict], drop: frozenset[str], args: argparse.Namespace) -> int:
    """``--folds K``: each fold of stories and sites (:func:`site_folds`) held out in turn, each
    item alone; per fold the dated paragraphs' recall, then every kind pooled over the shuffles."""
    items: list[dict] = []
    predicted: dict[tuple[int, bool], bool] = {}
    relevant = frozenset(topic.labels)
    print(
        f"{args.folds} folds of stories and sites, {args.shuffles} shuffle(s), {args.data or 'dev split'}, "
        f"topic {topic.version}"
        + (", patterns found in one fold only dropped" if args.patterns and not args.motivated else "")
        + (", patterns no other fold motivates dropped" if args.patterns and args.motivated else "")
        + (", with the articles' paragraphs (piece)" if args.pieces else "")
        + (f", without {sorted(drop)}" if drop else "")
    )
    for shuffle in range(args.shuffles):
        folds = site_folds(labelled, args.folds, shuffle)
        dealt = [dict(i, story=f"fold {f}") for i, f in zip(labelled, folds, strict=True)]
        if args.pieces:
            dealt += article_pieces(dealt)
        found = _predictions(
            topic, dealt, EVENT_GROUPS, drop, True, args.patterns, None, motivated=args.motivated
        )
        per_fold: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (k, undated), flagged in found["alone"].items():
            predicted[(len(items) + k, undated)] = flagged
            item = dealt[k]
            if not undated and item.get("kind") == "paragraph" and item.get("label") in relevant:
                per_fold[item["story"]][0] += flagged
                per_fold[item["story"]][1] += 1
        items += dealt
        print(
            f"shuffle {shuffle}, relevant paragraphs dated found per fold: "
            + ", ".join(f"{tp}/{n}" for _, (tp, n) in sorted(per_fold.items()))
        )
    _print(_report(topic, items, predicted))
    return 0


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
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        help="hold out K folds of stories and sites (neither in two folds) instead of one story at a time",
    )
    parser.add_argument("--shuffles", type=int, default=1, help="with --folds: deal the folds N ways, pooled")
    parser.add_argument(
        "--motivated",
        action="store_true",
        help="with --patterns: also drop the patterns no item of the other stories (folds) motivates",
    )
    known_coverage = parser.add_argument_group("known coverage of the event as standing seeds")
    for flag, options in (
        ("--exemplars", {"type": Path, "help": "the *.txt documents of this folder (e.g. seeds)"}),
        (
            "--exemplars-from-split",
            {"action": "store_true", "help": "the split's relevant articles of other stories"},
        ),
        ("--exemplar-paragraphs", {"action": "store_true", "help": "exemplars cut into lines of 12+ words"}),
        ("--exemplar-similarity", {"type": float, "default": MIN_SIMILARITY, "help": "least cosine to one"}),
        (
            "--exemplar-shared",
            {"type": int, "default": MIN_SHARED, "help": "least distinctive names in common"},
        ),
        ("--exemplar-documents", {"type": int, "default": 1, "help": "distinctive: in at most N exemplars"}),
        ("--background", {"type": Path, "help": "HTML pages: a name in 2+ of them is not distinctive"}),
        ("--exemplar-grid", {"action": "store_true", "help": "every variant's gains, one line each"}),
    ):
        known_coverage.add_argument(flag, **options)
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
    if args.folds:
        return _by_folds(topic, items, drop, args)
    if args.pieces:
        items += article_pieces(items)
    context = {"same_source": not args.other_sources} if args.context else None
    known: dict[str, tuple[Callable[[str], Exemplars], dict[str, Any]]] | None = None
    if args.exemplars is not None or args.exemplars_from_split:
        common = background_features(args.background) if args.background is not None else frozenset()
        if args.exemplars is not None:
            fixed = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(args.exemplars.glob("*.txt"))]
            source = f"the {len(fixed)} documents of {args.exemplars}"

            def documents(story: str) -> list[tuple[str, str]]:
                return fixed
        else:
            stories = _stories(items)
            relevant = [
                (stories[k], str(i.get("id")), "\n".join((i.get("title") or "", i.get("text", ""))))
                for k, i in enumerate(items)
                if i.get("kind", "article") == "article" and i.get("label") in topic.labels
            ]
            source = "the split's relevant articles of the other stories"

            def documents(story: str) -> list[tuple[str, str]]:
                return [(name, text) for s, name, text in relevant if s != story]

        known = exemplar_variants(
            documents,
            common,
            args.exemplar_grid,
            args.exemplar_paragraphs,
            args.exemplar_documents,
            args.exemplar_similarity,
            args.exemplar_shared,
        )
        context = None
    predicted = _predictions(
        topic,
        items,
        EVENT_GROUPS,
        drop,
        True,
        args.patterns,
        context,
        exemplars=known,
        motivated=args.motivated,
    )
    print(
        f"leave-one-story-out, {data.name}, topic {topic.version}"
        + (", patterns found in one story only dropped" if args.patterns and not args.motivated else "")
        + (", patterns no other story motivates dropped" if args.patterns and args.motivated else "")
        + (", with the articles' paragraphs (piece)" if args.pieces else "")
        + (f", without {sorted(drop)}" if drop else "")
        + f", URL zone weight {topic.zone_weights[URL_ZONE]:g}"
    )
    if known is not None:
        alone = _report(topic, items, predicted["alone"])
        print("each line alone:")
        _print(alone)
        for name in known:
            report = _report(topic, items, predicted[name])
            if args.exemplar_grid:
                _print_change(name, alone, report)
            else:
                print(f"each line alone, with {source} as standing seeds ({name}):")
                _print(report)
        return 0
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
