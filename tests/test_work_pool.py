"""The work-pool path as the README gives it, with real processes: `prefect server start`,
`prefect work-pool create veille --type process`, `veille deploy` from the repository root
(`prefect deploy --all` of prefect.yaml, its schedules on the database's clock and on the
settings' poll interval and maintenance cron line), `prefect
worker start --pool veille`; a flow run of the pool's poll-and-ingest deployment ends Completed
and stored the local site's articles; then two runs of the archive-backfill deployment
(docs/backfill.md) share one backfill from a fake Wayback Machine: both Completed, every
capture fetched once, every (site, month) job done.

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
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from tests.fake_archives import FakeArchives, seed_snapshots, seed_sources
from tests.prefect_api import ask
from tests.site import LocalSite, seed_site, write_sources

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _api(base: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """GET ``path``, or POST ``body``, asked again while the server is busy (503)."""
    return ask(base, path, body, method="GET" if body is None else "POST", timeout=30)


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


def _veille(args: list[str], env: dict[str, str]) -> str:
    """A veille command from the repository root, as the README runs `veille deploy`."""
    done = subprocess.run(
        [str(BIN / "veille"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"veille {' '.join(args)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


#: The database's clock in the work-pool test: `veille deploy` and the workers run without
#: VEILLE_LOCAL_TIMEZONE, so the schedules must follow the stored one, as `veille serve`'s do
STORED_ZONE = "America/New_York"
#: `veille deploy`'s schedule settings in the work-pool test (serve's defaults are 10 and 30 4 * * *)
SCHEDULE_SETTINGS = {"VEILLE_POLL_INTERVAL_MINUTES": "15", "VEILLE_MAINTENANCE_CRON": "0 5 * * 1"}


@pytest.mark.slow
def test_worker_runs_a_deployment_from_prefect_yaml(
    clean_db: sa.Engine,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock_restored: None,
) -> None:
    from monitors.archive.schema import migrate

    monkeypatch.setenv("VEILLE_LOCAL_TIMEZONE", STORED_ZONE)  # `VEILLE_LOCAL_TIMEZONE=... veille migrate`
    migrate(database_url)
    monkeypatch.delenv("VEILLE_LOCAL_TIMEZONE")
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
        "VEILLE_WAYBACK_DELAY": "0",
        "VEILLE_ARCHIVE_PAGE_SIZE": "2",
    }
    server_log, worker_log = tmp_path / "server.log", tmp_path / "worker.log"
    started: list[subprocess.Popen[bytes]] = []
    with LocalSite() as site:
        seed_site(site)
        archives = FakeArchives(site)
        # the seed pages as archived: the texts the first run stored from the live site, so
        # each capture read is a sighting of its article in the archive
        archives.snapshots = seed_snapshots()
        env["VEILLE_WAYBACK_URL"] = site.base
        archive_sources = write_sources(tmp_path / "archive.toml", seed_sources())
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
            # the settings the schedules follow, as serve's do (not their defaults, so that
            # prefect.yaml's 600 s and "30 4 * * *" show)
            out = _veille(["deploy"], {**env, **SCHEDULE_SETTINGS})
            found = {d["name"]: d for d in _api(base, "/deployments/filter", {})}
            # the pool's deployments do not overwrite those `veille serve` registers
            assert set(found) == {
                "poll-and-ingest-pool",
                "drain-queue-pool",
                "daily-pool",
                "archive-backfill-pool",
            }, out
            # their schedules on the database's clock, the variable unset (Europe/Paris's before)
            zones = {n: [s["schedule"]["timezone"] for s in d["schedules"]] for n, d in found.items()}
            assert zones == {
                "poll-and-ingest-pool": [STORED_ZONE],
                "drain-queue-pool": [STORED_ZONE],
                "daily-pool": [STORED_ZONE],
                "archive-backfill-pool": [],
            }, out
            schedules = {n: [s["schedule"] for s in d["schedules"]] for n, d in found.items()}
            every = 15 * 60  # VEILLE_POLL_INTERVAL_MINUTES, the drain half an interval after the cycle
            for name, anchor in [("poll-and-ingest-pool", "00:00:00"), ("drain-queue-pool", "00:07:30")]:
                intervals = [
                    (s["interval"], datetime.fromisoformat(s["anchor_date"])) for s in schedules[name]
                ]
                assert intervals == [(every, datetime.fromisoformat(f"2025-01-01T{anchor}+00:00"))], out
            assert [s["cron"] for s in schedules["daily-pool"]] == ["0 5 * * 1"], out

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

            def run(deployment: str, params: dict[str, Any] | None = None, *options: str) -> str:
                if params is not None:
                    options = ("--params", json.dumps(params), *options)
                out = _prefect(["deployment", "run", deployment, *options], env)
                match = re.search(r"UUID: ([0-9a-f-]{36})", out)
                assert match, out
                return match.group(1)

            def finished(run_id: str) -> dict[str, Any]:
                def check() -> dict[str, Any] | None:
                    run: dict[str, Any] = _api(base, f"/flow_runs/{run_id}")
                    ended = run["state"]["type"] in {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
                    return run if ended else None

                ended: dict[str, Any] = _wait("the flow run ends", check, 420, [worker_log, server_log])
                assert ended["state"]["type"] == "COMPLETED", worker_log.read_text(errors="replace")[-6000:]
                assert ended["work_queue_name"] == "default" and ended["work_pool_name"] == "veille"
                return ended

            # docs/operating.md's run by hand, as written but for the sources file's path
            deployment, param = _documented_run()
            finished(run(deployment, None, "--param", param.replace("/path/sources.toml", str(sources))))
            _check_poll_and_ingest(clean_db)

            # docs/backfill.md's archive backfill, run twice (as on two workers): the runs share
            # its jobs; the sources file added (the default sources are on the network)
            window = _documented_backfill_params()
            assert window == {"archive": "wayback", "since": "2025-02-01", "until": "2025-02-28T23:59:59"}
            params = {**window, "sources_file": str(archive_sources)}
            runs = [run("veille-archive-backfill/archive-backfill-pool", params) for _ in range(2)]
            for run_id in runs:
                finished(run_id)
        finally:
            alive = _stop(started)
    assert not alive, f"left behind: {alive}"
    with clean_db.connect() as conn:
        jobs = list(conn.execute(sa.text("SELECT site, state, last_error FROM backfill_jobs")))
        seen = conn.scalar(sa.text("SELECT count(DISTINCT url) FROM sightings WHERE archive = 'wayback'"))
    assert len(jobs) == 5 and all(j.state == "done" for j in jobs), jobs  # one per (site, month)
    assert seen == 5  # each capture read and stored, its sighting naming the archive
    captures = [h["path"] for h in site.log if h["path"].startswith("/web/")]
    assert len(captures) == len(set(captures)) == 5  # shared, not done twice
    assert "Worker" in worker_log.read_text(errors="replace")


def _documented_run() -> tuple[str, str]:
    """docs/operating.md: `prefect deployment run veille-run/poll-and-ingest-pool --param
    sources_file=/path/sources.toml` (the deployment, the --param)."""
    text = " ".join((ROOT / "docs" / "operating.md").read_text("utf-8").split())
    found = re.search(r"`prefect deployment run (\S+) --param (sources_file=/path/sources\.toml)`", text)
    assert found, "docs/operating.md no longer shows how to start a run by hand"
    return found.group(1), found.group(2)


def _documented_backfill_params() -> dict[str, Any]:
    """docs/backfill.md's `prefect deployment run veille-archive-backfill/archive-backfill-pool
    --params '{...}'`: its parameters."""
    text = (ROOT / "docs" / "backfill.md").read_text("utf-8")
    found = re.search(
        r"prefect deployment run veille-archive-backfill/archive-backfill-pool \\\n\s*--params '(\{[^']*\})'",
        text,
    )
    assert found, "docs/backfill.md no longer shows how to run the archive backfill on the pool"
    params: dict[str, Any] = json.loads(found.group(1))
    return params


def _check_poll_and_ingest(clean_db: sa.Engine) -> None:
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        sources_rows = conn.scalar(sa.text("SELECT count(*) FROM sources"))
        queue: dict[str, int] = dict(
            conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all()
        )
        unexplained = conn.scalar(
            sa.text("SELECT count(*) FROM url_queue WHERE state <> 'fetched' AND reason IS NULL")
        )
    # the run polled the site's feed and stored its articles; on a loaded machine a page may
    # time out, and then it waits in the queue with its reason
    assert sources_rows == 1 and sum(queue.values()) == 5, queue
    assert stored >= 1 and queue.get("fetched", 0) >= stored, (stored, queue)
    assert unexplained == 0, queue


def test_deploy_outside_the_repository_root_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille deploy` reads prefect.yaml where it is run, as `prefect deploy` does: elsewhere
    it stops at once (exit 2, nothing deployed, the database not opened), saying where to run it."""
    from flows.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VEILLE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert main(["deploy"]) == 2
    err = capsys.readouterr().err
    assert err == (  # one line, cause first, the "error:" every other error line of deploy has
        f"veille: error: no prefect.yaml in {tmp_path}: run it from the repository root"
        " (or the image's /app)\n"
    ), err


def test_deploy_without_a_prefect_server_says_so(closed_port: int) -> None:
    """`veille deploy` needs a Prefect server, as the workers do (`prefect worker start`: "
    `PREFECT_API_URL` must be set"): without PREFECT_API_URL it stops at once (exit 2) saying
    so, and one that does not answer is exit 3 naming it, nothing deployed. Before, Prefect
    deployed to a temporary server of its own, gone with the command, and failed on the missing
    work pool there, exit 1 (or deployed there, the pool created the same way, for no worker)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env["VEILLE_DATABASE_URL"] = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # not opened
    done = subprocess.run(
        [str(BIN / "veille"), "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(
        "veille: error: no Prefect server configured (PREFECT_API_URL): the deployments would"
        " go to a temporary server that stops with this command, and a worker needs PREFECT_API_URL;"
    ), done.stderr
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{closed_port}/api"
    done = subprocess.run(
        [str(BIN / "veille"), "deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.startswith(
        f"veille: error: cannot reach the Prefect API at {env['PREFECT_API_URL']} (PREFECT_API_URL):"
    ), done.stderr
    assert "unset PREFECT_API_URL" not in done.stderr
