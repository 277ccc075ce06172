"""`veille eval`: precision, recall and F1 on the labelled sets, checked against the floors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

EVAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "eval"

EXAMPLE = """Exits 1 when a metric is below its floor (tests/eval/floors.json), so it can gate CI.

example:
  veille eval                                   # the shipped sets, topic and floors
  veille eval --topic my_topic.toml --errors    # try a topic edit, list what it gets wrong
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "eval",
        help="measure relevance and language on the labelled sets; fail below the floors",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--topic", metavar="TOML", help="topic file (default: the AI Action Summit)")
    p.add_argument("--relevance-set", metavar="FILE", default=str(EVAL_DIR / "relevance.jsonl"))
    p.add_argument("--language-set", metavar="FILE", default=str(EVAL_DIR / "language.jsonl"))
    p.add_argument("--floors", metavar="FILE", default=str(EVAL_DIR / "floors.json"))
    p.add_argument("--errors", action="store_true", help="list every misclassified item")
    p.add_argument("--json", action="store_true", help="print the full reports as JSON")
    p.set_defaults(handler=handle)


def _metric(report: dict[str, Any], dotted: str) -> float:
    value: Any = report
    for key in dotted.split("."):
        value = value[key]
    return float(value)


def check_floors(reports: dict[str, dict[str, Any]], floors: dict[str, Any]) -> list[str]:
    """One line per metric below its floor (empty when all hold)."""
    failures = []
    for section in ("relevance", "language"):
        for metric, floor in sorted(floors.get(section, {}).items()):
            value = _metric(reports[section], metric)
            if value < float(floor):
                failures.append(f"{section} {metric} = {value:.4f} < floor {float(floor):.4f}")
    return failures


def _prf_rows(per_label: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "label": label,
            "precision": f"{m['precision']:.3f}",
            "recall": f"{m['recall']:.3f}",
            "f1": f"{m['f1']:.3f}",
            "support": m["support"],
        }
        for label, m in per_label.items()
    ]


def handle(args: argparse.Namespace) -> int:
    from flows.commands.common import print_table
    from monitors.evaluation import evaluate_language, evaluate_relevance
    from monitors.relevance import load_topic

    topic = load_topic(args.topic)
    floors = json.loads(Path(args.floors).read_text("utf-8"))
    relevance = evaluate_relevance(args.relevance_set, topic)
    language = evaluate_language(args.language_set)
    reports = {"relevance": relevance, "language": language}
    failures = check_floors(reports, floors)
    if args.json:
        print(json.dumps({**reports, "failures": failures}, ensure_ascii=False, indent=2))
        return 1 if failures else 0

    print(f"relevance: {relevance['n']} items, topic {topic.version}")
    print_table(
        _prf_rows({"relevant": relevance["relevant"], "not_relevant": relevance["not_relevant"]}),
        out=sys.stdout,
    )
    print(
        f"accuracy {relevance['accuracy']:.3f}; hard negatives {relevance['hard_negatives']},"
        f" precision on them {relevance['hard_negative_precision']:.3f}"
    )
    print(f"\nlanguage: {language['n']} items")
    print_table(_prf_rows(language["per_language"]), out=sys.stdout)
    print(
        f"accuracy {language['accuracy']:.3f}; texts >= 20 words {language['accuracy_long_texts']:.3f}"
        f" ({language['n_long_texts']}); titles of 5-10 words {language['accuracy_titles']:.3f}"
        f" ({language['n_titles']}); undetermined {language['undetermined']}"
    )
    if args.errors:
        print("\nrelevance errors:")
        for e in relevance["errors"]:
            print(f"  {e['id']}: expected {e['expected']}, score {e['score']}, terms {e['terms']}")
        print("language errors:")
        for e in language["errors"]:
            print(f"  {e['id']}: expected {e['expected']}, got {e['got']} ({e['confidence']}): {e['text']}")
    if failures:
        print("\nBELOW FLOOR:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(
        f"\nall {sum(len(v) for k, v in floors.items() if not k.startswith('_'))} floors hold ({args.floors})"
    )
    return 0
