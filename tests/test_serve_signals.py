"""`veille serve` as the README shows it, stopped the way a user stops it: Ctrl-C (SIGINT) or
SIGTERM (systemd, `docker stop`). Without a Prefect server configured, veille serve starts
one of its own, with its scheduler (Prefect's temporary server has none: nothing ever ran),
so the cycle comes on its schedule; a signal mid-cycle ends veille serve at once with one
line and 128 + the signal's number, leaves no process (the Prefect server, the run's
process, its parser workers), stores nothing after it said it stopped, marks the run
Interrupted, and the next `veille serve` runs the next cycle and stores every page."""

from __future__ import annotations

import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.prefect_api import ask
from tests.site import LocalSite, seed_hanging_site
from tests.test_processes import (  # noqa: F401  (_remove_data_dirs: autouse, the data folders go after)
    ROOT,
    _command,
    _data_dir,
    _env,
    _remove_data_dirs,
    _sources,
    _wait_gone,
)

pytestmark = pytest.mark.slow

#: A 1-minute interval brings the first cycle within a minute of the start, plus the server's.
CYCLE_WAIT = 240.0


def _serve(sources: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*_command(), "serve", "--interval", "1", "--sources", str(sources)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """A process's stderr read on a thread, so the pipe never fills up."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        self.thread = threading.Thread(target=lambda: self.lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
        self.thread.start()

    def text(self) -> str:
        self.thread.join(60)
        return "".join(self.lines)

    def api_url(self) -> str:
        deadline = time.monotonic() + CYCLE_WAIT
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(r"started one at (http://\S+/api)", line):
                    return found.group(1)
            time.sleep(0.2)
        raise AssertionError("veille serve did not say which Prefect server it started")


def _runs(api_url: str) -> list[dict[str, Any]]:
    """The flow runs the server holds, with their flow's name."""
    runs: list[dict[str, Any]] = ask(api_url, "/flow_runs/filter", {})
    flows = {f["id"]: f["name"] for f in ask(api_url, "/flows/filter", {})}
    return [{**r, "flow": flows.get(r["flow_id"])} for r in runs]


def _stop(proc: subprocess.Popen[str], err: Lines, sig: signal.Signals) -> float:
    """Send ``sig`` and wait for veille serve to end: exit 128 + the signal's number, its one
    line, no traceback; the seconds it took."""
    sent = time.monotonic()
    try:
        proc.send_signal(sig)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
    took = time.monotonic() - sent
    text = err.text()
    verb = "interrupted" if sig == signal.SIGINT else "terminated"
    assert code == 128 + sig, (code, text[-3000:])
    assert f"veille: {verb} by {sig.name}: what was not stored is left for the next run" in text, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    return took


def test_serve_runs_its_cycle_and_stops_cleanly_on_sigterm_and_sigint(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages, asked, release = seed_hanging_site(site, 120)
    mark = uuid.uuid4().hex
    env = _env(mark, _data_dir(), database_url)
    env.update(VEILLE_TIMEOUT="200", VEILLE_FETCH_DEADLINE="300")
    sources = _sources(site, tmp_path)

    # 1. SIGTERM while the served cycle's workers wait on the pages
    proc = _serve(sources, env)
    err = Lines(proc)
    try:
        assert asked.wait(CYCLE_WAIT), "no cycle came on the schedule: " + "".join(err.lines)[-3000:]
        time.sleep(0.5)
    except BaseException:
        proc.kill()
        raise
    took = _stop(proc, err, signal.SIGTERM)
    assert took < 20, took
    assert _wait_gone(mark, 10) == []  # the Prefect server, the run's process, its workers
    release.set()  # the pages answer now: nobody is left to fetch them
    time.sleep(2)
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM articles")) == 0
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'pending'")) == 5

    # 2. The next veille serve runs the next cycle (the claims and the concurrency slot of
    # the interrupted run are free) and stores every page; then Ctrl-C
    for page in pages:
        site.add(page.spec.slug, page.html, content_type="text/html; charset=utf-8")
    proc = _serve(sources, env)
    err = Lines(proc)
    try:
        api_url = err.api_url()
        deadline = time.monotonic() + CYCLE_WAIT
        stored = 0
        while time.monotonic() < deadline and stored < 5 and proc.poll() is None:
            time.sleep(1)
            with clean_db.connect() as conn:
                stored = conn.scalar(sa.text("SELECT count(*) FROM articles")) or 0
        assert stored == 5, "".join(err.lines)[-3000:]
        runs = _runs(api_url)
    except BaseException:
        proc.kill()
        raise
    _stop(proc, err, signal.SIGINT)
    assert _wait_gone(mark, 10) == []
    interrupted = [r for r in runs if r["state"]["name"] == "Interrupted"]
    assert {r["flow"] for r in interrupted} >= {"veille-run", "veille-ingest"}, runs
    assert all(r["state"]["message"].startswith("Interrupted by SIGTERM") for r in interrupted)
    assert not [
        r for r in runs if r["state"]["type"] == "RUNNING" and r["id"] in {i["id"] for i in interrupted}
    ]
    with clean_db.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM url_queue WHERE state = 'fetched'")) == 5
