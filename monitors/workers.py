"""CPU-heavy pure work in worker processes, each call with a deadline.

Feed parsing (feedparser, pure Python) and page analysis (trafilatura and lxml: extraction,
language, relevance, fingerprint, compression) hold the GIL; run from many threads in one
process they queue up behind it, and concurrent lxml from threads can wedge (a ``veille run``
once sat for ten minutes with eight threads in libxml2's XPath). The threads hand that work
to ``VEILLE_PARSE_WORKERS`` processes instead: bytes in, a plain picklable result out.

Each worker has a pipe of its own and runs one call at a time, so a worker that must go
takes only its own call with it:

- a call still running after its deadline (``VEILLE_ANALYSIS_DEADLINE`` for a page): the
  worker is killed (SIGKILL: a hang in native code may ignore SIGTERM) and replaced, and the
  caller gets :class:`WorkerTimeout`;
- a worker that dies during a call (``kill -9``, a crash in a C library): replaced, and the
  call is tried once more on a fresh worker; a second death raises :class:`WorkerDied`.

Each call carries the local clock its caller took from the database when its environment
does not set ``VEILLE_LOCAL_TIMEZONE`` (:func:`monitors.settings.adopt_local_timezone`): a
worker reads dates and gives days on its parent's clock.

Written here rather than taken from a library: ``concurrent.futures.ProcessPoolExecutor``
has no per-call deadline and one dead worker breaks every call in flight; pebble's pool
shares one task pipe between its workers (a worker killed while writing to it can corrupt
it) and breaks for good when a worker dies between tasks. Workers stop with the process
(:func:`shutdown_workers`, run at exit), when their pipe closes (the parent died) and, as
every child of veille, by :mod:`flows.reaper`.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib
import multiprocessing
import multiprocessing.util  # its exit handler first, so that ours runs before it
import pickle
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.reduction import ForkingPickler
from typing import Any, Generic, TypeVar

from monitors.errors import describe
from monitors.settings import adopt_local_timezone, adopted_local_timezone

T = TypeVar("T")

#: Modules (``module`` or ``module:function`` to call) a worker loads before its first call:
#: only feed parsing, which a poll needs at once. What a page needs (trafilatura, the
#: language profiles: about 1 s of CPU, several seconds on a loaded machine) is loaded by
#: each worker before its first page (``warm`` of :meth:`WorkerPool.call`), so a poll does
#: not wait for it and a run with nothing to fetch never pays it.
PRELOAD = ("monitors.collect.feeds",)
#: How long a new worker may take to load :data:`PRELOAD`, or a call's ``warm`` (a loaded
#: machine is slow to import).
STARTUP_SECONDS = 300.0
_READY = "ready"


class WorkerTimeout(Exception):
    """A call ran past its deadline; its worker was killed."""


class WorkerDied(RuntimeError):
    """The worker running a call died, twice (the call was tried on a fresh worker once)."""


class CallKilledWorker(WorkerDied):
    """The worker died during the call, on a fresh worker too: the call's input is what kills
    it (a caller may not run that input in its own process), where a worker that could not
    start is :class:`WorkerDied` only."""


class WorkerResultError(RuntimeError):
    """A call's result (or its exception) could not be pickled in the worker or unpickled
    here: that call fails, the worker goes on serving."""


def _load(name: str) -> None:
    """Import ``module`` and call its ``function`` for ``module:function``."""
    module, _, function = name.partition(":")
    loaded = importlib.import_module(module)
    if function:
        getattr(loaded, function)()


def _serve(conn: Connection, preload: tuple[str, ...]) -> None:
    """A worker's loop: load, say ready, then run calls until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    for name in preload:
        _load(name)
    conn.send(_READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone
        if job is None:
            return
        fn, args, zone = job
        adopt_local_timezone(zone)  # the parent's clock, taken from its database (monitors.dates)
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:  # noqa: BLE001 - sent back, raised again in the caller
            reply = (False, exc)
        try:
            conn.send(reply)  # pickled whole before a byte is written: a failure sends nothing
        except Exception as exc:  # noqa: BLE001 - the result or the error would not pickle
            what = "result" if reply[0] else f"error ({type(reply[1]).__name__})"
            conn.send(
                (False, WorkerResultError(f"the call's {what} could not be sent back: {describe(exc)}"))
            )


class _Worker:
    def __init__(self, ctx: Any, preload: tuple[str, ...]) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_serve, args=(child, preload), daemon=True, name="veille-worker")
        self.process.start()
        child.close()
        self.ready = False
        self.warmed: set[str] = set()  # the ``warm`` names this worker has loaded
        self.shared: set[str] = set()  # keys of the :class:`Shared` values it was sent

    def wait_ready(self) -> None:
        if self.ready:
            return
        if not self.conn.poll(STARTUP_SECONDS):
            raise WorkerDied(f"worker did not start within {STARTUP_SECONDS:.0f} s")
        if self.conn.recv() != _READY:
            raise WorkerDied("worker sent something else than ready")
        self.ready = True

    def kill(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(10)
        self.conn.close()

    def describe_exit(self) -> str:
        self.process.join(2)
        code = self.process.exitcode
        if code is None:
            return "it stopped answering"
        if code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit code {code}"


class WorkerPool:
    """Up to ``size`` worker processes (spawned, not forked: the parent runs threads), started
    on first use; thread-safe, each worker serving one caller at a time."""

    def __init__(self, size: int, preload: tuple[str, ...] = PRELOAD) -> None:
        self.size = size
        self.preload = preload
        self._ctx = multiprocessing.get_context("spawn")
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        """Start every worker now (they take a moment to load), without waiting for them."""
        while True:
            with self._lock:
                if self._closed or len(self._all) >= self.size:
                    return
                worker = self._spawn_locked()
            self._idle.put(worker)

    def _spawn_locked(self) -> _Worker:
        worker = _Worker(self._ctx, self.preload)
        self._all.add(worker)
        return worker

    def _acquire(self) -> _Worker:
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the worker pool is shut down")
                try:
                    return self._idle.get_nowait()
                except queue.Empty:
                    if len(self._all) < self.size:
                        return self._spawn_locked()
            with contextlib.suppress(queue.Empty):
                return self._idle.get(timeout=0.5)

    def _retire(self, worker: _Worker) -> None:
        """Kill a worker and start its replacement (which loads while the caller goes on)."""
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            replacement = None if self._closed else self._spawn_locked()
        if replacement is not None:
            self._idle.put(replacement)

    def call(
        self,
        fn: Callable[..., T],
        args: tuple[Any, ...],
        deadline: float | None = None,
        warm: str | None = None,
    ) -> T:
        """``fn(*args)`` in a worker, its exceptions raised here; :class:`WorkerTimeout` after
        ``deadline`` seconds (the worker is killed), :class:`WorkerDied` if the call killed
        two workers in a row. ``fn`` must be importable by name (a module-level function).

        ``warm`` (``module`` or ``module:function``) is loaded first by a worker that has not
        loaded it yet, within :data:`STARTUP_SECONDS` rather than the call's deadline."""
        deaths = starts = 0
        while True:
            worker = self._acquire()
            try:
                worker.wait_ready()
                if not worker.process.is_alive():
                    raise WorkerDied(worker.describe_exit())
                if warm is not None and warm not in worker.warmed:
                    worker.conn.send((_load, (warm,), None))
                    if not worker.conn.poll(STARTUP_SECONDS):
                        raise WorkerDied(f"worker did not load {warm} within {STARTUP_SECONDS:.0f} s")
                    ok, error = worker.conn.recv()
                    if not ok:
                        raise WorkerDied(f"worker could not load {warm}: {describe(error)}")
                    worker.warmed.add(warm)
                zone = adopted_local_timezone()
                worker.conn.send((fn, tuple(_for(worker, arg) for arg in args), zone))
            except (EOFError, OSError, WorkerDied) as exc:
                # the worker died before it took the call (killed while idle, failed to start)
                how = str(exc) if isinstance(exc, WorkerDied) else worker.describe_exit()
                self._retire(worker)
                starts += 1
                if starts >= 3:
                    raise WorkerDied(f"no worker could take the call ({how})") from None
                continue
            try:
                answered = worker.conn.poll(deadline)
                if answered:
                    ok, value = _loads(worker.conn.recv_bytes())
            except WorkerResultError:  # the whole answer was read: the worker can go on
                self._idle.put(worker)
                raise
            except (EOFError, OSError):
                how = worker.describe_exit()
                self._retire(worker)
                deaths += 1
                if deaths >= 2:
                    raise CallKilledWorker(f"the worker died twice during the call ({how})") from None
                continue
            if not answered:
                self._retire(worker)
                raise WorkerTimeout(f"no result after {deadline:g} s; the worker was stopped")
            sent = {arg.key for arg in args if isinstance(arg, Shared)}
            if not ok and isinstance(value, SharedMissing):
                worker.shared -= sent  # it let the value go: send the whole of it again
                self._idle.put(worker)
                continue
            worker.shared |= sent
            self._idle.put(worker)
            if ok:
                return value
            raise value

    def shutdown(self) -> None:
        """Stop every worker: idle ones are asked to leave, busy or stuck ones are killed."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            if not worker.ready:  # still loading (or never used): nothing to finish
                worker.kill()
                continue
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
        end = time.monotonic() + 2.0
        for worker in workers:
            worker.process.join(max(0.0, end - time.monotonic()))
            worker.kill()

    def pids(self) -> list[int]:
        """The workers' process ids (for tests and diagnostics)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]


def _loads(data: bytes) -> tuple[bool, Any]:
    """A worker's answer unpickled; :class:`WorkerResultError` when it cannot be (a class whose
    pickle does not rebuild it: the call's answer is lost, not the pool's worker, which was
    left out of the pool for good and, once all were, every later call waited for ever)."""
    try:
        ok, value = ForkingPickler.loads(data)
    except Exception as exc:  # noqa: BLE001 - whatever unpickling a class runs may raise
        raise WorkerResultError(f"the call's answer could not be read: {describe(exc)}") from None
    return ok, value


_lock = threading.Lock()
_pool: WorkerPool | None = None


def get_pool(size: int) -> WorkerPool:
    """The process's shared pool of ``size`` workers (replaced if the size changed)."""
    global _pool
    with _lock:
        if _pool is None or _pool.size != size:
            old, _pool = _pool, WorkerPool(size)
            if old is not None:
                old.shutdown()
        return _pool


def start_workers(size: int) -> None:
    """Start the shared pool's workers now, so the first calls do not wait for them."""
    if size > 0:
        get_pool(size).start()


def shutdown_workers() -> None:
    """Stop the shared pool's workers (done at exit too)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


def _at_exit() -> None:
    """Stop the workers, then multiprocessing's resource tracker (started with the first
    worker), which ignores SIGTERM and would otherwise live until this process is gone: the
    watcher of every veille command (:mod:`flows.reaper`) waits for it at exit, and gave it
    3 s of grace before SIGKILL (3 s of every run that used the workers)."""
    shutdown_workers()
    stop_resource_tracker()


def stop_resource_tracker() -> None:
    """End multiprocessing's resource tracker the way it ends with its program (its pipe
    closed: it releases what is left registered and exits), once no worker holds the pipe.
    It starts again if something needs it later. Nothing is imported: this runs at exit, after a
    signal too, when the main thread may hold the import system's lock (an import then waited
    for the exit handlers' 15 s); a tracker runs only once its module was imported."""
    resource_tracker = sys.modules.get("multiprocessing.resource_tracker")
    if resource_tracker is None:
        return  # never started
    tracker = resource_tracker._resource_tracker
    if getattr(tracker, "_pid", None) is None or multiprocessing.active_children():
        return  # not running, or a child still holds its pipe (it would not see it closed)
    with contextlib.suppress(Exception):
        tracker._stop()


# registered after multiprocessing's own exit handler, so it runs first: that handler
# terminates and joins daemon processes, and would wait for ever on one that ignores SIGTERM
atexit.register(_at_exit)


def _for(worker: _Worker, arg: Any) -> Any:
    """``arg`` as sent to ``worker``: a :class:`Shared` value it already has goes by its key."""
    if isinstance(arg, Shared) and arg.blob is not None and arg.key in worker.shared:
        return Shared(arg.key, None)
    return arg


class SharedMissing(LookupError):
    """A worker was sent a :class:`Shared` value by its key only, and does not hold it."""


@dataclass(frozen=True)
class Shared(Generic[T]):
    """A value every call needs (the topics): pickled once here, sent whole to each worker
    once (about 125 kB for the seed topics), then by its key only; unpickled once per worker."""

    key: str
    blob: bytes | None  # None: sent by key, to a worker that has it

    @classmethod
    def of(cls, value: T) -> Shared[T]:
        blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        shared: Shared[T] = cls(hashlib.blake2b(blob, digest_size=16).hexdigest(), blob)
        _remember(shared.key, value)
        return shared

    def get(self) -> T:
        value = _values.get(self.key, _values)
        if value is _values:  # not seen yet in this process
            if self.blob is None:
                raise SharedMissing(self.key)
            value = pickle.loads(self.blob)  # noqa: S301 - our own parent's bytes
            _remember(self.key, value)
        return value


_values: dict[str, Any] = {}


def _remember(key: str, value: Any) -> None:
    if len(_values) >= 8:
        _values.clear()
    _values[key] = value
