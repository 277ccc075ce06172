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
