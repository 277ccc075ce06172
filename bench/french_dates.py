"""Benchmark: French-written dates read by veille's grammar (:func:`monitors.dates.french_date`)
against dateparser (French only, strict: the day, month and year required, day first), the
library of the field, on the same strings in the same run.

dateparser is installed already (htmldate requires it), so the choice was its cost, not its
weight: a feed's or a sitemap's dates are read one by one, and a sitemap lists up to 50,000
URLs. Printed: the import and first-parse cost of dateparser, the median time per date of
each over ``--repeat`` rounds, their ratio, and whether both give the same instant for every
string (they should: the grammar reads what dateparser reads, day first, on the local clock).

    python bench/french_dates.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_int  # noqa: E402
from monitors.dates import french_date, local_zone  # noqa: E402

#: dates as French feeds and sitemaps write them (made up, not copied from any site)
DATES = [
    "10/02/2025 14:30",
    "Lundi 10 Février 2025 - 14:30",
    "lundi 10 février 2025 à 14h30",
    "LUNDI 10 FEVRIER 2025 A 14H30",
    "10 février 2025",
    "02/10/2025",
    "1er mars 2025 à 9h",
    "10 fév. 2025, 14:30",
    "10.02.2025 14:30",
    "le 3 juillet 2025 à 8h05",
]


def _per_date(read: object, rounds: int, repeat: int) -> float:
    """Median seconds per date of ``read`` over ``repeat`` runs of ``rounds`` passes."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(rounds):
            for value in DATES:
                read(value)  # type: ignore[operator]
        times.append((time.perf_counter() - start) / (rounds * len(DATES)))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--repeat", type=positive_int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    from dateparser import DateDataParser

    imported = time.perf_counter() - start
    settings = {
        "DATE_ORDER": "DMY",
        "STRICT_PARSING": True,
        "REQUIRE_PARTS": ["day", "month", "year"],
        "TIMEZONE": local_zone().key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PARSERS": ["absolute-time"],
    }
    library = DateDataParser(languages=["fr"], settings=settings)
    start = time.perf_counter()
    theirs = [library.get_date_data(v).date_obj for v in DATES]
    first = time.perf_counter() - start
    ours = [french_date(v) for v in DATES]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    own = _per_date(french_date, 200, args.repeat)
    lib = _per_date(lambda v: library.get_date_data(v), 20, args.repeat)
    print(f"dateparser: import {imported * 1000:.0f} ms, first French pass {first * 1000:.0f} ms")
    print(f"per date: french_date {own * 1e6:.1f} us, dateparser {lib * 1e6:.0f} us ({lib / own:.0f}x)")
    print(f"a 50,000-URL sitemap's dates: {50_000 * own:.1f} s against {50_000 * lib:.1f} s")
    print(f"same instant for {same} of {len(DATES)} dates")
    return 0 if same == len(DATES) else 1


if __name__ == "__main__":
    sys.exit(main())
