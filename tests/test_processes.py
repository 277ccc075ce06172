"""No process of veille's outlives it: Prefect's temporary server, the feed-parser workers and
their resource tracker end with `veille run`, normally, on SIGTERM or SIGINT, and after
kill -9; the embedded PostgreSQL stops when its last live user is gone, dead ones included.

Every process veille starts inherits its environment, so the test marks the environment with
a value of its own and looks for processes that still carry it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.site import LocalSite, Request, seed_site, write_sources
from tests.test_concurrent_runs import ROOT, _command

pytestmark = pytest.mark.slow

MARK = "VEILLE_TEST_PROCESS_MARK"
DEADLINE = 240.0


_MADE: list[Path] = []


def _data_dir() -> Path:
    """A data folder of the test's own under /tmp (the embedded server's own user must reach
    it; pytest's shared base folder is mode 0700), removed after the test (:func:`_remove_data_dirs`)."""
    top = Path(tempfile.mkdtemp(prefix="veille-proc-test-"))
    _MADE.append(top)
    folder = top / "data"
    (folder / "prefect").mkdir(parents=True)
    return folder


@pytest.fixture(autouse=True)
def _remove_data_dirs() -> Iterator[None]:
    """Each test's data folders go once it ends: an embedded cluster is some 70 MB."""
    yield
    while _MADE:
        shutil.rmtree(_MADE.pop(), ignore_errors=True)


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


@pytest.mark.parametrize("prefect", ["off", "on"], ids=["direct", "flows on Prefect's temporary server"])
def test_run_under_capture_output_returns_and_leaves_no_process(
    site: LocalSite, database_url: str, clean_db: object, tmp_path: Path, prefect: str
) -> None:
    seed_site(site)
    mark = uuid.uuid4().hex
    started = time.monotonic()
    done = subprocess.run(
        [*_command(), "run", "--sources", str(_sources(site, tmp_path))],
        env={**_env(mark, _data_dir(), database_url), "VEILLE_PREFECT": prefect},
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


def _signal_mid_ingest(
    site: LocalSite, command: list[str], env: dict[str, str], sig: signal.Signals
) -> tuple[subprocess.Popen[str], str, float]:
    """Run ``command`` over the seed site whose pages hang until released, send ``sig`` once
    the workers are inside their requests; the process, its stderr and the seconds from the
    signal to the end of its output (every holder of its pipes gone)."""
    asked = threading.Event()
    release = threading.Event()

    def slow(body: bytes) -> Any:
        def handler(request: Request) -> tuple[int, dict[str, str], bytes]:
            asked.set()
            release.wait(60)
            return 200, {"Content-Type": "text/html; charset=utf-8"}, body

        return handler

    for page in seed_site(site):
        site.add(page.spec.slug, b"", handler=slow(page.html.encode("utf-8")))
    proc = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert asked.wait(DEADLINE), "the run never asked for a page"
        time.sleep(0.5)  # every worker in a request
        sent = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        return proc, err, time.monotonic() - sent
    finally:
        release.set()
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_ingest_ends_every_process_promptly_and_a_rerun_finishes(
    site: LocalSite, tmp_path: Path, sig: signal.Signals
) -> None:
    """SIGTERM or SIGINT while the workers wait on slow pages: veille exits at once with
    128 + the signal's number, says so in one line, leaves no process (parser workers,
    watcher, the embedded PostgreSQL it started), and the next run stores every page."""
    mark = uuid.uuid4().hex
    data_dir = _data_dir()
    env = _env(mark, data_dir, None)
    command = [*_command(), "run", "--sources", str(_sources(site, tmp_path))]
    proc, err, took = _signal_mid_ingest(site, command, env, sig)
    assert proc.returncode == 128 + sig, (proc.returncode, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    name = "interrupted" if sig == signal.SIGINT else "terminated"
    assert f"veille: {name} by {sig.name}" in err, err[-2000:]
    assert took < 20, took  # promptly: no wait for the requests in flight
    assert _wait_gone(mark, 10) == []
    deadline = time.monotonic() + 30
    while _postmaster_running(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _postmaster_running(data_dir)

    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=DEADLINE)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "5 stored" in again.stdout, again.stdout
    assert _left(mark) == []


@pytest.mark.usefixtures("prefect_harness")
def test_a_signal_mid_ingest_with_a_prefect_server_marks_the_runs_interrupted(
    site: LocalSite, database_url: str, clean_db: object, tmp_path: Path
) -> None:
    """The flows run against a Prefect server: SIGTERM ends veille as promptly (Prefect's own
    handler would wait for the task runs in flight) and the run and its ingest subflow end
    Crashed, named Interrupted, with the signal in their message."""
    import asyncio

    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.settings import get_current_settings

    mark = uuid.uuid4().hex
    env = _env(mark, _data_dir(), database_url)
    env["PREFECT_API_URL"] = str(get_current_settings().api.url)
    command = [*_command(), "run", "--sources", str(_sources(site, tmp_path))]
    proc, err, took = _signal_mid_ingest(site, command, env, signal.SIGTERM)
    assert proc.returncode == 143, (proc.returncode, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    assert took < 20, took
    assert _wait_gone(mark, 10) == []

    async def latest(flow_name: str) -> Any:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                sort=FlowRunSort.START_TIME_DESC,
                limit=1,
            )
            return runs[0].state

    for flow_name in ("veille-run", "veille-ingest"):
        state = asyncio.run(latest(flow_name))
        assert (state.type.value, state.name) == ("CRASHED", "Interrupted"), (flow_name, state)
        assert state.message.startswith("Interrupted by SIGTERM"), state.message
