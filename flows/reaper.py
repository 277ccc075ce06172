"""Nothing of veille outlives veille: a small watcher process for each command.

``veille`` marks its environment with a token (inherited by every process it starts: Prefect's
temporary server, the feed-parser workers, multiprocessing's resource tracker) and starts this
watcher, which waits on a pipe only the command holds. When the pipe closes (the command
ended, normally, on a signal, or killed with ``kill -9``) the watcher ends every process that
carries the token, then stops the embedded PostgreSQL if no live process uses it any more.

It runs with its output on /dev/null, so a caller that reads veille's output
(``subprocess.run(capture_output=True)``, cron) is not kept waiting by it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TOKEN_ENV = "VEILLE_PROCESS_TOKEN"
#: Processes the watcher never ends: the embedded PostgreSQL is shared and stopped properly.
SPARE = {"postgres", "pg_ctl", "postmaster"}
GRACE_SECONDS = 3.0


def start() -> None:
    """Mark this process's environment and start the watcher; at a normal exit, wait for it
    to have cleaned up, so nothing is left when the command returns."""
    if os.environ.get(TOKEN_ENV):
        return  # a veille command started by another: the outer watcher covers it
    token = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    read, write = os.pipe()  # not inheritable: only this process holds the write end
    try:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "flows.reaper", token],
            stdin=read,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,  # a Ctrl-C in the terminal must not stop it first
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
    except OSError:
        os.close(read)
        os.close(write)
        return
    os.close(read)
    os.environ[TOKEN_ENV] = token
    # registered first, so it runs last: after Prefect's and pgserver's own exit handlers
    atexit.register(_finish, watcher, write)


_wait_for_watcher = True


def leave_without_waiting() -> None:
    """At exit, let the watcher go without waiting for it to have cleaned up (a signal ends
    veille: what the watcher ends, such as multiprocessing's resource tracker, may only end
    with this process)."""
    global _wait_for_watcher
    _wait_for_watcher = False


def _finish(watcher: subprocess.Popen[bytes], write: int) -> None:
    os.close(write)
    if not _wait_for_watcher:
        return
    try:
        watcher.wait(timeout=GRACE_SECONDS + 30)
    except subprocess.TimeoutExpired:
        watcher.kill()


def marked(token: str, psutil: Any) -> list[Any]:
    """Live processes that carry ``token`` in their environment, but this one and the spared."""
    found = []
    for proc in psutil.process_iter(["pid", "name"]):
        if proc.pid == os.getpid() or proc.info["name"] in SPARE:
            continue
        try:
            if proc.environ().get(TOKEN_ENV) == token:
                found.append(proc)
        except (psutil.Error, OSError):
            continue  # gone, or another user's
    return found


def reap(token: str) -> None:
    """End the token's processes: SIGTERM, then SIGKILL after a grace period."""
    import psutil

    procs = marked(token, psutil)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=GRACE_SECONDS)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=GRACE_SECONDS)


def stop_orphaned_embedded_server() -> None:
    """Stop the embedded PostgreSQL when no live process uses it (its last user was killed)."""
    if os.environ.get("VEILLE_DATABASE_URL"):
        return  # a server of the user's: no embedded one (and no settings to load at exit)
    from monitors.settings import get_settings

    settings = get_settings()
    pgdata = settings.data_dir / "pgdata"
    if settings.database_url or not (pgdata / "postmaster.pid").exists():
        return
    from monitors.archive.embedded import kept_running, stop_if_unused

    if not kept_running(settings.data_dir):  # `veille db start` keeps it up on purpose
        stop_if_unused(pgdata)


def main(token: str) -> None:
    os.environ.pop(TOKEN_ENV, None)
    import psutil  # noqa: F401 - loaded while the command runs, not after it ended (it waits for us)

    # wait for the command to end: the pipe closes with its last holder
    while True:
        try:
            if not os.read(0, 1024):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    time.sleep(0.05)  # let the command's own exit finish (a process it was ending)
    reap(token)
    with contextlib.suppress(Exception):  # nothing to report to: the caller is gone
        stop_orphaned_embedded_server()


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    main(sys.argv[1])
