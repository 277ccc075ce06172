"""What the steps of a run share in a process: one HTTP client, throttle, set of topics,
robots.txt cache and pool of polling threads (:class:`Runtime`, made once by :func:`runtime`),
the run's logger and its Prefect flow run's id, how a step is handed to a worker thread
(:data:`Submit`), and the Prefect settings of flows called in this process (:func:`direct_run`).

No Prefect import at module level: ``veille run`` without a Prefect server uses it too
(:mod:`flows.direct`). The functions import Prefect when called; :func:`run_logger` and
``_run_id`` ask it only when a flow has loaded it already.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitors.collect.http import Client, make_client
from monitors.collect.poll import poll_threads
from monitors.collect.robots import ROBOTS, RobotsCache
from monitors.collect.throttle import HostThrottle
from monitors.judge.site_profiles import ProfileCache
from monitors.judge.topic import Topic, load_topic
from monitors.judge.topic_set import load_topics
from monitors.settings import Settings, get_settings


class Pending(Protocol):
    """A step's result to come: a ``concurrent.futures.Future`` or a ``PrefectFuture``."""

    def result(self) -> Any: ...


#: Runs a step on a worker thread: ``submit(step, *args)`` returns its :class:`Pending` result.
#: In a flow, a Prefect task run (:mod:`flows.runs`); in a direct run, a thread of a pool
#: with the same retries (:mod:`flows.direct`).
Submit = Callable[..., Pending]


def run_logger() -> Any:
    """The Prefect run's logger inside a flow or task run (its lines go to the UI), else the
    ``veille`` logger (a direct run prints it on stderr)."""
    if "prefect.logging" in sys.modules:
        from prefect.exceptions import MissingContextError
        from prefect.logging import get_run_logger

        try:
            return get_run_logger()
        except MissingContextError:
            pass
    return logging.getLogger("veille")


@dataclass
class Runtime:
    """Per-process shared state for tasks: one HTTP client, one throttle (at most
    ``VEILLE_CONCURRENCY`` requests in flight), one topic, the robots.txt cache, and one pool
    of polling threads."""

    settings: Settings
    client: Client
    throttle: HostThrottle
    topic: Topic
    topics: tuple[Topic, ...]  # the active topic folder: one article_topics row each
    robots: RobotsCache
    pool: ThreadPoolExecutor
    #: what each site's pages taught (boilerplate, title affixes), read once per site
    profiles: ProfileCache = field(default_factory=ProfileCache)


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            settings = get_settings()
            _runtime = Runtime(
                settings=settings,
                client=make_client(settings),
                throttle=HostThrottle.from_settings(settings),
                topic=load_topic(),
                topics=tuple(load_topics()),
                robots=ROBOTS,
                pool=ThreadPoolExecutor(poll_threads(settings), thread_name_prefix="poll"),
            )
        return _runtime


def reset_runtime() -> None:
    """Drop the shared client (settings may have changed between runs, e.g. in tests)."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.pool.shutdown(wait=True)
            _runtime.client.close()
        _runtime = None


#: Environment variables through which a user asks for flow-run heartbeats explicitly.
HEARTBEAT_ENV = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextmanager
def direct_run() -> Iterator[None]:
    """Prefect settings for flows called in this process (``veille run``, ``veille backfill``)
    rather than by a deployment: no flow-run heartbeats, unless the user set
    ``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``.

    Heartbeats feed Prefect's zombie-run automation, which watches deployment runs (``veille
    serve`` keeps them). Prefect 3.9 also joins the heartbeat thread, which sleeps in steps of
    one second, when each flow run ends: up to a second lost per flow and subflow run, about
    three for a ``veille run`` (a flow and two subflows).
    """
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    if any(os.environ.get(name) for name in HEARTBEAT_ENV):
        yield
        return
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextmanager
def connections_named_by_flow() -> Iterator[None]:
    """Name the connections a flow run opens by its flow (``veille flow veille-maintenance``,
    its pid and host: :func:`monitors.archive.db.application_name`) while it runs, so that a
    refused lock names a flow run of ``veille serve`` (its runner's subprocess, no CLI) as its
    holder. A run the CLI started (``veille run``), or a subflow, keeps the name it has."""
    from prefect.context import FlowRunContext

    from monitors.archive.db import connections_named, name_connections

    context = None if connections_named() else FlowRunContext.get()
    flow = None if context is None else context.flow
    if flow is None:
        yield
        return
    earlier = name_connections(f"veille flow {flow.name}")
    try:
        yield
    finally:
        name_connections(earlier)


def _run_id() -> str | None:
    """The Prefect flow run's id, recorded with each fetch; None outside a flow run."""
    if "prefect.context" not in sys.modules:
        return None
    from prefect.context import get_run_context

    try:
        return str(get_run_context().flow_run.id)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001
        return None
