"""Measure relevance and language detection on labelled text, and score JSON lines.

The eval sets live in tests/eval/ (hand-written, labelled); tests/test_eval_gate.py pins
floors on the figures computed here so a change that degrades them fails the build.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from monitors.collect.encoding import loads_storable
from monitors.judge.context import propagate
from monitors.judge.days import parse_published
from monitors.judge.explain import why
from monitors.judge.language import CHARS_PER_WORD, UNSPACED, detect_language
from monitors.judge.lines import (
    LabelledDataError,
    LineTooLong,
    json_fault,
    json_objects,
    line_too_long,
    wide_text,
)
from monitors.judge.relevance import RelevanceResult, score_item, score_relevance
from monitors.judge.topic import Topic

HARD_NEGATIVE_TAG = "hard_negative"
#: the shared labelled sets, read at run time from ``../shared/eval`` next to the repository
#: (else /work/shared/eval): real text that may not be copied into the repository
SHARED_SPLITS = ("dev", "test")
LONG_TEXT_WORDS = 20
TITLE_WORDS = (5, 10)
#: A word of letters or digits; in scripts written without spaces (Han, kana, Thai...), every
#: CHARS_PER_WORD letters, as language detection counts them: an unspaced headline is not one word.
_WORD_RE = re.compile(rf"[{UNSPACED}]{{1,{CHARS_PER_WORD}}}|[^\W{UNSPACED}]+(?:['’\-][^\W{UNSPACED}]+)*")


def shared_eval_dir(root: Path | None = None) -> Path | None:
    """The shared eval folder: ``<repo>/../shared/eval``, else ``/work/shared/eval``, the first
    that holds the relevance splits; None when neither does."""
    root = root or Path(__file__).resolve().parents[2]
    for candidate in (root.parent / "shared" / "eval", Path("/work/shared/eval")):
        if all((Path(candidate) / f"relevance-{s}.jsonl").is_file() for s in SHARED_SPLITS):
            return Path(candidate)
    return None


def dev_split(data: str | Path | None = None) -> Path | None:
    """``data`` when given, else the shared dev split (what rules and models are tuned on);
    None when neither is there."""
    if data is not None:
        return Path(data)
    shared = shared_eval_dir()
    return shared / "relevance-dev.jsonl" if shared is not None else None


def read_labelled(path: str | Path, max_line_bytes: int | None = None) -> list[dict[str, Any]]:
    """The items of a labelled JSON-lines set. An item that names a ``seed`` (a file path,
    relative to the set's folder) takes its ``text`` from that file, and its ``title`` from the
    file's line ``title_line`` (1-based) when given: the seed documents live once, in seeds/.

    A line that is not a JSON object with a string ``text`` (or a ``seed``) stops the reading
    with :class:`LabelledDataError` naming the file and line: figures measured without it
    would not be the set's. So does a line over ``max_line_bytes`` (default
    ``VEILLE_SCORE_MAX_LINE_BYTES``, as ``veille score``), found in bounded reads without
    holding it whole. An item without an ``id`` (docs/relevance.md's ``{"text", "title",
    "relevant"}``) is named ``FILE:LINE``, as its errors are listed."""
    return [item for _, item in _labelled_lines(path, max_line_bytes)]


def _labelled_lines(path: str | Path, max_line_bytes: int | None = None) -> list[tuple[int, dict[str, Any]]]:
    """:func:`read_labelled`'s items with their line numbers."""
    folder = Path(path).resolve().parent
    items = []
    for at, item in json_objects(path, max_line_bytes):
        if "seed" not in item and not isinstance(item.get("text"), str):
            raise LabelledDataError(f'{path}:{at}: missing or non-string "text"')
        item.setdefault("id", f"{Path(path).name}:{at}")
        if "seed" in item:
            text = (folder / item["seed"]).read_text("utf-8")
            item["text"] = text
            number = item.get("title_line")
            item["title"] = text.splitlines()[number - 1].strip() if number else item.get("title")
        items.append((at, item))
    return items


def read_relevance_labelled(
    path: str | Path, positives: Iterable[str]
) -> tuple[list[dict[str, Any]], list[bool]]:
    """A labelled relevance set's items and whether each is relevant (:func:`relevance_truth`)."""
    lines = _labelled_lines(path)
    known = set(positives)
    return [item for _, item in lines], [relevance_truth(item, known, f"{path}:{at}") for at, item in lines]


def _misspelt(word: str, known: Iterable[str]) -> str | None:
    """The one of ``known`` that ``word`` looks like a misspelling of, if any."""
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.75)
    return close[0] if close and close[0] != word else None


def relevance_truth(item: dict[str, Any], positives: set[str], where: str) -> bool:
    """Whether a labelled item is relevant: its ``relevant`` (true or false), else whether its
    ``label`` is one of ``positives``. An item with neither (a misspelt key: ``relevent``), a
    ``relevant`` that is not a boolean (``"false"`` was true), or a label that looks like a
    misspelling of a positive one (``sumit``: counted as not relevant, silently) raises
    :class:`LabelledDataError` naming ``where`` (FILE:LINE)."""
    if "relevant" in item:
        if not isinstance(item["relevant"], bool):
            raise LabelledDataError(f'{where}: "relevant" must be true or false, not {item["relevant"]!r}')
        return item["relevant"]
    if "label" in item:
        label = item["label"]
        if not isinstance(label, str):
            raise LabelledDataError(f'{where}: "label" must be a string, not {label!r}')
        if label not in positives and (near := _misspelt(label, positives)):
            raise LabelledDataError(
                f"{where}: label {label!r} is not the topic's label {near!r} (misspelt?);"
                f" the topic's labels: {', '.join(sorted(positives))}"
            )
        return label in positives
    near = next((k for k in item if _misspelt(k, ("relevant", "label"))), None)
    hint = f" ({near!r} misspelt?)" if near else ""
    raise LabelledDataError(f'{where}: no "relevant" (true or false) nor "label"{hint}: its truth is unknown')


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


def evaluate_relevance(
    path: str | Path,
    topic: Topic,
    positive_labels: Iterable[str] | None = None,
    url: bool = True,
    in_context: bool = False,
) -> dict[str, Any]:
    """Precision/recall/F1 for both labels, hard-negative precision, per-kind figures, the errors.

    Items say their truth either as ``relevant`` (tests/eval) or as a ``label`` (the shared
    sets: relevant when it is one of ``positive_labels``, default the topic's ``labels``).
    ``published_at`` is passed to scoring when it parses (else ignored), and the item's ``url``
    unless ``url`` is False (what the text alone gives). Per kind ("article",
    "paragraph"): P/R/F1 and, for each negative label, the false-positive rate. Each item is
    judged alone; with ``in_context`` the report also holds, under "in_context", the same
    figures with the set as one batch (short texts close to an item the rules found about the
    event relevant too, :func:`monitors.judge.context.propagate`), from the same scores.

    hard_negative_precision: among items tagged "hard_negative" (all labelled not relevant:
    other AI summits, the AI Act alone, product launches, data centres, other Paris events,
    French politics without AI...), the fraction the scorer correctly does NOT flag as
    relevant, i.e. 1 - false-positive rate on the hard negatives.
    """
    positives = set(topic.labels if positive_labels is None else positive_labels)
    items, truths = read_relevance_labelled(path, positives)
    results = [score_item(topic, item, url=url) for item in items]
    report = _relevance_report(topic, items, truths, results)
    if in_context:
        report["in_context"] = _relevance_report(topic, items, truths, propagate(topic, items, results))
    return report


def _relevance_report(
    topic: Topic, items: list[dict[str, Any]], truths: list[bool], results: list[RelevanceResult]
) -> dict[str, Any]:
    """``evaluate_relevance``'s figures for the items' results (``truths``: their labels)."""
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    kinds: dict[str, dict[str, int]] = {}
    negatives: dict[str, dict[str, list[int]]] = {}  # kind -> label -> [flagged, total]
    hard_total = hard_ok = 0
    errors: list[dict[str, Any]] = []
    for item, truth, result in zip(items, truths, results, strict=True):
        predicted = result.relevant
        key = ("t" if truth == predicted else "f") + ("p" if predicted else "n")
        counts[key] += 1
        kind = item.get("kind", "text")
        by_kind = kinds.setdefault(kind, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
        by_kind[key] += 1
        if not truth and "label" in item:
            flagged = negatives.setdefault(kind, {}).setdefault(item["label"], [0, 0])
            flagged[0] += int(predicted)
            flagged[1] += 1
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
                    "label": item.get("label"),
                    "disambiguation": result.evidence["disambiguation"]["cases"],
                }
            )
    relevant = _prf(counts["tp"], counts["fp"], counts["fn"])
    not_relevant = _prf(counts["tn"], counts["fn"], counts["fp"])
    total = len(items)
    per_kind: dict[str, dict[str, Any]] = {}
    for kind, c in sorted(kinds.items()):
        per_kind[kind] = {
            **_prf(c["tp"], c["fp"], c["fn"]),
            "n": sum(c.values()),
            "fp_rate": {label: round(f / n, 4) for label, (f, n) in sorted(negatives.get(kind, {}).items())},
        }
    return {
        "n": total,
        "accuracy": round((counts["tp"] + counts["tn"]) / total, 4) if total else 0.0,
        "relevant": relevant,
        "not_relevant": not_relevant,
        "confusion": counts,
        "kinds": per_kind,
        "flagged": counts["tp"] + counts["fp"],
        "hard_negatives": hard_total,
        "hard_negative_precision": round(hard_ok / hard_total, 4) if hard_total else 0.0,
        "topic_version": topic.version,
        "errors": errors,
    }


def evaluate_language(path: str | Path) -> dict[str, Any]:
    """Accuracy overall, on texts of >= 20 words, on titles of 5-10 words; per-language P/R/F1.

    "und" counts as a wrong answer (the labels are all real languages).
    """
    items = []
    for at, item in _labelled_lines(path):
        if not isinstance(item.get("language"), str) or not item["language"]:
            near = next((k for k in item if _misspelt(k, ("language",))), None)
            hint = f" ({near!r} misspelt?)" if near else ""
            raise LabelledDataError(f'{path}:{at}: no "language" (a code such as "fr"){hint}')
        items.append(item)
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


def too_long_error(line: LineTooLong) -> str:
    """Why a line was not scored (``veille score``'s error line)."""
    return f"{line_too_long(line)}; not read, not scored"


@dataclass(frozen=True)
class _Scored:
    """One line of ``score_lines``: its number, the record read, and what the rules said."""

    number: int
    record: dict[str, Any]
    published: date | None
    language: Any
    relevance: RelevanceResult


#: said after the first line that is not a JSON object with a "text" (plain text given to
#: ``veille score`` was one bare "not JSON: Expecting value" a line)
EXPECTED_LINE = (
    'veille score reads JSON lines: one JSON object a line with a string "text" (optional "title",'
    ' "description", "published_at", "url", "id"), such as {"text": "Le sommet sur l\'IA s\'ouvre'
    ' à Paris.", "title": "Sommet IA"}'
)


class _NotALine(ValueError):
    """A line that is not what score reads: not JSON, not an object, no string "text"."""


def _score_each(
    lines: Iterable[str | bytes | LineTooLong], topic: Topic, warn: Callable[[str], None] | None
) -> Iterator[_Scored | str]:
    """Each line scored on its own, or its error line (JSON); the first line that is not a
    JSON object with a "text" says what is read (:data:`EXPECTED_LINE`), the others are short."""
    said_expected = False
    for number, raw in enumerate(lines, start=1):
        if isinstance(raw, LineTooLong):
            yield json.dumps({"line": number, "error": too_long_error(raw)})
            continue
        if isinstance(raw, bytes):
            wide = wide_text(raw) if number == 1 else None
            if wide:  # every line would be an error too: the input is read no further
                yield json.dumps({"line": number, "error": wide})
                return
            try:
                line = raw.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                yield json.dumps({"line": number, "error": f"not UTF-8 text: {exc}"})
                continue
        else:
            line = raw
        if not line.strip():
            continue
        record: Any = None
        try:
            # half a surrogate pair escaped alone ("\ud83d") is U+FFFD: as decoded, no output
            # could encode it (it ended the command with a UnicodeEncodeError traceback)
            try:
                record = loads_storable(line)
            except (ValueError, RecursionError) as exc:  # say what the line is not, as eval's sets do
                raise _NotALine(f"not JSON: {json_fault(exc)}") from None
            if not isinstance(record, dict):
                raise _NotALine("expected a JSON object")
            text = record.get("text")
            if not isinstance(text, str):
                raise _NotALine('missing or non-string "text"')
            title = record.get("title")
            description = record.get("description")
            if title is not None and not isinstance(title, str):
                raise ValueError('"title" must be a string')
            if description is not None and not isinstance(description, str):
                raise ValueError('"description" must be a string')
            try:
                published = parse_published(record.get("published_at"))
            except ValueError as exc:
                published = None
                if warn is not None:
                    warn(f"line {number}: {exc}; scored without a date")
            url = record.get("url")
            if url is not None and not isinstance(url, str):
                url = None
                if warn is not None:
                    warn(f'line {number}: "url" must be a string; scored without it')
            language = detect_language(text, title=title)
            relevance = score_relevance(
                topic, text, title=title, description=description, published_at=published, url=url
            )
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            out: dict[str, Any] = {"line": number, "error": str(exc)}
            if isinstance(exc, _NotALine) and not said_expected:
                out["error"], said_expected = f"{exc}; {EXPECTED_LINE}", True
            if isinstance(record, dict) and "id" in record:
                out["id"] = record["id"]
            yield json.dumps(out, ensure_ascii=False)
            continue
        yield _Scored(number, record, published, language, relevance)


def _render(scored: _Scored) -> str:
    record, relevance = scored.record, scored.relevance
    result: dict[str, Any] = {}
    if "id" in record:
        result["id"] = record["id"]
    if record.get("published_at") is not None:
        result["published_at"] = scored.published.isoformat() if scored.published else None
    result.update(
        {
            "language": scored.language.language,
            "language_confidence": scored.language.confidence,
            "relevance": relevance.score,
            "relevant": relevance.relevant,
            "relevance_terms": relevance.terms,
            # why, as search, export and the feed say it: matched terms per zone, best sentence
            "relevance_why": why(relevance.evidence),
            "topic_version": relevance.topic_version,
        }
    )
    if relevance.evidence.get("context"):
        result["relevance_context"] = relevance.evidence["context"]
    return json.dumps(result, ensure_ascii=False)


def score_lines(
    lines: Iterable[str | bytes | LineTooLong],
    topic: Topic,
    warn: Callable[[str], None] | None = None,
    context: bool = False,
) -> Iterator[str]:
    """Score JSON lines ({"text", optional "title"/"description"/"published_at"/"url"/"id"}) into
    JSON lines.

    Lines may be bytes (a file read as it is): one that is not UTF-8 is an error line too; so
    is a :class:`LineTooLong` (a line ``bounded_lines`` did not read: too many bytes).
    A line that is not a JSON object with a string "text" yields {"error", "line"} instead of
    raising, so one bad record never stops a batch. Blank lines are skipped. A "published_at"
    that does not parse is ignored with a warning naming the line (``warn``), and the line is
    still scored. The page's "url" is context, as in the pipeline: its path words are a weak
    zone (``url``) of the topic's evidence; one that is not a string is ignored with a warning.

    ``context``: the lines are a batch, read whole before any is written, and a short text the
    rules missed that is close to a line they found about the event is relevant too
    (:func:`monitors.judge.context.propagate`; its evidence, ``relevance_context``, names that
    line): a line's result then depends on the others. By default each line is scored alone, as
    it streams.
    """
    if not context:
        for scored in _score_each(lines, topic, warn):
            yield scored if isinstance(scored, str) else _render(scored)
        return
    done = list(_score_each(lines, topic, warn))
    kept = [s for s in done if not isinstance(s, str)]
    lifted = propagate(
        topic, [s.record for s in kept], [s.relevance for s in kept], refs=[s.number for s in kept]
    )
    after = {id(s): dataclasses.replace(s, relevance=r) for s, r in zip(kept, lifted, strict=True)}
    for scored in done:
        yield scored if isinstance(scored, str) else _render(after[id(scored)])
