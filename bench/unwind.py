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
import threading
from collections.abc import Iterator
from typing import Any

#: a process that SIGTERM ended exits 128 + 15, as the shell reports it
EXIT_SIGTERM = 128 + signal.SIGTERM


class Terminated(SystemExit):
    """SIGTERM, raised as ``SystemExit(143)`` so that nothing but the exit catches it."""


def unwind_on_sigterm() -> None:
    """From now on SIGTERM raises :class:`Terminated` in this process's main thread, so the
    bench's clean-up runs as on Ctrl-C. Raised while the main thread runs a weakref callback
    or a ``__del__``, Python would print it and go on (seen: one SIGTERM in three, in a loop
    that drops weak references): such a one is raised again 50 ms later, by a timer thread.
    A child forked afterwards (multiprocessing's default start method) inherits the handler;
    there SIGTERM still ends the process at once."""
    owner = os.getpid()
    previous_hook = sys.unraisablehook

    def handler(signum: int, frame: Any) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated(EXIT_SIGTERM)

    def unraisable(info: Any) -> None:
        if isinstance(info.exc_value, Terminated):
            # the handler runs again once this callback has returned (from here, it would run
            # inside this hook, where it would be swallowed once more)
            again = threading.Timer(0.05, _thread.interrupt_main, args=(signal.SIGTERM,))
            again.daemon = True
            again.start()
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
