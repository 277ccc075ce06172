"""A bench stopped by SIGTERM (a timeout, a job runner, ``kill``) unwinds like Ctrl-C.

By default SIGTERM ends a Python process at once: no ``finally``, no context manager's exit,
no exit handler, so a bench's server child, its subprocesses (Prefect's server, an embedded
PostgreSQL), multiprocessing's resource tracker and its scratch database were left behind.
Not a bench itself: what the benches that start children or create a database share.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import signal
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Iterator
from typing import Any

#: a process that SIGTERM ended exits 128 + 15, as the shell reports it
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(SystemExit):
    """SIGTERM, raised as ``SystemExit(143)`` so that nothing but the exit catches it."""


#: where the standard library's own code lives: its locks, queues, futures and event loop
#: are not safe against an exception raised between two of their bytecodes
_STDLIB = sysconfig.get_paths()["stdlib"]

#: how long the handler waits before it tries again, when the signal found the main thread
#: inside the standard library
RETRY_SECONDS = 0.01


def in_stdlib(frame: Any) -> bool:
    """Whether ``frame`` runs the standard library's code (frozen modules included, such as
    importlib's, which hold the module locks), not an installed package's."""
    name = frame.f_code.co_filename
    if name.startswith("<frozen "):
        return True
    return name.startswith(_STDLIB) and "-packages" not in name


def not_here(frame: Any) -> bool:
    """Whether SIGTERM waits rather than be raised in ``frame``: the standard library's, or
    this module's (the handler itself, run again by a signal that comes while it runs)."""
    return in_stdlib(frame) or frame.f_code.co_filename == __file__


def unwind_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` in this process's main thread, so the
    bench's clean-up runs as on Ctrl-C.

    Python runs the handler between two bytecodes of the main thread, wherever it is. Inside
    the standard library that can be between a lock taken and the ``try`` that releases it:
    ``threading.Condition.__enter__`` once it holds a future's lock (the worker that finishes
    that future then waits for it forever, and so does the pool's shutdown, joining that
    worker: bench/fetch_probe.py's SIGTERM test, once in a CI run), asyncio's ``_run_once``
    between popping a callback and running it (a task whose wake-up is lost: ``asyncio.run``
    then waits for it forever as it cancels the tasks left). So a SIGTERM that finds the main
    thread in the standard library's code is not raised there: it is raised as soon as the
    main thread runs code outside it (the bench's, a package's: a trace function watches for
    that meanwhile), or, delivered again every 10 ms, once it finds the main thread twice in a
    row at the same instruction with next to no CPU used in between: blocked there, in a wait
    (a lock, a select, a join), which is where the standard library expects Ctrl-C.

    Raised while the main thread runs a weakref callback or a ``__del__``, Python would print
    it and go on (seen: one SIGTERM in three, in a loop that drops weak references): such a
    one is raised again 50 ms later, by a timer thread. A child forked afterwards
    (multiprocessing's default start method) inherits the handler; there SIGTERM still ends
    the process at once."""
    owner = os.getpid()
    main = threading.main_thread().ident
    assert main is not None  # the main thread has started
    previous_hook = sys.unraisablehook
    seen: list[tuple[Any, int, float]] = []  # where the last signal deferred found the main
    # thread, and the CPU time it had used by then
    deferred = [False]  # a SIGTERM waits to be raised
    retrying = [False]  # one signal at a time on its way back

    def again() -> None:
        time.sleep(RETRY_SECONDS)
        retrying[0] = False
        if deferred[0]:  # not raised in the meantime (a second one would cut the clean-up short)
            with contextlib.suppress(OSError, ValueError):  # the main thread has ended
                signal.pthread_kill(main, signal.SIGTERM)

    def raise_terminated() -> None:
        sys.settrace(None)
        deferred[0] = False
        seen.clear()
        raise Terminated(EXIT_SIGTERM)

    def outside(frame: Any, event: str, arg: Any) -> Any:
        """Trace function while a SIGTERM waits: raises it at the first call into code outside
        the standard library, or the first line of such code on the stack that runs again."""
        if os.getpid() != owner:  # a child forked meanwhile
            sys.settrace(None)
            return None
        if not_here(frame):
            return None
        raise_terminated()

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if frame is not None and not_here(frame):
            here, cpu = (frame.f_code, frame.f_lasti), time.thread_time()
            # waiting: at the same instruction as last time, with next to no CPU used since
            waiting = bool(seen) and seen[0][:2] == here and cpu - seen[0][2] < RETRY_SECONDS / 2
            if not waiting:  # moving: the standard library's bookkeeping
                seen[:] = [(*here, cpu)]
                deferred[0] = True
                if not retrying[0]:
                    # a bare thread: threading's would take its module lock, which the main
                    # thread may hold right now
                    try:
                        _thread.start_new_thread(again, ())
                    except RuntimeError:  # none at the interpreter's exit
                        raise_terminated()
                    retrying[0] = True
                caller = frame
                while caller is not None:
                    if not not_here(caller):
                        caller.f_trace, caller.f_trace_lines = outside, True
                    caller = caller.f_back
                sys.settrace(outside)
                return
        raise_terminated()

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Terminated):
            # the handler runs again once this callback has returned (from here, it would run
            # inside this hook, where it would be swallowed once more)
            timer = threading.Timer(0.05, _thread.interrupt_main, args=(signal.SIGTERM,))
            timer.daemon = True
            timer.start()
            return
        previous_hook(info)

    sys.unraisablehook = unraisable
    signal.signal(signal.SIGTERM, handler)


def stop(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """End a child that is still running with SIGTERM, so that it runs its own clean-up (a
    `veille` command, pgserver's and Prefect's exit handlers), and SIGKILL after ``grace``
    seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(cmd, capture_output=True, text=True, **kwargs)``, except that a child
    still running when the bench unwinds is ended by :func:`stop`: ``subprocess.run`` kills it
    outright, which skips the clean-up of one that started a server of its own."""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs) as proc:
        try:
            out, err = proc.communicate()
        except BaseException:
            stop(proc)
            raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def create_scratch_db(admin: Any, name: str) -> None:
    """``CREATE DATABASE name`` through ``admin`` (an AUTOCOMMIT engine). A SIGTERM that comes
    while PostgreSQL creates it is raised as the statement returns, before the caller's
    ``try`` that drops it: then it is dropped here."""
    import sqlalchemy as sa

    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except BaseException:
        with contextlib.suppress(Exception), admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        raise


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str) -> Iterator[str]:
    """A scratch database ``<prefix>_<random>`` on the server of ``admin_url``, migrated to the
    head: yields its URL and drops it on the way out (SIGTERM included, after
    :func:`unwind_on_sigterm`), its engines disposed first."""
    import uuid

    import sqlalchemy as sa

    from monitors.archive.db import dispose_engines
    from monitors.archive.schema import migrate

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    create_scratch_db(admin, name)
    try:
        url = sa.make_url(admin_url).set(database=name).render_as_string(False)
        migrate(url)
        yield url
    finally:
        dispose_engines()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
