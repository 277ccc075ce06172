"""`veille serve` when its Prefect server goes away: a real `prefect server start` killed mid-serve.

Before: on a server of the user's (PREFECT_API_URL), veille serve said nothing for about four
minutes (Prefect's client retrying), then ended with a traceback, exit 1; on the server veille
serve had started itself, it went on "serving" for ever while nothing could run. Now it says at
once, cause first, which server stopped answering, since when and what it does; it waits up to
VEILLE_PREFECT_WAIT seconds for the server to come back, serving on when it does; else it stops
with exit 4 and a line saying what to do, leaving no process and no lock behind. The server it
started itself is restarted once; ending again stops veille serve.
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from flows.serve_locks import SERVE_LOCK
from tests.site import LocalSite, seed_site
from tests.test_processes import (  # noqa: F401  (_remove_data_dirs: autouse, the data folders go after)
    _data_dir,
    _env,
    _remove_data_dirs,
    _sources,
    _wait_gone,
)
from tests.test_serve_instances import SERVED, _deployments, _post, _serve, _wait_for
from tests.test_serve_signals import Lines, _stop

pytestmark = pytest.mark.slow


class PrefectServer:
    """`prefect server start` on a port and a PREFECT_HOME of its own, which can be killed
    (SIGKILL, its whole process group) and started again where it was."""

    def __init__(self, home: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        self.env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        self.process = subprocess.Popen(
            [*command, "--port", str(self.port), "--no-ui", "--analytics-off"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for(lambda: _answers(self.api_url), 120, "the Prefect server did not answer")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(15)


def _answers(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def users_server(tmp_path: Path) -> Iterator[PrefectServer]:
    server = PrefectServer(tmp_path / "users-prefect")
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _said(err: Lines, text: str, seconds: float) -> str:
    """The first line of stderr holding ``text``, within ``seconds``."""
    found: list[str] = []

    def seen() -> bool:
        found[:] = [line for line in list(err.lines) if text in line]
        return bool(found)

    _wait_for(seen, seconds, f"veille serve did not say {text!r}", err)
    return found[0]


def _serving(sources: Path, env: dict[str, str], api_url: str) -> tuple[subprocess.Popen[str], Lines]:
    """veille serve, once its deployments are registered, active, on ``api_url``."""
    proc = _serve(sources, env, interval="60")
    err = Lines(proc)

    def active() -> bool:
        try:
            found = _deployments(api_url)
        except OSError:
            return False
        return set(found) == SERVED and not any(d["paused"] for d in found.values())

    try:
        _wait_for(active, 180, "veille serve did not make its deployments active", err)
    except BaseException:
        proc.kill()
        raise
    return proc, err


def _nothing_held(engine: sa.Engine, prefect_home: Path) -> None:
    """The serve locks are free: the database's advisory lock and PREFECT_HOME's flock."""
    with engine.connect() as conn:
        held = conn.scalar(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = :c AND objid = :o"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]},
        )
    assert held == 0
    with open(prefect_home / "veille-serve.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held


def _watching(database_url: str, api_url: str, wait: str) -> tuple[str, dict[str, str]]:
    """A mark and an environment for veille serve on ``api_url``, its server checked every
    second, waited for ``wait`` seconds."""
    mark = uuid.uuid4().hex
    env = {
        **_env(mark, _data_dir(), database_url),
        "PREFECT_API_URL": api_url,
        "VEILLE_PREFECT_WAIT": wait,
        "VEILLE_PREFECT_CHECK_INTERVAL": "1",
    }
    return mark, env


def test_serve_waits_for_the_users_prefect_server_and_serves_on_when_it_comes_back(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_server: PrefectServer
) -> None:
    api_url = users_server.api_url
    seed_site(site)
    mark, env = _watching(database_url, api_url, wait="120")  # a restarted server answers within 10-30 s
    proc, err = _serving(_sources(site, tmp_path), env, api_url)
    try:
        users_server.kill()
        killed = time.monotonic()
        line = _said(err, "does not answer since", 20)
        assert time.monotonic() - killed < 15
        assert line.startswith(
            f"veille serve: the Prefect server at {api_url} (PREFECT_API_URL) does not answer since "
        ), line
        assert "no run can start meanwhile; veille serve waits up to 120 s (VEILLE_PREFECT_WAIT)" in line
        assert "else stops (exit 4)" in line

        users_server.start()
        line = _said(err, "answers again", 30)
        assert line.startswith(
            f"veille serve: the Prefect server at {api_url} (PREFECT_API_URL) answers again"
        )
        assert line.rstrip().endswith("serving on"), line
        assert proc.poll() is None

        # it serves on: a run of one of its deployments is taken by its runner
        drain = _deployments(api_url)["drain-queue"]
        made: list[Any] = []

        def create() -> bool:
            try:  # a busy server's SQLite database answers 503 now and then
                made.append(_post(api_url, f"/deployments/{drain['id']}/create_flow_run", {}))
            except OSError:
                return False
            return True

        _wait_for(create, 60, "the Prefect server took no new run", err)
        run = made[0]

        def taken() -> bool:
            try:
                state = _post(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})[0]
            except OSError:
                return False
            return bool(state["state"]["type"] in {"PENDING", "RUNNING", "COMPLETED"})

        _wait_for(taken, 150, "the runner took no run after the server came back", err)
    except BaseException:
        proc.kill()
        raise
    _stop(proc, err, signal.SIGINT)  # no traceback either (Prefect's websocket loss has none)
    assert _wait_gone(mark, 10) == []
    assert all(d["paused"] for d in _deployments(api_url).values())  # paused as it stopped


def test_serve_stops_with_exit_4_when_the_users_prefect_server_does_not_come_back(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_server: PrefectServer
) -> None:
    api_url = users_server.api_url
    seed_site(site)
    mark, env = _watching(database_url, api_url, wait="5")
    proc, err = _serving(_sources(site, tmp_path), env, api_url)
    users_server.kill()
    killed = time.monotonic()
    try:
        code = proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("veille serve went on serving: " + "".join(err.lines)[-3000:]) from None
    took = time.monotonic() - killed
    text = err.text()
    assert code == 4, text[-3000:]
    assert 5 <= took < 30, took
    assert "Traceback" not in text, text[-3000:]
    lines = text.splitlines()
    said = next(i for i, line in enumerate(lines) if "does not answer since" in line)
    assert lines[said].startswith(f"veille serve: the Prefect server at {api_url} (PREFECT_API_URL) ")
    last = lines[-1]
    assert last.startswith(
        f"veille: error: the Prefect server at {api_url} (PREFECT_API_URL) has not answered since "
    ), last
    assert "5 s waited (VEILLE_PREFECT_WAIT): no run can start, veille serve stops;" in last
    assert last.endswith(
        "restart that server (`prefect server start`) or check PREFECT_API_URL, then start veille serve again"
    ), last
    assert said < len(lines) - 1
    assert _wait_gone(mark, 10) == []
    _nothing_held(clean_db, Path(env["PREFECT_HOME"]))


def _own_server(proc: subprocess.Popen[str]) -> psutil.Process:
    """The `prefect server start` veille serve started (a child of it)."""
    for child in psutil.Process(proc.pid).children(recursive=True):
        cmdline = child.cmdline()
        if "prefect" in cmdline and "server" in cmdline and "start" in cmdline:
            return child
    raise AssertionError("veille serve has no Prefect server of its own")


def test_serve_restarts_its_own_prefect_server_once_then_stops_with_exit_4(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    mark = uuid.uuid4().hex
    env = {
        **_env(mark, _data_dir(), database_url),
        "VEILLE_PREFECT_WAIT": "120",  # the restarted server answers within 10-30 s
        "VEILLE_PREFECT_CHECK_INTERVAL": "1",
    }
    proc = _serve(_sources(site, tmp_path), env, interval="60")
    err = Lines(proc)
    try:
        api_url = err.api_url()
        _wait_for(lambda: set(_deployments(api_url)) == SERVED, 180, "no deployment registered", err)
        first = _own_server(proc)
        first.kill()
        line = _said(err, " ended at ", 20)
        assert line.startswith(f"veille serve: the Prefect server veille serve started ({api_url}) ended at ")
        assert "(its process ended, exit code -9): no run can start; veille serve restarts it once" in line
        assert "waits up to 120 s (VEILLE_PREFECT_WAIT) for it to answer, else stops (exit 4)" in line
        line = _said(err, "answers again", 150)
        assert line.startswith(f"veille serve: the Prefect server veille serve started ({api_url}) answers")
        # the same Prefect database, on the same port: the deployments are there, active
        found = _deployments(api_url)
        assert set(found) == SERVED and not any(d["paused"] for d in found.values())
        assert proc.poll() is None

        second = _own_server(proc)
        assert second.pid != first.pid
        second.kill()
        killed = time.monotonic()
        code = proc.wait(60)
    except BaseException:
        proc.kill()
        raise
    took = time.monotonic() - killed
    text = err.text()
    assert code == 4, text[-3000:]
    assert took < 20, took
    assert "Traceback" not in text, text[-3000:]
    last = text.splitlines()[-1]
    assert last.startswith(
        f"veille: error: the Prefect server veille serve started ({api_url}) ended again"
        " (its process ended, exit code -9) after veille serve restarted it: no run can start,"
        " veille serve stops; "
    ), last
    assert "set PREFECT_API_URL" in last
    assert _wait_gone(mark, 10) == []
    _nothing_held(clean_db, Path(env["PREFECT_HOME"]))
