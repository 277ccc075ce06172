"""The work-pool path as the README gives it, with real processes: `prefect server start`,
`prefect work-pool create veille --type process`, `prefect deploy --all` from the repository
root (prefect.yaml), `prefect worker start --pool veille`; a flow run of the pool's
poll-and-ingest deployment ends Completed and stored the local site's articles.

The server runs with its scheduler off: the deployments' schedules would otherwise start runs
on the default sources, which are on the network."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from tests.site import LocalSite, seed_site, write_sources

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _api(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        f"{base}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _wait(what: str, check: Any, timeout: float, logs: list[Path]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(1)
    tails = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{tails}")


def _prefect(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / "prefect"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"prefect {' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _stop(processes: list[subprocess.Popen[bytes]]) -> list[psutil.Process]:
    """SIGTERM each process group started here (and any child that left it), SIGKILL what
    remains after 30 s; returns what is still alive (nothing, if all went well)."""
    family: list[psutil.Process] = []
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            family += [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    for process in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _gone, alive = psutil.wait_procs(family, timeout=30)
    for member in alive:
        member.kill()
    _gone, alive = psutil.wait_procs(alive, timeout=10)
    return alive


@pytest.mark.slow
def test_worker_runs_a_deployment_from_prefect_yaml(clean_db: sa.Engine, tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": base,
        "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "VEILLE_DATABASE_URL": clean_db.url.render_as_string(hide_password=False),
        "VEILLE_TIMEOUT": "30",  # a loaded machine answers slowly
    }
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    started: list[subprocess.Popen[bytes]] = []
    with LocalSite() as site:
        seed_site(site)
        sources = write_sources(
            tmp_path / "sources.toml",
            [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
        )
        try:
            with server_log.open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            _wait("the Prefect server answers", lambda: _api(base, "/health"), 180, [server_log])

            _prefect(["work-pool", "create", "veille", "--type", "process"], env)
            out = _prefect(["--no-prompt", "deploy", "--all"], env)
            deployments = {d["name"] for d in _api(base, "/deployments/filter", {})}
            # the pool's deployments do not overwrite those `veille serve` registers
            assert deployments == {"poll-and-ingest-pool", "drain-queue-pool", "daily-pool"}, out

            with worker_log.open("wb") as log:
                started.append(
                    subprocess.Popen(
                        [str(BIN / "prefect"), "worker", "start", "--pool", "veille"],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            out = _prefect(
                [
                    "deployment",
                    "run",
                    "veille-run/poll-and-ingest-pool",
                    "--params",
                    json.dumps({"sources_file": str(sources)}),
                ],
                env,
            )
            match = re.search(r"UUID: ([0-9a-f-]{36})", out)
            assert match, out
            run_id = match.group(1)

            def finished() -> dict[str, Any] | None:
                run: dict[str, Any] = _api(base, f"/flow_runs/{run_id}")
                ended = run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
                return run if ended else None

            run = _wait("the flow run ends", finished, 420, [worker_log, server_log])
            assert run["state"]["type"] == "COMPLETED", worker_log.read_text(errors="replace")[-6000:]
            assert run["work_queue_name"] == "default" and run["work_pool_name"] == "veille"
        finally:
            alive = _stop(started)
    assert not alive, f"left behind: {alive}"
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        sources_rows = conn.scalar(sa.text("SELECT count(*) FROM sources"))
        queue = dict(conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all())
        unexplained = conn.scalar(
            sa.text("SELECT count(*) FROM url_queue WHERE state <> 'fetched' AND reason IS NULL")
        )
    # the run polled the site's feed and stored its articles; on a loaded machine a page may
    # time out, and then it waits in the queue with its reason
    assert sources_rows == 1 and sum(queue.values()) == 5, queue
    assert stored >= 1 and queue.get("fetched", 0) >= stored, (stored, queue)
    assert unexplained == 0, queue
    assert "Worker" in worker_log.read_text(errors="replace")
