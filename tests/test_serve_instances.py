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
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.serve_locks import SERVE_LOCK
from tests.prefect_api import ask
from tests.site import LocalSite, seed_site, write_sources
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
    """POST ``body``, as :func:`tests.prefect_api.ask`."""
    return ask(api_url, path, body)


def test_a_busy_prefect_api_is_asked_again() -> None:
    """The tests' requests to a Prefect server go on after its 503s (its SQLite database busy
    under load), whatever their method, and stop on another error."""
    import http.server
    import threading

    asked: list[str] = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_DELETE(self) -> None:  # noqa: N802
            asked.append(self.path)
            self.send_response(503 if len(asked) < 3 else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{server.server_address[1]}/api"
        try:
            assert ask(api_url, "/variables/x", method="DELETE") is None
            assert asked == ["/api/variables/x"] * 3
            with pytest.raises(urllib.error.HTTPError, match="404"):
                _post(api_url, "/variables/filter", {})
        finally:
            server.shutdown()


def _deployments(api_url: str) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in _post(api_url, "/deployments/filter", {})}


def _scheduled(api_url: str, names: set[str] = SERVED) -> int:
    """Runs the server's scheduler made for the deployments ``names`` and no one has started yet."""
    return len(_scheduled_runs(api_url, names))


#: Runs the Prefect API answers at most for one request (PREFECT_API_DEFAULT_LIMIT).
PAGE = 200


def _scheduled_runs(api_url: str, names: set[str] = SERVED) -> list[dict[str, Any]]:
    """The runs of the deployments ``names`` still Scheduled, every page of them."""
    ids = [d["id"] for n, d in _deployments(api_url).items() if n in names]
    body = {
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
        "deployments": {"id": {"any_": ids}},
        "sort": "ID_DESC",
        "limit": PAGE,
    }
    runs: list[dict[str, Any]] = []
    while ids:
        page = _post(api_url, "/flow_runs/filter", {**body, "offset": len(runs)})
        runs += page
        if len(page) < PAGE:
            break
    return runs


def _forecasts(api_url: str) -> dict[str, datetime]:
    """The runs of veille serve's deployments the server's scheduler made that are still
    Scheduled, none started and none waiting for a concurrency slot (a runner's): the ones a
    stop deletes; when each was made (the server's clock, this machine's)."""
    return {
        r["id"]: datetime.fromisoformat(r["created"])
        for r in _scheduled_runs(api_url)
        if r["auto_scheduled"] and r["run_count"] == 0 and r["state_name"] != "AwaitingConcurrencySlot"
    }


def _sentinel(api_url: str) -> str:
    """An active deployment of a flow of its own, scheduled every minute: its runs appearing
    prove the server's scheduler looped since it was made; the flow's id, to delete it."""
    flow: str = _post(api_url, "/flows/", {"name": f"sentinel-{uuid.uuid4().hex[:8]}"})["id"]
    schedule = {"schedule": {"interval": 60}, "active": True}
    _post(api_url, "/deployments/", {"name": "sentinel", "flow_id": flow, "schedules": [schedule]})
    return flow


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
    with users_server(tmp_path) as api_url:
        yield api_url


@contextmanager
def users_server(tmp_path: Path, scheduler: bool = True) -> Iterator[str]:
    """:func:`users_prefect_server`'s server; without its scheduler service if not ``scheduler``."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "users-prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS="1",
        PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED=str(scheduler).lower(),
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
        assert text.startswith(f"veille: error: another veille serve (veille serve, pid {first.pid} on "), (
            text
        )
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


def _on_users_server(
    site: LocalSite, tmp_path: Path, database_url: str, api_url: str
) -> tuple[Path, str, dict[str, str]]:
    """The local site seeded, its sources file, and the mark and environment of a veille serve
    on the user's Prefect server at ``api_url``."""
    seed_site(site)
    mark = uuid.uuid4().hex
    return (
        _sources(site, tmp_path),
        mark,
        {**_env(mark, _data_dir(), database_url), "PREFECT_API_URL": api_url},
    )


def test_stopping_serve_pauses_its_schedules_on_the_users_prefect_server(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_prefect_server: str
) -> None:
    """The server's real scheduler on: a stop pauses the schedules and deletes the scheduler's
    runs Scheduled before it, a run due included; a run the scheduler inserts after the stop's
    last look (its insert does not look at ``paused``) is one made after the signal, and the
    next veille serve deletes it. Before, the test asked for no Scheduled run at all right
    after the stop, and such an insert made it fail by its timing."""
    api_url = users_prefect_server
    sources, mark, env = _on_users_server(site, tmp_path, database_url, api_url)

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
    try:
        # a run of the scheduler's due hours ago, as one due while veille serve stops: a pause
        # deletes only those due after it, the stop's look after the pauses the others
        cycle = _deployments(api_url)["poll-and-ingest"]["id"]
        now = datetime.now(UTC)
        backfill = {
            "start_time": (now - timedelta(hours=3)).isoformat(),
            "end_time": (now - timedelta(hours=1)).isoformat(),
            "max_runs": 1,
        }
        _post(api_url, f"/deployments/{cycle}/schedule", backfill)
        # due before the deployments were made: the one made above only
        due = _post(api_url, "/flow_runs/filter", _due_before(cycle, now - timedelta(minutes=30)))
        seen = set(_forecasts(api_url))
    except BaseException:
        proc.kill()
        raise
    # the stop's last look for the scheduler's runs comes after the signal (after its pauses)
    signalled = datetime.now(UTC)
    took = _stop(proc, err, signal.SIGTERM)
    assert took < 20, took
    assert _wait_gone(mark, 10) == []
    # the user's server outlives veille serve: its schedules are paused
    assert served(True), _deployments(api_url)
    assert len(due) == 1 and due[0]["auto_scheduled"], due
    left = _forecasts(api_url)
    # what was Scheduled before the stop is gone, the run due included (or its runner had
    # started it); the scheduler may still insert runs after the stop's last look (Prefect
    # 3.9's scheduler reads the deployments active, then inserts their runs in a transaction of
    # its own that does not look at `paused`), so the only runs left are ones made after the
    # signal, on the deployments paused, for the next veille serve to delete
    assert set(left).isdisjoint(seen | {due[0]["id"]}), (left, err.text()[-3000:])
    assert all(made > signalled for made in left.values()), (signalled, left, err.text()[-3000:])
    # a sentinel made now gets its runs at the scheduler's next loop, which saw the paused ones
    # too (a sleep alone passed whether or not the scheduler had looped): none made since
    sentinel_made = datetime.now(UTC)
    sentinel = _sentinel(api_url)
    _wait_for(lambda: _scheduled(api_url, {"sentinel"}) > 0, 60, "the server's scheduler made no run")
    left = _forecasts(api_url)
    assert all(made < sentinel_made for made in left.values()), (sentinel_made, left, _deployments(api_url))
    ask(api_url, f"/flows/{sentinel}", method="DELETE")
    assert "sentinel" not in _deployments(api_url)

    # the next veille serve deletes the runs left on them, then makes them active again
    proc, err = serving()
    try:
        kept = _post(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": list(left)}}})
    except BaseException:
        proc.kill()
        raise
    took = _stop(proc, err, signal.SIGINT)
    assert _wait_gone(mark, 10) == []
    assert served(True), (took, _deployments(api_url), err.text())
    assert kept == [], (kept, err.text()[-3000:])
    if left:  # and said so
        said = "left Scheduled by the Prefect server's scheduler on its paused deployments"
        assert said in err.text(), err.text()[-3000:]


def _due_before(deployment_id: str, before: datetime) -> dict[str, Any]:
    """The filter of the runs of the deployment ``deployment_id`` due before ``before``, in any state."""
    return {
        "flow_runs": {"expected_start_time": {"before_": before.isoformat()}},
        "deployments": {"id": {"any_": [deployment_id]}},
    }


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
    import flows.serve_locks
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
    assert flows.serve_locks._HELD == []
    with open(home / "veille-serve.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError while still held


def _refused_for(proc: subprocess.Popen[str], text: str, database_url: str, api_url: str) -> None:
    """``proc`` was refused (exit 3, one line) as another veille serve, of the database at
    ``database_url``, serves the deployments on the Prefect server at ``api_url``."""
    assert proc.returncode == 3, text[-3000:]
    shown = sa.engine.make_url(database_url)
    assert text.startswith(
        "veille: error: another veille serve, of the database"
        f" {shown.host}:{shown.port}/{shown.database}, serves veille-run/poll-and-ingest,"
        f" veille-ingest/drain-queue, veille-maintenance/daily on the Prefect server at {api_url} ("
    ), text
    assert "VEILLE_INSTANCE" in text and "Traceback" not in text and text.count("\n") == 1, text


def test_a_serve_of_another_database_on_the_same_prefect_server_keeps_off_its_deployments(
    site: LocalSite,
    database_url: str,
    new_database: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    users_prefect_server: str,
) -> None:
    """Two veille serve of two databases on one Prefect server of the user's: the second,
    unnamed, is refused (exit 3, one line naming the other database and VEILLE_INSTANCE);
    named with VEILLE_INSTANCE it serves deployments of its own, and stopping it pauses only
    those. Before, the second registered the same deployments (the same ids): both runners
    took each other's runs, with their own database, and the second's stop paused the first's
    schedules while it went on "serving"."""
    api_url = users_prefect_server
    seed_site(site)
    first_sources = write_sources(
        tmp_path / "first.toml",
        [{"name": "A", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    second_sources = write_sources(
        tmp_path / "second.toml",
        [{"name": "B", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    first_mark, second_mark = uuid.uuid4().hex, uuid.uuid4().hex
    first_env = {**_env(first_mark, _data_dir(), database_url), "PREFECT_API_URL": api_url}
    second_env = {**_env(second_mark, _data_dir(), new_database), "PREFECT_API_URL": api_url}

    def first_served() -> bool:
        """The first one's deployments, active, with its sources file."""
        found = _deployments(api_url)
        active = all(name in found and found[name]["paused"] is False for name in SERVED)
        return active and found["poll-and-ingest"]["parameters"]["sources_file"] == str(first_sources)

    first = _serve(first_sources, first_env, interval="60")
    first_err = Lines(first)
    try:
        _wait_for(first_served, 120, "the first veille serve did not make its deployments active", first_err)
        polled = lambda: all(_deployments(api_url)[n]["last_polled"] for n in SERVED)  # noqa: E731
        _wait_for(polled, 60, "the first veille serve's runner did not poll", first_err)

        # the second one, another database, no name of its own: refused before it registers anything
        second = _serve(second_sources, second_env, interval="60")
        second_err = Lines(second)
        deadline = time.monotonic() + 120
        while second.poll() is None and time.monotonic() < deadline:
            if not first_served():  # it took the first one's deployments over
                second.send_signal(signal.SIGTERM)
                second.wait(60)
                time.sleep(1)
                raise AssertionError(
                    "the second veille serve took the first one's deployments over; after its stop:"
                    f" {[(n, d['paused'], d['parameters']) for n, d in _deployments(api_url).items()]}"
                )
            time.sleep(0.5)
        if second.poll() is None:
            second.kill()
        _refused_for(second, second_err.text(), database_url, api_url)
        assert _wait_gone(second_mark, 10) == []
        assert first_served() and first.poll() is None

        # named: deployments of its own, which its stop pauses, and only those
        named = {f"{name}@second" for name in SERVED}
        second = _serve(second_sources, {**second_env, "VEILLE_INSTANCE": "second"}, interval="60")
        second_err = Lines(second)
        try:
            _wait_for(
                lambda: named <= {n for n, d in _deployments(api_url).items() if not d["paused"]},
                120,
                "the named veille serve did not make its deployments active",
                second_err,
            )
        except BaseException:
            second.kill()
            raise
        found = _deployments(api_url)
        assert found["poll-and-ingest@second"]["parameters"]["sources_file"] == str(second_sources)
        _stop(second, second_err, signal.SIGTERM)
        assert _wait_gone(second_mark, 10) == []
        found = _deployments(api_url)
        assert all(found[n]["paused"] for n in named), found
        assert first_served(), found
    except BaseException:
        first.kill()
        raise
    _stop(first, first_err, signal.SIGTERM)
    assert _wait_gone(first_mark, 10) == []
    assert all(d["paused"] for d in _deployments(api_url).values())


def _claims(api_url: str) -> list[dict[str, Any]]:
    """The claims veille serve holds on the server (Prefect variables tagged veille-serve)."""
    return [v for v in _post(api_url, "/variables/filter", {}) if "veille-serve" in v["tags"]]


def test_two_serves_of_two_databases_started_together_one_serves_the_other_is_refused(
    site: LocalSite,
    database_url: str,
    new_database: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    users_prefect_server: str,
) -> None:
    """Two unnamed veille serve of two databases started at once on one Prefect server: one
    serves, the other is refused (exit 3, one line naming the first one's database). Before,
    both read the server before either had registered anything, both passed, and both served
    the same deployments (each running the other's runs on its own database). Now each first
    makes the claim, a Prefect variable the server creates once: the second reads it and stops.
    The one that served deletes its claim when it stops."""
    api_url = users_prefect_server
    seed_site(site)
    started = []
    for name, url in (("a", database_url), ("b", new_database)):
        sources = write_sources(
            tmp_path / f"{name}.toml",
            [{"name": name, "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
        )
        mark = uuid.uuid4().hex
        env = {**_env(mark, _data_dir(), url), "PREFECT_API_URL": api_url}
        started.append((url, sources, mark, env))
    procs = [_serve(sources, env, interval="60") for _, sources, _, env in started]
    errs = [Lines(proc) for proc in procs]
    try:
        _wait_for(
            lambda: any(p.poll() is not None for p in procs),
            120,
            "neither veille serve was refused (both serve the same deployments)",
        )
        loser = next(i for i, p in enumerate(procs) if p.poll() is not None)
        winner = 1 - loser
        _refused_for(procs[loser], errs[loser].text(), started[winner][0], api_url)
        shown = sa.engine.make_url(started[winner][0])
        assert _wait_gone(started[loser][2], 10) == []

        def winner_serves() -> bool:
            found = _deployments(api_url)
            ours = all(n in found and not found[n]["paused"] and found[n]["last_polled"] for n in SERVED)
            return ours and found["poll-and-ingest"]["parameters"]["sources_file"] == str(started[winner][1])

        _wait_for(winner_serves, 120, "the other veille serve does not serve", errs[winner])
        assert procs[winner].poll() is None
        assert [c["value"]["database"] for c in _claims(api_url)] == [
            f"database:{shown.host}:{shown.port}/{shown.database}"
        ]
    except BaseException:
        for proc in procs:
            proc.kill()
        raise
    _stop(procs[winner], errs[winner], signal.SIGTERM)
    assert _wait_gone(started[winner][2], 10) == []
    assert _claims(api_url) == []


def _deploy_by_hand(api_url: str, name: str, **fields: Any) -> str:
    """A deployment of veille-run made without veille (an older veille's, a plain `prefect
    deploy`): no database tag; its id."""
    flow = _post(api_url, "/flows/", {"name": "veille-run"})
    body = {"name": name, "flow_id": flow["id"], "tags": ["veille", "poll", "ingest"], **fields}
    made: str = _post(api_url, "/deployments/", {**body, "entrypoint": "flows.runs:run_flow"})["id"]
    return made


def _refused_serve(site: LocalSite, tmp_path: Path, database_url: str, api_url: str) -> str:
    """What a `veille serve` on the user's server that must be refused wrote: it ended by
    itself within 120 s, exit 3, one line, no traceback, no process left behind."""
    sources, mark, env = _on_users_server(site, tmp_path, database_url, api_url)
    proc = _serve(sources, env, interval="60")
    err = Lines(proc)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"veille serve was not refused: it serves {_deployments(api_url)}") from None
    text = err.text()
    assert proc.returncode == 3, text[-3000:]
    assert "Traceback" not in text and text.count("\n") == 1, text
    assert _wait_gone(mark, 10) == []
    return text


def test_a_work_pools_deployment_of_the_same_name_is_not_taken_out_of_its_pool(
    database_url: str, clean_db: sa.Engine, tmp_path: Path, users_prefect_server: str, site: LocalSite
) -> None:
    """veille-run/poll-and-ingest deployed to a work pool (prefect.yaml's name before it was
    poll-and-ingest-pool, or a plain `prefect deploy`): veille serve is refused, exit 3, one
    line naming the deployment, its pool and what to do, and leaves it as it was. Before, it
    registered its own deployment of that name over it without a word (its entrypoint,
    parameters and tags replaced, still in the pool): this runner and the pool's workers would
    both take its runs."""
    api_url = users_prefect_server
    _post(api_url, "/work_pools/", {"name": "veille", "type": "process"})
    _deploy_by_hand(api_url, "poll-and-ingest", work_pool_name="veille")
    text = _refused_serve(site, tmp_path, database_url, api_url)
    assert text.startswith(
        "veille: error: veille-run/poll-and-ingest (work pool veille) on the Prefect server at"
        f" {api_url}: a work pool's deployments, which its workers run; veille serve would rewrite"
    ), text
    assert "prefect deployment delete" in text and "VEILLE_INSTANCE" in text, text
    found = _deployments(api_url)
    assert list(found) == ["poll-and-ingest"], found
    assert found["poll-and-ingest"]["work_pool_name"] == "veille"
    assert found["poll-and-ingest"]["entrypoint"] == "flows.runs:run_flow"
    assert found["poll-and-ingest"]["tags"] == ["veille", "poll", "ingest"]
    assert _claims(api_url) == []  # its claim let go of


def test_a_deployment_without_a_database_tag_is_taken_over_only_when_no_runner_serves_it(
    database_url: str, users_prefect_server: str
) -> None:
    """A served deployment of the same name without a database tag (an older veille serve's):
    while a runner asks for its runs, veille cannot tell which database it serves: refused,
    naming it; once it is paused (its veille serve stopped), taken over, and `veille serve`
    says so (the names returned). Before, both were taken over without a word."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.deployments import build_deployments
    from flows.serve_claims import ServedElsewhere, check_not_served_elsewhere

    api_url = users_prefect_server
    made = _deploy_by_hand(api_url, "poll-and-ingest")
    _post(api_url, "/deployments/get_scheduled_flow_runs", {"deployment_ids": [made]})  # a runner's poll
    deployments = build_deployments(database_url=database_url)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        with pytest.raises(ServedElsewhere) as refused:
            check_not_served_elsewhere(deployments)
        assert str(refused.value).startswith(
            f"veille-run/poll-and-ingest on the Prefect server at {api_url}: no database tag,"
            " and a runner asked for their runs "
        ), refused.value
        _post(api_url, f"/deployments/{made}/pause_deployment", {})
        assert check_not_served_elsewhere(deployments) == ["veille-run/poll-and-ingest"]


def test_a_serve_whose_claim_another_took_over_stops(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_prefect_server: str
) -> None:
    """The claim a veille serve renews is taken over as a dead one's by another, of another
    database (as when its Prefect server did not answer it for a minute): at its next renewal
    it stops, exit 3, one line naming the other one, rather than serve the same deployments
    beside it."""
    api_url = users_prefect_server
    sources, mark, env = _on_users_server(site, tmp_path, database_url, api_url)
    proc = _serve(sources, env, interval="60")
    err = Lines(proc)
    try:
        _wait_for(lambda: len(_claims(api_url)) == 1, 120, "veille serve made no claim", err)
        claim = _claims(api_url)[0]
        ask(api_url, f"/variables/{claim['id']}", method="DELETE")
        other = {"database": "database:elsewhere:5432/other", "holder": "veille serve, pid 1 on elsewhere"}
        _post(api_url, "/variables/", {"name": claim["name"], "value": other, "tags": ["veille-serve"]})
        proc.wait(60)
    except BaseException:
        proc.kill()
        raise
    text = err.text()
    assert proc.returncode == 3, text[-3000:]
    last = text.splitlines()[-1]
    assert last.startswith(
        "veille: error: another veille serve, of the database elsewhere:5432/other"
        " (veille serve, pid 1 on elsewhere), took over veille-run/poll-and-ingest,"
    ), text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert _wait_gone(mark, 10) == []
    assert [c["value"] for c in _claims(api_url)] == [other]  # the other one's stays


def test_a_claim_of_another_machine_on_its_own_local_database_of_the_same_name_is_kept(
    site: LocalSite, database_url: str, clean_db: sa.Engine, tmp_path: Path, users_prefect_server: str
) -> None:
    """Two machines, each with a database on its own localhost under the same name, served on
    one Prefect server: their claims carry the same database tag. The second one's serve is
    refused (exit 3, one line naming the other machine), the first one's claim kept. Before, a
    claim of its own tag was read as a dead serve of this very database (whose lock says none
    serves it) and taken over, fresh as it was: both machines served the same deployments."""
    from flows.deployments import database_tag, local_database

    assert local_database(database_url), database_url  # the test server is this machine's
    api_url = users_prefect_server
    other = {
        "database": database_tag(database_url),
        "holder": "veille serve, pid 1 on another-machine",
        "machine": "another-machine",
        "deployments": "veille-run/poll-and-ingest, veille-ingest/drain-queue, veille-maintenance/daily",
        "renewed": "2026-01-01T00:00:00+00:00",
    }
    _post(api_url, "/variables/", {"name": "veille-serve", "value": other, "tags": ["veille-serve"]})
    text = _refused_serve(site, tmp_path, database_url, api_url)
    shown = sa.engine.make_url(database_url)
    assert text.startswith(
        "veille: error: another veille serve, of the database"
        f" {shown.host}:{shown.port}/{shown.database} on another-machine, serves veille-run/poll-and-ingest,"
    ), text
    assert "VEILLE_INSTANCE" in text, text
    assert [c["value"] for c in _claims(api_url)] == [other]  # the other machine's stays
