"""Benchmark: charset detection of an unlabelled Russian body all in lower case
(:func:`monitors.collect.encoding.detect_encoding`), whose charset the Cyrillic readings'
comparison settles (``cased_cyrillic``: it may be another charset's capitals), against the same
words as written (a capital ends the question) in the same run, both windows-1251. Printed: the
median CPU time per byte of each at two sizes, the per-byte ratio one case / mixed case at each size (near 1
when the comparison reads a bounded sample; it grew with the body up to detection's 200 kB head
when each reading was compared whole).

    python bench/cyrillic_case.py [--repeat 5] [--small 4096] [--large 200000]
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
from monitors.collect.encoding import detect_encoding  # noqa: E402

LINE = "Правительство утвердило бюджет на следующий год. Цены на бензин снова выросли в регионах. "


def body(size: int, one_case: bool) -> bytes:
    """About ``size`` bytes of a windows-1251 page, its text in lower case or as written."""
    text = LINE * (size // len(LINE) + 1)
    return ("<html><body><p>" + (text.lower() if one_case else text) + "</p></body></html>").encode("cp1251")


def per_byte(content: bytes, repeat: int) -> float:
    """The median CPU time per byte of detecting ``content``'s charset, in nanoseconds."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        codec = detect_encoding(content)
        times.append(time.process_time() - started)
        if codec != "cp1251":
            raise SystemExit(f"read as {codec}, not cp1251")
    return statistics.median(times) / len(content) * 1e9


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=positive_int, default=5)
    parser.add_argument("--small", type=positive_int, default=4096, help="bytes")
    parser.add_argument("--large", type=positive_int, default=200_000, help="bytes")
    args = parser.parse_args(argv)
    detect_encoding(body(args.small, True))  # warm-up: the language profiles
    head = f"{'bytes':>9} {'mixed ns/B':>11} {'one case ns/B':>14} {'ratio':>6}"
    print(f"{head}  (CPU, median of {args.repeat})")
    for size in (args.small, args.large):
        mixed, one = body(size, False), body(size, True)
        m, o = 0.0, 0.0
        for _ in range(2):  # in turn, so the machine's load meets both alike
            m += per_byte(mixed, args.repeat)
            o += per_byte(one, args.repeat)
        print(f"{size:>9} {m / 2:>11.1f} {o / 2:>14.1f} {o / m:>6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
