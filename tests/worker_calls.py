"""Functions for tests to run in worker processes (:mod:`monitors.workers`), in a module that
imports nothing heavy: unpickling a function imports its module in the worker."""

from __future__ import annotations

import os
import sys
import time


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
