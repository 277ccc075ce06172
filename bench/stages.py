"""Benchmark: per-article cost of scoring (language + relevance) against trafilatura extraction.

Builds one HTML page per seed text (article paragraphs wrapped in nav/footer chrome), then, in
the same run and with repetitions, times trafilatura.extract(html, with_metadata=True) and
detect_language + score_relevance on the extracted text. Prints medians per article and the
ratio; the target is scoring + language <= 15% of extraction.

    python bench/stages.py [--repeat 20] [--seeds seeds] [--target 0.15]
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

from monitors.language import detect_language  # noqa: E402
from monitors.relevance import load_topic, score_relevance  # noqa: E402

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


def _median_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--repeat", type=int, default=20, help="repetitions per article")
    parser.add_argument("--target", type=float, default=0.15, help="max scoring/extraction")
    args = parser.parse_args(argv)

    import trafilatura  # imported here so --help works without it

    topic = load_topic()
    pages = [(p.name, build_page(p.read_text("utf-8"))) for p in sorted(args.seeds.glob("*.txt"))]
    if not pages:
        parser.error(f"no seed *.txt in {args.seeds}")

    # warm-up: lazy imports, langdetect profiles, lxml
    for _, page in pages:
        extracted = trafilatura.extract(page, with_metadata=True) or ""
        detect_language(extracted)
        score_relevance(topic, extracted)

    total_extract = total_score = 0.0
    print(f"{'article':<28} {'extract ms':>11} {'lang ms':>9} {'relev ms':>9} {'ratio':>7}")
    for name, page in pages:
        extracted = trafilatura.extract(page, with_metadata=True) or ""
        t_extract = _median_seconds(partial(trafilatura.extract, page, with_metadata=True), args.repeat)
        t_lang = _median_seconds(partial(detect_language, extracted), args.repeat)
        t_rel = _median_seconds(partial(score_relevance, topic, extracted), args.repeat)
        total_extract += t_extract
        total_score += t_lang + t_rel
        ratio = (t_lang + t_rel) / t_extract
        print(f"{name:<28} {t_extract * 1e3:>11.2f} {t_lang * 1e3:>9.2f} {t_rel * 1e3:>9.2f} {ratio:>7.1%}")
    overall = total_score / total_extract
    verdict = "OK" if overall <= args.target else "OVER TARGET"
    print(
        f"overall: scoring + language = {overall:.1%} of extraction (target <= {args.target:.0%}): {verdict}"
    )
    return 0 if overall <= args.target else 1


if __name__ == "__main__":
    raise SystemExit(main())
