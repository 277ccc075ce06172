"""`veille eval`: precision, recall and F1 on the labelled sets, checked against the floors."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from flows.commands.common import add_topic_option, counted, path_arg

EVAL_DIR = Path(__file__).resolve().parents[2] / "tests" / "eval"
CONTEXT_LABEL = "with the set as context (veille score --context)"

EXAMPLE = """Reads tests/eval (our own examples) and the shared labelled splits (../shared/eval,
else /work/shared/eval: relevance-dev.jsonl, tuned on, and relevance-test.jsonl, reported on;
the floors apply to test; each split's figures are printed with the items' URLs, the
pipeline's context, and without them, and with the whole set as context, as veille score
judges a file: the floors apply to each item judged alone). The folder's other topics are
measured on their own examples, tests/eval/relevance-<name>.jsonl (floors: relevance_<name>);
a topic that matches nothing in the labelled data is a warning. --extraction also measures
veille's extraction on the shared corpus (../shared/corpus, else /work/shared/corpus, or
--corpus DIR): with-recall, leaks, title and date, whole and per half (floors: extraction).
Exits 1 when a metric is below its floor (tests/eval/floors.json), so it can gate CI; the
last line names the floors that were not checked (a split or corpus not measured), if any.

example:
  veille eval                                   # the shipped sets, topic and floors
  veille eval --topic my_topic.toml --errors    # try a topic edit, list what it gets wrong
  veille eval --shared /data/eval               # the shared splits from another folder
  veille eval --no-shared                       # our own sets alone (no shared split read)
  veille eval --extraction                      # and extraction on the shared corpus
"""


def register(sub: Any) -> None:
    from flows.cli import formatter

    p = sub.add_parser(
        "eval",
        help="measure relevance and language on the labelled sets; fail below the floors",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_topic_option(p)
    p.add_argument(
        "--relevance-set",
        metavar="FILE",
        type=path_arg,
        default=str(EVAL_DIR / "relevance.jsonl"),
        help="our labelled JSON lines for relevance (default: tests/eval/relevance.jsonl)",
    )
    p.add_argument(
        "--language-set",
        metavar="FILE",
        type=path_arg,
        default=str(EVAL_DIR / "language.jsonl"),
        help="our labelled JSON lines for language (default: tests/eval/language.jsonl)",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--shared",
        metavar="DIR",
        type=path_arg,
        help="folder of relevance-dev/test.jsonl (default: ../shared/eval); one holding neither"
        " is an error (exit 2)",
    )
    where.add_argument(
        "--no-shared",
        action="store_true",
        help="read no shared folder: our sets alone; the shared splits' floors said not checked",
    )
    p.add_argument(
        "--floors",
        metavar="FILE",
        type=path_arg,
        default=str(EVAL_DIR / "floors.json"),
        help="the minimum of each metric, JSON; exit 1 below one (default: tests/eval/floors.json)",
    )
    p.add_argument(
        "--extraction",
        action="store_true",
        help="also measure extraction on the shared corpus (../shared/corpus; about 10 s more):"
        " with-recall, leaks, title and date per half; floors: extraction",
    )
    p.add_argument(
        "--corpus",
        metavar="DIR",
        type=path_arg,
        help="the corpus --extraction measures: pages/*.html and expected.json (implies --extraction)",
    )
    p.add_argument("--errors", action="store_true", help="list every misclassified item")
    p.add_argument("--json", action="store_true", help="print the full reports as JSON")
    p.set_defaults(handler=handle)


def _metric(report: dict[str, Any], dotted: str) -> float:
    value: Any = report
    for key in dotted.split("."):
        value = value[key]
    return float(value)


def check_floors(reports: dict[str, dict[str, Any]], floors: dict[str, Any]) -> list[str]:
    """One line per metric below its floor (or above its ceiling); empty when all hold.

    A section of floors is either {metric: floor} or {"min": {...}, "max": {...}}; a section
    whose report is missing (no shared sets) is skipped by the caller's choice of reports.
    A metric the report does not have, a bound that is not a number, or a key beside "min" and
    "max" in a section that has them, raises
    :class:`~monitors.judge.lines.LabelledDataError` saying which (before: a KeyError or
    ValueError traceback).
    """
    from monitors.judge.lines import LabelledDataError

    def figures(section: str, bounds: Any) -> list[tuple[str, float, float]]:
        if not isinstance(bounds, dict):
            raise LabelledDataError(f"{section}: expected {{metric: bound}}, got {bounds!r}")
        out = []
        for metric, bound in sorted(bounds.items()):
            try:
                value = _metric(reports[section], metric)
            except (KeyError, TypeError, ValueError):
                raise LabelledDataError(f"{section}: {metric!r} is no figure of the report") from None
            if not isinstance(bound, int | float) or isinstance(bound, bool):
                raise LabelledDataError(f"{section} {metric}: the bound must be a number, not {bound!r}")
            out.append((metric, value, float(bound)))
        return out

    failures = []
    for section, spec in sorted(floors.items()):
        if section.startswith("_") or section not in reports:
            continue
        if not isinstance(spec, dict):
            raise LabelledDataError(f"{section}: expected an object of floors, got {spec!r}")
        bounds = spec if "min" in spec or "max" in spec else {"min": spec}
        # beside "min" and "max", a metric (or a misspelt "max") was never checked
        stray = sorted(key for key in bounds if key not in ("min", "max"))
        if stray:
            raise LabelledDataError(
                f'{section}: {stray[0]!r} beside "min"/"max" is never checked:'
                ' put each metric in "min" or "max"'
            )
        for metric, value, floor in figures(section, bounds.get("min", {})):
            if value < floor:
                failures.append(f"{section} {metric} = {value:.4f} < floor {floor:.4f}")
        for metric, value, ceiling in figures(section, bounds.get("max", {})):
            if value > ceiling:
                failures.append(f"{section} {metric} = {value:.4f} > ceiling {ceiling:.4f}")
    return failures


def _read_floors(path: Path) -> dict[str, Any]:
    """The floors file, read before anything is measured: one that is not a JSON object stops
    with ``FILE:LINE`` (before: a JSONDecodeError traceback after the whole evaluation)."""
    from monitors.judge.lines import json_object_file

    return json_object_file(path, "floors")


def _key_line(path: Path, key: str) -> int:
    """The line of ``"key":`` in a JSON file (1 when not found)."""
    pattern = re.compile(rf'"{re.escape(key)}"\s*:')
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if pattern.search(line):
            return number
    return 1


def floor_sections(topic_names: list[str]) -> list[str]:
    """The sections a floors file may have: our sets, the shared splits, each topic's own set."""
    from monitors.judge.evaluation import SHARED_SPLITS

    names = set(topic_names) | {p.stem.removeprefix("relevance-") for p in EVAL_DIR.glob("relevance-*.jsonl")}
    return ["relevance", "language", "extraction", *(f"relevance_{s}" for s in SHARED_SPLITS)] + sorted(
        f"relevance_{n}" for n in names if n not in SHARED_SPLITS
    )


def check_floor_sections(path: Path, floors: dict[str, Any], known: list[str]) -> None:
    """A section no report has (a misspelling: ``relevence``) was skipped as if not measured:
    raise :class:`~monitors.judge.lines.LabelledDataError` naming the file, line and key."""
    import difflib

    from monitors.judge.lines import LabelledDataError

    for section in floors:
        if section.startswith("_") or section in known:
            continue
        near = difflib.get_close_matches(section, known, n=1, cutoff=0.6)
        hint = f" ({near[0]!r} misspelt?)" if near else ""
        raise LabelledDataError(
            f"{path}:{_key_line(path, section)}: unknown floors section {section!r}{hint}, never"
            f" checked; the sections: {', '.join(known)} (a key starting with _ is a comment)"
        )


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


def _print_shared(name: str, report: dict[str, Any]) -> None:
    from flows.commands.common import print_table

    print(f"\n{name}: {counted(report['n'], 'item')}, topic {report['topic_version']}")
    print_table(
        _prf_rows({f"{k}s" if not k.endswith("s") else k: v for k, v in report["kinds"].items()}),
        out=sys.stdout,
    )
    for kind, figures in report["kinds"].items():
        rates = ", ".join(f"{label} {rate:.3f}" for label, rate in figures["fp_rate"].items())
        print(f"false-positive rate on {kind} negatives: {rates or 'none'}")
    for name in ("url_counterpart", "context_counterpart"):
        counterpart = report.get(name, {})
        for kind, figures in counterpart.get("kinds", {}).items():
            rates = ", ".join(f"{label} {rate:.3f}" for label, rate in figures["fp_rate"].items())
            print(
                f"{kind}s {counterpart['label']}: P {figures['precision']:.3f} R {figures['recall']:.3f}"
                f" F1 {figures['f1']:.3f}; false-positive rate {rates or 'none'}"
            )


def _print_own(header: str, report: dict[str, Any]) -> None:
    """A report on our own examples: the header, P/R/F1 of both labels, accuracy, hard negatives."""
    from flows.commands.common import print_table

    print(header)
    print_table(
        _prf_rows({"relevant": report["relevant"], "not_relevant": report["not_relevant"]}),
        out=sys.stdout,
    )
    print(
        f"accuracy {report['accuracy']:.3f}; hard negatives {report['hard_negatives']},"
        f" precision on them {report['hard_negative_precision']:.3f}"
    )
    counterpart = report.get("context_counterpart")
    if counterpart:
        figures = counterpart["relevant"]
        print(
            f"{counterpart['label']}: relevant P {figures['precision']:.3f} R {figures['recall']:.3f}"
            f" F1 {figures['f1']:.3f};"
            f" precision on hard negatives {counterpart['hard_negative_precision']:.3f}"
        )


def _shared_files(shared: Path | None) -> list[Path]:
    from monitors.judge.evaluation import SHARED_SPLITS

    if shared is None:
        return []
    return [
        shared / f"relevance-{s}.jsonl" for s in SHARED_SPLITS if (shared / f"relevance-{s}.jsonl").is_file()
    ]


def topic_set_path(name: str, eval_dir: Path = EVAL_DIR) -> Path:
    """A topic's own labelled examples: ``tests/eval/relevance-<name>.jsonl`` (written by us)."""
    return eval_dir / f"relevance-{name}.jsonl"


def _other_topics(
    done: str, sets: list[Path], reports: dict[str, dict[str, Any]], folder: str | None = None
) -> list[str]:
    """The folder's other topics: each with its own labelled set (``topic_set_path``) is measured
    on it (``reports["relevance_<name>"]``, floors apply); warnings for those matching nothing in
    the labelled data, or that no labelled set names."""
    from monitors.judge.evaluation import evaluate_relevance, read_labelled
    from monitors.judge.relevance import score_item
    from monitors.judge.topic_set import load_topics

    warnings = []
    items = [item for path in sets for item in read_labelled(path)]
    for other in load_topics(folder):
        if other.name == done:
            continue
        own = topic_set_path(other.name)
        if own.is_file():
            reports[f"relevance_{other.name}"] = report = evaluate_relevance(own, other)
            flagged = report["flagged"] + sum(score_item(other, item).relevant for item in items)
            total = report["n"] + len(items)
        else:
            flagged = sum(score_item(other, item).relevant for item in items)
            total = len(items)
        if flagged == 0:
            warnings.append(
                f"topic {other.name} matches nothing in the labelled data ({counted(total, 'item')})"
            )
        elif not own.is_file() and not other.labels:
            warnings.append(
                f"topic {other.name}: no labelled set names it (flags {flagged} of {counted(total, 'item')});"
                f" measure it with: veille eval --topic {other.path} --relevance-set YOUR_LABELS.jsonl"
            )
    return warnings


def url_counterpart(topic: Any) -> tuple[Any, str]:
    """The topic the shared splits are also scored with, to show what the page's URL does: the
    topic itself without URLs when it reads them (``[zones] url`` > 0), else the topic with a URL
    zone of weight 1.0. Returns it and the label of its printed line."""
    import dataclasses

    from monitors.judge.topic import URL_ZONE

    if topic.zone_weights[URL_ZONE] > 0:
        return topic, "without the URL"
    weights = {**topic.zone_weights, URL_ZONE: 1.0}
    return dataclasses.replace(
        topic, zone_weights=weights
    ), "with the URL as a zone of weight 1.0 (off in the topic)"


def default_shared_dir() -> Path | None:
    """The shared folder read without ``--shared``: ``../shared/eval``, else
    ``/work/shared/eval``, the first holding both relevance splits; None when neither does."""
    from monitors.judge.evaluation import shared_eval_dir

    return shared_eval_dir()


def _shared_folder(args: argparse.Namespace) -> Path | None:
    """The shared folder to measure: ``--shared DIR``, else the default one (None: none found,
    or ``--no-shared``). A ``--shared DIR`` that is no folder, or holds neither relevance split,
    raises :class:`~monitors.judge.lines.LabelledDataError` before anything is measured: it
    measured nothing and the gate passed (exit 0)."""
    from monitors.judge.evaluation import SHARED_SPLITS
    from monitors.judge.lines import LabelledDataError

    if args.no_shared:
        return None
    if args.shared is None:
        return default_shared_dir()
    shared = Path(args.shared)
    if not shared.is_dir():
        why = "not a folder" if shared.exists() else "no such folder"
        raise LabelledDataError(f"{args.shared}: {why} (--shared DIR: the folder of relevance-dev.jsonl)")
    if not any((shared / f"relevance-{s}.jsonl").is_file() for s in SHARED_SPLITS):
        files = " nor ".join(f"relevance-{s}.jsonl" for s in SHARED_SPLITS)
        raise LabelledDataError(
            f"{args.shared}: no {files} in this folder (--shared DIR: the folder of the shared"
            " labelled splits; --no-shared to measure without them)"
        )
    return shared


def _own_set(path: str, option: str, what: str) -> None:
    """A ``--relevance-set`` or ``--language-set`` with no labelled item (an empty file, blank
    lines) raises :class:`~monitors.judge.lines.LabelledDataError`: its figures were all 0.0,
    every floor "below" (exit 1, as if the rules had failed). A missing file, a bad line: the
    reading's own errors (FILE, FILE:LINE)."""
    from monitors.judge.evaluation import read_labelled
    from monitors.judge.lines import LabelledDataError

    if not read_labelled(path):
        raise LabelledDataError(
            f"{path}: no labelled item (an empty file measures nothing; {option} FILE: one JSON"
            f" object a line, {what})"
        )


def _floor_count(spec: Any) -> int:
    """How many floors (and ceilings) a section of the floors file holds."""
    if not isinstance(spec, dict):
        return 0
    if "min" in spec or "max" in spec:
        return len(spec.get("min", {})) + len(spec.get("max", {}))
    return len(spec)


def not_checked(floors: dict[str, Any], reports: dict[str, Any], stories: dict[str, Any]) -> list[str]:
    """The floors not checked, their sets not measured: "section (count)" for each section of
    the floors file with no report, and the copies/stories floors without the stories test split."""
    from flows.commands.eval_stories import FLOORS as STORY_FLOORS

    left = [
        f"{section} ({_floor_count(spec)})"
        for section, spec in floors.items()
        if not section.startswith("_") and section not in reports
    ]
    if "test" not in stories:
        spec = json.loads(STORY_FLOORS.read_text("utf-8"))
        count = sum(
            _floor_count(v) if isinstance(v, dict) else 1 for k, v in spec.items() if not k.startswith("_")
        )
        left.append(f"copies/stories of the test split ({count}, {STORY_FLOORS.name})")
    return left


def handle(args: argparse.Namespace) -> int:
    from flows.commands.common import print_table
    from flows.commands.eval_extraction import extraction_report, print_extraction
    from flows.commands.eval_stories import print_story_reports, story_failures, story_reports
    from monitors.judge.evaluation import (
        SHARED_SPLITS,
        evaluate_language,
        evaluate_relevance,
    )
    from monitors.judge.lines import LabelledDataError
    from monitors.judge.topic import load_topic
    from monitors.judge.topic_schema import TopicError
    from monitors.judge.topic_set import find_topic, topic_files

    topic = find_topic(args.topic) if args.topic is not None else load_topic()
    floors = _read_floors(Path(args.floors))
    try:
        names = [topic.name, *topic_files()]
    except TopicError:  # a folder eval does not read with --topic; its other topics are not measured
        names = [topic.name]
    check_floor_sections(Path(args.floors), floors, floor_sections(names))
    # what was asked for and cannot be measured stops the command before anything is
    shared = _shared_folder(args)
    _own_set(args.relevance_set, "--relevance-set", '"text" and "relevant" (true or false)')
    _own_set(args.language_set, "--language-set", '"text" and "language"')
    # first: a --corpus that cannot be read stops the command before the rest is measured
    asked = args.extraction or args.corpus is not None
    extraction, no_corpus = extraction_report(args.corpus) if asked else (None, None)
    # with what the batch adds (veille score --context; the floors apply to each item alone, as
    # the pipeline scores articles)
    relevance = evaluate_relevance(args.relevance_set, topic, in_context=True)
    in_context = relevance.pop("in_context")
    relevance["context_counterpart"] = {
        "label": CONTEXT_LABEL,
        "relevant": in_context["relevant"],
        "hard_negative_precision": in_context["hard_negative_precision"],
    }
    language = evaluate_language(args.language_set)
    reports = {"relevance": relevance, "language": language}
    warnings: list[str] = [no_corpus] if no_corpus else []
    # each split the folder holds is measured: a folder of the dev split alone (what tuning may
    # read) measures dev (before, both were needed and such a folder measured nothing)
    splits = [s for s in SHARED_SPLITS if shared is not None and (shared / f"relevance-{s}.jsonl").is_file()]
    if not splits:
        if not args.no_shared:  # no --shared (one without a split is an error above)
            warnings.append(
                "shared labelled sets not found (../shared/eval, /work/shared/eval): not measured,"
                " their floors not checked (--shared DIR to name their folder)"
            )
    elif not topic.labels:
        warnings.append(f"topic {topic.name} declares no labels: the shared sets cannot measure it")
    else:
        assert shared is not None
        for split in SHARED_SPLITS:
            if split not in splits:
                warnings.append(
                    f"no relevance-{split}.jsonl in {shared}: the {split} split is not measured"
                    " (nor its floors checked)"
                )
        url_topic, url_label = url_counterpart(topic)
        for split in splits:
            path = shared / f"relevance-{split}.jsonl"
            reports[f"relevance_{split}"] = report = evaluate_relevance(path, topic, in_context=True)
            if not report["n"]:
                warnings.append(f"{path} holds no item: the {split} split measures nothing")
            # what the page's URL adds: the same items without it when the topic reads it, with it
            # (a zone of weight 1) when the topic does not
            other = evaluate_relevance(path, url_topic, url=url_topic is not topic)
            report["url_counterpart"] = {"label": url_label, "kinds": other["kinds"]}
            in_context = report.pop("in_context")
            report["context_counterpart"] = {"label": CONTEXT_LABEL, "kinds": in_context["kinds"]}
    if not any(r["flagged"] for k, r in reports.items() if k.startswith("relevance")):
        warnings.append(f"topic {topic.name} matches nothing in the labelled data")
    if args.topic is None:  # the other topics of the folder: measured on their own sets, or warned about
        warnings.extend(
            _other_topics(topic.name, [Path(args.relevance_set)] + _shared_files(shared), reports)
        )
    if extraction is not None:
        reports["extraction"] = extraction
    try:
        failures = check_floors(reports, floors)
    except LabelledDataError as exc:
        raise LabelledDataError(f"{args.floors}: {exc}") from None
    # copies and stories (flows/commands/eval_stories.py): the same folder's stories sets
    stories = story_reports(shared) if shared is not None else {}
    failures += story_failures(stories)
    unchecked = not_checked(floors, reports, stories)
    if args.json:
        print(
            json.dumps(
                {
                    **reports,
                    "stories": stories,
                    "warnings": warnings,
                    "failures": failures,
                    "not_checked": unchecked,
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 1 if failures else 0

    own = "tests/eval" if Path(args.relevance_set) == EVAL_DIR / "relevance.jsonl" else args.relevance_set
    _print_own(f"relevance ({own}): {counted(relevance['n'], 'item')}, topic {topic.version}", relevance)
    for split in SHARED_SPLITS:
        if f"relevance_{split}" in reports:
            _print_shared(f"relevance ({shared}/relevance-{split}.jsonl)", reports[f"relevance_{split}"])
    for key, report in reports.items():
        if key.startswith("relevance_") and key[len("relevance_") :] not in SHARED_SPLITS:
            name = key[len("relevance_") :]
            items = counted(report["n"], "item")
            header = f"topic {name} ({topic_set_path(name)}): {items}, topic {report['topic_version']}"
            _print_own("\n" + header, report)
    print(f"\nlanguage: {counted(language['n'], 'item')}")
    print_table(_prf_rows(language["per_language"]), out=sys.stdout)
    print(
        f"accuracy {language['accuracy']:.3f}; texts >= 20 words {language['accuracy_long_texts']:.3f}"
        f" ({language['n_long_texts']}); titles of 5-10 words {language['accuracy_titles']:.3f}"
        f" ({language['n_titles']}); undetermined {language['undetermined']}"
    )
    if args.errors:
        for key, report in reports.items():
            if key.startswith("relevance"):
                print(f"\n{key} errors:")
                for e in report["errors"]:
                    print(f"  {e['id']}: expected {e['expected']}, score {e['score']}, terms {e['terms']}")
        print("language errors:")
        for e in language["errors"]:
            print(f"  {e['id']}: expected {e['expected']}, got {e['got']} ({e['confidence']}): {e['text']}")
    print_story_reports(
        stories, errors=args.errors, folder=shared, skipped="--no-shared" if args.no_shared else None
    )
    print_extraction(reports.get("extraction"), asked)
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if failures:
        print("\nBELOW FLOOR:", file=sys.stderr)
        for line in failures:
            print(f"  {line}", file=sys.stderr)
        return 1
    checked = sum(
        len(v.get("min", {})) + len(v.get("max", {})) if "min" in v or "max" in v else len(v)
        for k, v in floors.items()
        if not k.startswith("_") and k in reports
    )
    if unchecked:  # not "all": a floor whose set was not measured was not checked
        left = ", ".join(unchecked)
        hold = "holds" if checked == 1 else "hold"
        print(
            f"\n{counted(checked, 'floor')} {hold} ({args.floors}); not checked, their sets not"
            f" measured: {left}"
        )
    else:
        print(
            f"\nall {checked} floors hold ({args.floors})"
            if checked != 1
            else f"\nthe only floor holds ({args.floors})"
        )
    return 0
