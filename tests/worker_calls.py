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
