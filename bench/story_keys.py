"""Story lookup keys on the corpus pages: how many pages share a key, against every heaviest feature.

Each page of ``../shared/corpus`` is analysed as veille's workers do (``analyse_content``), then
its lookup keys are taken two ways in the same run: the baseline, the :data:`LOOKUP_KEYS`
heaviest features (names, numbers and dates first) with no rule, and
:func:`monitors.group.stories.article_keys` (veille's keys). A pair of pages sharing a key
looks each other up as candidates and, stored at once, waits on each other's advisory lock
(docs/stories.md, "Lookup keys"): fewer pairs, fewer needless lookups and waits. No timing.

    python bench/story_keys.py [--corpus ../shared/corpus/pages] [--top 12]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `python bench/story_keys.py`: siblings are bench.*
    sys.path.insert(0, str(ROOT))
from bench.archive_scale import analyse_corpus  # noqa: E402
from bench.arguments import positive_int  # noqa: E402
from bench.ingest import CORPUS_DIR  # noqa: E402


def sharing(keysets: list[set[str]], top: int) -> str:
    """Keys, pairs of pages sharing one, and the most shared keys (pages each)."""
    pairs = sum(1 for a, b in itertools.combinations(keysets, 2) if a & b)
    shared = Counter(k for keys in keysets for k in keys).most_common(top)
    n = len(keysets)
    return (
        f"{sum(map(len, keysets))} keys, pairs sharing a key {pairs:,} of {n * (n - 1) // 2:,};"
        f" most shared: {', '.join(f'{k} ({c})' for k, c in shared)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS_DIR, help="folder of HTML pages")
    parser.add_argument("--top", type=positive_int, default=12, help="most shared keys shown")
    args = parser.parse_args(argv)

    from monitors.group.stories import LOOKUP_KEYS, article_keys

    articles = analyse_corpus(args.corpus)
    baseline, keyed = [], []
    for a in articles:
        vector, keys = article_keys(a.text, a.title, a.language)
        heaviest = sorted(vector.items(), key=lambda kv: (kv[0][0] == "w", -kv[1], kv[0]))[:LOOKUP_KEYS]
        baseline.append({k for k, _ in heaviest})
        keyed.append(set(keys))
    languages = Counter(a.language for a in articles).most_common()
    print(f"{len(articles)} pages ({', '.join(f'{lang} {n}' for lang, n in languages)})")
    print(f"baseline, the {LOOKUP_KEYS} heaviest features: {sharing(baseline, args.top)}")
    print(f"article_keys: {sharing(keyed, args.top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
