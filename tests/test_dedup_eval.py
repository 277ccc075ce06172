"""Near-duplicate detection measured on the labelled pairs built by tests/eval/make_dedup_pairs.py.

Two steps are measured, as the store runs them: the LSH candidate step (the pair shares at least
one band key, i.e. one indexed lookup in article_bands finds it) and the similarity rule
(``is_near_duplicate``); "pipeline" is both. A metric below its floor in
tests/eval/dedup_floors.json fails the test. The floors were pinned slightly below the measured
values; raise them when detection improves, never lower labels to fit.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from monitors.group import dedup
from tests.eval.make_dedup_pairs import Pair, build_pairs

EVAL = Path(__file__).parent / "eval"
FLOORS = EVAL / "dedup_floors.json"


def _load_pairs() -> list[Pair]:
    return build_pairs()  # built, not stored: the seed pairs are seeds/ itself


def _precision_recall(labels: list[bool], predicted: list[bool]) -> tuple[float, float]:
    tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y and p)
    fp = sum(1 for y, p in zip(labels, predicted, strict=True) if not y and p)
    fn = sum(1 for y, p in zip(labels, predicted, strict=True) if y and not p)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


@cache
def measure() -> dict[str, Any]:
    """Metrics plus the misclassified pair ids, computed once per session."""
    pairs = _load_pairs()
    labels, by_sim, by_lsh, rows = [], [], [], []
    for pair in pairs:
        sa, sb = dedup.signature(pair["a"]), dedup.signature(pair["b"])
        sim = dedup.similarity(sa, sb)
        shared = bool(set(dedup.band_keys(sa)) & set(dedup.band_keys(sb)))
        labels.append(bool(pair["duplicate"]))
        by_sim.append(dedup.is_near_duplicate(sa, sb))
        by_lsh.append(shared)
        rows.append((pair["id"], pair["kind"], pair["duplicate"], round(sim, 3), shared))
    pipeline = [s and c for s, c in zip(by_sim, by_lsh, strict=True)]
    metrics: dict[str, Any] = {}
    for name, predicted in (("similarity", by_sim), ("lsh", by_lsh), ("pipeline", pipeline)):
        p, r = _precision_recall(labels, predicted)
        metrics[f"{name}_precision"], metrics[f"{name}_recall"] = p, r
    non_dup = [sim for _, _, dup, sim, _ in rows if not dup]
    metrics["max_non_duplicate_similarity"] = max(non_dup)
    errors = [row for row, y, p in zip(rows, labels, pipeline, strict=True) if y != p]
    return {"metrics": metrics, "errors": errors, "n": len(pairs)}


def test_eval_set_shape() -> None:
    pairs = _load_pairs()
    assert len({p["id"] for p in pairs}) == len(pairs), "duplicate ids"
    assert sum(1 for p in pairs if p["duplicate"]) >= 60
    assert sum(1 for p in pairs if not p["duplicate"]) >= 60
    for p in pairs:
        assert set(p) == {"id", "a", "b", "duplicate", "kind"}
        assert isinstance(p["duplicate"], bool) and p["a"].strip() and p["b"].strip()


def test_eval_set_is_reproducible() -> None:
    """The pairs are built from tests/eval/make_dedup_pairs.py and seeds/, the same every time."""
    pairs = build_pairs()
    assert pairs == build_pairs()
    seeds = {p.read_text("utf-8") for p in (EVAL.parent.parent / "seeds").glob("*.txt")}
    assert len(seeds) == 5 and seeds <= {p["a"] for p in pairs}


METRIC_NAMES = [
    "similarity_precision",
    "similarity_recall",
    "lsh_precision",
    "lsh_recall",
    "pipeline_precision",
    "pipeline_recall",
]


@pytest.mark.parametrize("name", METRIC_NAMES)
def test_metric_above_floor(name: str) -> None:
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    result = measure()
    value = result["metrics"][name]
    assert value >= floors[name], (
        f"{name} = {value:.3f} < floor {floors[name]} on {result['n']} pairs; "
        f"misclassified (id, kind, duplicate, similarity, lsh candidate): {result['errors']}"
    )


def test_hard_negatives_stay_clear_of_threshold() -> None:
    """Topic-alike non-duplicates must stay well below THRESHOLD, not just under it."""
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    value = measure()["metrics"]["max_non_duplicate_similarity"]
    assert value <= floors["max_non_duplicate_similarity_ceiling"] < dedup.THRESHOLD


def test_docs_deduplication_gives_the_floors_and_the_figures_as_they_are() -> None:
    """docs/deduplication.md states the floors of tests/eval/dedup_floors.json and what this
    test measures (it said recall >= 0.95, measured 0.985, long after both were 0.98 and 1.00)."""
    import re

    doc = " ".join((EVAL.parent.parent / "docs" / "deduplication.md").read_text("utf-8").split())
    said = re.search(
        r"the similarity rule and the whole pipeline: precision >= ([\d.]+), recall >= ([\d.]+); "
        r"the LSH candidate step: precision >= ([\d.]+), recall >= ([\d.]+); measured on (\d+) "
        r"pairs: precision ([\d.]+), recall ([\d.]+) at every step",
        doc,
    )
    assert said, "docs/deduplication.md's sentence on the floors changed: change this test with it"
    floors = json.loads(FLOORS.read_text(encoding="utf-8"))
    result = measure()
    metrics = result["metrics"]
    assert [float(x) for x in said.groups()[:4]] == [
        floors["similarity_precision"],
        floors["similarity_recall"],
        floors["lsh_precision"],
        floors["lsh_recall"],
    ]
    assert (floors["pipeline_precision"], floors["pipeline_recall"]) == (
        floors["similarity_precision"],
        floors["similarity_recall"],
    )
    assert int(said.group(5)) == result["n"]
    precision, recall = float(said.group(6)), float(said.group(7))
    for step in ("similarity", "lsh", "pipeline"):
        assert (round(metrics[f"{step}_precision"], 2), round(metrics[f"{step}_recall"], 2)) == (
            precision,
            recall,
        ), step
