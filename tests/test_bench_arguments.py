"""The benches refuse a count of zero as argparse usage errors (exit 2, the option named)
before any work: `bench/extract.py --repeat 0` ran the whole corpus and then crashed on the
median of no timings. Not timed (the figures are the benches' business)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: one option of each bench that counts something (repetitions, pages, feeds, sizes), at zero
ZERO_COUNTS = [
    ("extract", "--repeat", "0"),
    ("archive_scale", "--rounds", "0"),
    ("backfill", "--pages", "0"),
    ("copies", "--sizes", "1000,0"),
    ("dedup", "--probes", "0"),
    ("fetch_probe", "--sources", "0"),
    ("french_dates", "--repeat", "0"),
    ("ingest", "--repeat", "0"),
    ("poll", "--feeds", "0"),
    ("poll", "--latency", "0"),
    ("scale_ingest", "--total", "0"),
    ("search", "--articles", "-1"),
    ("sitemaps_read", "--rows", "0"),
    ("stages", "--repeat", "0"),
    ("startup", "--repeat", "0"),
    ("stories", "--probes", "0"),
    ("view_days", "--repeat", "0"),
]


@pytest.mark.parametrize(("bench", "option", "value"), ZERO_COUNTS)
def test_a_zero_count_is_a_usage_error(bench: str, option: str, value: str) -> None:
    done = subprocess.run(
        [sys.executable, f"bench/{bench}.py", option, value],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"error: argument {option}:" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""  # refused before any work


def test_every_bench_is_checked() -> None:
    checked = {bench for bench, _, _ in ZERO_COUNTS}
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py")} - {"unwind", "arguments", "__init__"}
    assert checked == scripts
