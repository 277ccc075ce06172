"""Functions for tests to run in worker processes (:mod:`monitors.workers`), in a module that
imports nothing heavy: unpickling a function imports its module in the worker."""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def heavy_modules_loaded() -> list[str]:
    """In a worker: which of the page analysis's heavy modules it has imported."""
    return sorted(
        m for m in ("trafilatura", "scipy", "datasketch", "sqlalchemy", "monitors.ingest") if m in sys.modules
    )


def slow_warm() -> None:
    """In a worker: a warm-up that takes 2 s and counts itself in a file named by the env."""
    time.sleep(2)
    with open(os.environ["VEILLE_TEST_WARM_COUNT"], "a") as f:
        f.write(f"{os.getpid()}\n")


def shared_value(shared: Any) -> tuple[int, bool]:
    """In a worker: the length of a :class:`monitors.workers.Shared` value, and whether it came
    whole (True) or by its key only (False)."""
    return len(shared.get()), shared.blob is not None


def forget_shared() -> None:
    """In a worker: drop every :class:`monitors.workers.Shared` value it holds."""
    from monitors import workers

    workers._values.clear()


class Unreadable:
    """Pickles, but its pickle cannot rebuild it (its class needs an argument it does not keep)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        return (Unreadable, ())


class UnreadableError(Exception):
    """An exception whose pickle cannot rebuild it (two arguments, one given back)."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(message)
        self.detail = detail


def unpicklable_result(*args: Any) -> Any:
    """In a worker: a result that cannot be pickled (a lock)."""
    import threading

    return threading.Lock()


def unreadable_result(*args: Any) -> Unreadable:
    """In a worker: a result that pickles but cannot be unpickled by the caller."""
    return Unreadable(1)


def unreadable_error(*args: Any) -> None:
    raise UnreadableError("a page's odd failure", "detail")
