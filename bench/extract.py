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

Rows are printed for the whole corpus and for its two halves (split by a hash of the file
name, so the split never changes): rules were developed on ``dev`` and checked on ``held-out``.
Time is CPU time (``time.process_time``), both extractors timed in turn on each page within
each repetition so that load from other processes hits them alike; medians per page, summed.

    python bench/extract.py [--corpus DIR] [--repeat 5] [--max-ratio 1.2] [--show-misses]
"""

from __future__ import annotations

import argparse
import hashlib
import html
import json
import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
if not CORPUS.is_dir():
    CORPUS = Path("/work/shared/corpus")
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from monitors.judge.extract import TRAFILATURA_OPTIONS, ExtractionError, extract_article  # noqa: E402

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " "})


def norm(value: str | None) -> str:
    value = unicodedata.normalize("NFC", html.unescape(value or "")).translate(_QUOTES)
    return _SPACE.sub(" ", value).strip()


@dataclass
class Result:
    text: str = ""
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD


@dataclass
class Score:
    with_found: int = 0
    with_total: int = 0
    leaks: int = 0
    without_total: int = 0
    title_ok: int = 0
    title_total: int = 0
    date_ok: int = 0
    date_total: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, res: Result, exp: dict) -> None:
        text = norm(res.text)
        for s in exp.get("with") or []:
            self.with_total += 1
            self.with_found += norm(s) in text
        for s in exp.get("without") or []:
            self.without_total += 1
            self.leaks += norm(s) in text
        if exp.get("title"):
            self.title_total += 1
            if norm(res.title) == norm(exp["title"]):
                self.title_ok += 1
            else:
                self.misses.append(f"{name} title {res.title!r} != {exp['title']!r}")
        if exp.get("date"):
            self.date_total += 1
            if res.date == exp["date"][:10]:
                self.date_ok += 1
            else:
                self.misses.append(f"{name} date {res.date!r} != {exp['date']!r}")

    def row(self) -> str:
        recall = self.with_found / max(1, self.with_total)
        leaks = self.leaks / max(1, self.without_total)
        title = self.title_ok / max(1, self.title_total)
        day = self.date_ok / max(1, self.date_total)
        return f"{recall:>11.3f} {leaks:>6.3f} {title:>6.3f} {day:>6.3f}"


def bare(raw: bytes, url: str) -> Result:
    import trafilatura
    from trafilatura.settings import Document

    doc = trafilatura.bare_extraction(raw, url=url, **TRAFILATURA_OPTIONS)
    if doc is None:
        return Result()
    assert isinstance(doc, Document)  # not as_dict
    return Result(doc.text or "", doc.title, (doc.date or "")[:10] or None)


def veille(raw: bytes, url: str) -> Result:
    try:
        art = extract_article(raw, url)
    except ExtractionError:
        return Result()
    return Result(art.text, art.title, art.published_at.date().isoformat() if art.published_at else None)


def half(name: str) -> str:
    """``dev`` or ``held-out``: a fixed split by a hash of the file name."""
    return "dev" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "held-out"


def _cpu(fn: Callable[[], object]) -> float:
    start = time.process_time()
    fn()
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder with pages/ and expected.json")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions per page")
    parser.add_argument("--max-ratio", type=float, default=1.2, help="target: veille / bare time")
    parser.add_argument("--show-misses", choices=["dev", "held-out", "all"], help="print title/date misses")
    args = parser.parse_args(argv)
    expected = json.loads((args.corpus / "expected.json").read_text("utf-8"))
    pages = [(p.name, p.read_bytes()) for p in sorted((args.corpus / "pages").glob("*.html"))]
    if not pages:
        parser.error(f"no pages in {args.corpus / 'pages'}")

    scores = {(who, part): Score() for who in ("bare", "veille") for part in ("all", "dev", "held-out")}
    times = {"bare": 0.0, "veille": 0.0}
    for name, raw in pages:
        exp = expected.get(name, {})
        url = exp.get("url") or f"https://example.org/{name}"
        for who, fn in (("bare", bare), ("veille", veille)):
            res = fn(raw, url)
            scores[(who, "all")].add(name, res, exp)
            scores[(who, half(name))].add(name, res, exp)
        runs: dict[str, list[float]] = {"bare": [], "veille": []}
        for _ in range(args.repeat):
            runs["bare"].append(_cpu(lambda: bare(raw, url)))  # noqa: B023 - called at once
            runs["veille"].append(_cpu(lambda: veille(raw, url)))  # noqa: B023
        for who in times:
            times[who] += statistics.median(runs[who])

    n = len(pages)
    print(f"{len(pages)} pages; dev {sum(half(p) == 'dev' for p, _ in pages)}, held-out the rest")
    header = ("extractor", "pages", "with-recall", "leaks", "title", "date", "ms/page")
    print("{:<8} {:<9} {:>11} {:>6} {:>6} {:>6} {:>8}".format(*header))
    for part in ("all", "dev", "held-out"):
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
