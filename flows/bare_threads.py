"""Steps run in bare threads, for the way out of a signalled command: ``threading.Thread.start``
takes threading's module lock, which the interrupted main thread may hold, so a hook or an
exit step started that way could wait for ever (:func:`flows.cli._exit_now`,
:func:`flows.runs.end_interrupted`)."""

from __future__ import annotations

import _thread
import contextlib
import contextvars
from collections.abc import Callable


def started(function: Callable[..., object], *args: object) -> bool:
    """Run ``function(*args)`` in a bare thread: ``threading.Thread.start`` takes threading's
    module lock, which the interrupted main thread may hold."""
    try:
        _thread.start_new_thread(function, args)
    except RuntimeError:  # no new thread (the interpreter is ending)
        return False
    return True


def bounded(
    context: contextvars.Context, function: Callable[..., object], seconds: float, *args: object
) -> bool:
    """Run ``function(*args)`` in a bare thread, in a copy of ``context`` (a step still running
    after its time is in its own); wait for it ``seconds`` at most, on a lock of its own.
    Whether it ended in that time."""
    done = _thread.allocate_lock()
    done.acquire()
    own = context.copy()

    def step() -> None:
        try:
            with contextlib.suppress(Exception):  # the command is ending: nothing to report to
                own.run(function, *args)
        finally:
            done.release()

    return started(step) and done.acquire(timeout=seconds)
