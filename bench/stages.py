"""Benchmark: per-article cost of scoring (language + relevance) against trafilatura extraction.

Builds one HTML page per seed text (article paragraphs wrapped in nav/footer chrome), then, in
the same run and with repetitions, times trafilatura.bare_extraction as the pipeline calls it
(monitors/judge/extract.py: TRAFILATURA_OPTIONS) and detect_language + score_topics as
monitors/ingest.py calls them (extracted text, title and description). Prints medians per
article and the ratio; the target is scoring + language <= 15% of extraction.

The three stages are timed in turn within each repetition (so load from other processes on a
shared machine hits them alike), in CPU time of this process (time.process_time: waiting for a
core is not counted) and in wall-clock time. Language detection keeps no cache between calls
(only the per-character normalisation table, filled by the warm-up as by any earlier article).

The same ratio is then printed for the shared corpus's 120 real pages (real sizes and markup,
mostly German and English), for information: the target is judged on the seed pages.

    python bench/stages.py [--repeat 20] [--seeds seeds] [--target 0.15] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import html
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_float, positive_int  # noqa: E402
from monitors.judge.extract import TRAFILATURA_OPTIONS, Extracted, extract_article  # noqa: E402
from monitors.judge.extract_eval import shared_corpus_dir  # noqa: E402
from monitors.judge.language import detect_language  # noqa: E402
from monitors.judge.matcher import TOKEN_SCAN  # noqa: E402
from monitors.judge.relevance import score_topics  # noqa: E402
from monitors.judge.topic import Topic  # noqa: E402
from monitors.judge.topic_set import load_topics  # noqa: E402
from monitors.ngram_profiles import NGRAM_SUMS  # noqa: E402

#: The shared corpus's real pages (outside the repository), used by the benches when present;
#: found as bench/extract.py and `veille eval --extraction` find it.
CORPUS_DIR = (shared_corpus_dir(ROOT) or ROOT.parent / "shared" / "corpus") / "pages"

CHROME_TOP = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>
</head><body><header><nav><ul><li><a href="/">Accueil</a></li><li><a href="/politique">Politique
</a></li><li><a href="/economie">Economie</a></li><li><a href="/tech">Tech</a></li>
<li><a href="/abonnement">S'abonner</a></li></ul></nav></header><main><article>
<h1>{title}</h1>"""
CHROME_BOTTOM = """</article><aside><h2>A lire aussi</h2><ul><li><a href="/a">Budget : le 49.3
</a></li><li><a href="/b">Météo : vigilance neige</a></li></ul></aside></main><footer><p>Mentions
légales - Contact - Cookies - Tous droits réservés</p></footer></body></html>"""


def build_page(text: str) -> str:
    """Wrap a seed text in a simple article page: first non-empty line as title, <p> per line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title = html.escape(lines[0][:150]) if lines else ""
    body = "\n".join(f"<p>{html.escape(line)}</p>" for line in lines[1:])
    return CHROME_TOP.format(title=title) + body + CHROME_BOTTOM


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--repeat", type=positive_int, default=20, help="repetitions per article")
    parser.add_argument("--target", type=positive_float, default=0.15, help="max scoring/extraction")
    parser.add_argument(
        "--corpus",
        type=Path,
        default=CORPUS_DIR,
        help="folder of real pages, measured for information (skipped when empty)",
    )
    args = parser.parse_args(argv)

    import trafilatura  # imported here so --help works without it

    topic = load_topics()  # every active topic, as the pipeline scores them
    print(f"topics: {', '.join(t.name for t in topic)}")
    pages = [(p.name, build_page(p.read_text("utf-8"))) for p in sorted(args.seeds.glob("*.txt"))]
    if not pages:
        parser.error(f"no seed *.txt in {args.seeds}")

    url = "https://example.org/article"

    def extract(page: str) -> object:
        return trafilatura.bare_extraction(page, url=url, **TRAFILATURA_OPTIONS)

    # warm-up: lazy imports, langdetect profiles, lxml
    for name, page in pages:
        art = extract_article(page.encode(), url, "text/html; charset=utf-8")
        detect_language(art.text, title=art.title)
        score_all(topic, art, slug_url(name))

    totals = {"cpu": [0.0, 0.0], "wall": [0.0, 0.0]}  # [extraction, language + relevance]
    print(
        f"language n-gram sums: {NGRAM_SUMS}"
        + (" (monitors._ngrams not compiled)" if NGRAM_SUMS == "numpy" else "")
        + f"; topic scan: {TOKEN_SCAN}"
        + (" (monitors._scan not compiled)" if TOKEN_SCAN == "python" else "")
    )
    print(f"{'article':<28} {'extract ms':>11} {'lang ms':>9} {'relev ms':>9} {'ratio':>7}  (CPU time)")
    for name, page in pages:
        art = extract_article(page.encode(), url, "text/html; charset=utf-8")
        runs: dict[str, list[tuple[float, float]]] = {"extract": [], "lang": [], "rel": []}
        for _ in range(args.repeat):
            runs["extract"].append(_time(partial(extract, page)))
            runs["lang"].append(_time(partial(detect_language, art.text, title=art.title)))
            runs["rel"].append(_time(partial(score_all, topic, art, slug_url(name))))
        for clock, k in (("cpu", 0), ("wall", 1)):
            med = {stage: statistics.median(r[k] for r in rs) for stage, rs in runs.items()}
            totals[clock][0] += med["extract"]
            totals[clock][1] += med["lang"] + med["rel"]
            if clock == "cpu":
                ratio = (med["lang"] + med["rel"]) / med["extract"]
                print(
                    f"{name:<28} {med['extract'] * 1e3:>11.2f} {med['lang'] * 1e3:>9.2f}"
                    f" {med['rel'] * 1e3:>9.2f} {ratio:>7.1%}"
                )
    overall = totals["cpu"][1] / totals["cpu"][0]
    wall = totals["wall"][1] / totals["wall"][0]
    verdict = "OK" if overall <= args.target else "OVER TARGET"
    print(
        f"overall: scoring + language = {overall:.1%} of extraction in CPU time, {wall:.1%} in wall-clock"
        f" time (target <= {args.target:.0%}): {verdict}"
    )
    corpus = sorted(args.corpus.glob("*.html")) if args.corpus.is_dir() else []
    if corpus:
        cpu = corpus_ratio(corpus, topic, max(3, args.repeat // 5))
        print(f"for information, on {len(corpus)} real pages: {cpu:.1%} of extraction in CPU time")
    return 0 if overall <= args.target else 1


def slug_url(name: str) -> str:
    """A page's address as the pipeline passes it to scoring (its words are the URL zone)."""
    return f"https://example.org/2025/02/10/{name.removesuffix('.txt')}"


def score_all(topics: list[Topic], art: Extracted, url: str) -> None:
    """Relevance of an extracted article against every active topic, with the page's URL (what
    the pipeline does per page: ``score_topics``)."""
    score_topics(topics, art.text, title=art.title, description=art.description, url=url)


def corpus_ratio(paths: list[Path], topic: list[Topic], repeat: int) -> float:
    """Language + relevance over extraction on real pages, CPU time, medians summed over pages."""
    from monitors.judge.extract import ExtractionError

    url = "https://example.org/article"
    extract_total = score_total = 0.0
    for path in paths:
        raw = path.read_bytes()
        try:
            art = extract_article(raw, url)
        except ExtractionError:
            continue
        ext, sco = [], []
        for _ in range(repeat):
            ext.append(_time(partial(extract_article, raw, url))[0])
            lang = _time(partial(detect_language, art.text, title=art.title))[0]
            rel = _time(partial(score_all, topic, art, slug_url(path.stem)))[0]
            sco.append(lang + rel)
        extract_total += statistics.median(ext)
        score_total += statistics.median(sco)
    return score_total / extract_total if extract_total else 0.0


if __name__ == "__main__":
    raise SystemExit(main())
