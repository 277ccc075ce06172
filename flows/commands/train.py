"""`veille train-topic`: build a topic's learned part from labelled text (reproducibly)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import above_zero, add_topic_option, counted, path_arg, replaced_when_complete

EXAMPLE = """Fits a logistic regression over hashed words and character n-grams (plus the rules'
evidence) on labelled JSON lines, prints story-grouped cross-validated precision/recall of
rules + model at several model thresholds (choose [model] threshold from them), and writes the
weights to the topic's [model] file. The file holds hashed weights only, no text. Without
--data it reads relevance-dev.jsonl of the shared folder `veille eval` reads: ../shared/eval
next to the repository, else /work/shared/eval (whatever the current directory).

example:
  veille train-topic                                  # the summit topic on the shared dev split
  veille train-topic --topic my_topic.toml --data my_labels.jsonl --output my_topic.model.npz
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "train-topic",
        help="train a topic's learned part on labelled text (dev split by default)",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_topic_option(p)
    p.add_argument(
        "--data",
        metavar="FILE",
        type=path_arg,
        help="labelled JSON lines (default: relevance-dev.jsonl of ../shared/eval next to the repository,"
        " else of /work/shared/eval)",
    )
    p.add_argument("--c", type=above_zero, default=1.0, help="inverse regularisation strength (default 1.0)")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        type=path_arg,
        help="where to write (default: the topic's [model] file); replaced only once the model is complete",
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from flows.commands.common import print_table
    from monitors.judge.evaluation import dev_split
    from monitors.judge.learned import NEEDS_LEARN, learn_installed
    from monitors.judge.topic import DEFAULT_TOPIC_PATH, model_path
    from monitors.judge.topic_schema import parse_topic_file
    from monitors.judge.topic_set import topic_file
    from monitors.judge.training import train_topic

    if not learn_installed():
        print(f"veille: error: veille train-topic needs scikit-learn: {NEEDS_LEARN}", file=sys.stderr)
        return 2
    topic_path = topic_file(args.topic) if args.topic is not None else DEFAULT_TOPIC_PATH
    data_spec, _ = parse_topic_file(topic_path)
    output = Path(args.output) if args.output else model_path(topic_path, data_spec)
    if output is None:
        print(f"veille: error: {topic_path} has no [model] file and no --output was given", file=sys.stderr)
        return 2
    data = dev_split(args.data)
    if data is None:
        print(
            "veille: error: no --data, and no relevance-dev.jsonl in ../shared/eval next to the"
            " repository nor in /work/shared/eval",
            file=sys.stderr,
        )
        return 2
    topic = _rules_only_topic(topic_path, data_spec)
    # the output's folder is tried before the training (minutes on a large set), not after it
    with replaced_when_complete(output) as path:
        model, report = train_topic(topic, data, c=args.c)
        rows = [
            {"threshold": t, "kind": kind, **figures}
            for t, per_kind in report.items()
            for kind, figures in per_kind.items()
            if kind != "rules only" or t == next(iter(report))
        ]
        print(f"cross-validated on {data} (folds by story), rules + model:")
        print_table(rows, out=sys.stdout)
        with open(path, "wb") as out:
            model.save(out)  # a file object: numpy would add .npz to a name without it
    print(
        f"wrote {output} ({counted(output.stat().st_size, 'byte')}, {counted(model.meta['n_items'], 'item')})"
    )
    return 0


def _rules_only_topic(topic_path: Path, data: dict[str, Any]) -> Any:
    """The topic without its learned part (its model file may not exist yet): built from the
    parsed data without ``[model]`` (before, the file's text was cut at its first "[model]",
    which a comment may hold: the real section stayed and a missing model file stopped it)."""
    from monitors.judge.topic import topic_from_data

    rules = {key: value for key, value in data.items() if key != "model"}
    return topic_from_data(rules, topic_path.read_bytes(), topic_path)
