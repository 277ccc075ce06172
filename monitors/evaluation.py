"""Measure relevance and language detection on labelled text, and score JSON lines.

The eval sets live in tests/eval/ (hand-written, labelled); tests/test_eval_gate.py pins
floors on the figures computed here so a change that degrades them fails the build.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from monitors.language import detect_language
from monitors.relevance import Topic, score_relevance

HARD_NEGATIVE_TAG = "hard_negative"
LONG_TEXT_WORDS = 20
TITLE_WORDS = (5, 10)
_WORD_RE = re.compile(r"\w+(?:['’\-]\w+)*")


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "support": tp + fn,
    }


def _word_count(text: str) -> int:
    return len(_WORD_RE.findall(text))


def evaluate_relevance(path: str | Path, topic: Topic) -> dict[str, Any]:
    """Precision/recall/F1 for both labels, hard-negative precision, and the errors.

    hard_negative_precision: among items tagged "hard_negative" (all labelled not relevant:
    other AI summits, the AI Act alone, product launches, data centres, other Paris events,
    French politics without AI...), the fraction the scorer correctly does NOT flag as
    relevant, i.e. 1 - false-positive rate on the hard negatives.
    """
    items = _read_jsonl(path)
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    hard_total = hard_ok = 0
    errors: list[dict[str, Any]] = []
    for item in items:
        result = score_relevance(topic, item.get("text", ""), title=item.get("title"))
        truth = bool(item["relevant"])
        predicted = result.relevant
        key = ("t" if truth == predicted else "f") + ("p" if predicted else "n")
        counts[key] += 1
        if HARD_NEGATIVE_TAG in item.get("tags", []):
            hard_total += 1
            hard_ok += int(not predicted)
        if truth != predicted:
            errors.append(
                {
                    "id": item["id"],
                    "expected": truth,
                    "score": result.score,
                    "terms": result.terms,
                    "tags": item.get("tags", []),
                    "disambiguation": result.evidence["disambiguation"]["cases"],
                }
            )
    relevant = _prf(counts["tp"], counts["fp"], counts["fn"])
    not_relevant = _prf(counts["tn"], counts["fn"], counts["fp"])
    total = len(items)
    return {
        "n": total,
        "accuracy": round((counts["tp"] + counts["tn"]) / total, 4) if total else 0.0,
        "relevant": relevant,
        "not_relevant": not_relevant,
        "confusion": counts,
        "hard_negatives": hard_total,
        "hard_negative_precision": round(hard_ok / hard_total, 4) if hard_total else 0.0,
        "topic_version": topic.version,
        "errors": errors,
    }


def evaluate_language(path: str | Path) -> dict[str, Any]:
    """Accuracy overall, on texts of >= 20 words, on titles of 5-10 words; per-language P/R/F1.

    "und" counts as a wrong answer (the labels are all real languages).
    """
    items = _read_jsonl(path)
    buckets: dict[str, list[bool]] = {"overall": [], "long_texts": [], "titles": []}
    predictions: list[tuple[str, str]] = []
    errors: list[dict[str, Any]] = []
    for item in items:
        text = item["text"]
        result = detect_language(text)
        truth = item["language"]
        ok = result.language == truth
        predictions.append((truth, result.language))
        buckets["overall"].append(ok)
        words = _word_count(text)
        if item.get("kind") == "title" and TITLE_WORDS[0] <= words <= TITLE_WORDS[1]:
            buckets["titles"].append(ok)
        elif item.get("kind", "text") == "text" and words >= LONG_TEXT_WORDS:
            buckets["long_texts"].append(ok)
        if not ok:
            errors.append(
                {
                    "id": item["id"],
                    "expected": truth,
                    "got": result.language,
                    "confidence": result.confidence,
                    "kind": item.get("kind"),
                    "text": text[:120],
                }
            )
    per_language: dict[str, dict[str, float]] = {}
    for lang in sorted({t for t, _ in predictions}):
        tp = sum(1 for t, p in predictions if t == lang and p == lang)
        fp = sum(1 for t, p in predictions if t != lang and p == lang)
        fn = sum(1 for t, p in predictions if t == lang and p != lang)
        per_language[lang] = _prf(tp, fp, fn)

    def acc(values: list[bool]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    return {
        "n": len(items),
        "accuracy": acc(buckets["overall"]),
        "accuracy_long_texts": acc(buckets["long_texts"]),
        "n_long_texts": len(buckets["long_texts"]),
        "accuracy_titles": acc(buckets["titles"]),
        "n_titles": len(buckets["titles"]),
        "undetermined": sum(1 for _, p in predictions if p == "und"),
        "per_language": per_language,
        "errors": errors,
    }


def score_lines(lines: Iterable[str], topic: Topic) -> Iterator[str]:
    """Score JSON lines ({"text", optional "title"/"description"/"id"}) into JSON lines.

    A line that is not a JSON object with a string "text" yields {"error", "line"} instead of
    raising, so one bad record never stops a batch. Blank lines are skipped.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record: Any = None
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            text = record.get("text")
            if not isinstance(text, str):
                raise ValueError('missing or non-string "text"')
            title = record.get("title")
            description = record.get("description")
            if title is not None and not isinstance(title, str):
                raise ValueError('"title" must be a string')
            if description is not None and not isinstance(description, str):
                raise ValueError('"description" must be a string')
            language = detect_language(text, title=title)
            relevance = score_relevance(topic, text, title=title, description=description)
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            out: dict[str, Any] = {"line": number, "error": str(exc)}
            if isinstance(record, dict) and "id" in record:
                out["id"] = record["id"]
            yield json.dumps(out, ensure_ascii=False)
            continue
        result: dict[str, Any] = {}
        if "id" in record:
            result["id"] = record["id"]
        result.update(
            {
                "language": language.language,
                "language_confidence": language.confidence,
                "relevance": relevance.score,
                "relevant": relevance.relevant,
                "relevance_terms": relevance.terms,
                "topic_version": relevance.topic_version,
            }
        )
        yield json.dumps(result, ensure_ascii=False)
