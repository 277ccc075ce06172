"""The last line a command says on stderr, apart from the commands' shared helpers so that
signal hooks (veille serve's, :mod:`flows.serve_stop`) can hold it from their start: a hook
importing it on the way out waited for the import lock the signal may find held."""

from __future__ import annotations

import contextlib
import os
import sys

__all__ = ["closing_line"]


def closing_line(line: str) -> None:
    """``line`` on stderr, once a command's work is done: a stderr whose reader is gone (a
    logger that died, ``2> >(head -1)``) loses the line, not the outcome (exit 0, not 141
    after the file was written), and is pointed at /dev/null so nothing fails again at exit."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stderr.fileno())
            os.close(devnull)
