"""SIGTERM and SIGINT end a veille command at once, flows or not.

The command installs its handler (:func:`install`, from ``flows.cli``): it says so in one
line, lets the hooks registered with :func:`on_signal` record the interruption (the flow runs
in progress, when a Prefect server is there), runs the exit handlers and leaves, without
waiting for worker threads inside a request. Prefect installs its own SIGTERM handler for
every flow run, which would wait for the task runs in flight; a flow of this process takes
the signals back with :func:`reclaim`. Work not finished is lost to this run only: the
queue rows the workers had claimed are free as soon as the process's connections close.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any

_handler: Callable[[int, Any], None] | None = None
_hooks: list[Callable[[str], None]] = []
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install(handler: Callable[[int, Any], None]) -> None:
    """Make ``handler`` the process's SIGTERM and SIGINT handler (main thread only)."""
    global _handler
    _handler = handler
    reclaim()


def reclaim() -> None:
    """Put the command's handler back, where something (Prefect's flow engine) replaced it."""
    if _handler is None or threading.current_thread() is not threading.main_thread():
        return
    for signum in SIGNALS:
        signal.signal(signum, _handler)


def on_signal(hook: Callable[[str], None]) -> None:
    """Call ``hook(signal name)`` when a signal ends the command, before the exit handlers:
    in a thread of its own (not the main thread, which the signal may have found holding any
    lock), in the main thread's context, the hooks 15 s at most all together
    (``flows.cli.HOOKS_SECONDS``)."""
    if hook not in _hooks:
        _hooks.append(hook)


def run_hooks(name: str) -> None:
    for hook in _hooks:
        with contextlib.suppress(Exception):  # the command is ending: nothing to report to
            hook(name)
