"""`veille serve` next to another one, and against a Prefect server of the user's.

A second `veille serve` on the same PREFECT_HOME or the same database is refused at once, one
line naming the other one, exit 3, no process left (before, it started a Prefect server of its
own and served the same deployments: two runners on one Prefect database, each running the
other's runs, both polling the same sources); one refused lets go of what it took (the
PREFECT_HOME lock, taken before the database's). Stopping `veille serve` pauses its deployments'
schedules on the user's server, as Prefect's own runner does when it stops (before, the
server kept scheduling runs that no one would ever execute); the next `veille serve` makes
them active again.
"""

from __future__ import annotations

import fcntl
import json
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

import pytest
import sqlalchemy as sa

from flows.commands.serve import SERVE_LOCK
from tests.site import LocalSite, seed_site
from tests.test_processes import (  # noqa: F401  (_remove_data_dirs: autouse, the data folders go after)
    ROOT,
    _command,
    _data_dir,
    _env,
    _remove_data_dirs,
    _sources,
    _wait_gone,
)
from tests.test_serve_signals import Lines, _stop

pytestmark = pytest.mark.slow

SERVED = {"poll-and-ingest", "drain-queue", "daily"}


def _serve(sources: Path, env: dict[str, str], interval: str = "1") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*_command(), "serve", "--interval", interval, "--sources", str(sources)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _post(api_url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        f"{api_url}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def _deployments(api_url: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _post(api_url, "/deployments/filter", {})}


def _scheduled(api_url: str) -> int:
    """Runs the server's scheduler made and no one has started yet."""
    body = {"flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}
    return len(_post(api_url, "/flow_runs/filter", body))


def _wait_for(check: Any, seconds: float, what: str, err: Lines | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    output = "\n" + "".join(err.lines)[-3000:] if err else ""
    raise AssertionError(f"{what} within {seconds:.0f} s{output}")


@pytest.fixture
def users_prefect_server(tmp_path: Path) -> Iterator[str]:
    """A Prefect server of the user's (`prefect server start`), its scheduler looping every
    second; its API URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "users-prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="1",
    )
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--no-ui", "--analytics-off"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    api_url = f"http://127.0.0.1:{port}/api"
    try:

        def up() -> bool:
            try:
                with urllib.request.urlopen(f"{api_url}/health", timeout=2):
                    return True
            except OSError:
                return False

        _wait_for(up, 120, "the Prefect server did not answer")
        yield api_url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)


def test_a_second_serve_on_the_same_prefect_home_or_database_is_refused(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    sources = _sources(site, tmp_path)
    first_mark = uuid.uuid4().hex
    env = _env(first_mark, _data_dir(), database_url)
    first = _serve(sources, env, interval="60")
    err = Lines(first)
    try:
        err.api_url()  # serving: its Prefect server is up

        def second(environment: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], str]:
            mark = uuid.uuid4().hex
            environment = {**environment, "VEILLE_TEST_PROCESS_MARK": mark}
            try:
                done = subprocess.run(
                    [*_command(), "serve", "--interval", "60", "--sources", str(sources)],
                    env=environment,
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    timeout=90,
                )
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(f"the second veille serve went on serving: {exc.stderr!r}") from None
            assert _wait_gone(mark, 10) == []
            return done, done.stderr

        # the same PREFECT_HOME (and database)
        done, text = second(env)
        assert done.returncode == 3, text
        assert text.startswith(
            f"veille serve: error: another veille serve (veille serve, pid {first.pid} on "
        ), text
        assert f"already uses PREFECT_HOME {env['PREFECT_HOME']}: " in text, text
        assert "Traceback" not in text and text.count("\n") == 1, text

        # a PREFECT_HOME of its own, the same database
        done, text = second(_env(uuid.uuid4().hex, _data_dir(), database_url))
        assert done.returncode == 3, text
        assert f"(veille serve, pid {first.pid} on " in text, text
        assert "already serves the database postgresql+psycopg://" in text, text
        assert "Traceback" not in text and text.count("\n") == 1, text
        assert first.poll() is None  # the first one serves on
    except BaseException:
        first.kill()
        raise
    _stop(first, err, signal.SIGTERM)
    assert _wait_gone(first_mark, 10) == []


def test_stopping_serve_pauses_its_schedules_on_the_users_prefect_server(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_prefect_server: str
) -> None:
    api_url = users_prefect_server
    seed_site(site)
    sources = _sources(site, tmp_path)
    mark = uuid.uuid4().hex
    env = {**_env(mark, _data_dir(), database_url), "PREFECT_API_URL": api_url}

    def served(paused: bool) -> bool:
        found = _deployments(api_url)
        return set(found) == SERVED and all(d["paused"] is paused for d in found.values())

    def serving() -> tuple[subprocess.Popen[str], Lines]:
        """veille serve, once its deployments are active and the server schedules their runs."""
        proc = _serve(sources, env, interval="60")
        err = Lines(proc)
        try:
            _wait_for(lambda: served(False), 120, "veille serve did not make its deployments active", err)
            _wait_for(lambda: _scheduled(api_url) > 0, 60, "the server's scheduler made no run", err)
        except BaseException:
            proc.kill()
            raise
        return proc, err

    proc, err = serving()
    took = _stop(proc, err, signal.SIGTERM)
    assert took < 20, took
    assert _wait_gone(mark, 10) == []
    # the user's server outlives veille serve: nothing is scheduled that no one would run
    assert served(True), _deployments(api_url)
    assert _scheduled(api_url) == 0
    time.sleep(3)  # three loops of the scheduler
    assert _scheduled(api_url) == 0

    # the next veille serve makes them active again
    proc, err = serving()
    _stop(proc, err, signal.SIGINT)
    assert _wait_gone(mark, 10) == []
    assert served(True)


def test_a_refused_serve_lets_go_of_the_prefect_home_lock(
    database_url: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A second veille serve on the same database (another PREFECT_HOME) is refused by the
    database's advisory lock after it took its PREFECT_HOME's: it lets go of that one too
    (before, it stayed held by the process that had been refused)."""
    import flows.commands.serve
    from flows.cli import main

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("a refused veille serve served")

    monkeypatch.setattr(flows.commands.serve, "serve_deployments", started)
    home = tmp_path / "prefect-home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    with clean_db.connect() as other:  # the first veille serve's hold on the database
        other.execute(sa.text("SELECT pg_advisory_lock(:c, :o)"), {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]})
        assert main(["serve"]) == 3
        other.execute(sa.text("SELECT pg_advisory_unlock(:c, :o)"), {"c": SERVE_LOCK[0], "o": SERVE_LOCK[1]})
        other.commit()
    assert "already serves the database" in capsys.readouterr().err
    assert flows.commands.serve._HELD == []
    with open(home / "veille-serve.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while still held
