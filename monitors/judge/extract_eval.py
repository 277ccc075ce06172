"""Extraction quality on the shared corpus: with-recall, leaks, title and date against its
ground truth, for the whole corpus and its two fixed halves (``dev``, ``held-out``).

One scoring for ``bench/extract.py``, ``bench/ingest.py --quality``, ``veille eval
--extraction`` and the gate of tests/test_extract_gate.py (floors: tests/eval/floors.json,
section ``extraction``), so that the figures the benches print are the ones the gate checks.
The corpus (``../shared/corpus``: ``pages/*.html`` and ``expected.json``) is real text read at
run time, never copied into the repository.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitors.judge.lines import LabelledDataError, json_object_file

HALVES = ("dev", "held-out")
PARTS = ("all", *HALVES)
#: the figures of each part; ``leaks`` is a ceiling, the others floors
METRICS = ("with_recall", "leaks", "title", "date")

_SPACE = re.compile(r"\s+")
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "«": '"', "»": '"', "\u00a0": " "})


def shared_corpus_dir(root: Path | None = None) -> Path | None:
    """The shared corpus: ``<repo>/../shared/corpus``, else ``/work/shared/corpus``, the first
    that holds ``expected.json`` and ``pages/`` (as the shared eval sets are found); None when
    neither does."""
    root = root or Path(__file__).resolve().parents[2]
    for candidate in (root.parent / "shared" / "corpus", Path("/work/shared/corpus")):
        if (candidate / "expected.json").is_file() and (candidate / "pages").is_dir():
            return candidate
    return None


def half(name: str) -> str:
    """``dev`` or ``held-out``: a fixed split by a hash of the file name (rules are developed
    on ``dev`` and checked on ``held-out``)."""
    return "dev" if hashlib.sha1(name.encode()).digest()[0] % 2 == 0 else "held-out"


def norm(value: str | None) -> str:
    """Text as compared: entities decoded, NFC, quotes folded, spaces collapsed."""
    value = unicodedata.normalize("NFC", html.unescape(value or "")).translate(_QUOTES)
    return _SPACE.sub(" ", value).strip()


@dataclass
class Result:
    """What an extractor gave for one page."""

    text: str = ""
    title: str | None = None
    date: str | None = None  # YYYY-MM-DD


@dataclass
class Score:
    """Counts of one part of the corpus against its ground truth."""

    pages: int = 0
    with_found: int = 0
    with_total: int = 0
    leaks: int = 0
    without_total: int = 0
    title_ok: int = 0
    title_total: int = 0
    date_ok: int = 0
    date_total: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, res: Result, exp: Mapping[str, Any]) -> None:
        """Count one page: its ``with`` strings found, ``without`` strings leaked, its title
        (exact after :func:`norm`) and its publication day."""
        self.pages += 1
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

    def figures(self) -> dict[str, float | int]:
        """The four shares (0.0 when the part has nothing to count) and the counts behind them."""
        return {
            "pages": self.pages,
            "with_recall": self.with_found / max(1, self.with_total),
            "leaks": self.leaks / max(1, self.without_total),
            "title": self.title_ok / max(1, self.title_total),
            "date": self.date_ok / max(1, self.date_total),
            "with_found": self.with_found,
            "with_total": self.with_total,
            "leaked": self.leaks,
            "without_total": self.without_total,
            "titles_right": self.title_ok,
            "titles": self.title_total,
            "dates_right": self.date_ok,
            "dates": self.date_total,
        }

    def row(self) -> str:
        """with-recall, leaks, title and date as the benches print them."""
        f = self.figures()
        return f"{f['with_recall']:>11.3f} {f['leaks']:>6.3f} {f['title']:>6.3f} {f['date']:>6.3f}"


@dataclass(frozen=True)
class Page:
    """One page of the corpus: its file name, bytes and ground truth."""

    name: str
    raw: bytes
    expected: Mapping[str, Any]

    @property
    def url(self) -> str:
        """The page's original URL (what its dates and title rules may read)."""
        return str(self.expected.get("url") or f"https://example.org/{self.name}")


def read_corpus(corpus: Path) -> list[Page]:
    """The pages of ``corpus/pages/*.html`` (sorted) with their entry of
    ``corpus/expected.json``. A folder without them, or an ``expected.json`` that is not a JSON
    object, raises :class:`LabelledDataError` saying which: nothing measured is no figure."""
    corpus = Path(corpus)
    truth = corpus / "expected.json"
    if not corpus.is_dir():
        why = "not a folder" if corpus.exists() else "no such folder"
        raise LabelledDataError(f"{corpus}: {why} (the corpus: pages/*.html and expected.json)")
    if not truth.is_file():
        raise LabelledDataError(f"{truth}: no such file (the ground truth of {corpus}/pages)")
    expected = json_object_file(truth, "pages")
    files = sorted((corpus / "pages").glob("*.html"))
    if not files:
        raise LabelledDataError(f"{corpus / 'pages'}: no *.html page to measure")
    return [Page(p.name, p.read_bytes(), expected.get(p.name) or {}) for p in files]


def veille_result(raw: bytes, url: str) -> Result:
    """veille's extraction of one page, as monitors/ingest.py calls it (without learned
    per-site boilerplate: the corpus has about one page per site); nothing when it fails."""
    from monitors.judge.extract import ExtractionError, extract_article

    try:
        art = extract_article(raw, url)
    except ExtractionError:
        return Result()
    return Result(art.text, art.title, art.published_at.date().isoformat() if art.published_at else None)


def extract_pages(
    pages: Sequence[Page], extractor: Callable[[bytes, str], Result] = veille_result
) -> dict[str, Result]:
    """Each page's result, by file name."""
    return {page.name: extractor(page.raw, page.url) for page in pages}


def score_pages(pages: Sequence[Page], results: Mapping[str, Result]) -> dict[str, Score]:
    """The scores of ``all``, ``dev`` and ``held-out``; a page without a result counts as
    extracting nothing."""
    scores = {part: Score() for part in PARTS}
    for page in pages:
        res = results.get(page.name) or Result()
        scores["all"].add(page.name, res, page.expected)
        scores[half(page.name)].add(page.name, res, page.expected)
    return scores


def extraction_report(scores: Mapping[str, Score]) -> dict[str, Any]:
    """The figures of each part (what the floors of ``extraction`` name: ``dev.title``)."""
    return {part: scores[part].figures() for part in PARTS}


def evaluate_extraction(
    corpus: Path, extractor: Callable[[bytes, str], Result] = veille_result
) -> dict[str, Any]:
    """Extract every page of ``corpus`` and score it: :func:`extraction_report` plus the
    corpus's folder."""
    pages = read_corpus(corpus)
    return {"corpus": str(corpus), **extraction_report(score_pages(pages, extract_pages(pages, extractor)))}


#: What :func:`date_tiers` strips to stand for a page served without date metadata: every
#: ``<meta>``, every JSON-LD script and ``itemprop="date..."``.
DATE_METADATA = re.compile(
    rb"<meta\b[^>]*>|<script[^>]*ld\+json[^>]*>.*?</script>|\bitemprop=[\"']?date\w*[\"']?", re.I | re.S
)


@dataclass
class DateTiers:
    """One part's dated pages by the tier of their chosen date (``page_dates.TIER_NAMES``):
    ``[right, total]`` each; and, over the pages whose date metadata is stripped
    (:data:`DATE_METADATA`), the tiers again (``stripped``) and, where a guess then wins and the
    full page had a metadata date, how often the two name other days (``disagree``) and which
    was the expected day then."""

    tiers: dict[str, list[int]] = field(default_factory=dict)
    stripped: dict[str, list[int]] = field(default_factory=dict)
    guess_over_metadata: int = 0
    disagree: int = 0
    guess_right: int = 0
    metadata_right: int = 0


def _date_and_tier(raw: bytes, url: str) -> tuple[str | None, str | None]:
    """veille's chosen publication day of a page and its tier (``page_dates.date_tier``)."""
    from monitors.judge.extract import ExtractionError, extract_article
    from monitors.judge.page_dates import date_tier

    try:
        art = extract_article(raw, url)
    except ExtractionError:
        return None, None
    if art.published_at is None:
        return None, None
    return art.published_at.date().isoformat(), date_tier(str((art.evidence or {}).get("published_from")))


def date_tiers(pages: Sequence[Page]) -> dict[str, DateTiers]:
    """How often the page's chosen date is the expected day, by its tier, for ``all``,
    ``dev`` and ``held-out`` (docs/extraction.md, "The feed's date and the page's"): what a
    guess is worth, and whether it or the page's own metadata (what a feed's pubDate states)
    is right when they disagree."""
    out = {part: DateTiers() for part in PARTS}
    for page in pages:
        expected = str(page.expected.get("date") or "")[:10]
        if not expected:
            continue
        day, tier = _date_and_tier(page.raw, page.url)
        bare_day, bare_tier = _date_and_tier(DATE_METADATA.sub(b"", page.raw), page.url)
        for part in ("all", half(page.name)):
            counts = out[part]
            for got, where, into in ((day, tier, counts.tiers), (bare_day, bare_tier, counts.stripped)):
                if where is not None:
                    count = into.setdefault(where, [0, 0])
                    count[0] += got == expected
                    count[1] += 1
            if tier == "metadata" and bare_tier == "guess":
                counts.guess_over_metadata += 1
                if bare_day != day:
                    counts.disagree += 1
                    counts.guess_right += bare_day == expected
                    counts.metadata_right += day == expected
    return out
