"""Benchmark: veille's extraction against bare trafilatura on the shared corpus's real pages.

Both extractors get the same bytes in the same run: bare trafilatura is
``trafilatura.bare_extraction(html, url=url, with_metadata=True)`` with the options the
pipeline passes (monitors/judge/extract.py: TRAFILATURA_OPTIONS); veille is
``monitors.judge.extract.extract_article`` (the call monitors/ingest.py makes, without learned
per-site boilerplate: the corpus has about one page per site). Scores, against
``expected.json``:

- with-recall: share of the ``with`` strings found in the text;
- leaks: share of the ``without`` strings (boilerplate) found in the text;
- title: share of the pages with a known title whose title matches it exactly (spaces
  collapsed, quotes folded);
- date: share of the pages with a known date whose publication day matches it.

The scoring is monitors/judge/extract_eval.py's, the one the gate of
tests/test_extract_gate.py and ``veille eval --extraction`` check against the floors of
tests/eval/floors.json (``extraction``); this script adds bare trafilatura and the time.

Rows are printed for the whole corpus and for its two halves (split by a hash of the file
name, so the split never changes): rules were developed on ``dev`` and checked on ``held-out``.
Time is CPU time (``time.process_time``), both extractors timed in turn on each page within
each repetition so that load from other processes hits them alike; medians per page, summed.

    python bench/extract.py [--corpus DIR] [--repeat 5] [--max-ratio 1.2] [--show-misses]

``--date-tiers`` measures the dates instead, untimed: for each part, how often the page's chosen
date is the expected day by its tier (article metadata, shown, guess), then the same with the
pages' date metadata stripped, and how often a guess and the page's metadata disagree and which
is right (monitors/judge/extract_eval.py: date_tiers; docs/extraction.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_float, positive_int  # noqa: E402
from monitors.judge.extract import TRAFILATURA_OPTIONS  # noqa: E402
from monitors.judge.extract_eval import (  # noqa: E402
    PARTS,
    Page,
    Result,
    date_tiers,
    half,
    read_corpus,
    score_pages,
    shared_corpus_dir,
    veille_result,
)
from monitors.judge.lines import LabelledDataError  # noqa: E402

CORPUS = shared_corpus_dir(ROOT) or ROOT.parent / "shared" / "corpus"


def bare(raw: bytes, url: str) -> Result:
    import trafilatura
    from trafilatura.settings import Document

    doc = trafilatura.bare_extraction(raw, url=url, **TRAFILATURA_OPTIONS)
    if doc is None:
        return Result()
    assert isinstance(doc, Document)  # not as_dict
    return Result(doc.text or "", doc.title, (doc.date or "")[:10] or None)


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def _print_date_tiers(pages: list[Page], part: str) -> int:
    """The dated pages of ``part`` by the tier of their chosen date, whole and stripped."""
    counts = date_tiers(pages)[part]
    print(f"{part}: pages with an expected date, right day / pages, by the tier of the chosen date")
    for label, tiers in (("as served", counts.tiers), ("date metadata stripped", counts.stripped)):
        row = ", ".join(f"{t} {r}/{n}" for t, (r, n) in sorted(tiers.items()))
        print(f"  {label:<24} {row}")
    print(
        f"  a guess wins once stripped where metadata won: {counts.guess_over_metadata};"
        f" another day than the metadata: {counts.disagree} (guess right {counts.guess_right},"
        f" metadata right {counts.metadata_right})"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder with pages/ and expected.json")
    parser.add_argument("--repeat", type=positive_int, default=5, help="timed repetitions per page")
    parser.add_argument("--max-ratio", type=positive_float, default=1.2, help="target: veille / bare time")
    parser.add_argument("--show-misses", choices=["dev", "held-out", "all"], help="print title/date misses")
    parser.add_argument(
        "--date-tiers", choices=["dev", "held-out", "all"], help="measure the dates by tier instead (untimed)"
    )
    args = parser.parse_args(argv)
    try:
        pages = read_corpus(args.corpus)
    except LabelledDataError as exc:
        parser.error(str(exc))
    if args.date_tiers:
        return _print_date_tiers(pages, args.date_tiers)
    results: dict[str, dict[str, Result]] = {"bare": {}, "veille": {}}
    times = {"bare": 0.0, "veille": 0.0}
    for page in pages:
        raw, url = page.raw, page.url
        for who, fn in (("bare", bare), ("veille", veille_result)):
            results[who][page.name] = fn(raw, url)
        runs: dict[str, list[float]] = {"bare": [], "veille": []}
        for _ in range(args.repeat):
            runs["bare"].append(_cpu(lambda: bare(raw, url)))  # noqa: B023 - called at once
            runs["veille"].append(_cpu(lambda: veille_result(raw, url)))  # noqa: B023
        for who in times:
            times[who] += statistics.median(runs[who])
    scores = {(who, part): s for who in results for part, s in score_pages(pages, results[who]).items()}

    n = len(pages)
    print(f"{n} pages; dev {sum(half(p.name) == 'dev' for p in pages)}, held-out the rest")
    header = ("extractor", "pages", "with-recall", "leaks", "title", "date", "ms/page")
    print("{:<8} {:<9} {:>11} {:>6} {:>6} {:>6} {:>8}".format(*header))
    for part in PARTS:
        for who in ("bare", "veille"):
            ms = f"{times[who] / n * 1e3:>8.2f}" if part == "all" else ""
            print(f"{who:<8} {part:<9} {scores[(who, part)].row()} {ms}")
    ratio = times["veille"] / times["bare"]
    verdict = "OK" if ratio <= args.max_ratio else "OVER TARGET"
    print(
        f"time ratio veille / bare (CPU, medians of {args.repeat}): {ratio:.2f}x"
        f" (target <= {args.max_ratio}x): {verdict}"
    )
    if args.show_misses:
        for who in ("veille",):
            for line in scores[(who, args.show_misses)].misses:
                print("  miss", line)
    print(f"run at {datetime.now().isoformat(timespec='seconds')} on a shared machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
