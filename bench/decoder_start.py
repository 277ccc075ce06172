"""Benchmark: a compressed body's start read a byte at a time by :class:`monitors.collect.codings.Decoder`
(``Content-Encoding: deflate`` on a body a server trickles): blanks before a page's markup
(a body that says deflate and is not, read as sent), raw deflate (no zlib header) and a gzip
header with a long file name (FNAME, which gives no byte out until it ends), each at two
sizes, against the same bytes read in 64 KiB reads in the same run. Printed: the median time
per byte of each, and the per-byte ratio of the large size to the small one: about 1
when the work per read is bounded, the size ratio (16) or more when each read goes through
the whole start again (64 KiB of blanks took about a minute so).

    python bench/decoder_start.py [--repeat 3] [--small 4096] [--large 65536]
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.arguments import positive_int  # noqa: E402
from monitors.collect.codings import BLANKS_BEFORE_MARKUP, Decoder  # noqa: E402


def blanks(size: int) -> bytes:
    """``size`` blanks (the most a decoder waits through) and a page's markup."""
    return b" " * (min(size, BLANKS_BEFORE_MARKUP) - 1) + b"\n<html><body><p>Bonjour</p></body></html>"


def raw_deflate(size: int) -> bytes:
    """About ``size`` bytes of raw deflate (no zlib header) of made-up words."""
    rng = random.Random(size)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(2, 9))) for _ in range(2000)]
    text = " ".join(rng.choice(words) for _ in range(size)).encode()
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return (packer.compress(text) + packer.flush())[:size]


def gzip_name(size: int) -> bytes:
    """A gzip member whose header holds a file name (FNAME) of about ``size`` bytes."""
    packed = gzip.compress(b"<html><body><p>Bonjour</p></body></html>", mtime=0)
    return packed[:3] + bytes([packed[3] | 0x08]) + packed[4:10] + b"n" * size + b"\0" + packed[10:]


def per_byte(body: bytes, step: int, repeat: int, coding: str = "deflate") -> float:
    """The median time per byte of ``body`` decoded in reads of ``step`` bytes, in microseconds."""
    times = []
    for _ in range(repeat):
        decoder = Decoder(coding)
        started = time.perf_counter()
        for i in range(0, len(body), step):
            decoder.decode(body[i : i + step], 1 << 40)
        times.append(time.perf_counter() - started)
    return statistics.median(times) / len(body) * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=positive_int, default=3)
    parser.add_argument("--small", type=positive_int, default=4096)
    parser.add_argument("--large", type=positive_int, default=65536)
    args = parser.parse_args(argv)
    for name, make, coding in (
        ("blanks before markup", blanks, "deflate"),
        ("raw deflate", raw_deflate, "deflate"),
        ("gzip file name", gzip_name, "gzip"),
    ):
        small, large = make(args.small), make(args.large)
        one_small = per_byte(small, 1, args.repeat, coding)
        one_large = per_byte(large, 1, args.repeat, coding)
        whole = per_byte(large, 64 * 1024, args.repeat, coding)
        print(
            f"{name}: a byte a read {one_small:.2f} us/byte ({len(small)} bytes), {one_large:.2f} us/byte "
            f"({len(large)} bytes): ratio {one_large / one_small:.2f}; 64 KiB reads {whole:.3f} us/byte"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
