"""Build a topic's learned part from labelled text, reproducibly, and say how it would do.

``train_topic`` reads labelled JSON lines (the shared dev split by default), scores each with
the topic's rules alone (their score and evidence are features of the model), estimates by
story-grouped cross-validation how rules + model would do at several model thresholds, then
fits on everything and returns the model. lbfgs on the same data gives the same weights, so
``veille train-topic`` rebuilds the committed file bit for bit on the same library versions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monitors.judge.evaluation import LabelledDataError, read_relevance_labelled
from monitors.judge.learned import LinearModel, dense_features, model_text, train
from monitors.judge.relevance import score_item
from monitors.judge.topic import Topic

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
FOLDS = 5


def _rule_features(
    topic: Topic, items: Sequence[dict[str, Any]]
) -> tuple[list[list[float]], list[float], list[bool]]:
    """Per item: the dense features, the rules' damping, and the rules' verdict (model off)."""
    rules = dataclasses.replace(topic, model=None)
    dense, damping, verdicts = [], [], []
    for item in items:
        result = score_item(rules, item)
        period = result.evidence["period"]
        inside = bool(period["inside"])
        groups = result.evidence["groups"]
        dense.append(
            dense_features(
                period["published_at"] is not None,
                inside,
                groups.get(topic.required_groups[0], 0.0),
                result.score,
            )
        )
        damping.append(
            result.evidence["disambiguation"]["factor"] * (1.0 if inside else topic.outside_factor)
        )
        # the model is consulted only when the rules matched something (relevance.score_relevance)
        verdicts.append(result.relevant)
        if not result.evidence["matched"]:
            damping[-1] = 0.0
    return dense, damping, verdicts


def train_topic(
    topic: Topic, data: str | Path, c: float = 1.0
) -> tuple[LinearModel, dict[str, dict[str, dict[str, float]]]]:
    """The model fitted on all of ``data``, and cross-validated figures per threshold and kind."""
    from sklearn.model_selection import GroupKFold

    items, labels = read_relevance_labelled(data, topic.labels)
    if not any(labels) or all(labels):
        raise LabelledDataError(
            f"{data}: training needs relevant and non-relevant items for topic {topic.name}"
        )
    dense, damping, verdicts = _rule_features(topic, items)
    groups = [str(i.get("story") or i.get("id") or n) for n, i in enumerate(items)]
    y = np.asarray(labels)
    oof = np.zeros(len(items))
    folds = min(FOLDS, len(set(groups)))
    for fit_idx, held_idx in GroupKFold(folds).split(np.zeros(len(items)), y, groups):
        if len({labels[k] for k in fit_idx}) < 2:  # the fit would fail: one class to learn
            raise LabelledDataError(
                f"{data}: {len(items)} items are too few to cross-validate in {folds} folds by story:"
                " one fold's training items are all of one class; label more relevant and"
                " non-relevant items"
            )
        model = train(
            [items[k] for k in fit_idx], [labels[k] for k in fit_idx], [dense[k] for k in fit_idx], c, "cv"
        )
        for k in held_idx:
            oof[k] = model.probability(model_text(items[k].get("text", ""), items[k].get("title")), dense[k])
    kinds = sorted({str(i.get("kind", "text")) for i in items})
    report: dict[str, dict[str, dict[str, float]]] = {}
    for threshold in THRESHOLDS:
        predicted = [v or p * d >= threshold for v, p, d in zip(verdicts, oof, damping, strict=True)]
        row: dict[str, dict[str, float]] = {}
        for kind in ["rules only", *kinds]:
            sel = [
                k for k, i in enumerate(items) if kind == "rules only" or str(i.get("kind", "text")) == kind
            ]
            pred = [verdicts[k] if kind == "rules only" else predicted[k] for k in sel]
            tp = sum(1 for k, p in zip(sel, pred, strict=True) if p and labels[k])
            fp = sum(1 for k, p in zip(sel, pred, strict=True) if p and not labels[k])
            fn = sum(1 for k, p in zip(sel, pred, strict=True) if not p and labels[k])
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
            row[kind] = {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3)}
        report[f"{threshold:.2f}"] = row
    model = train(items, labels, dense, c, Path(data).name)
    return model, report
