"""`veille serve` stopped on a Prefect server of the user's whose answers a test decides: a proxy
in front of a real `prefect server start` (:mod:`tests.prefect_proxy`) holds a deployment's
registration, or the runner's poll for scheduled runs, back until the stop's first pause comes
(or its claim's deletion), or refuses pauses as a busy server does.

Before: a stop while `veille serve` was still registering its deployments paused those already
registered only, and the registration in flight landed after the pauses, its schedule active
(the clean-clone CI found one active after a SIGINT); a busy server's 503 to the first pause
held every other pause behind the Prefect client's own waits (2, 4, 8 s) past the stop's
PAUSE_SECONDS, all three left active; a deployment paused at the first round whose second pause
was refused was named on stderr as still active, paused as it was; a run due in the answer to
a poll in flight when the signal came, or when another veille serve took the claim over, was
started after the stop had killed the served runs, and ran on after veille serve said it
stopped (seen: to Completed); the runs it had started, killed as another veille serve took its
claim over, were left Running on the server, holding their deployment's one slot, so the other
one's runs of that deployment were cancelled.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import sqlalchemy as sa

from tests.prefect_api import ask
from tests.prefect_proxy import Hold, Match, PrefectProxy, is_pause, is_poll, pause_of, registration_of
from tests.site import LocalSite, seed_hanging_site
from tests.test_processes import (  # noqa: F401  (_remove_data_dirs: autouse, the data folders go after)
    _remove_data_dirs,
    _wait_gone,
)
from tests.test_serve_instances import SERVED, _claims, _deployments, _on_users_server, _serve, users_server
from tests.test_serve_server_lost import _serving
from tests.test_serve_signals import Lines, _stop

pytestmark = pytest.mark.slow


#: The user's Prefect server's API URL; the sources file, the process mark and the environment
#: of a veille serve on it (:func:`tests.test_serve_instances._on_users_server`).
User = tuple[str, Path, str, dict[str, str]]


@pytest.fixture
def users_prefect_server(tmp_path: Path) -> Iterator[str]:
    """A Prefect server of the user's, its scheduler service off: the runs on the deployments
    are those a test makes, when it makes them. Its scheduler inserts the runs it made for a
    deployment it read active in a transaction of their own, with no look at ``paused``: with
    it on (looping every second), one could land after the stop's last look at any time, and
    a test's count of the runs left passed or failed on its timing (the clean-clone CI saw
    one). That insert is made here by the test, after the stop
    (:func:`test_the_schedulers_runs_inserted_after_the_stop_are_deleted_by_the_next_serve`)."""
    with users_server(tmp_path, scheduler=False) as api_url:
        yield api_url


@pytest.fixture
def user(
    site: LocalSite,
    database_url: str,
    clean_db: sa.Engine,
    tmp_path: Path,
    users_prefect_server: str,
) -> User:
    return (users_prefect_server, *_on_users_server(site, tmp_path, database_url, users_prefect_server))


def _active_lines(text: str) -> list[str]:
    """veille serve's lines naming a schedule it left active, or may have."""
    return [line for line in text.splitlines() if "active on the Prefect server" in line]


def _all_paused_none_named(api_url: str, proxy: PrefectProxy, err: Lines, stopped: float = 0.0) -> None:
    """Every deployment paused on the server, no scheduled run left, no schedule named; the
    failure's message has the requests answered since ``stopped`` (the signal sent), timed."""
    found = _deployments(api_url)
    assert set(found) == SERVED, found
    active = [n for n, d in found.items() if not d["paused"]]
    # a str, not a tuple: pytest shortens a tuple's repr (the CI's failure lost the pauses and stderr)
    pauses = "\n".join(map(str, proxy.pauses()))
    timeline = proxy.timeline_since(stopped) if stopped else ""
    assert active == [], (
        f"active: {active}\npauses:\n{pauses}\nrequests since the stop:\n{timeline}"
        f"\nstderr:\n{err.text()[-3000:]}"
    )
    left = _scheduled_runs(api_url, [d["id"] for d in found.values()])
    assert left == [], f"{left}\nrequests since the stop:\n{timeline}"
    assert _active_lines(err.text()) == [], err.text()[-3000:]


def _scheduled_runs(api_url: str, deployment_ids: list[str]) -> list[str]:
    """The runs of the deployments ``deployment_ids`` still Scheduled, each with what tells where
    it came from (the scheduler's or by hand, its state, when it was made and when due)."""
    body = {
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}},
        "deployments": {"id": {"any_": deployment_ids}},
    }
    return [
        f"{r['id']} auto_scheduled={r['auto_scheduled']} {r['state_name']} created {r['created']}"
        f" due {r['next_scheduled_start_time']}"
        for r in ask(api_url, "/flow_runs/filter", body)
    ]


def test_a_stop_while_serve_registers_its_deployments_pauses_them_all(
    user: User,
) -> None:
    """SIGINT while the last deployment's registration is in flight (the proxy holds it back
    until the stop's first pause has come): every schedule ends paused, none named."""
    api_url, sources, mark, env = user
    with PrefectProxy(api_url) as proxy:
        registering = proxy.hold(registration_of("daily"), until=is_pause)
        proc = _serve(sources, {**env, "PREFECT_API_URL": proxy.api_url}, interval="60")
        err = Lines(proc)
        try:
            assert registering.arrived.wait(120), "".join(err.lines)[-3000:]
        except BaseException:
            proc.kill()
            raise
        _stop(proc, err, signal.SIGINT)
        proxy.wait_idle()  # the registration held back has reached the server
    assert registering.released.is_set()  # by a pause, not by the proxy's own time limit
    assert registering.answer == 201, registering.answer  # created on the server
    assert _wait_gone(mark, 10) == []
    _all_paused_none_named(api_url, proxy, err)


def _wait_for_poll(proxy: PrefectProxy, proc: Any, seconds: float = 120.0) -> None:
    """Until veille serve's runner has asked the server for its scheduled runs (through the
    proxy): veille serve registered every deployment before it started the runner."""
    deadline = time.monotonic() + seconds
    while not any(is_poll(asked) for asked in list(proxy.asked)):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"veille serve's runner did not poll within {seconds:g} s")
        time.sleep(0.1)


def test_pauses_a_busy_prefect_server_refuses_are_asked_again_in_time(
    user: User,
) -> None:
    """The server answers the first six pauses 503 (its SQLite database busy), two rounds of
    three: veille serve asks again, each deployment in turn, and every schedule ends paused,
    none named as active. Before, Prefect's client waited 2, then 4, then 8 s on the first
    deployment's pause while the others waited behind it, past the stop's limit: the three left
    active; then, its retries off, it still slept 2 s after each refusal before it returned it,
    so three refusals took six of the stop's eight seconds (the clean-clone CI saw no second
    round, all three left active) and six take twelve."""
    api_url, sources, mark, env = user
    with PrefectProxy(api_url) as proxy:
        proc, err = _serving(sources, {**env, "PREFECT_API_URL": proxy.api_url}, api_url)
        # every registration ended (the runner polls once they have): a stop during one waits for
        # it first (its own test above), which under a loaded CI took most of PAUSE_SECONDS
        _wait_for_poll(proxy, proc)
        busy = proxy.refuse(is_pause, 503, times=6)
        stopped = time.monotonic()
        _stop(proc, err, signal.SIGTERM)
        proxy.wait_idle()
    assert busy.refused == 6
    assert _wait_gone(mark, 10) == []
    _all_paused_none_named(api_url, proxy, err, stopped)


def test_only_a_schedule_left_active_is_named_with_the_servers_answer(
    user: User,
) -> None:
    """The server answers 500 to every pause of veille-maintenance/daily, and to every pause of
    veille-run/poll-and-ingest after the first it took: daily is named on stderr, still active, with the
    server's answer; poll-and-ingest, paused by that pause, is not (before, it was named as
    active too: its second pause refused counted it as not paused)."""
    api_url, sources, mark, env = user
    with PrefectProxy(api_url) as proxy:
        proc, err = _serving(sources, {**env, "PREFECT_API_URL": proxy.api_url}, api_url)
        ids = {name: d["id"] for name, d in _deployments(api_url).items()}
        second = proxy.refuse(pause_of(ids["poll-and-ingest"]), 500, after=1)
        every = proxy.refuse(pause_of(ids["daily"]), 500)
        _stop(proc, err, signal.SIGTERM)
        proxy.wait_idle()
    assert second.refused >= 1 and every.refused >= 2, (second, every)
    assert _wait_gone(mark, 10) == []
    found = _deployments(api_url)
    assert {n: d["paused"] for n, d in found.items()} == {
        "poll-and-ingest": True,
        "drain-queue": True,
        "daily": False,
    }, (proxy.pauses(), err.text()[-3000:])
    [line] = _active_lines(err.text())
    assert line.startswith(
        "veille serve: the schedule of veille-maintenance/daily is still active on the Prefect server"
        " (PrefectHTTPStatusError: Server error '500 Internal Server Error' for url "
    ), line
    assert line.endswith("): pause it there, or start veille serve again"), line


def _alive_with_run(run_id: str) -> list[str]:
    """Live processes that carry the flow run ``run_id`` (a runner's flow-run process)."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        with suppress(psutil.Error, OSError):
            if proc.environ().get("PREFECT__FLOW_RUN_ID") == run_id:
                found.append(f"{proc.pid} {' '.join(proc.info['cmdline'] or [])[:160]}")
    return found


def _serving_its_poll_held(user: User, proxy: PrefectProxy) -> tuple[Any, Lines, Hold]:
    """veille serve on ``proxy``, its runner polling every 2 s, once its poll for scheduled
    runs is held back by the proxy until the stop's first pause; that hold."""
    api_url, sources, _, env = user
    env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "2", "PREFECT_API_URL": proxy.api_url}
    proc, err = _serving(sources, env, api_url)
    try:
        polling = proxy.hold(is_poll, until=is_pause)
        assert polling.arrived.wait(60), err.text()[-3000:]
    except BaseException:
        proc.kill()
        raise
    return proc, err, polling


def test_a_poll_answered_after_the_stop_starts_no_run(user: User) -> None:
    """SIGINT while the runner waits for the server's answer to its poll for scheduled runs
    (the proxy holds the poll back until the stop's first pause), a run of drain-queue due now
    in that answer: the runner starts no run after the stop (proposes no Pending state, starts
    no process), the run stays Scheduled for the next veille serve. Before, the answer came
    after the stop had killed the served runs: the runner proposed Pending and started the
    run's process, which no one ended or marked (left Pending on the server)."""
    api_url, sources, mark, env = user
    with PrefectProxy(api_url) as proxy:
        proc, err, polling = _serving_its_poll_held(user, proxy)
        try:
            drain = _deployments(api_url)["drain-queue"]
            run_id = ask(api_url, f"/deployments/{drain['id']}/create_flow_run", {})["id"]
        except BaseException:
            proc.kill()
            raise
        _stop(proc, err, signal.SIGINT)
        started = _alive_with_run(run_id)  # veille serve has ended
        proxy.wait_idle()
    assert polling.released.is_set()  # by a pause, not by the proxy's own time limit
    assert polling.answer == 200, polling.answer
    proposed = [
        a.body["state"]["type"]
        for a in proxy.asked
        if a.path == f"/api/flow_runs/{run_id}/set_state" and isinstance(a.body, dict)
    ]
    assert _wait_gone(mark, 10) == []
    [run] = ask(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    state = (run["state_type"], run["state_name"])
    assert (started, proposed, state) == ([], [], ("SCHEDULED", "Scheduled")), err.text()[-3000:]


def test_the_schedulers_runs_due_as_serve_stops_are_deleted_those_made_by_hand_kept(user: User) -> None:
    """Runs the server's scheduler made for poll-and-ingest came due as veille serve stopped
    (made here by the API's own scheduling, the hours before the last), and a run made by hand;
    the runner's poll held back until the stop's first pause, so it starts none of them: once
    veille serve has stopped, no run of the scheduler's is left Scheduled on the paused
    deployment, the one made by hand is (for the next veille serve). Before, the pauses
    deleted only the runs due after them: those due stayed Scheduled, then Late, on a paused
    deployment (the clean-clone CI saw one left after a stop)."""
    api_url, sources, mark, env = user
    with PrefectProxy(api_url) as proxy:
        proc, err, polling = _serving_its_poll_held(user, proxy)
        try:
            cycle = _deployments(api_url)["poll-and-ingest"]["id"]
            now = datetime.now(UTC)
            backfill = {"start_time": (now - timedelta(hours=3)).isoformat(), "end_time": now.isoformat()}
            ask(api_url, f"/deployments/{cycle}/schedule", backfill)
            due = [r for r in _runs_due(api_url, cycle, now) if r["auto_scheduled"]]
            by_hand = ask(api_url, f"/deployments/{cycle}/create_flow_run", {})["id"]
        except BaseException:
            proc.kill()
            raise
        _stop(proc, err, signal.SIGTERM)
        proxy.wait_idle()
    assert len(due) >= 2, due  # the scheduler's runs of the last hours, none started
    assert _wait_gone(mark, 10) == []
    assert polling.released.is_set()  # by a pause, not by the proxy's own time limit
    left = _scheduled_runs(api_url, [cycle])
    assert [line.split()[0] for line in left] == [by_hand], f"{left}\n{err.text()[-3000:]}"
    assert _deployments(api_url)["poll-and-ingest"]["paused"] is True


def _runs_due(api_url: str, deployment_id: str, before: datetime) -> list[dict[str, Any]]:
    """The Scheduled runs of the deployment ``deployment_id`` due before ``before``."""
    body = {
        "flow_runs": {
            "state": {"type": {"any_": ["SCHEDULED"]}},
            "next_scheduled_start_time": {"before_": before.isoformat()},
        },
        "deployments": {"id": {"any_": [deployment_id]}},
    }
    runs: list[dict[str, Any]] = ask(api_url, "/flow_runs/filter", body)
    return runs


def _release_of(claim_id: str) -> Match:
    """veille serve's deletion of its claim (the Prefect variable ``claim_id``), as it stops."""
    return lambda asked: asked.method == "DELETE" and asked.path == f"/api/variables/{claim_id}"


def _set_state_of(run_id: str) -> Match:
    """A state proposed for the flow run ``run_id``."""
    return lambda asked: asked.path == f"/api/flow_runs/{run_id}/set_state"


def test_a_serve_whose_claim_was_taken_starts_no_run_after_it_stops(user: User) -> None:
    """Another veille serve takes this one's claim while its runner waits for the server's
    answer to a poll (the proxy holds the poll back until this one deletes its claim, the last
    thing it does as it stops), a run of drain-queue due now in that answer: veille serve
    stops (exit 3) within a bound, proposes no Pending state for that run, starts no process
    for it; the run stays Scheduled (or Late), for the veille serve that holds the claim now
    (here a claim the test made: no runner of its own). Before, setting the runner's `stopping` did
    not stop its poller: the answer came after the stop had killed the served runs, the runner
    proposed Pending for the run and started its process, alive after veille serve had exited
    (once, veille serve ended on SIGABRT, exit -6, as it started it). The claim's deletion is
    held back until that proposal, as a slow server would (veille serve waits 8 s at most for
    it): the runner has the time to."""
    api_url, sources, mark, env = user
    env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    with PrefectProxy(api_url) as proxy:
        proc, err = _serving(sources, {**env, "PREFECT_API_URL": proxy.api_url}, api_url)
        try:
            [claim] = _claims(api_url)
            polling = proxy.hold(is_poll, until=_release_of(claim["id"]))
            assert polling.arrived.wait(60), err.text()[-3000:]
            drain = _deployments(api_url)["drain-queue"]
            run_id = ask(api_url, f"/deployments/{drain['id']}/create_flow_run", {})["id"]
            releasing = proxy.hold(_release_of(claim["id"]), until=_set_state_of(run_id))
            ask(api_url, f"/variables/{claim['id']}", method="DELETE")
            other = {"database": "database:elsewhere:5432/other", "holder": "veille serve on elsewhere"}
            ask(api_url, "/variables/", {"name": claim["name"], "value": other, "tags": ["veille-serve"]})
            taken = time.monotonic()
            code = proc.wait(60)
            took = time.monotonic() - taken
        finally:
            if proc.poll() is None:
                proc.kill()
        started = _alive_with_run(run_id)  # veille serve has ended
        releasing.released.set()  # the claim's deletion, if still held back, goes on
        proxy.wait_idle()
    text = err.text()
    assert code == 3, text[-3000:]
    assert "took over veille-run/poll-and-ingest" in text.splitlines()[-1], text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert polling.released.is_set() and polling.answer == 200, polling.answer
    proposed = [
        a.body["state"]["type"] for a in proxy.asked if _set_state_of(run_id)(a) and isinstance(a.body, dict)
    ]
    assert _wait_gone(mark, 10) == []
    [run] = ask(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": [run_id]}}})
    # Late: Scheduled, its time 15 s past (the server's late-runs service), no one started it
    state = (run["state_type"], run["state_name"].replace("Late", "Scheduled"))
    assert (started, proposed, state) == ([], [], ("SCHEDULED", "Scheduled")), text[-3000:]
    # its claim renewed every 10 s, its deletion held 8 s at most: no wait for the runner held
    assert took < 45, took


def _take_claim(api_url: str, claim: dict[str, Any]) -> None:
    """Another veille serve's claim in place of ``claim`` (no runner of its own), as one that
    took it over while this one's was not renewed."""
    ask(api_url, f"/variables/{claim['id']}", method="DELETE")
    other = {"database": "database:elsewhere:5432/other", "holder": "veille serve on elsewhere"}
    ask(api_url, "/variables/", {"name": claim["name"], "value": other, "tags": ["veille-serve"]})


def test_the_runs_of_a_serve_whose_claim_was_taken_end_interrupted_their_slot_free(
    site: LocalSite, user: User
) -> None:
    """A run of poll-and-ingest in progress (its workers wait on the site's pages) when another
    veille serve takes this one's claim over: veille serve stops (exit 3), the run's process
    killed, and the run and its subflow end Crashed, named Interrupted, their message saying
    why; the deployment's concurrency slot is free, for the other one's next run. Before, they
    were killed but left Running on the server, the slot held: the runs the other veille
    serve started of that deployment were cancelled (CANCEL_NEW)."""
    api_url, sources, mark, env = user
    _, asked, release = seed_hanging_site(site, 120)
    env = {**env, "PREFECT_RUNNER_POLL_FREQUENCY": "2", "VEILLE_TIMEOUT": "200"}
    env["VEILLE_FETCH_DEADLINE"] = "300"
    proc, err = _serving(sources, env, api_url)
    try:
        [claim] = _claims(api_url)
        cycle = _deployments(api_url)["poll-and-ingest"]
        run_id = ask(api_url, f"/deployments/{cycle['id']}/create_flow_run", {})["id"]
        assert asked.wait(120), "the run fetched no page: " + err.text()[-3000:]
        _take_claim(api_url, claim)
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        release.set()
    text = err.text()
    assert code == 3, text[-3000:]
    assert "took over veille-run/poll-and-ingest" in text.splitlines()[-1], text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert _wait_gone(mark, 10) == []
    runs = ask(api_url, "/flow_runs/filter", {})
    ended = {
        r["id"]: (r["state_type"], r["state_name"], r["state"]["message"])
        for r in runs
        # the run and its subflows but veille-poll, done before the pages were asked for
        if r["id"] == run_id or (r["parent_task_run_id"] and r["state_type"] != "COMPLETED")
    }
    why = (
        "Interrupted: veille serve stopped, its claim taken over by another veille serve, of the"
        " database elsewhere:5432/other (veille serve on elsewhere): what was not stored is left"
        " for the next run."
    )
    assert ended[run_id] == ("CRASHED", "Interrupted", why), ended
    assert len(ended) >= 2 and set(ended.values()) == {("CRASHED", "Interrupted", why)}, ended
    limit = _deployments(api_url)["poll-and-ingest"]["global_concurrency_limit"]
    assert (limit["limit"], limit["active_slots"]) == (1, 0), limit


def _serving_every_minute(user: User) -> tuple[Any, Lines]:
    """veille serve polling every minute (drain-queue due at :30 of each minute), once its
    deployments are active."""
    api_url, sources, _, env = user
    proc = _serve(sources, env, interval="1")
    err = Lines(proc)

    def active() -> bool:
        found = _deployments(api_url)
        return set(found) == SERVED and not any(d["paused"] for d in found.values())

    deadline = time.monotonic() + 180
    while not active():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError("veille serve did not make its deployments active: " + err.text()[-3000:])
        time.sleep(0.2)
    return proc, err


def test_the_schedulers_runs_inserted_after_the_stop_are_deleted_by_the_next_serve(user: User) -> None:
    """Runs of drain-queue inserted as the server's scheduler does (auto-scheduled, by the API's
    own scheduling) after veille serve stopped, paused: one just due, the others to come, as a
    scheduler loop that read the deployment active before the pause inserts them after the
    stop's last look. The next veille serve deletes them all before it registers the
    deployments again, and says so; none is started. Before, registering deleted those to
    come, the stale-run cleanup those due more than 60 s ago, and the runner started the one
    just due: a run of a schedule that was paused."""
    api_url, sources, mark, env = user
    proc, err = _serving_every_minute(user)
    _stop(proc, err, signal.SIGTERM)
    assert _wait_gone(mark, 10) == []
    drain = _deployments(api_url)["drain-queue"]
    assert drain["paused"] is True, drain
    # drain-queue is due at :30 of each minute: the last such time, within the last 5 s
    now = datetime.now(UTC)
    due = now.replace(second=30, microsecond=0) - timedelta(minutes=0 if now.second >= 30 else 1)
    if now - due > timedelta(seconds=5):
        time.sleep((due + timedelta(minutes=1, seconds=1) - now).total_seconds())
        due += timedelta(minutes=1)
    window = {
        "start_time": (due - timedelta(seconds=1)).isoformat(),
        "end_time": (due + timedelta(minutes=3)).isoformat(),
    }
    ask(api_url, f"/deployments/{drain['id']}/schedule", window)
    made = _scheduled_runs(api_url, [drain["id"]])
    inserted = [line.split()[0] for line in made if "auto_scheduled=True" in line]
    assert len(inserted) >= 2 and len(inserted) == len(made), made
    proc, err = _serving_every_minute(user)
    try:
        left = ask(api_url, "/flow_runs/filter", {"flow_runs": {"id": {"any_": inserted}}})
    finally:
        _stop(proc, err, signal.SIGTERM)
    assert _wait_gone(mark, 10) == []
    assert [(r["id"], r["state_name"]) for r in left] == [], err.text()[-3000:]
    assert (
        f"veille serve: deleted {len(inserted)} runs of veille-ingest/drain-queue, left Scheduled by the"
        " Prefect server's scheduler on its paused deployments after the last veille serve stopped"
    ) in err.text(), err.text()[-3000:]
