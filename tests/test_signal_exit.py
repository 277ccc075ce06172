"""A veille command stopped by SIGTERM or SIGINT always exits, with 128 + the signal's number,
wherever the signal finds its main thread: holding a lock that the way out needs (threading's
own, taken to start or list threads; a logging handler's; the import system's), or in the
middle of a write to stderr. Each case is provoked deterministically: a small program installs
veille's handler (``flows.cli._end_with_veille``, as every command does), takes the lock or
starts the write in its main thread, and sends itself the signal right there."""

from __future__ import annotations

import _imp
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from flows import cli

ROOT = Path(__file__).resolve().parent.parent
MARK = "VEILLE_TEST_SIGNAL_MARK"

#: more than the way out takes (a second or two), less than the bound it had before (15 s for
#: the exit handlers) or than for ever
PROMPTLY = 10.0
#: a case where a hook waits for ever: the hooks' time more
WAITING_HOOK = "threading's lock, a hook starting a thread"

PRELUDE = """
import atexit, io, os, signal, sys, threading, time
from flows import cli, signals

cli._end_with_veille("run")
SIG = signal.{sig}
atexit.register(lambda: os.write(2, b"exit handlers ran\\n"))
"""

CASES = {
    # threading's module lock, held inside threading.enumerate(), active_count() or a pool
    # worker's Thread.start(): starting a threading.Thread on the way out waits for it forever
    "threading's lock": """
with threading._active_limbo_lock:
    os.kill(os.getpid(), SIG)
    time.sleep(60)
""",
    # the same, and a hook of flows.signals starts a threading.Thread (flows/runs.py's did): the
    # hook waits for ever, the command leaves once the hooks' time is up
    WAITING_HOOK: """
def hook(name):
    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()

signals.on_signal(hook)
with threading._active_limbo_lock:
    os.kill(os.getpid(), SIG)
    time.sleep(60)
""",
    # a write to stderr under way (a full pipe): printing the line from the handler raised
    # "reentrant call inside <_io.BufferedWriter>"
    "a write to stderr": """
class Slow(io.RawIOBase):
    sent = False
    def writable(self):
        return True
    def write(self, data):
        if not Slow.sent:
            Slow.sent = True
            os.kill(os.getpid(), SIG)
            time.sleep(0.5)
        return os.write(2, data)

sys.stderr = io.TextIOWrapper(io.BufferedWriter(Slow(), buffer_size=8), line_buffering=True)
print("x" * 100, file=sys.stderr)
time.sleep(60)
""",
    # output waiting in stdout's buffer for a reader that does not read (a full pipe):
    # flushing it on the way out waited for ever
    "a full stdout": """
import fcntl

size = fcntl.fcntl(1, fcntl.F_GETPIPE_SZ)
os.write(1, b"y" * size)  # the pipe is full now
sys.stdout.write("z")  # and this waits in the buffer
os.kill(os.getpid(), SIG)
time.sleep(60)
""",
    # the import system's lock (held inside any import): an exit handler that imported (the page
    # workers' imported multiprocessing's resource tracker) waited for the exit handlers' 15 s,
    # and the ones after it never ran
    "the import lock, the workers' exit handler": """
import _imp
import monitors.workers

_imp.acquire_lock()
os.kill(os.getpid(), SIG)
time.sleep(60)
""",
    # the same, and veille serve's hook (it imported psutil, and flows.runs with Prefect when the
    # signal came while veille serve started): the hooks' 15 s
    "the import lock, veille serve's hook": """
import _imp
from flows import serve_stop

serve_stop.stop_on_signal()
_imp.acquire_lock()
os.kill(os.getpid(), SIG)
time.sleep(60)
""",
    # a logging handler's lock (a handler writing to a full pipe): logging's exit handler
    # waits for it
    "a logging handler's lock": """
import logging

handler = logging.StreamHandler(sys.stderr)
logging.getLogger("veille.test").addHandler(handler)
handler.acquire()
os.kill(os.getpid(), SIG)
time.sleep(60)
""",
}


def _left(mark: str) -> list[int]:
    """Processes that carry the mark (veille's watcher, when it has not ended yet)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get(MARK) == mark:
                found.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return found


@pytest.mark.parametrize(
    ("sig", "case"),
    [
        (sig, case)
        for sig in (signal.SIGTERM, signal.SIGINT)
        for case in CASES
        if case != WAITING_HOOK or sig == signal.SIGTERM  # once is enough for its 15 s
    ],
    ids=lambda value: value.name if isinstance(value, signal.Signals) else value,
)
def test_a_signal_ends_the_command_whatever_lock_its_main_thread_holds(
    case: str, sig: signal.Signals
) -> None:
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "VEILLE_"))}
    env.pop("PYTHONUNBUFFERED", None)  # stdout buffered, as for a user
    env.update({MARK: mark, "PYTHONPATH": str(ROOT)})
    program = textwrap.dedent(PRELUDE.format(sig=sig.name)) + textwrap.dedent(CASES[case])
    bound = PROMPTLY + (cli.HOOKS_SECONDS if case == WAITING_HOOK else 0.0)
    started = time.monotonic()
    unread, stdout = os.pipe()  # a reader that reads nothing (until the end)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-c", program], cwd=ROOT, env=env, stdout=stdout, stderr=subprocess.PIPE
        )
        os.close(stdout)
        try:
            _, err_bytes = proc.communicate(timeout=bound)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err_bytes = proc.communicate()
    finally:
        os.close(unread)
    took = time.monotonic() - started
    err = err_bytes.decode(errors="replace")
    deadline = time.monotonic() + 10
    while (left := _left(mark)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert proc.returncode == 128 + sig, (proc.returncode, took, err[-3000:])
    assert took < bound, (took, err[-3000:])
    assert "Traceback" not in err, err[-3000:]
    verb = "interrupted" if sig == signal.SIGINT else "terminated"
    assert f"veille: {verb} by {sig.name}: what was not stored is left for the next run" in err, err
    assert "exit handlers ran" in err, err
    assert left == []


def test_the_docs_say_the_bound_the_way_out_has() -> None:
    """docs/operating.md names the most a signal's way out takes: the watchdog's bound."""
    text = (ROOT / "docs" / "operating.md").read_text("utf-8")
    assert f"veille leaves after {cli.LEAVE_SECONDS:g} s at most" in text


@contextlib.contextmanager
def _import_lock() -> Iterator[None]:
    _imp.acquire_lock()
    try:
        yield
    finally:
        _imp.release_lock()


#: the locks a signal may find the main thread holding while a hook runs
HELD = pytest.mark.parametrize(
    "held",
    [lambda: threading._active_limbo_lock, _import_lock],  # type: ignore[attr-defined]
    ids=["threading's lock", "the import lock"],
)


class _Client:
    """Prefect's sync client as a hook uses it (the tests are about the thread)."""

    def __enter__(self) -> _Client:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _ends_while_held(
    held: Callable[[], contextlib.AbstractContextManager[Any]], hook: Callable[[], object]
) -> bool:
    """Whether ``hook()``, run on a bare thread as the way out runs the hooks, ends within
    :data:`PROMPTLY` while the main thread holds the lock ``held()``."""
    import _thread

    done = _thread.allocate_lock()
    done.acquire()

    def step() -> None:
        try:
            hook()
        finally:
            done.release()

    with held():
        _thread.start_new_thread(step, ())
        returned = done.acquire(timeout=PROMPTLY)
    if not returned:
        done.acquire()  # the hook goes on once the lock is free: let it end first
    return returned


@HELD
def test_runs_are_marked_interrupted_whatever_lock_the_main_thread_holds(
    monkeypatch: pytest.MonkeyPatch, held: Callable[[], contextlib.AbstractContextManager[Any]]
) -> None:
    """flows/runs.py's hook marked the runs Interrupted from a threading.Thread: its start
    waits for threading's module lock, which the signal may find the main thread holding
    (inside Thread.start, enumerate, active_count). The hook then waited until the hooks'
    15 s were up, and no run was marked. It imports nothing either: the import system's lock
    may be held too (the main thread inside an import). Here the lock is held while the hook
    runs."""
    import prefect.client.orchestration

    from flows import runs

    marked: list[tuple[str, str | None]] = []

    class Client(_Client):
        def set_flow_run_state(self, run_id: str, state: Any, force: bool) -> None:
            marked.append((run_id, state.name))

    monkeypatch.setattr(prefect.client.orchestration, "get_client", lambda sync_client: Client())
    returned = _ends_while_held(held, lambda: runs.mark_interrupted(["run-1"], "SIGTERM"))
    assert returned and marked == [("run-1", "Interrupted")]


@HELD
def test_served_schedules_are_paused_whatever_lock_the_main_thread_holds(
    monkeypatch: pytest.MonkeyPatch, held: Callable[[], contextlib.AbstractContextManager[Any]]
) -> None:
    """veille serve's hook (flows/serve_stop.py) paused the served schedules from a
    threading.Thread, whose start waits for threading's module lock: with the signal finding
    the main thread holding it, the hook waited until the hooks' 15 s were up, and no schedule
    was paused (each left active on the user's Prefect server). Here the lock is held while the
    pauses run."""
    import prefect.client.orchestration

    from flows import serve_stop

    paused: list[str] = []
    swept: list[Any] = []

    class Client(_Client):
        def pause_deployment(self, deployment_id: str) -> None:
            paused.append(deployment_id)

        def read_flow_runs(self, flow_run_filter: Any) -> list[Any]:
            swept.append(flow_run_filter.deployment_id.any_)
            return []

    monkeypatch.setattr(prefect.client.orchestration, "get_client", lambda **_: Client())
    monkeypatch.setattr(serve_stop, "PAUSE_AGAIN_SECONDS", 0.05)
    deployment = "5f0c6ad2-2c1e-4c59-9d0a-4d3b1e0f8a11"  # an id, as Prefect's (the runs' filter takes one)
    monkeypatch.setitem(serve_stop.SERVED, "veille-poll/poll", deployment)
    lines: list[str] = []
    returned = _ends_while_held(held, lambda: lines.extend(serve_stop._pause_until_paused()))
    # paused twice (the second against a scheduler that had read it active), then its
    # scheduler's runs still Scheduled looked for (none), none named
    assert returned and paused == [deployment, deployment] and lines == []
    assert swept == [[uuid.UUID(deployment)]]
