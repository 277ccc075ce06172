"""`veille serve` started again after it was gone without stopping (killed, its Prefect server
gone, the machine asleep): the runs the server's scheduler made meanwhile, which came due while
no one served them, are deleted before its runner starts, with one line saying how many of
which deployment; runs made by hand are left, and run. Before, they stayed Scheduled (Late) and
the new runner asked for all of them at once: it started one (a daily maintenance at the wrong
hour) and each of the others ended Cancelled by the deployment's concurrency limit."""

from __future__ import annotations

import signal
import urllib.error
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.prefect_api import ask
from tests.site import LocalSite
from tests.test_processes import (  # noqa: F401  (_remove_data_dirs: autouse, the data folders go after)
    _remove_data_dirs,
    _wait_gone,
)
from tests.test_serve_instances import (  # noqa: F401  (users_prefect_server: a fixture)
    SERVED,
    _deployments,
    _on_users_server,
    _post,
    _serve,
    _wait_for,
    users_prefect_server,
)
from tests.test_serve_signals import Lines, _stop

pytestmark = pytest.mark.slow

#: Runs of each deployment moved into the past, as if they came due while veille serve was gone.
STALE = {"poll-and-ingest": 3, "drain-queue": 2, "daily": 1}


def _runs_of(api_url: str, deployment_id: str, states: list[str]) -> list[dict[str, object]]:
    body = {
        "flow_runs": {"deployment_id": {"any_": [deployment_id]}, "state": {"type": {"any_": states}}},
        "sort": "NEXT_SCHEDULED_START_TIME_ASC",
    }
    runs: list[dict[str, object]] = _post(api_url, "/flow_runs/filter", body)
    return runs


def _exists(api_url: str, run_id: str) -> bool:
    try:
        ask(api_url, f"/flow_runs/{run_id}", method="GET")
        return True
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return False
        raise


def _time(text: object) -> datetime:
    return datetime.fromisoformat(str(text))


def _interval_with_nothing_due(minutes: float = 30.0) -> str:
    """A poll interval (whole hours under a day, minutes) at which neither poll-and-ingest nor
    drain-queue comes due within the next ``minutes``: such intervals fire every interval from
    :data:`flows.deployments.ANCHOR` on the UTC clock, drain-queue half an interval later. With
    60, a drain-queue cycle came due at hh:30: across it, that cycle (or one the killed veille
    serve had started, whose slot stays leased for 300 s) holds the deployment's one slot, and
    the run made by hand ends Cancelled by the concurrency limit ("non-pending state
    'CANCELLED'"), the likelier the slower the machine (the test runs longer)."""
    from flows.deployments import ANCHOR

    now = datetime.now(UTC)
    for hours in range(1, 24):
        step = timedelta(hours=hours)
        firsts = (ANCHOR, ANCHOR + step / 2)
        if all(
            first + ((now - first) // step + 1) * step - now > timedelta(minutes=minutes) for first in firsts
        ):
            return str(hours * 60)
    raise AssertionError(f"no interval under a day leaves the next {minutes:g} minutes free")


def _wait_for_poll(api_url: str, started: datetime, err: Lines) -> None:
    """Until veille serve's runner has asked for the runs of each of its deployments, active,
    since ``started``."""

    def polled() -> bool:
        return all(
            d["last_polled"] is not None and _time(d["last_polled"]) > started and d["paused"] is False
            for d in _deployments(api_url).values()
        )

    _wait_for(polled, 120, "veille serve's runner did not ask for its runs", err)


def _scheduled_at(when: datetime) -> dict[str, object]:
    return {"type": "SCHEDULED", "name": "Scheduled", "state_details": {"scheduled_time": when.isoformat()}}


def test_serve_started_again_deletes_the_runs_that_came_due_while_it_was_gone(
    site: LocalSite,
    database_url: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    users_prefect_server: str,  # noqa: F811 - the fixture imported above
) -> None:
    api_url = users_prefect_server
    sources, mark, env = _on_users_server(site, tmp_path, database_url, api_url)
    interval = _interval_with_nothing_due()

    def scheduled_ahead() -> bool:
        found = _deployments(api_url)
        return set(found) == SERVED and all(
            len([r for r in _runs_of(api_url, d["id"], ["SCHEDULED"]) if r["auto_scheduled"]]) >= STALE[name]
            for name, d in found.items()
        )

    # a veille serve killed (kill -9): its deployments stay active, the server schedules on
    proc = _serve(sources, env, interval=interval)
    err = Lines(proc)
    try:
        _wait_for(
            scheduled_ahead, 120, "the server's scheduler made no runs for veille serve's deployments", err
        )
    finally:
        proc.kill()
        proc.wait(30)
    assert _wait_gone(mark, 10) == []

    # what the scheduler made came due while it was gone (moved into the past by the API: no
    # need to wait hours), and a run made by hand meanwhile, due too
    now = datetime.now(UTC)
    deployments = _deployments(api_url)
    stale: list[str] = []
    for name, count in STALE.items():
        runs = [r for r in _runs_of(api_url, deployments[name]["id"], ["SCHEDULED"]) if r["auto_scheduled"]]
        for hours, run in enumerate(runs[:count], start=1):
            when = now - timedelta(hours=hours + (5 if name == "daily" else 0))
            _post(api_url, f"/flow_runs/{run['id']}/set_state", {"state": _scheduled_at(when), "force": True})
            stale.append(str(run["id"]))
    by_hand = _post(
        api_url,
        f"/deployments/{deployments['drain-queue']['id']}/create_flow_run",
        {"state": _scheduled_at(now - timedelta(hours=2))},
    )
    assert by_hand["auto_scheduled"] is False

    # veille serve started again
    started = datetime.now(UTC)
    proc = _serve(sources, env, interval=interval)
    err = Lines(proc)
    try:
        _wait_for_poll(api_url, started, err)
        left = [run_id for run_id in stale if _exists(api_url, run_id)]
        assert left == [], (left, "".join(err.lines)[-3000:])
        lines = [line for line in err.lines if line.startswith("veille serve: deleted ")]
        assert lines == [
            "veille serve: deleted 3 runs of veille-run/poll-and-ingest, 2 of veille-ingest/drain-queue,"
            " 1 of veille-maintenance/daily, scheduled while no veille serve ran them and due more than"
            " 60 s ago: the next runs follow the schedule (runs made by hand are kept)\n"
        ], "".join(err.lines)[-3000:]

        # the run made by hand is kept, and runs; the next runs follow the schedule
        def ran_by_hand() -> bool:
            return _post(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [by_hand["id"]]}}})[0][
                "state_type"
            ] in ("COMPLETED", "FAILED", "CRASHED")

        _wait_for(ran_by_hand, 120, "the run made by hand did not run", err)
        run = _post(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [by_hand["id"]]}}})[0]
        assert run["state_type"] == "COMPLETED", run["state"]
        for name, deployment in _deployments(api_url).items():
            ahead = _runs_of(api_url, deployment["id"], ["SCHEDULED"])
            assert ahead and all(_time(r["next_scheduled_start_time"]) > started for r in ahead), name
            # besides the run made by hand, what ran was not stale (due more than the 60 s of the
            # line above before the restart): a slow machine reaches the next cycle before this check
            others = _runs_of(
                api_url, deployment["id"], ["RUNNING", "COMPLETED", "CANCELLED", "FAILED", "CRASHED"]
            )
            ids = [r["id"] for r in others]
            stale_before = started - timedelta(seconds=60)
            assert (by_hand["id"] in ids) is (name == "drain-queue"), (name, ids)
            late = [
                (r["name"], r["state_name"], r["expected_start_time"])
                for r in others
                if r["id"] != by_hand["id"] and _time(r["expected_start_time"]) < stale_before
            ]
            assert late == [], (name, late)
    except BaseException:
        proc.kill()
        raise
    _stop(proc, err, signal.SIGTERM)
    assert _wait_gone(mark, 10) == []


def test_serve_started_again_ends_the_runs_a_serve_gone_left_running(
    site: LocalSite,
    database_url: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    users_prefect_server: str,  # noqa: F811 - the fixture imported above
) -> None:
    """A veille serve that stops with exit 4 (its Prefect server not answering) or is killed
    kills the runs it had started without marking them: the server showed them Running for
    ever once it answered again (and their deployment's slot taken until its lease ended). The
    next veille serve ends them Crashed, saying why, before its runner starts."""
    api_url = users_prefect_server
    sources, mark, env = _on_users_server(site, tmp_path, database_url, api_url)
    interval = _interval_with_nothing_due()
    proc = _serve(sources, env, interval=interval)
    err = Lines(proc)
    try:
        _wait_for(lambda: set(_deployments(api_url)) == SERVED, 120, "veille serve registered nothing", err)
    finally:
        proc.kill()
        proc.wait(30)
    assert _wait_gone(mark, 10) == []

    # a cycle it had started, killed with it: the server shows it Running (as after an exit 4,
    # where none is marked: the server did not answer)
    deployments = _deployments(api_url)
    left = _post(api_url, f"/deployments/{deployments['poll-and-ingest']['id']}/create_flow_run", {})
    running = {"type": "RUNNING", "name": "Running"}
    _post(api_url, f"/flow_runs/{left['id']}/set_state", {"state": running, "force": True})
    assert ask(api_url, f"/flow_runs/{left['id']}", method="GET")["state_type"] == "RUNNING"

    started = datetime.now(UTC)
    proc = _serve(sources, env, interval=interval)
    err = Lines(proc)
    try:
        _wait_for_poll(api_url, started, err)
        run = ask(api_url, f"/flow_runs/{left['id']}", method="GET")
        assert run["state_type"] == "CRASHED", (run["state"], "".join(err.lines)[-3000:])
        assert run["state"]["message"].startswith("The veille serve that ran it was gone before it ended")
        lines = [line for line in err.lines if line.startswith("veille serve: marked ")]
        assert lines == [
            "veille serve: marked 1 run of veille-run/poll-and-ingest Crashed, shown Running since the"
            " veille serve that ran them was gone before they ended (exit 4 or killed): what they did"
            " not store is left for this one's runs\n"
        ], "".join(err.lines)[-3000:]
    except BaseException:
        proc.kill()
        raise
    _stop(proc, err, signal.SIGTERM)
    assert _wait_gone(mark, 10) == []
