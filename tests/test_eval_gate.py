"""Eval gate: relevance and language metrics on the labelled sets must stay above their floors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypedDict

import pytest

from monitors.judge.evaluation import evaluate_language, evaluate_relevance, read_labelled, shared_eval_dir
from monitors.judge.relevance import score_relevance
from monitors.judge.topic import load_topic

EVAL_DIR = Path(__file__).parent / "eval"


class SplitFloors(TypedDict):
    min: dict[str, float]
    max: dict[str, float]


class Floors(TypedDict):
    """tests/eval/floors.json (its "_comment" keys aside): metric floors per labelled set."""

    relevance: dict[str, float]
    language: dict[str, float]
    relevance_test: SplitFloors  # the shared test split: floors and ceilings
    relevance_eu_ai_act: dict[str, float]
    extraction: SplitFloors  # the shared corpus: tests/test_extract_gate.py


FLOORS: Floors = json.loads((EVAL_DIR / "floors.json").read_text("utf-8"))


def _metric(report: dict[str, Any], dotted: str) -> float:
    value: Any = report
    for key in dotted.split("."):
        value = value[key]
    return float(value)


@pytest.fixture(scope="module")
def relevance_report() -> dict[str, Any]:
    return evaluate_relevance(EVAL_DIR / "relevance.jsonl", load_topic())


@pytest.fixture(scope="module")
def language_report() -> dict[str, Any]:
    return evaluate_language(EVAL_DIR / "language.jsonl")


def test_eval_sets_are_big_enough() -> None:
    rel = read_labelled(EVAL_DIR / "relevance.jsonl")
    lang = read_labelled(EVAL_DIR / "language.jsonl")
    assert len(rel) >= 120
    assert len(lang) >= 200
    assert sum(1 for r in rel if "seed" in r["tags"]) == 5
    assert all(not r["relevant"] for r in rel if "hard_negative" in r["tags"])


@pytest.mark.parametrize("metric", sorted(FLOORS["relevance"]))
def test_relevance_floor(relevance_report: dict[str, Any], metric: str) -> None:
    value = _metric(relevance_report, metric)
    floor = FLOORS["relevance"][metric]
    assert value >= floor, (
        f"relevance {metric} = {value} < floor {floor}; errors: {relevance_report['errors']}"
    )


@pytest.mark.parametrize("metric", sorted(FLOORS["language"]))
def test_language_floor(language_report: dict[str, Any], metric: str) -> None:
    value = _metric(language_report, metric)
    floor = FLOORS["language"][metric]
    assert value >= floor, f"language {metric} = {value} < floor {floor}; errors: {language_report['errors']}"


def test_all_seeds_relevant() -> None:
    topic = load_topic()
    for path in sorted((Path(__file__).parents[1] / "seeds").glob("*.txt")):
        result = score_relevance(topic, path.read_text("utf-8"))
        assert result.relevant, (path.name, result.score, result.evidence)


SHARED = shared_eval_dir(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def shared_test_report() -> dict[str, Any]:
    if SHARED is None:
        pytest.skip("shared labelled sets absent (../shared/eval, /work/shared/eval): not measured")
    return evaluate_relevance(SHARED / "relevance-test.jsonl", load_topic())


SPLIT_FLOORS = FLOORS["relevance_test"]


@pytest.mark.parametrize("metric", sorted(SPLIT_FLOORS["min"]))
def test_shared_test_split_floor(shared_test_report: dict[str, Any], metric: str) -> None:
    value, floor = _metric(shared_test_report, metric), SPLIT_FLOORS["min"][metric]
    assert value >= floor, (
        f"test split {metric} = {value} < floor {floor}; errors: {shared_test_report['errors']}"
    )


@pytest.mark.parametrize("metric", sorted(SPLIT_FLOORS["max"]))
def test_shared_test_split_ceiling(shared_test_report: dict[str, Any], metric: str) -> None:
    value, ceiling = _metric(shared_test_report, metric), SPLIT_FLOORS["max"][metric]
    assert value <= ceiling, (
        f"test split {metric} = {value} > {ceiling}; errors: {shared_test_report['errors']}"
    )


@pytest.mark.parametrize("metric", sorted(FLOORS["relevance_eu_ai_act"]))
def test_second_topic_floor_on_its_own_examples(metric: str) -> None:
    """The EU AI Act topic, on the examples we wrote for it (tests/eval/relevance-eu_ai_act.jsonl)."""
    from monitors.judge.topic_set import DEFAULT_TOPICS_DIR

    report = evaluate_relevance(
        EVAL_DIR / "relevance-eu_ai_act.jsonl", load_topic(DEFAULT_TOPICS_DIR / "eu_ai_act.toml")
    )
    assert report["n"] >= 20 and report["hard_negatives"] >= 8
    value, floor = _metric(report, metric), FLOORS["relevance_eu_ai_act"][metric]
    assert value >= floor, f"eu_ai_act {metric} = {value} < floor {floor}; errors: {report['errors']}"
