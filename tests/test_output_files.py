"""Every file a veille command writes as its output (`feed -o`, `score -o`, `train-topic -o`,
`sources check --report-dir`; `export -o` in tests/test_export_output.py) replaces the
previous one only when complete: a write that fails mid-way (the file size limit of the
process, as a full disk would) or a signal leaves the previous file byte for byte and no
temporary file. Real commands in real processes, on the real file system."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.collect.source_check import REPORT_PREFIX
from monitors.judge.learned import LinearModel
from tests.output_files import ROOT, VEILLE, command_env, contents, run_veille
from tests.site import LocalSite, rss_feed, write_sources

EVAL = ROOT / "tests" / "eval" / "relevance.jsonl"  # labelled text we wrote
PREVIOUS = b"the previous output, whole\n"
SOMMET = "Le sommet pour l'action sur l'IA s'ouvre à Paris."


@pytest.mark.parametrize(
    "argv",
    [
        ["feed", "--limit", "5", "-o"],
        ["score", "INPUT", "-o"],
        ["train-topic", "--data", str(EVAL), "-o"],
    ],
    ids=lambda argv: argv[0],
)
def test_a_write_that_fails_midway_leaves_the_previous_file(
    clean_db: sa.Engine, database_url: str, tmp_path: Path, argv: list[str]
) -> None:
    """The output stops at 100 bytes (EFBIG): exit 2 naming FILE, FILE as it was."""
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "output"
    out.write_bytes(PREVIOUS)
    texts = tmp_path / "texts.jsonl"  # for score: lines of our own
    texts.write_text("".join(json.dumps({"id": n, "text": SOMMET}) + "\n" for n in range(20)), "utf-8")
    argv = [str(texts) if arg == "INPUT" else arg for arg in argv]
    env = command_env(VEILLE_DATABASE_URL=database_url, VEILLE_DATA_DIR=str(tmp_path / "data"))
    done = run_veille([*argv, str(out)], env, file_limit=100)
    assert done.returncode == 2, done.stderr
    assert contents(folder) == {"output": PREVIOUS}
    assert f"veille: error: cannot write {out}: File too large" in done.stderr
    # without the limit the command completes and replaces FILE
    done = run_veille([*argv, str(out)], env)
    assert done.returncode == 0, done.stderr
    assert [p.name for p in folder.iterdir()] == ["output"] and out.read_bytes() != PREVIOUS
    if argv[0] == "train-topic":  # the model as a file object: FILE itself, no .npz added
        assert LinearModel.load(out).meta["n_items"] > 0


def test_a_report_that_fails_midway_leaves_no_partial_report(site: LocalSite, tmp_path: Path) -> None:
    """`sources check --report-dir DIR` whose JSON report stops at 200 bytes: exit 2 naming
    the report, no new file in DIR and the reports there as they were, also one of the same
    second (names hold the time to the second: one is made for every second of the run)."""
    site.add("/fil.xml", rss_feed(site.base, [("Un", "a/un.html", datetime.now(UTC))]))
    sources = write_sources(
        tmp_path / "s.toml",
        [{"name": "Fil", "kind": "feed", "url": f"{site.base}/fil.xml", "owner": "media"}],
    )
    reports = tmp_path / "reports"
    reports.mkdir()
    start = datetime.now(UTC).replace(microsecond=0)
    for second in range(-2, 300):
        stamp = (start + timedelta(seconds=second)).strftime("%Y%m%dT%H%M%SZ")
        for suffix in (".json", ".txt"):
            (reports / f"{REPORT_PREFIX}-{stamp}{suffix}").write_bytes(PREVIOUS)
    before = contents(reports)
    env = command_env(VEILLE_DATA_DIR=str(tmp_path / "data"), VEILLE_ALLOW_PRIVATE_NETWORK="1")
    argv = ["sources", "check", "--sources", str(sources), "--report-dir", str(reports)]
    done = run_veille(argv, env, file_limit=200)
    assert datetime.now(UTC) < start + timedelta(seconds=298)  # its report's name was taken
    assert contents(reports) == before
    assert done.returncode == 2, done.stderr
    assert f"veille: error: cannot write {reports}/{REPORT_PREFIX}-" in done.stderr
    assert ".json: File too large" in done.stderr
    assert "1 source probed, 1 ok" in done.stdout  # the probe went through, the report failed


def test_a_signal_mid_score_leaves_the_previous_file(tmp_path: Path) -> None:
    """`veille score -o FILE` reading a pipe that has sent two lines is stopped by SIGTERM
    while it waits for more: FILE as it was, no temporary file (the scored lines are lost)."""
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "scored.jsonl"
    out.write_bytes(PREVIOUS)
    stderr = tmp_path / "stderr"
    lines = [
        {"id": "a", "text": SOMMET},
        {"id": "b", "text": "Le sommet s'ouvre lundi.", "published_at": "le 9 février"},  # a warning
    ]
    env = command_env(VEILLE_DATA_DIR=str(tmp_path / "data"))
    with stderr.open("w", encoding="utf-8") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", VEILLE, "score", "-o", str(out)],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    assert proc.stdin is not None
    try:
        proc.stdin.write("".join(json.dumps(line) + "\n" for line in lines))
        proc.stdin.flush()
        deadline = time.monotonic() + 120
        while "warning: line 2" not in stderr.read_text("utf-8") and proc.poll() is None:
            assert time.monotonic() < deadline, stderr.read_text("utf-8")
            time.sleep(0.05)
        assert proc.poll() is None, stderr.read_text("utf-8")  # scoring, waiting for line 3
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    assert proc.returncode == 128 + signal.SIGTERM, stderr.read_text("utf-8")
    assert contents(folder) == {"scored.jsonl": PREVIOUS}
