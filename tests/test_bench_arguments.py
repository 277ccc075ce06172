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
    ("backfill_progress", "--rows", "0"),
    ("copies", "--sizes", "1000,0"),
    ("date_loaders", "--articles", "0"),
    ("decoder_start", "--repeat", "0"),
    ("cyrillic_case", "--repeat", "0"),
    ("dedup", "--probes", "0"),
    ("fetch_probe", "--sources", "0"),
    ("french_dates", "--repeat", "0"),
    ("ingest", "--repeat", "0"),
    ("poll", "--feeds", "0"),
    ("poll", "--latency", "0"),
    ("queue_claim", "--rows", "0"),
    ("queue_recent", "--rows", "0"),
    ("queue_refusals", "--rows", "0"),
    ("scale_ingest", "--total", "0"),
    ("search", "--articles", "-1"),
    ("sitemaps_read", "--rows", "0"),
    ("stages", "--repeat", "0"),
    ("startup", "--repeat", "0"),
    ("stories", "--probes", "0"),
    ("story_keys", "--top", "0"),
    ("unaccent", "--repeat", "0"),
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


def test_bench_backfill_times_no_import() -> None:
    """bench/backfill.py's timed paths import nothing: both flows are imported once before the
    warm-up and the rounds. Before, each path imported its flow in its first call (flows.runs
    for `veille run`, flows.backfill_flows for the backfill), inside that arm's timing only."""
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[1] / "bench" / "backfill.py").read_text("utf-8"))
    paths = [
        f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name in {"run_path", "backfill_path"}
    ]
    assert len(paths) == 2
    imports = [
        (f.name, n.lineno) for f in paths for n in ast.walk(f) if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    assert imports == [], imports


def test_queue_claim_explains_a_claim_on_a_tiny_queue(clean_db: object) -> None:
    """`bench/queue_claim.py --rows 10 --indexes` raised StopIteration in explain_claim: on a
    table of a few rows the planner reads url_queue whole, and the plan has no url_queue_due
    scan to report. Now its line says so, with the node the planner chose. Not timed."""
    import sqlalchemy as sa

    from bench.queue_claim import explain_claim
    from bench.queue_recent import fill

    assert isinstance(clean_db, sa.Engine)
    with clean_db.begin() as conn:
        fill(conn, 2, 10, 365)
        conn.execute(
            sa.text("UPDATE url_queue SET state = 'pending', next_attempt_at = now() - interval '1 day'")
        )
    with clean_db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE url_queue"))
    line = explain_claim(clean_db, 20)
    assert line.startswith("statement shared hit="), line
    assert "no url_queue_due scan: the planner chose " in line and " on url_queue" in line, line
    assert "give more --rows" in line and "sort above it:" in line, line
