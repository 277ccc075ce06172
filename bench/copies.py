"""Benchmark: the edit-tolerant copy check (:func:`monitors.group.copies.compare`) on long texts,
against a baseline measured in the same run (two 1,000-word texts).

Story assignment runs up to 30 comparisons per stored article while the article's story locks
are held; the in-order measures (longest common subsequences) are quadratic in the worst case,
so the profile reads only the first ``MAX_ORDERED_WORDS`` words for them. Each size is timed
as veille runs it (capped) and, for comparison, with the cap lifted (``--uncapped-up-to``
words: above that, the uncapped run is skipped, it takes minutes). Texts are made-up prose
from a seeded generator: "rich" draws from 3,000 words (Zipf-like, as news prose), "poor" from
40 (a list, a table of figures: the worst case of the subsequence search). Printed: the median
of ``--repeat`` comparisons of one pair (profiles built beforehand, as the store builds each
once) and its ratio to the baseline. Target: capped, every size within 20x the baseline.

    python bench/copies.py [--sizes 1000,5000,20000,30000] [--repeat 3] [--uncapped-up-to 20000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import non_negative_int, positive_int, positive_ints  # noqa: E402
from monitors.group import copies  # noqa: E402


def prose(seed: int, words: int, vocabulary: int) -> str:
    """``words`` made-up words drawn (Zipf-like) from ``vocabulary``, some capitalised names."""
    rnd = random.Random(seed)
    lexicon = [f"{rnd.choice('bcdfglmnprstv')}{rnd.choice('aeiou')}{n:04d}x" for n in range(vocabulary)]
    weights = [1 / (rank + 1) for rank in range(vocabulary)]
    names = ["Dati", "Lyon", "Rouen", "Nancy", "Macron", "Bruxelles", "Mistral", "Pau"]
    drawn = rnd.choices(lexicon, weights=weights, k=words)
    return " ".join(rnd.choice(names) if rnd.random() < 0.05 else w for w in drawn)


def timed(a: str, b: str, repeat: int, cap: int) -> float:
    """Median seconds of one comparison of ``a`` and ``b``, their profiles read with ``cap``."""
    saved = copies.MAX_ORDERED_WORDS
    copies.MAX_ORDERED_WORDS = cap
    try:
        pa, pb = copies.profile(a, "fr"), copies.profile(b, "fr")
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            copies.compare(pa, pb)
            runs.append(time.perf_counter() - start)
    finally:
        copies.MAX_ORDERED_WORDS = saved
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=positive_ints, default="1000,5000,20000,30000", help="words per text")
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--uncapped-up-to", type=non_negative_int, default=20_000, metavar="WORDS")
    args = parser.parse_args()
    sizes = args.sizes
    cap = copies.MAX_ORDERED_WORDS
    print(f"MAX_ORDERED_WORDS = {cap}; median of {args.repeat} comparisons per pair")
    worst = 0.0
    for kind, vocabulary in (("rich", 3000), ("poor", 40)):
        baseline = timed(prose(1, 1000, vocabulary), prose(2, 1000, vocabulary), args.repeat, cap)
        print(f"\n{kind} prose, baseline (two 1,000-word texts): {baseline * 1000:.1f} ms")
        print(f"{'words':>7}  {'capped':>10}  {'x base':>7}  {'uncapped':>10}  {'x base':>7}")
        for n in sizes:
            a, b = prose(1, n, vocabulary), prose(2, n, vocabulary)
            capped = timed(a, b, args.repeat, cap)
            worst = max(worst, capped / baseline)
            line = f"{n:>7}  {capped * 1000:>8.1f}ms  {capped / baseline:>7.1f}"
            if n <= args.uncapped_up_to:
                free = timed(a, b, 1, 10**9)
                line += f"  {free * 1000:>8.1f}ms  {free / baseline:>7.1f}"
            print(line)
    verdict = "ok" if worst <= 20 else "ABOVE TARGET"
    print(f"\ncapped: at most {worst:.1f}x the baseline (target <= 20x): {verdict}")
    return 0 if worst <= 20 else 1


if __name__ == "__main__":
    sys.exit(main())
