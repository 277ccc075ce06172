"""bench/unwind.py: SIGTERM unwinds a bench (its `finally` runs, it exits 143) even when the
signal lands while the main thread runs a weakref callback, where Python prints the
exception and goes on (seen in bench/fetch_probe.py: the probe ran to its end). Not timed."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# a main loop that is in a weakref callback about a third of the time
CHILD = """
import time, weakref
from bench.unwind import unwind_on_sigterm
unwind_on_sigterm()
class Thing:
    pass
end = time.monotonic() + 10
try:
    print("ready", flush=True)
    while time.monotonic() < end:
        things = weakref.WeakSet()
        for _ in range(50):
            thing = Thing()
            things.add(thing)
            del thing
    print("not unwound", flush=True)
finally:
    print("finally", flush=True)
"""


def test_sigterm_unwinds_even_from_a_weakref_callback() -> None:
    outcomes = []
    for _ in range(10):  # without the retry, about one in three went on
        with subprocess.Popen(
            [sys.executable, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as child:
            try:
                assert child.stdout is not None
                assert child.stdout.readline() == "ready\n"
                time.sleep(0.05)
                child.send_signal(signal.SIGTERM)
                out, _ = child.communicate(timeout=30)
            finally:
                child.kill()
        outcomes.append((child.returncode, out.split()))
    assert outcomes == [(143, ["finally"])] * 10


# A future still running, its lock taken by the main thread inside threading.Condition's
# __enter__ when SIGTERM is handled: the main thread blocks in the lock's acquire while
# another thread holds it, and the signal (delivered to another thread, as a kill to the
# process may be) is only marked pending; Python handles it once the acquire has returned.
POOL = """
import _thread, signal, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from bench.unwind import unwind_on_sigterm
unwind_on_sigterm()
main = threading.get_ident()

def work():
    time.sleep(0.5)
    return 1

def sigterm_inside_enter(fut):
    with fut._condition:
        while not (sys._current_frames()[main].f_code is threading.Condition.__enter__.__code__):
            time.sleep(0.001)
        time.sleep(0.05)  # blocked in the acquire
        _thread.interrupt_main(signal.SIGTERM)

try:
    with ThreadPoolExecutor(1) as pool:
        fut = pool.submit(work)
        threading.Thread(target=sigterm_inside_enter, args=(fut,), daemon=True).start()
        print("ready", flush=True)
        fut.result()
    print("not unwound", flush=True)
finally:
    print("finally", flush=True)
"""


def test_sigterm_handled_as_a_future_s_lock_is_taken_does_not_hang_the_pool() -> None:
    """Raised there, the lock stayed taken: the worker finishing that future waited for it
    forever, and the pool's shutdown for the worker (bench/fetch_probe.py's threads path).
    The signal waits until the main thread is out of the standard library's code or blocked
    in it."""
    assert [_outcome(POOL) for _ in range(3)] == [(143, ["ready", "finally"], "")] * 3


def _outcome(script: str) -> tuple[int | None, list[str], str]:
    """Exit code, words printed and stderr of ``python -c script``; "hung" after 20 s."""
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as child:
        try:
            out, err = child.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            out, err = "hung", ""
        finally:
            child.kill()
    return child.returncode, out.split(), err


# asyncio's _run_once pops a callback, then runs it: the handler is called right after the pop
# (from a profile hook, with the frame Python would pass it), the callback popped being a
# task's wake-up.
LOOP = """
import asyncio, signal, sys
from bench.unwind import unwind_on_sigterm
unwind_on_sigterm()
state = {"armed": False, "done": False}

def hook(frame, event, arg):
    if state["done"] or frame.f_code.co_name != "_run_once" or getattr(arg, "__name__", "") != "popleft":
        return
    if event == "c_call":
        ready = frame.f_locals["self"]._ready
        state["armed"] = bool(ready) and "wakeup" in repr(ready[0]._callback).lower()
    elif event == "c_return" and state["armed"]:
        state["done"] = True
        signal.getsignal(signal.SIGTERM)(signal.SIGTERM, frame)

async def main():
    await asyncio.sleep(0.1)
    await asyncio.sleep(10)
    print("not unwound", flush=True)

try:
    print("ready", flush=True)
    sys.setprofile(hook)
    asyncio.run(main())
finally:
    sys.setprofile(None)
    print("finally", state["done"], flush=True)
"""


def test_sigterm_handled_between_two_callbacks_does_not_hang_the_event_loop() -> None:
    """Raised there, the task's wake-up was lost: asyncio.run, cancelling the tasks left on
    its way out, waited for that one forever (bench/fetch_probe.py's httpx, aiohttp and h11
    paths run on an event loop)."""
    assert _outcome(LOOP) == (143, ["ready", "finally", "True"], "")
