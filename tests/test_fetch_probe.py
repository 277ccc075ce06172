"""bench/fetch_probe.py runs as bench/README.md shows it, at a tiny size: every path fetches
robots.txt and the feed of every source from the loopback server and the run leaves no
process behind. Not timed (the figures are the bench's business)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def test_the_probe_fetches_every_source_by_every_path() -> None:
    marker = uuid.uuid4().hex  # in the environment of the probe and of its server child
    done = subprocess.run(
        [sys.executable, "bench/fetch_probe.py", "--sources", "5", "--latency", "0.01", "--repeat", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "VEILLE_TEST_PROBE": marker},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = re.findall(
        r"^rep (\d) (\w+) .*; (\d+) feeds .*, (\d+) robots\.txt 404, (\d+) requests$", done.stdout, re.M
    )
    paths = {name for _, name, *_ in runs}
    assert {"threads", "httpx", "h11"} <= paths, done.stdout
    assert len(runs) == 2 * len(paths), done.stdout
    for _, name, feeds, robots, requests in runs:
        assert (feeds, robots, requests) == ("5", "5", "10"), (name, done.stdout)
    summary = done.stdout.split("summary", 1)[1]
    assert re.search(r"threads .*ratio 1\.00; CPU .*ratio 1\.00", summary), summary
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("VEILLE_TEST_PROBE") == marker:
                left.append(proc.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    assert not left, f"the probe left processes behind: {left}"
