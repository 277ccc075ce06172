"""No process of veille's outlives it: Prefect's temporary server, the feed-parser workers and
their resource tracker end with `veille run`, normally, on SIGTERM or SIGINT, and after
kill -9; the embedded PostgreSQL stops when its last live user is gone, dead ones included.

Every process veille starts inherits its environment, so the test marks the environment with
a value of its own and looks for processes that still carry it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from tests.site import LocalSite, Request, seed_site, write_sources
from tests.test_concurrent_runs import ROOT, _command

pytestmark = pytest.mark.slow

MARK = "VEILLE_TEST_PROCESS_MARK"
DEADLINE = 240.0


def _data_dir() -> Path:
    """A data folder of the test's own under /tmp (the embedded server's own user must reach
    it; pytest's shared base folder is mode 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="veille-proc-test-")) / "data"
    (folder / "prefect").mkdir(parents=True)
    return folder


def _env(mark: str, data_dir: Path, database_url: str | None) -> dict[str, str]:
    """A user's environment: no Prefect server configured (veille starts its temporary one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.update(
        {
            MARK: mark,
            "PYTHONPATH": str(ROOT),
            "VEILLE_DATA_DIR": str(data_dir),
            "VEILLE_ALLOW_PRIVATE_NETWORK": "1",
            "VEILLE_PER_HOST_DELAY": "0",
            "VEILLE_PARSE_WORKERS": "2",
            "PREFECT_HOME": str(data_dir / "prefect"),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        }
    )
    if database_url:
        env["VEILLE_DATABASE_URL"] = database_url
    return env


def _left(mark: str) -> list[str]:
    """Processes that carry the mark (the embedded PostgreSQL is checked apart)."""
    found = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            if proc.environ().get(MARK) == mark and proc.info["name"] != "postgres":
                found.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:160]}")
        except (psutil.Error, OSError):
            continue
    return found


def _wait_gone(mark: str, seconds: float = 20.0) -> list[str]:
    deadline = time.monotonic() + seconds
    while (left := _left(mark)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _postmaster_running(data_dir: Path) -> bool:
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return False
    return psutil.pid_exists(int(pid_file.read_text().split()[0]))


def _sources(site: LocalSite, tmp_path: Path) -> Path:
    return write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )


def test_run_under_capture_output_returns_and_leaves_no_process(
    site: LocalSite, database_url: str, clean_db: object, tmp_path: Path
) -> None:
    seed_site(site)
    mark = uuid.uuid4().hex
    started = time.monotonic()
    done = subprocess.run(
        [*_command(), "run", "--sources", str(_sources(site, tmp_path))],
        env=_env(mark, _data_dir(), database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 stored" in done.stdout
    assert time.monotonic() - started < DEADLINE
    assert _left(mark) == []  # nothing left at the moment the command returned


@pytest.mark.parametrize("how", ["kill -9"])
def test_killed_run_leaves_no_process_and_the_embedded_server_stops(
    site: LocalSite, tmp_path: Path, how: str
) -> None:
    """The run is stopped while it polls (the feed hangs until the test lets it go), with the
    embedded PostgreSQL, Prefect's temporary server and the parser workers all up."""
    asked = threading.Event()
    release = threading.Event()

    def hanging_feed(request: Request) -> tuple[int, dict[str, str], bytes]:
        asked.set()
        release.wait(60)
        return 503, {"Content-Type": "text/plain"}, b"later"

    site.add("/feed.xml", b"", handler=hanging_feed)
    mark = uuid.uuid4().hex
    data_dir = _data_dir()
    env = _env(mark, data_dir, None)
    # a signal ends the run once the requests in flight end: at most the fetch deadline
    env.update(VEILLE_TIMEOUT="3", VEILLE_FETCH_DEADLINE="5")
    proc = subprocess.Popen(
        [*_command(), "run", "--sources", str(_sources(site, tmp_path))],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert asked.wait(DEADLINE), "the run never asked for its feed"
        assert _postmaster_running(data_dir)
        time.sleep(1.0)  # the parser workers are starting along with the poll
        sig = {"kill -9": signal.SIGKILL, "SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT}[how]
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)  # returns only once every holder of the pipes is gone
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()
    if how != "kill -9":
        assert proc.returncode in {130, 143, -signal.SIGTERM}, (proc.returncode, err[-2000:])
        assert "Traceback" not in err, err[-3000:]
    assert _wait_gone(mark) == []
    deadline = time.monotonic() + 30
    while _postmaster_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postmaster_running(data_dir)
