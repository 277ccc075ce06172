"""The watch `veille serve` keeps on its Prefect server (flows/serve_watch.py), on a local HTTP
server standing in for its /health: what it says when the server stops answering and when it
answers again, when it gives up, and the restart of a server of its own, once."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from flows.serve_watch import Watch, why_not_answering


class Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(type(self).status if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health() -> Iterator[tuple[str, type[Health]]]:
    handler = type("H", (Health,), {"status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api", handler
    finally:
        server.shutdown()
        server.server_close()


def test_a_server_that_stops_answering_is_said_at_once_and_waited_for(
    health: tuple[str, type[Health]], capsys: pytest.CaptureFixture[str]
) -> None:
    api_url, handler = health
    watch = Watch(api_url, interval=5, wait=30)
    assert watch.check(now=100.0) is None and not watch.down
    handler.status = 503
    assert watch.check(now=102.0) is None  # not yet time to check
    assert capsys.readouterr().err == ""
    assert watch.check(now=105.0) is None and watch.down
    err = capsys.readouterr().err
    assert err.startswith(
        f"veille serve: the Prefect server at {api_url} (PREFECT_API_URL) does not answer since "
    )
    assert err.endswith(
        " UTC (HTTP 503): no run can start meanwhile; veille serve waits up to 30 s"
        " (VEILLE_PREFECT_WAIT) for it to come back, else stops (exit 4)\n"
    )
    assert watch.check(now=110.0) is None
    assert capsys.readouterr().err == ""  # said once
    handler.status = 200
    assert watch.check(now=115.0) is None and not watch.down
    assert capsys.readouterr().err == (
        f"veille serve: the Prefect server at {api_url} (PREFECT_API_URL) answers again,"
        " after 10 s without an answer: serving on\n"
    )

    handler.status = 500
    assert watch.check(now=120.0) is None
    capsys.readouterr()
    assert watch.check(now=145.0) is None  # 25 s of the 30
    stop = watch.check(now=150.0)
    assert stop is not None and stop == watch.stopping
    assert stop.startswith(f"veille: error: the Prefect server at {api_url} (PREFECT_API_URL) has not")
    assert (
        " UTC (HTTP 500), 30 s waited (VEILLE_PREFECT_WAIT): no run can start, veille serve stops; " in stop
    )
    assert stop.endswith(
        "restart that server (`prefect server start`) or check PREFECT_API_URL, then start veille serve again"
    )


def test_no_server_there_and_a_wait_of_0(health: tuple[str, type[Health]]) -> None:
    api_url, _ = health
    assert why_not_answering(api_url) is None
    gone = "http://127.0.0.1:1/api"  # nothing listens on port 1
    assert why_not_answering(gone) == "connection refused"
    assert Watch(gone, interval=5, wait=0).check(now=1.0) is not None  # VEILLE_PREFECT_WAIT=0: at once


class FakeOwn:
    """A server of veille serve's own whose process ended (exit code -9)."""

    def __init__(self) -> None:
        self.restarted = False
        self.code: int | None = -9
        self.restarts = 0

    def ended(self) -> int | None:
        return self.code

    def restart(self) -> None:
        self.restarted = True
        self.restarts += 1
        self.code = None


def test_a_server_of_its_own_is_restarted_once(
    health: tuple[str, type[Health]], capsys: pytest.CaptureFixture[str]
) -> None:
    api_url, handler = health
    own = FakeOwn()
    watch = Watch(api_url, interval=1, wait=60, own=own)
    assert watch.check(now=1.0) is None and own.restarts == 1 and watch.down
    err = capsys.readouterr().err
    assert err.startswith(f"veille serve: the Prefect server veille serve started ({api_url}) ended at ")
    assert (
        "(its process ended, exit code -9): no run can start; veille serve restarts it once, on the same port"
        in err
    )
    assert watch.check(now=2.0) is None and not watch.down  # the restarted one answers
    assert "answers again" in capsys.readouterr().err
    own.code = -9  # ends again: no second restart
    stop = watch.check(now=3.0)
    assert own.restarts == 1
    assert stop is not None and stop.startswith(
        f"veille: error: the Prefect server veille serve started ({api_url}) ended again"
        " (its process ended, exit code -9) after veille serve restarted it"
    )

    # a restarted server that does not answer within the wait
    own, handler.status = FakeOwn(), 503
    watch = Watch(api_url, interval=1, wait=10, own=own)
    assert watch.check(now=1.0) is None and own.restarts == 1
    assert watch.check(now=5.0) is None
    stop = watch.check(now=11.0)
    assert stop is not None and "has not answered since" in stop and "(HTTP 503), 10 s waited" in stop
    assert stop.endswith(
        "start veille serve again (it starts a new server), or run a Prefect server of your own"
        " (`prefect server start`) and set PREFECT_API_URL"
    )


@pytest.fixture
def served_here() -> Iterator[None]:
    """`_serve_in_a_thread` in this process: what it leaves behind (its runner, the logging it
    turns off as it stops) is undone after."""
    import logging

    from flows import serve_stop

    try:
        yield
    finally:
        logging.disable(logging.NOTSET)
        serve_stop.LOOPS.clear()
        serve_stop.SERVED.clear()
        serve_stop.STOPPING.clear()


def _runner_starting_on(api_url: str, watch: Watch) -> int:
    """`veille serve`'s runner started on ``api_url`` (a stand-in answering /health, whose events
    websocket answers 404: Prefect's runner fails to start), with ``watch`` checking it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.commands.serve import _serve_in_a_thread

    ended: list[int | BaseException] = []

    def serve() -> None:
        try:
            with temporary_settings(updates={PREFECT_API_URL: api_url}):
                ended.append(_serve_in_a_thread([], watch))
        except BaseException as exc:  # noqa: BLE001 - raised again below
            ended.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    thread.join(60)  # it ends within seconds: a watch that waits for its next check hangs
    assert ended, "veille serve went on serving after its runner failed to start"
    if isinstance(ended[0], BaseException):
        raise ended[0]
    return ended[0]


def test_a_runner_failing_to_start_as_its_own_server_ends_again_stops_with_exit_4(
    health: tuple[str, type[Health]], served_here: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """The restarted server answered, then ended again while Prefect's runner was starting: the
    runner's start failure ("Runner failed to start: event_emitter ...") is the server's end,
    judged by the watch (exit 4, its line), not raised (exit 1, Prefect's message). Before, the
    watch said "ended again" but was not down, and the runner's error was raised."""
    api_url, handler = health
    own = FakeOwn()
    own.restarted, own.code = True, None  # restarted once, answering
    watch = Watch(api_url, interval=3600, wait=120, own=own)
    assert watch.check() is None and not watch.down  # the last check before the runner starts
    own.code, handler.status = -9, 503  # it ends again
    assert _runner_starting_on(api_url, watch) == 4
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(
        f"veille: error: the Prefect server veille serve started ({api_url}) ended again"
        " (its process ended, exit code -9) after veille serve restarted it: no run can start"
    ), last


def test_a_runner_failing_to_start_on_a_server_that_answers_raises_its_error(
    health: tuple[str, type[Health]], served_here: None
) -> None:
    """The server answers its health checks: the runner's start failure is its own, raised
    (`veille serve` exits 1 with it), not taken for a lost server."""
    api_url, _ = health
    watch = Watch(api_url, interval=3600, wait=120)
    with pytest.raises(RuntimeError, match="Runner failed to start: event_emitter"):
        _runner_starting_on(api_url, watch)
    assert not watch.down
